"""The committed diagrams are current, complete and well-formed; a missing ``dot``
fails clearly with the DOT still written."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REGENERATE, ROOT, assert_current, each_case

from consultfsm.cli import main
from consultfsm.core.events import label
from consultfsm.core.guards import Guard
from consultfsm.core.states import REGION_STATES, Region
from consultfsm.core.table import TABLE, Disposition, inputs_of
from consultfsm.render import ccm_diagram, desk_diagram, diagram, docgen, dot_parts
from consultfsm.render import files as cli_render
from consultfsm.render.diagram import (
    CASES_DIR,
    FORMATS,
    Artifact,
    DotNotFound,
    RenderJob,
    guard_reads,
    self_loops,
)
from consultfsm.render.files import stale
from consultfsm.verify.scenarios import CASES, Case, run_case

DIAGRAMS = ROOT / "diagrams"
HAS_DOT = shutil.which("dot") is not None


# --- golden files ----------------------------------------------------------------------


def test_committed_dot_and_mermaid_are_current() -> None:
    assert_current(diagram.text_artifacts(FORMATS), DIAGRAMS)


def test_no_orphan_case_diagrams() -> None:
    """A case that was renamed or removed must not leave its old diagram behind."""
    committed = {p.name for p in (DIAGRAMS / CASES_DIR).glob("*.mmd")}
    expected = {f"{c.name}.mmd" for c in CASES}
    assert committed == expected, f"orphans {sorted(committed - expected)}; {REGENERATE}"


def _dot_version() -> str:
    out = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=True)
    return out.stderr.strip().removeprefix("dot - graphviz version ").strip()


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_committed_svg_and_png_are_current() -> None:
    committed = diagram.dot_version_of_svg((DIAGRAMS / "leg.svg").read_bytes())
    if committed != _dot_version():
        pytest.skip(f"rendered with dot {committed}, this machine has {_dot_version()}")
    assert_current(cli_render.rendered_artifacts(FORMATS), DIAGRAMS)


def test_output_is_stable_and_has_no_local_paths() -> None:
    first = diagram.text_artifacts(FORMATS)
    assert first == diagram.text_artifacts(FORMATS)
    for artifact in first:
        text = artifact.content.decode("utf-8")
        assert str(ROOT) not in text, artifact.path
        assert not re.search(r"\b20\d\d-\d\d-\d\d", text), f"a date in {artifact.path}"


def test_render_jobs_plan_every_diagram_in_format_order() -> None:
    from consultfsm.render.ccm_diagram import ccm_dot
    from consultfsm.render.desk_diagram import desk_dot

    jobs = diagram.render_jobs(("png", "dot", "svg"))
    assert [j.path for j in jobs] == [
        "leg.svg", "leg.png", "leg-transitions.svg", "leg-transitions.png", "desk.svg",
        "desk.png", "ccm.svg", "ccm.png",
    ]  # fmt: skip
    assert jobs[0] == RenderJob("leg.svg", diagram.state_dot(), "svg")
    assert jobs[2].source == diagram.transitions_dot()
    assert jobs[4].source == desk_dot()
    assert jobs[6].source == ccm_dot()
    assert diagram.render_jobs(("dot", "mmd")) == []


def test_library_modules_do_no_io() -> None:
    """diagram and docgen are pure: the subprocess and the files are cli_render's."""
    for module in (diagram, docgen, desk_diagram, ccm_diagram, dot_parts):
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        for banned in (
            "import shutil",
            "import subprocess",
            "import graphviz",
            "read_text(",
            "read_bytes(",
            "write_text(",
            "write_bytes(",
            "open(",
            ".pipe(",
        ):
            assert banned not in source, f"{module.__name__} uses {banned}"  # fmt: skip


def test_stale_detects_a_changed_file(tmp_path: Path) -> None:
    artifacts = [Artifact("x.dot", b"digraph {}\n")]
    assert stale(artifacts, tmp_path) == ["x.dot"]
    (tmp_path / "x.dot").write_bytes(b"digraph {}\n")
    assert stale(artifacts, tmp_path) == []
    (tmp_path / "x.dot").write_bytes(b"digraph { a }\n")
    assert stale(artifacts, tmp_path) == ["x.dot"]


# --- the state diagram says everything the table says ------------------------------------


def test_guard_reads_is_derived_correctly() -> None:
    assert guard_reads(Guard.B_ONLINE) == {Region.DESK_B}
    assert guard_reads(Guard.CALL_RINGING) == {Region.CALL}
    assert guard_reads(Guard.ENDED_ACCEPTED) == {Region.CALL}


def test_dot_has_every_state_and_every_applied_row() -> None:
    dot = diagram.state_dot()
    for region in Region:
        assert f"subgraph cluster_{region.value} {{" in dot
        for state in REGION_STATES[region]:
            assert re.search(rf"^\s+{region.value}__{state.value} \[label=", dot, re.M), state
    for edge in (e for r in Region for e in diagram.edges(r)):
        src, dst = f"{edge.region.value}__{edge.source}", f"{edge.region.value}__{edge.target}"
        assert f"{src} -> {dst} [label=" in dot
    applied = [r for r in TABLE if r.disposition is Disposition.APPLIED]
    assert sum(len(e.rows) for r in Region for e in diagram.edges(r)) == len(applied)


