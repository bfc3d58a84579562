"""The generated docs are current, the examples run, and the links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import REGENERATE, ROOT, assert_current, design_note, run_python

from consultfsm.core import events as ev
from consultfsm.core.states import REGION_STATES, InputKind, Region
from consultfsm.core.table import TABLE
from consultfsm.render import docgen
from consultfsm.render import files as cli_render
from consultfsm.verify.scenarios import CASES

DOCS = ROOT / "docs"
#: Pages the index may link to before they exist (none: every link must resolve).
NOT_YET_REQUIRED: set[str] = set()


def test_generated_docs_are_current() -> None:
    assert_current(cli_render.doc_artifacts(DOCS), DOCS)


def test_every_generated_page_and_section_exists() -> None:
    for name in docgen.PAGES:
        assert (DOCS / name).is_file(), f"docs/{name} missing; {REGENERATE}"
    for name in docgen.SECTION_PAGES:
        text = (DOCS / name).read_text(encoding="utf-8")
        assert "<!-- generated:" in text, f"docs/{name} has no generated section"


def _section(page: str, name: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    match = re.search(rf"<!-- generated:{name} -->\n(.*?)<!-- /generated:{name} -->", text, re.S)
    assert match, f"no generated:{name} section in docs/{page}"
    return match.group(1)


def test_event_table_lists_every_event_class_and_each_is_emitted() -> None:
    table = _section("model.md", "events")
    for cls in ev.EVENT_CLASSES:
        row = next(
            (ln for ln in table.splitlines() if ln.startswith(f"| `{cls.__name__}` |")), None
        )
        assert row is not None, f"{cls.__name__} missing from the event table; {REGENERATE}"
        assert f"| `{cls.to.value}` |" in row
        assert "| no row |" not in row, f"{cls.__name__} is emitted by no table row"


def test_failover_page_covers_every_case_with_its_diagram() -> None:
    text = (DOCS / "failover.md").read_text(encoding="utf-8")
    for case in CASES:
        assert f"](#{case.name})" in text
        assert f'<a id="{case.name}"></a>' in text
        assert f"../diagrams/cases/{case.name}.mmd" in text
    assert text.count("```mermaid") == len(CASES)
    assert "**FAIL**" not in text  # every case passes (tests/test_scenarios.py says why not)


def test_note_answers_are_quoted_from_the_note() -> None:
    text = " ".join(design_note().split())
    for source, answers in docgen.NOTE_ANSWERS.items():
        for answer in answers:
            assert answer in text, f"{source}: {answer!r} is not in the note"


def test_doc_artifacts_are_built_from_the_texts_given() -> None:
    """docgen reads nothing: the pages and examples are arguments."""
    page = "intro\n<!-- generated:numbers -->\nold\n<!-- /generated:numbers -->\n"
    examples = {name: f"print({name!r})\n" for name in docgen.EXAMPLES}
    built = {a.path: a.content.decode("utf-8") for a in docgen.doc_artifacts(
        {"verification.md": page}, examples)}  # fmt: skip
    assert set(built) == {*docgen.PAGES, "verification.md"}  # pages not given are skipped
    assert built["verification.md"].startswith("intro\n<!-- generated:numbers -->\n| what |")
    embedding = "<!-- generated:ccm_handler -->\n<!-- /generated:ccm_handler -->"
    (filled,) = [a for a in docgen.doc_artifacts({"embedding.md": embedding}, examples)
                 if a.path == "embedding.md"]  # fmt: skip
    assert "print('examples/ccm_handler.py')" in filled.content.decode("utf-8")


def test_numbers_section_counts_what_verification_md_quotes() -> None:
    numbers = _section("verification.md", "numbers")
    configurations = 1
    for region in Region:
        configurations *= len(REGION_STATES[region])
    assert f"| rows in the transition table | {len(TABLE):,}: " in numbers
    assert f"| {configurations:,} = " in numbers
    assert f"| inputs | {len(InputKind):,}, " in numbers


def test_hand_written_prose_quotes_no_counts() -> None:
    """Counts of rows, states, inputs, cases drift: only generated text may state them."""
    count = re.compile(
        r"\b\d[\d,]*\s+(?:rows?|states?|inputs?|cases?|scenarios?|tests?|"
        r"(?:region-state )?configurations?)\b|\b\d+\s*[x\u00d7]\s*\d+\s*[x\u00d7]\s*\d+"
    )
    generated = re.compile(r"<!-- generated:([\w-]+) -->.*?<!-- /generated:\1 -->", re.S)
    for name in sorted(p.name for p in DOCS.glob("*.md")):
        if name in docgen.PAGES or name in {"trace-format.md", "cases.md"}:
            continue
        prose = generated.sub("", (DOCS / name).read_text(encoding="utf-8"))
        found = count.findall(prose)
        assert not found, f"docs/{name} hard-codes {found}; put counts in a generated section"


def test_fill_sections_refuses_an_unknown_marker_or_one_left_open() -> None:
    with pytest.raises(docgen.MarkerError, match="'nope'"):
        docgen.fill_sections("<!-- generated:nope -->\nx\n<!-- /generated:nope -->", {})
    for text in (
        "<!-- generated:s -->\nold\n",  # never closed: it would keep old text
        "<!-- generated:s -->\nold\n<!-- /generated:s -->\n<!-- generated:s -->\n",
    ):
        with pytest.raises(docgen.MarkerError, match="has no <!-- /generated:s -->"):
            docgen.fill_sections(text, {"s": lambda: "new"})
    filled = docgen.fill_sections(
        "a\n<!-- generated:s -->\nold\n<!-- /generated:s -->\nb", {"s": lambda: "new"}
    )
    assert filled == "a\n<!-- generated:s -->\nnew\n<!-- /generated:s -->\nb"


_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_relative_links_resolve(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if "://" in target or Path(target).name in NOT_YET_REQUIRED:
            continue
        assert (DOCS / target).exists(), f"docs/{page} links to missing {target}"


# --- the runnable examples -------------------------------------------------------------------


def _run(script: str) -> str:
    return run_python(str(DOCS / "examples" / script))


def test_ccm_handler_example() -> None:
    out = _run("ccm_handler.py")
    # B's desk is away when A hangs up: the CCM publishes the end itself, once.
    assert out.count("publish CALL_LEG_ENDED") == 1
    assert "-> conversation: publish CALL_LEG_ENDED(CONSULT_ENDED) by CCM" in out
    assert "-> agentdesk_b: consult_ended(dropped_by_a)" in out
    # The host's own ring deadline withdraws the second leg's alert; the CTI's
    # RONA ends it, with nothing published.
    assert "host: arm ring for t=15200" in out
    assert "t=15200 ring_timeout: applied, now unanswered/connected/connected/present" in out
    assert "-> agentdesk_b: alert_removed(rona)" in out
    assert "t=20040 rona: applied, now rona/connected/connected/present" in out
    assert out.count("publish CALL_LEG_STARTED") == 1  # L1's only
    assert out.rstrip().endswith("open legs: []")


def test_agentdesk_handler_example() -> None:
    out = _run("agentdesk_handler.py")
    assert "snapshot: call=accepted, B=disconnected" in out
    restored = out.split("snapshot:", 1)[1]
    assert "t=7000 browser_restored_b: applied, now accepted/connected/restored/present" in restored
    assert "re-attach the consult view" in restored
    assert out.count("POST /message/receive CIM CALL_LEG_STARTED") == 1  # not again after refresh
    assert "POST /message/receive CIM CALL_LEG_ENDED(CONSULT_ENDED)" in restored


def test_finesse_reading_example() -> None:
    out = _run("finesse_reading.py")
    # Written from the page's own text: docs/finesse.md shows this output.
    expected = (DOCS / "finesse.md").read_text(encoding="utf-8").rsplit("```text\n", 1)[1]
    assert out == expected.split("```", 1)[0]
    assert "consult on ucce" in out and "customer +923001234567" in out


def test_agentdesk_finesse_example() -> None:
    out = _run("agentdesk_finesse.py")
    expected = (DOCS / "desk.md").read_text(encoding="utf-8").split("```text\n", 1)[1]
    assert out == expected.split("```", 1)[0]
    # The note's promises, from the domain: one STARTED although the page
    # reloaded mid-call, and the end only after the settle window.
    assert out.count("POST /message/receive CALL_LEG_STARTED(CONSULT)") == 1
    assert "t=11000 settle timer: send_ended(CONSULT_ENDED)" in out
