"""``python -m consultfsm.cli``: the command line."""

from consultfsm.cli import main

raise SystemExit(main())