def test_cross_region_guards_are_marked_in_labels() -> None:
    dot = diagram.state_dot()
    assert "«desk_b» b_offline" in dot  # the call region reads B's desk
    assert "«call» call_ringing" in dot  # B's desk region reads the call


def test_every_duplicate_and_absorbed_row_is_listed_in_its_state() -> None:
    alphabet = {r: set(inputs_of(r)) for r in Region}
    for row in TABLE:
        if row.disposition is Disposition.APPLIED:
            continue
        notes = self_loops(row.region, row.source)[row.disposition]
        listed = any(n.split(" ")[0] == row.input.value for n in notes)
        catch_all = notes == ["every other input"] and row.input in alphabet[row.region]
        assert listed or catch_all, f"{row.key} is not shown in its state"


def _balanced(text: str) -> None:
    depth = 0
    for line in text.splitlines():
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"unbalanced at: {line}"
    assert depth == 0


def test_state_mermaid_is_structurally_valid() -> None:
    text = diagram.state_mermaid()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("%%")]
    assert lines[0] == "stateDiagram-v2"
    _balanced(text)
    assert sum(ln.strip() == "--" for ln in lines) == len(Region) - 1  # concurrent regions
    for region in Region:
        assert f'state "region {region.value}" as {region.value} {{' in text
        for state in REGION_STATES[region]:
            assert f'state "{state.value}" as {region.value}__{state.value}' in text
    transitions = [ln for ln in lines if " --> " in ln and "[*]" not in ln]
    assert len(transitions) == sum(r.disposition is Disposition.APPLIED for r in TABLE)
    for line in lines:  # ';' ends a Mermaid statement and '#' starts an entity
        assert ";" not in line and "#" not in line, line


# --- sequence diagrams ----------------------------------------------------------------------


@each_case
def test_sequence_diagram_follows_the_run(case: Case) -> None:
    result = run_case(case)
    text = diagram.case_mermaid(case, result)
    lines = text.splitlines()
    assert lines[1] == "sequenceDiagram"
    for lane in ("AgentDesk A", "AgentDesk B", "CCM", "Routing Engine", "Agent Manager"):
        assert f" as {lane}" in text
    inputs = [ln for ln in lines if re.search(r"(->>|--\)|-x)Leg: t=\d+ ", ln)]
    assert len(inputs) == len(case.steps)
    body = "\n".join(lines)
    for moment in result.timeline:
        for event in moment.events:
            if event.to.value != "host":
                assert label(event) in body, label(event)
    assert lines[-1].strip().startswith("Note over CTI,Host: final")
    assert ("MISMATCH" in text) is (not result.passed)


# --- rendering and the missing-dot path ------------------------------------------------------


def test_missing_dot_writes_the_dot_and_raises_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DotNotFound) as caught:
        cli_render.write_diagrams(tmp_path / "out", ("dot", "svg"))
    message = str(caught.value)
    assert "`dot`" in message and "apt-get install graphviz" in message
    dot_file = tmp_path / "out" / "leg.dot"
    assert str(dot_file) in caught.value.written
    assert dot_file.read_text(encoding="utf-8") == diagram.state_dot()
    assert not (tmp_path / "out" / "leg.svg").exists()


def test_cli_without_dot_exits_1_and_names_dot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    status = main(["diagram", "--out", str(tmp_path), "--format", "dot,png"])
    out, err = capsys.readouterr()
    assert status == 1
    assert "`dot` executable was not found" in err and "apt-get install graphviz" in err
    assert f"wrote {tmp_path / 'leg.dot'}" in out
    assert (tmp_path / "leg.dot").is_file()


def test_cli_rejects_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["diagram", "--format", "dot,gif"])
    assert exit_.value.code == 2
    assert "gif" in capsys.readouterr().err


def test_cli_check_reports_missing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diagram", "--out", str(tmp_path), "--format", "mmd", "--check"]) == 1
    assert f"stale {tmp_path / 'leg.mmd'}" in capsys.readouterr().out
    assert main(["diagram", "--out", str(tmp_path), "--format", "mmd"]) == 0
    assert main(["diagram", "--out", str(tmp_path), "--format", "mmd", "--check"]) == 0


def test_a_docs_page_that_is_not_utf8_is_a_clear_error_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    page = docs / "model.md"
    page.write_bytes(page.read_bytes() + b"\xff\xfe")
    before = {p: p.read_bytes() for p in docs.rglob("*") if p.is_file()}
    status = main(["diagram", "--docs", "--docs-dir", str(docs), "--format", "mmd",
                   "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1 and f"cannot fill a page of {docs}" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in docs.rglob("*") if p.is_file()} == before


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_render_produces_svg_and_png() -> None:
    source = diagram.state_dot()
    assert cli_render.render(source, "svg").lstrip().startswith(b"<?xml")
    assert cli_render.render(source, "png").startswith(b"\x89PNG\r\n\x1a\n")
