"""The benchmark runs (``--quick``) and writes a well-formed markdown report.

No timing is asserted: the numbers are noise on shared machines. This only
checks that every implementation ran and every required row and target is
in the tables, with numbers where numbers belong.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"

IMPLEMENTATIONS = (
    "floor (no library)",
    "consultfsm",
    "transitions: Machine per leg",
    "transitions: shared Machine + add_model",
    "python-statemachine: StateMachine per leg",
)
ROWS = (
    "live legs N",
    "lifecycles/s (create + 5 inputs)",
    "inputs/s on existing legs",
    "domain events/s on existing legs",
    "µs per input on existing legs",
    "µs to create a leg",
    "bytes per live leg (tracemalloc)",
    "bytes per live leg (RSS)",
    "µs per input, 1,000 live legs",
    "µs per input, N live legs",
    "scaling: cost at N live / at 1,000",
    "ms for a full gc.collect(), N live legs",
    "churn: steps/s (GC automatic)",
    "churn: worst single step (pause), ms",
    "churn: p99.9 step time, µs",
    "churn: worst step with no GC run in it, ms",
    "churn: longest garbage-collector run, ms",
    "churn: gen-2 (full) collections",
    "child processes (live legs / churn)",
    "snapshot -> JSON -> restore",
    "json.dumps + json.loads of the same dict",
)
IMPORT_ROWS = (
    "`import attrs` (-X importtime)",
    "`import consultfsm` (-X importtime)",
    "`import attrs` (perf_counter)",
    "`import consultfsm` (perf_counter)",
    "`import consultfsm` + create a Leg + first step (perf_counter)",
)
NO_RATIO = (
    "live legs N",
    "legs per in-process measurement",
    "child processes (live legs / churn)",
    "churn: gen-2 (full) collections",
)
TARGETS = (
    "per-input cost on existing legs ≤ 2x floor",
    "creating a leg ≤ 3x floor",
    "per live leg at N live legs (tracemalloc)",
    "per live leg at N live legs (RSS)",
    "scaling: per-input cost at N live ≤ 1.2x cost at 1,000",
    "snapshot -> JSON -> restore ≤ 3x json.dumps + json.loads",
    "full gc.collect() at N live legs ≤ 2x floor",
    "worst churn pause ≤ 2x floor",
    "`import consultfsm` ≤ 2.5x `import attrs`",
)


def _number(cell: str, unit: str = "") -> float:
    """A cell's number: ``1,234``, ``1.68x``, ``704 B`` (fails the test otherwise)."""
    assert cell.endswith(unit), (cell, unit)
    text = cell.removesuffix(unit).strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        pytest.fail(f"not a number: {cell!r}")


