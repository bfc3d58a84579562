"""``python -m consultfsm``: the command line."""

from consultfsm.cli import main

raise SystemExit(main())
