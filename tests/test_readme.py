"""The README's example runs and prints what the README says it prints."""

from __future__ import annotations

import contextlib
import io
import re

from helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_example_prints_what_it_claims() -> None:
    code = re.search(r"```python\n(.*?)```", README, re.S)
    shown = re.search(
        r"prints what each consumer must do when B accepts:\n\n```text\n(.*?)```", README, re.S
    )
    assert code and shown
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "README.md", "exec"), {})
    assert out.getvalue() == shown.group(1)


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert blocks[0].strip().endswith("python examples/serve_demo.py")
    assert blocks[1].strip().endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1].strip() in ci  # CI runs exactly the README's test command


def test_the_main_job_serves_a_desk_session_and_prints_what_was_published() -> None:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, str(ROOT / "examples" / "serve_demo.py")],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any("again" in line and "replayed" in line for line in lines)  # the retry
    published = lines[lines.index("published on the conversation topic:") + 1 :]
    # One start from B's desk, one end from A's (B's browser was away), nothing twice.
    assert [line.split()[:2] for line in published] == [
        ["CALL_LEG_STARTED", "CONSULT"], ["CALL_LEG_ENDED", "CONSULT_ENDED"]]  # fmt: skip
    assert "agent 1002's desk" in published[0] and "agent 1001's desk" in published[1]


def test_every_figure_the_readme_quotes_is_in_the_benchmark_results() -> None:
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    table = README.split("## Speed", 1)[1].split("## Commands", 1)[0]
    figures = re.findall(r"\| ([\d,.]+ \([\d.]+x\))", table)
    figures += re.findall(r"(?<=\| )([\d,.]+ \([\d.]+x\))(?= \|)", table)
    assert len(set(figures)) >= 20
    for figure in set(figures):
        assert figure in results, f"README quotes {figure!r}, not in benchmarks/RESULTS.md"
