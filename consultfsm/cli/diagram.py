"""``consultfsm diagram``: write the state diagrams, the case sequence diagrams and
(with ``--docs``) the generated docs. Thin: the generators live in the pure
:mod:`consultfsm.render.diagram` and :mod:`consultfsm.render.docgen`; the file I/O and the
``dot`` subprocess in :mod:`consultfsm.render.files`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from consultfsm.render.diagram import (
    FORMATS,
    RENDERED,
    Artifact,
    DotNotFound,
    parse_formats,
    text_artifacts,
)
from consultfsm.render.docgen import MarkerError
from consultfsm.render.files import (
    doc_artifacts,
    rendered_artifacts,
    review_artifacts,
    stale,
    wants_review,
    write_artifacts,
    write_diagrams,
)

EXIT_OK = 0
EXIT_FAILED = 1  # something could not be produced, or --check found stale files
EXIT_USAGE = 2  # bad arguments (argparse's own convention)

_EPILOG = """\
writes, under --out (default diagrams/):
  leg.dot leg.svg leg.png leg.mmd       the leg's state diagram, from the table
  leg-transitions.{dot,svg,png}         the same, drawn by transitions' get_graph()
  desk.{dot,svg,png}                    the AgentDesk's machine, from the desk table
  ccm.{dot,svg,png}                     the CCM's machine, from the CCM table
  cases/<case>.mmd                      a sequence diagram per scenario
  review/index.html review/{leg,desk,ccm}.html
                                        the design-review pages (with svg): per
                                        machine its table, diagram and cases, one
                                        static file each; open index.html in a
                                        browser (no server, no network)
with --html, only the review pages.
with --docs, also the generated pages under --docs-dir (default docs/):
  transition-table.md failover.md state-diagram.md desk-table.md
  ccm-table.md, and the
  generated sections of model.md, embedding.md, verification.md, finesse.md
  and desk.md.

Run it from the repository root; regenerate everything with:
  consultfsm diagram --docs

exit status:
  0  everything asked for was written (or, with --check, is up to date)
  1  something could not be produced (e.g. Graphviz's `dot` is missing: the
     DOT and Mermaid files are still written), or --check found stale files
  2  bad arguments (e.g. an unknown --format)
"""


def _formats(value: str) -> tuple[str, ...]:
    try:
        return parse_formats(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    """Add the ``diagram`` subcommand to the ``consultfsm`` parser."""
    parser = subparsers.add_parser(
        "diagram",
        help="write the state diagrams, case sequence diagrams and generated docs",
        description="Write the leg's, the desk's and the CCM's state diagrams (DOT, SVG, PNG,\n"
        "Mermaid) and a Mermaid sequence diagram per scenario, all generated from the tables.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=Path("diagrams"), metavar="DIR",
        help="output directory for diagrams (default: diagrams)",
    )  # fmt: skip
    parser.add_argument(
        "--format", type=_formats, default=FORMATS, metavar="LIST", dest="formats",
        help=f"comma-separated formats out of {','.join(FORMATS)} (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--docs", action="store_true",
        help="also regenerate the generated pages and sections under --docs-dir",
    )  # fmt: skip
    parser.add_argument(
        "--docs-dir", type=Path, default=Path("docs"), metavar="DIR",
        help="where the docs live (default: docs)",
    )  # fmt: skip
    parser.add_argument(
        "--html", action="store_true",
        help="write only the design-review pages (review/*.html; needs Graphviz)",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 and list the files that are missing or stale",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate what ``args`` asks for; returns the exit status."""
    formats: tuple[str, ...] = args.formats
    if args.docs and not args.docs_dir.is_dir():
        print(f"consultfsm diagram: no docs directory {args.docs_dir}", file=sys.stderr)
        return EXIT_FAILED
    if args.check:
        return _check(args, formats)
    status = EXIT_OK
    try:
        try:
            if args.html:
                for path, changed in write_artifacts(review_artifacts(), args.out):
                    _progress(path, changed)
            else:
                write_diagrams(args.out, formats, progress=_progress)
        except DotNotFound as exc:
            print(f"consultfsm diagram: error: {exc}", file=sys.stderr)
            status = EXIT_FAILED
        if args.docs:
            for path, changed in write_artifacts(doc_artifacts(args.docs_dir), args.docs_dir):
                _progress(path, changed)
    except OSError as exc:
        print(f"consultfsm diagram: cannot write: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (UnicodeDecodeError, MarkerError) as exc:  # a hand-written page we cannot fill
        print(f"consultfsm diagram: cannot fill a page of {args.docs_dir}: {exc}",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    return status


def _progress(path: Path, changed: bool) -> None:
    print(f"{'wrote' if changed else 'unchanged'} {path}", flush=True)


def _check(args: argparse.Namespace, formats: tuple[str, ...]) -> int:
    jobs: list[tuple[Path, list[Artifact]]] = []
    if not args.html:
        jobs.append((args.out, text_artifacts(formats)))
    if args.docs:
        jobs.append((args.docs_dir, doc_artifacts(args.docs_dir)))
    unchecked = ""
    try:
        if not args.html and any(f in RENDERED for f in formats):
            jobs.append((args.out, rendered_artifacts(formats)))
        if args.html or wants_review(formats):
            jobs.append((args.out, review_artifacts()))
    except DotNotFound as exc:
        unchecked = str(exc)
    found = [str(out / name) for out, artifacts in jobs for name in stale(artifacts, out)]
    for name in found:
        print(f"stale {name}")
    if found:
        print(
            f"consultfsm diagram: {len(found)} generated file(s) are missing or stale; "
            "regenerate with `consultfsm diagram --docs`",
            file=sys.stderr,
        )
    if unchecked:
        print(f"consultfsm diagram: SVG/PNG/HTML not checked: {unchecked}", file=sys.stderr)
    return EXIT_FAILED if found or unchecked else EXIT_OK


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "register", "run"]