def _tables(text: str) -> list[list[list[str]]]:
    """Every markdown table: a list of rows, each a list of cell texts."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), f"table row not closed: {line!r}"
            cells = [c.strip() for c in line.strip("|").split("|")]
            if current is None:
                current = []
                tables.append(current)
            current.append(cells)
        else:
            current = None
    return tables


def _run(out: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--out", str(out), *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stderr  # progress goes to stderr
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _run(tmp_path_factory.mktemp("bench") / "RESULTS.md")


def test_tables_are_well_formed(report: str) -> None:
    tables = _tables(report)
    assert len(tables) >= 3
    for table in tables:
        header, separator, *body = table
        assert all(set(cell) <= set("-:") and cell for cell in separator), separator
        assert body, "a table without rows"
        for row in body:
            assert len(row) == len(header), (header, row)
            assert all(cell for cell in row), row


def test_every_implementation_and_row_is_reported(report: str) -> None:
    main = _tables(report)[0]
    assert main[0][1:] == list(IMPLEMENTATIONS)
    names = [row[0] for table in _tables(report) for row in table]
    for row in ROWS:
        assert row in names, f"missing row {row!r}"
    for cells in main[2:]:
        if cells[0] in NO_RATIO:
            continue
        # value, then its ratio to the floor; n/a only where the floor can measure
        # 0 (a churn in which no collection ran has no longest collection)
        ends = ("x)", "(n/a)") if cells[0] == "churn: longest garbage-collector run, ms" else "x)"
        assert all(cell.endswith(ends) for cell in cells[1:]), cells


def test_the_churn_pause_is_broken_down(report: str) -> None:
    main = _tables(report)[0]
    rows = {cells[0]: cells[1:] for cells in main[2:]}
    for count in rows["churn: gen-2 (full) collections"]:
        assert count.replace(",", "").isdigit(), count
    assert "What the churn pause is made of" in report


def test_the_shared_machine_add_model_is_measured_at_growing_sizes(report: str) -> None:
    table = next(t for t in _tables(report) if t[0][0] == "live models k")
    assert table[0] == [
        "live models k",
        "µs per add_model",
        "of which `model not in models`",
        "ns per live model (scan / k)",
        "µs per remove_model (middle)",
        "s to build k from empty",
    ]
    sizes = [int(row[0].replace(",", "")) for row in table[2:]]
    assert len(sizes) >= 3
    assert sizes == sorted(sizes)
    assert "quadratic" in report


def test_import_time_is_measured_in_fresh_processes(report: str) -> None:
    assert "## Import time (fresh processes)" in report
    table = next(t for t in _tables(report) if t[0][0] == "measurement" and len(t[0]) == 3)
    assert table[0] == ["measurement", "µs (median)", "ratio to `import attrs`"]
    rows = {row[0]: row[1:] for row in table[2:]}
    assert list(rows) == list(IMPORT_ROWS)
    for name, (us, ratio) in rows.items():
        assert _number(us) > 0, (name, us)
        assert _number(ratio, "x") > 0, (name, ratio)
    # attrs is what the others are compared with, instrument by instrument
    assert rows["`import attrs` (-X importtime)"][1] == "1.00x"
    assert rows["`import attrs` (perf_counter)"][1] == "1.00x"
    # the report says where the table is compiled, and what a first step costs
    assert "first step, not at import" in report
    assert "second Leg and step" in report


def test_every_target_is_judged(report: str) -> None:
    targets = _tables(report)[-1]
    assert targets[0] == ["issue", "target", "limit", "measured", "met"]
    judged = {row[1]: row for row in targets[2:]}
    for target in TARGETS:
        match = [k for k in judged if target in k]
        assert match, f"missing target {target!r}"
        issue, _, limit, measured, met = judged[match[0]]
        assert all(part.startswith("#") for part in issue.split(", ")), issue
        unit = " B" if limit.endswith(" B") else "x"
        assert _number(limit, unit) > 0 and _number(measured, unit) >= 0, (limit, measured)
        assert met in ("yes", "**no**")
    imports = judged["`import consultfsm` ≤ 2.5x `import attrs`"]
    assert imports[0] == "#10" and imports[2] == "2.50x"
    # the target is judged on the -X importtime ratio of the import table
    ratio = next(
        row[2]
        for t in _tables(report)
        for row in t
        if row[0] == "`import consultfsm` (-X importtime)"
    )
    assert imports[3] == ratio
    assert "#10" in judged["per-input cost on existing legs ≤ 2x floor"][0]


def test_a_subset_of_peers_runs(tmp_path: Path) -> None:
    """``--peers`` chooses implementations; the floor and consultfsm are compared alone."""
    report = _run(tmp_path / "RESULTS.md", "--peers", "floor,consultfsm")
    assert _tables(report)[0][0][1:] == ["floor (no library)", "consultfsm"]
    assert "transitions shared Machine: add_model" not in report
    assert "## Import time (fresh processes)" in report


def test_the_environment_is_recorded(report: str) -> None:
    for what in ("Machine:", "Python:", "Packages:", "transitions", "python-statemachine",
                 "attrs", "Date:", "--quick"):  # fmt: skip
        assert what in report, what


@pytest.mark.slow  # about a minute
def test_the_ccm_benchmark_runs_and_reports_every_row(tmp_path: Path) -> None:
    out = tmp_path / "CCM_RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ccm.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    for row in ("engine / plain JSON", "flat: cost at", "bytes per live leg",
                "bytes per tombstone", "found by ANI among", "peak RSS, MB",
                "replay flat", "rejected lines"):  # fmt: skip
        line = next(ln for ln in text.splitlines() if row in ln)
        assert any(ch.isdigit() for ch in line.split("|")[2]), line


def test_a_generated_trace_replays_cleanly_and_the_ccm_keeps_the_leg_model_s_promises() -> None:
    """The benchmark's trace generator writes valid traces of every outcome,
    and over thousands of overlapping consults the CCM, hearing only the
    desks, publishes a start for every task the world created and an end for
    every task it closed or converted, with the reasons of the world's ends."""
    from benchmarks.traces import generate
    from consultfsm.replay.system import System

    system = System()
    lines = list(generate(8_000, live=200, seed=7))
    records = system.feed_lines(lines)
    assert system.rejected == 0
    by_event: dict[str, int] = {}
    for r in records:
        by_event[r["event"]] = by_event.get(r["event"], 0) + 1
    ended = [r for r in records if r["to"] == "conversation" and r["event"] == "CALL_LEG_ENDED"]
    assert by_event["CALL_LEG_STARTED"] == by_event["task_created"] > 500
    assert len(ended) == by_event["task_closed"] + by_event["task_converted"]
    reasons = {r["reason"] for r in ended}
    assert {"CONSULT_ENDED", "CONSULT_TRANSFER", "CONSULT_CONFERENCE"} <= reasons
    assert "CONSULT_UNOBSERVED" not in reasons  # every page came back in time
    # each hold and retrieve of the world, once (the trace may stop mid-hold)
    assert by_event["CALL_HOLD"] == sum('"input": "held"' in line for line in lines) > 0
    assert by_event["CALL_RESUME"] == sum('"input": "retrieved"' in line for line in lines)
    # The outcomes the generator promises happen, as the domain shows them:
    # RONA withdraws B's alert; a queue consult, once offered, is answered and
    # published; when B's page is gone at the end, A's desk is who reports it.
    assert any(r["event"] == "alert_removed" and r.get("reason") == "rona" for r in records)
    offered = {json.loads(line)["leg"] for line in lines if '"input": "offered"' in line}
    started = {r["leg"] for r in records if r["event"] == "CALL_LEG_STARTED"}
    assert offered & started
    assert any(r["reported_by"].startswith("agentdesk:A") for r in ended)


