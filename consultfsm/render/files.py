"""The I/O behind ``consultfsm diagram``: running Graphviz's ``dot``, reading the
hand-written docs, writing and comparing files.

:mod:`consultfsm.render.diagram` and :mod:`consultfsm.render.docgen` are pure: they return
the files to write (:class:`~consultfsm.render.diagram.Artifact`), the renderings to
make (:class:`~consultfsm.render.diagram.RenderJob`) and the filled-in docs from the
texts they are given. This module, used only by the CLI (and the tests that
check the committed outputs), is where those plans meet the file system and
the ``dot`` subprocess.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from .diagram import (
    FORMATS,
    RENDERED,
    Artifact,
    DotNotFound,
    RenderJob,
    render_jobs,
    text_artifacts,
)
from .docgen import EXAMPLES, SECTION_PAGES
from .docgen import doc_artifacts as _doc_artifacts
from .review import ASSETS, panel_jobs, review_pages


def dot_available() -> bool:
    """True when Graphviz's ``dot`` executable is on PATH."""
    return shutil.which("dot") is not None


def render(dot_source: str, fmt: str) -> bytes:
    """Render DOT text to ``fmt`` (``svg`` or ``png``) with Graphviz's ``dot``.

    Raises :class:`~consultfsm.render.diagram.DotNotFound` when the executable is missing.
    """
    import graphviz

    try:
        data: bytes = graphviz.Source(dot_source).pipe(format=fmt, engine="dot")
    except graphviz.ExecutableNotFound:
        raise DotNotFound() from None
    return data


def run_jobs(jobs: Iterable[RenderJob]) -> list[Artifact]:
    """Render each job with ``dot``; raises :class:`~consultfsm.render.diagram.DotNotFound`."""
    return [Artifact(job.path, render(job.source, job.format)) for job in jobs]


def rendered_artifacts(formats: Iterable[str] = FORMATS) -> list[Artifact]:
    """SVG and PNG renderings of both state diagrams; raises ``DotNotFound``."""
    return run_jobs(render_jobs(formats))


def review_assets() -> dict[str, str]:
    """The page script and style sheet shipped in ``consultfsm/render/review_assets/``."""
    from importlib.resources import files

    folder = files("consultfsm.render").joinpath("review_assets")
    return {name: folder.joinpath(name).read_text(encoding="utf-8") for name in ASSETS}


def review_artifacts() -> list[Artifact]:
    """The design-review pages (``review/*.html``), their panels rendered with
    ``dot``; raises :class:`~consultfsm.render.diagram.DotNotFound`."""
    svgs = {job.path: render(job.source, job.format).decode("utf-8") for job in panel_jobs()}
    return review_pages(svgs, review_assets())


def wants_review(formats: Iterable[str]) -> bool:
    """The pages inline the SVG panels, so they come with the ``svg`` format."""
    return "svg" in set(formats)


def write_artifacts(artifacts: Iterable[Artifact], out_dir: Path) -> list[tuple[Path, bool]]:
    """Write each artifact under ``out_dir``; returns ``(path, changed)`` per file.

    A file whose content is already right is not rewritten, so regenerating
    touches only what changed.
    """
    written: list[tuple[Path, bool]] = []
    for artifact in artifacts:
        path = out_dir / artifact.path
        changed = not path.is_file() or path.read_bytes() != artifact.content
        if changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(artifact.content)
        written.append((path, changed))
    return written


def write_diagrams(
    out_dir: Path,
    formats: Iterable[str] = FORMATS,
    progress: Callable[[Path, bool], None] | None = None,
    *,
    review: bool | None = None,
) -> list[tuple[Path, bool]]:
    """Write the diagrams in ``formats`` under ``out_dir``; returns ``(path, changed)``.

    ``review`` adds the design-review pages (default: when ``svg`` is asked for).

    The DOT and Mermaid files are written first, so when rendering is asked for
    and ``dot`` is missing they are there when ``DotNotFound`` (naming the DOT
    files) is raised. ``progress`` is called once per file, as it is written.
    """
    formats = tuple(formats)

    def write(artifacts: list[Artifact]) -> list[tuple[Path, bool]]:
        done = write_artifacts(artifacts, out_dir)
        for path, changed in done:
            if progress is not None:
                progress(path, changed)
        return done

    results = write(text_artifacts(formats))
    if RENDERED & set(formats):
        try:
            rendered = rendered_artifacts(formats)
        except DotNotFound:
            raise DotNotFound([str(p) for p, _ in results if p.suffix == ".dot"]) from None
        results += write(rendered)
    if wants_review(formats) if review is None else review:
        try:
            pages = review_artifacts()
        except DotNotFound:
            raise DotNotFound([str(p) for p, _ in results if p.suffix == ".dot"]) from None
        results += write(pages)
    return results


def read_docs(docs_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The hand-written pages with generated sections that exist under ``docs_dir``,
    and the example scripts they embed, as ``(pages, examples)`` of name -> text.

    A missing page is skipped; a missing example script raises ``OSError``.
    """
    pages = {
        name: (docs_dir / name).read_text(encoding="utf-8")
        for name in SECTION_PAGES
        if (docs_dir / name).is_file()
    }
    examples = {name: (docs_dir / name).read_text(encoding="utf-8") for name in EXAMPLES}
    return pages, examples


def doc_artifacts(docs_dir: Path) -> list[Artifact]:
    """:func:`consultfsm.render.docgen.doc_artifacts` for the docs under ``docs_dir``."""
    return _doc_artifacts(*read_docs(docs_dir))


def stale(artifacts: Iterable[Artifact], out_dir: Path) -> list[str]:
    """The artifacts whose file under ``out_dir`` is missing or differs."""
    return [
        a.path
        for a in artifacts
        if not (out_dir / a.path).is_file() or (out_dir / a.path).read_bytes() != a.content
    ]


__all__ = [
    "doc_artifacts",
    "dot_available",
    "read_docs",
    "render",
    "rendered_artifacts",
    "review_artifacts",
    "review_assets",
    "run_jobs",
    "stale",
    "wants_review",
    "write_artifacts",
    "write_diagrams",
]