@pytest.mark.slow  # about a minute
def test_the_durable_benchmark_runs_and_reports_every_row(tmp_path: Path) -> None:
    from stores import need_broker, need_postgres

    need_postgres()
    need_broker()
    out = tmp_path / "RESULTS.md"
    old = "<!-- durable:begin -->\nan older run\n<!-- durable:end -->\n"
    out.write_text("# results\n\nthe leg benchmark's table\n\n" + old, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "durable.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    # The leg benchmark's part is kept; the older durable section is replaced.
    assert text.startswith("# results\n\nthe leg benchmark's table\n")
    assert "an older run" not in text and text.count("<!-- durable:begin -->") == 1
    for row in ("per input on PostgreSQL", "per input on SQLite", "our statements alone",
                "the in-memory engine alone", "pages each commit writes", "relay to ActiveMQ",
                "store opened to first input", "new process to first input",
                "`consultfsm serve` started"):  # fmt: skip
        line = next(ln for ln in text.splitlines() if row in ln)
        assert any(ch.isdigit() for ch in line.split("|")[2]), line


def _durable_bench() -> Any:
    """``benchmarks/durable.py`` as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_durable", ROOT / "benchmarks" / "durable.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_the_pages_each_commit_writes_are_counted_by_b_tree(tmp_path: Path) -> None:
    """The durable benchmark's pages row: a commit writes each page it
    changed once, so a B-tree one row of which an input changes is written
    at least once per commit, and the counts add up to the commits' pages."""
    pages = _durable_bench().pages_per_commit(tmp_path, 8)
    if "(no dbstat)" in pages["floor_by"]:
        pytest.skip("this SQLite was built without the dbstat table: pages cannot be named")
    for total, by in (("ours", "ours_by"), ("hold", "hold_by"), ("floor", "floor_by")):
        assert pages[total] == pytest.approx(sum(pages[by].values()))
    # The floor updates one row in place and appends one outbox row.
    assert pages["floor_by"]["floor_legs"] == 1.0
    assert pages["floor_by"]["floor_outbox"] >= 1.0
    assert set(pages["floor_by"]) <= {"floor_legs", "floor_outbox", "sqlite_schema"}
    # A hold rewrites its leg's row, remembers its id (the inbox's rows and
    # their key) and appends its event; it indexes nothing new.
    hold = pages["hold_by"]
    assert hold["legs"] == 1.0
    for tree in ("inbox", "sqlite_autoindex_inbox_1", "outbox"):
        assert hold[tree] >= 1.0, tree
    assert not {"leg_dialogs", "leg_agents", "legs_deadline", "tombstones"} & set(hold)
    # Starts index a leg's dialogs and agent, ends forget them: each B-tree
    # in half the inputs at least; and an end buries its dialogs.
    for tree in ("leg_dialogs", "leg_agents", "legs_session"):
        assert pages["ours_by"][tree] >= 0.5, tree
    assert pages["ours_by"]["tombstones"] >= 0.25
    assert pages["ours"] > pages["hold"] > pages["floor"]


def test_the_replayed_statements_leave_the_rows_the_library_left(tmp_path: Path) -> None:
    """The durable benchmark's "statements alone" row times our SQL without
    the library: it is that only if replaying it does the library's writes."""
    import sqlite3

    bench = _durable_bench()
    replay = bench.SqlReplay(tmp_path, 2, 4)
    inputs = [replay.round(r) for r in range(2)]
    # Every input is one transaction, BEGIN to COMMIT, and it writes.
    assert [len(each) for each in inputs] == [16, 16]
    for each in inputs:
        for statements in each:
            assert statements[0][0].startswith("BEGIN") and statements[-1][0] == "COMMIT"
            assert any(sql.startswith(("INSERT", "UPDATE", "DELETE")) for sql, _ in statements)
        assert replay.run(each) > 0
    replay.close()

    def rows(path: str) -> dict[str, list[tuple[object, ...]]]:
        with sqlite3.connect(path) as db:
            tables = [
                n for (n,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
            ]
            return {
                t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables
            }

    library, replayed = rows(replay.recorded), rows(replay.store.path)
    assert library == replayed
    # Each of the 8 consults published its four reports and finished; the one
    # started first, and never ended, is the only live leg.
    assert len(library["outbox"]) == 1 + 4 * 8
    assert [row[0] for row in library["legs"]] == ["D1000000"]
