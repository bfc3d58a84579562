"""The design-review pages in a real browser: Debian's headless Chromium, driven by Selenium.

The pages are generated into a temporary directory and opened from ``file://``
URLs, as a reviewer opens an attached page. Every expectation comes from the
Python side (the tables, ``consultfsm cases --format json``, the output of
``consultfsm replay``), never from the JSON the page carries. Without
Chromium, its driver or Graphviz the tests skip, and fail under ``CI`` (where
``.ci/run`` installs them).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT

from consultfsm.ccm.table import CCM_TABLE, PRESENCE_MOVES, Presence
from consultfsm.cli import main
from consultfsm.core.states import Region
from consultfsm.core.table import TABLE
from consultfsm.desk.table import DESK_TABLE, PAGE_MOVES, DeskRole
from consultfsm.render import review
from consultfsm.render.files import review_artifacts, write_artifacts
from consultfsm.verify.ccm import ComposedStep, case_states
from consultfsm.verify.scenarios import CASES, find_case, inputs_of, new_leg

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--no-first-run", "--window-size=1280,900",
)  # fmt: skip
#: The traces loaded into the pages: a plain one, a transfer, two legs on one agent.
TRACES = ("issue-sample", "consult-transfer", "two-legs-one-agent")


def _need(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI=true but {what} is missing: .ci/run installs it")
    pytest.skip(f"{what} is missing (Debian: apt-get install chromium chromium-driver graphviz)")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The review pages as ``consultfsm diagram`` writes them, in a fresh directory."""
    _need(shutil.which("dot") is not None, "Graphviz's dot")
    out = tmp_path_factory.mktemp("diagrams")
    write_artifacts(review_artifacts(), out)
    return out / review.REVIEW_DIR


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need(CHROMIUM.is_file() and CHROMEDRIVER.is_file(), f"{CHROMIUM} or {CHROMEDRIVER}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:  # pragma: no cover - the test extra installs it
        _need(False, "the selenium package")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser: Any, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.body.dataset.ready") == "1"
    )
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def _press(browser: Any, key: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.TAG_NAME, "body").send_keys(key)


def _js(browser: Any, script: str, *args: Any) -> Any:
    return browser.execute_script(script, *args)


# --- navigation ------------------------------------------------------------------------


def test_the_index_links_every_machine_page(browser: Any, pages: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    for machine in review.machines():
        browser.get((pages / "index.html").as_uri())
        browser.find_element(By.LINK_TEXT, machine.title).click()
        WebDriverWait(browser, 10).until(
            lambda d: d.execute_script("return document.body.dataset.ready") == "1"
        )
        assert browser.current_url.endswith(f"/{machine.name}.html")
        panels = _js(browser, "return [...document.querySelectorAll('.panel svg')].length")
        assert panels == len(machine.regions) + 1  # a panel per region, and the legend


# --- a state's rows --------------------------------------------------------------------


def _expected_rows(machine: str, region: str, state: str) -> list[str]:
    """The keys of the rows leaving ``state``, from the tables themselves."""
    if machine == "leg":
        return [r.key for r in TABLE if r.region.value == region and r.source.value == state]
    if machine == "desk":
        if region == "page":
            return [f"page:{was}--{kind}" for was, kind in PAGE_MOVES if was.value == state]
        return [r.key for r in DESK_TABLE if r.role.value == region and r.source.value == state]
    if region == "call":
        return [r.key for r in CCM_TABLE if r.source.value == state]
    return [
        f"{region}:{state}--{kind}"
        for kind, (party, now) in PRESENCE_MOVES.items()
        if f"desk_{party.value}" == region and now is not Presence(state)
    ]


@pytest.mark.parametrize("machine", [m.name for m in review.machines()])
def test_selecting_a_state_lights_up_the_rows_that_leave_it(
    browser: Any, pages: Path, machine: str
) -> None:
    from selenium.webdriver.common.by import By

    model = next(m for m in review.machines() if m.name == machine)
    edge_of = {row: edge for p in review.panels(model) for edge, rows in p.edges for row in rows}
    key_id = {r.key: r.id for r in model.rows}
    _open(browser, (pages / f"{machine}.html").as_uri())
    for region in model.regions:
        for state in region.states:
            button = browser.find_element(
                By.CSS_SELECTOR, f'.state-button[data-region="{region.id}"][data-state="{state}"]'
            )
            button.click()
            shown = _js(browser, """
                return {
                  rows: [...document.querySelectorAll('#rows tbody tr')].map(t => t.dataset.key),
                  edges: [...document.querySelectorAll('g.edge.hl')].map(g => g.id).sort(),
                  node: [...document.querySelectorAll('g.node.selected')].map(g => g.id),
                };""")  # fmt: skip
            want = _expected_rows(machine, region.id, state)
            assert shown["rows"] == want, (region.id, state)
            edges = sorted({edge_of[key_id[k]] for k in want if key_id[k] in edge_of})
            assert shown["edges"] == edges, (region.id, state)
            assert shown["node"] == [f"n-{machine}-{region.id}__{state}"]


def test_a_click_on_a_state_and_on_a_row_lights_up_its_edge(browser: Any, pages: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, (pages / "leg.html").as_uri())
    browser.find_element(By.CSS_SELECTOR, '#panel-call [data-zoom="in"]').click()
    node = browser.find_element(By.ID, "n-leg-call__ringing")
    _js(browser, "arguments[0].scrollIntoView({block: 'center'})", node)
    _js(browser, "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", node)
    rows = browser.find_elements(By.CSS_SELECTOR, "#rows tbody tr")
    assert [r.get_attribute("data-key") for r in rows] == _expected_rows("leg", "call", "ringing")
    accepted = next(
        r for r in rows if r.get_attribute("data-key").startswith("call:ringing--accepted")
    )
    accepted.send_keys("\n")  # Enter, from the keyboard
    model = review.leg_machine()
    row = next(r for r in model.rows if r.key == accepted.get_attribute("data-key"))
    edge = next(e for p in review.panels(model) for e, ids in p.edges if row.id in ids)
    assert "picked" in browser.find_element(By.ID, edge).get_attribute("class")
    assert accepted.get_attribute("aria-selected") == "true"


# --- cases -----------------------------------------------------------------------------


def _cli_json(*args: str) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(list(args))
    return json.loads(out.getvalue())


#: Reads each lane's events into ``lanes``: the lane's consumer -> event names, in order.
_READ_LANES = """
      const lanes = {};
      for (const lane of document.querySelectorAll('#lanes .lane'))
        lanes[lane.dataset.to] = [...lane.querySelectorAll('li')].map(li => li.dataset.event);
"""


def _page_state(browser: Any) -> dict[str, Any]:
    shown: dict[str, Any] = _js(browser, """
        const states = {};
        for (const td of document.querySelectorAll('#state-strip [data-region]'))
          states[td.dataset.region] = td.dataset.state;
""" + _READ_LANES + """
        const current = [...document.querySelectorAll('g.node.current')].map(g => g.id).sort();
        const taken = [...document.querySelectorAll('#rows tr.taken')].map(t => t.dataset.key);
        const row_keys = [...document.querySelectorAll('#step-text code.row-key')]
          .map(c => c.dataset.key);
        const position = document.body.dataset.position;
        return {states, lanes, current, taken, row_keys, position};""")  # fmt: skip
    return shown


def _lanes_of(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    lanes: dict[str, list[str]] = {}
    for e in events:
        lanes.setdefault(e["to"], []).append(e["event"])
    return lanes


def _choose_case(browser: Any, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "case-select")).select_by_value(name)


def test_every_case_stepped_to_its_end_agrees_with_the_cli(browser: Any, pages: Path) -> None:
    _open(browser, (pages / "leg.html").as_uri())
    for case in CASES:
        _choose_case(browser, case.name)
        _press(browser, "\ue010")  # End
        shown = _page_state(browser)
        cli = _cli_json("cases", case.name, "--format", "json")
        final = dict(zip([r.value for r in Region], cli["final_state"].split("/"), strict=True))
        assert shown["states"] == final, case.name
        assert shown["position"] == str(len(cli["timeline"]))
        events = [e for m in cli["timeline"] for e in m["events"]]
        got = {to: names for to, names in shown["lanes"].items() if names}
        assert got == _lanes_of(events), case.name
        assert shown["current"] == sorted(f"n-leg-{r}__{s}" for r, s in final.items())


def _artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("CONSULTFSM_TEST_ARTIFACTS")
    path = Path(where) if where else tmp_path_factory.getbasetemp() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_stepping_a_case_marks_each_row_taken_and_saves_a_screenshot(
    browser: Any, pages: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = "b-refresh-after-accept-call-dropped"
    _open(browser, (pages / "leg.html").as_uri() + f"#case={name}")
    cli = _cli_json("cases", name, "--format", "json")
    leg = new_leg(find_case(name))  # the row each input takes, as the leg itself says
    steps = zip(inputs_of(find_case(name)), cli["timeline"], strict=True)
    for n, (step, moment) in enumerate(steps, 1):
        row = leg.handle(step.kind, step.at, step.value, source_at=step.source_at).row
        _press(browser, "n")
        shown = _page_state(browser)
        assert shown["position"] == str(n)
        assert "/".join(shown["states"][r.value] for r in Region) == moment["state"]
        assert shown["taken"] == ([row.key] if row is not None else [])
        if n == 3:
            shot = _artifacts(tmp_path_factory) / f"review-{name}-step-{n}.png"
            browser.save_screenshot(str(shot))
            print(f"screenshot of a stepped case: {shot}")
    _press(browser, "\ue011")  # Home
    assert _page_state(browser)["position"] == "0"
    _press(browser, "\ue014")  # the right arrow steps too
    assert _page_state(browser)["position"] == "1"


# --- cases on the desk and CCM pages: the composed run -------------------------------------


def _composed_states(machine: str, step: ComposedStep) -> dict[str, Any]:
    """What the strip should show after ``step``, from ``case_states`` itself: the
    CCM's regions; or each desk's call region by role and both pages' states."""
    if machine == "ccm":
        return dict(step.ccm.state or {})
    desks = {r.value: d.state for r, d in step.desks.items() if d.state is not None}
    out: dict[str, Any] = {role: state["call"] for role, state in desks.items()}
    if desks:
        out["page"] = {role: state["page"] for role, state in desks.items()}
    return out


def _composed_keys(machine: str, step: ComposedStep) -> list[str]:
    if machine == "ccm":
        return list(step.ccm.rows)
    return [k for role in DeskRole for k in step.desks[role].rows]


def _strip(browser: Any) -> dict[str, Any]:
    """The state strip, a desk page's page region as ``{role: state}``."""
    shown: dict[str, Any] = _js(browser, _READ_STRIP + "return states;")
    return shown


#: Reads the state strip into ``states``: region -> state, or {role: state}.
_READ_STRIP = """
      const states = {};
      for (const td of document.querySelectorAll('#state-strip td[data-region]')) {
        const parts = [...td.querySelectorAll('[data-role]')];
        states[td.dataset.region] = parts.length
          ? Object.fromEntries(parts.map(p => [p.dataset.role, p.dataset.state]))
          : td.dataset.state;
      }
"""


#: Each case chosen in the picker and stepped to its end (the End key), in one
#: round trip: per case the strip, the lanes, the marked nodes and the position.
_EVERY_CASE_AT_ITS_END = (
    """
    const out = {};
    const select = document.getElementById('case-select');
    for (const name of arguments[0]) {
      select.value = name;
      select.dispatchEvent(new Event('change'));
      document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'End', bubbles: true}));
"""
    + _READ_STRIP
    + _READ_LANES
    + """
      out[name] = {
        states,
        lanes,
        current: [...document.querySelectorAll('g.node.current')].map(g => g.id).sort(),
        position: document.body.dataset.position,
      };
    }
    return out;"""
)


@pytest.mark.parametrize("machine", ["leg", "desk", "ccm"])
def test_the_first_tab_offers_a_way_past_the_state_buttons_to_the_player(
    browser: Any, pages: Path, machine: str
) -> None:
    # Every state has a button before the player (99 on the leg page): the
    # first Tab reaches a skip link, and following it, the next Tab is the
    # player's first control, the case picker.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _open(browser, (pages / f"{machine}.html").as_uri())
    buttons = _js(browser, "return document.querySelectorAll('button.state-button').length")
    assert buttons > 10
    ActionChains(browser).send_keys(Keys.TAB).perform()
    link = _js(
        browser,
        "const a = document.activeElement;"
        " return [a.textContent, a.getAttribute('href'), a.getBoundingClientRect().left >= 0]",
    )
    assert link == ["Skip to the stepping controls", "#player", True]  # shown once focused
    ActionChains(browser).send_keys(Keys.ENTER).send_keys(Keys.TAB).perform()
    assert _js(browser, "return document.activeElement.id") == "case-select"


@pytest.mark.parametrize("machine", ["desk", "ccm"])
def test_every_case_stepped_to_its_end_shows_the_composed_run_s_states(
    browser: Any, pages: Path, machine: str
) -> None:
    _open(browser, (pages / f"{machine}.html").as_uri())
    shown_all = _js(browser, _EVERY_CASE_AT_ITS_END, [c.name for c in CASES])
    for case in CASES:
        steps, _ = case_states(case)
        shown = shown_all[case.name]
        want = _composed_states(machine, steps[-1])
        assert shown["states"] == want, case.name
        assert shown["position"] == str(len(inputs_of(case)) + 1)  # and the settling
        # what each desk posted (its CIM messages, in order), then what the CCM published
        lanes: dict[str, list[str]] = {"posted_a": [], "posted_b": []}
        for m in (m for s in steps for m in s.posted):
            lanes[f"posted_{m.role.value}"].append(m.intent.value)
        lanes["conversation"] = [p.split()[1].split("(")[0] for s in steps for p in s.published]
        assert shown["lanes"] == lanes, case.name
        nodes = {f"n-{machine}-{region}__{state}"
                 for region, value in want.items()
                 for state in (value.values() if isinstance(value, dict) else [value])}  # fmt: skip
        assert shown["current"] == sorted(nodes), case.name
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


@pytest.mark.parametrize("machine", ["desk", "ccm"])
def test_stepping_a_case_on_the_desk_and_ccm_pages_marks_the_rows_its_machines_took(
    browser: Any, pages: Path, machine: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = "b-refresh-after-accept-call-dropped"
    model = next(m for m in review.machines() if m.name == machine)
    key_id = {r.key: r.id for r in model.rows}
    edge_of = {row: edge for p in review.panels(model) for edge, rows in p.edges for row in rows}
    _open(browser, (pages / f"{machine}.html").as_uri() + f"#case={name}")
    steps, _ = case_states(find_case(name))
    some_rows, shot = False, None
    for n, step in enumerate(steps, 1):
        _press(browser, "n")
        shown = _page_state(browser)
        assert shown["position"] == str(n)
        assert _strip(browser) == _composed_states(machine, step), n
        keys = _composed_keys(machine, step)
        some_rows = some_rows or bool(keys)
        assert shown["row_keys"] == keys, n
        taken = _js(browser, "return [...document.querySelectorAll('g.edge.taken')]"
                             ".map(g => g.id).sort()")  # fmt: skip
        assert taken == sorted({edge_of[key_id[k]] for k in keys if key_id[k] in edge_of}), n
        if keys and step.published and not shot:  # the first step that publishes
            shot = _artifacts(tmp_path_factory) / f"review-{machine}-{name}-step-{n}.png"
            browser.save_screenshot(str(shot))
            print(f"screenshot of a stepped case on the {machine} page: {shot}")
    assert some_rows and shot


# --- a replay output loaded from a file ------------------------------------------------------


def _replay(trace: str, out_dir: Path, *flags: str) -> Path:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["replay", *flags, str(ROOT / "examples" / "traces" / f"{trace}.jsonl")])
    path = out_dir / f"{trace.replace('/', '-')}{''.join(flags)}.out.jsonl"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("machine", ["leg", "desk"])
def test_a_loaded_replay_output_steps_like_the_cli_printed_it(
    browser: Any, pages: Path, tmp_path: Path, machine: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, (pages / f"{machine}.html").as_uri())
    for trace in TRACES if machine == "leg" else TRACES[:1]:
        output = _replay(trace, tmp_path)
        records = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
        browser.find_element(By.ID, "trace-input").send_keys(str(output))
        WebDriverWait(browser, 10).until(
            lambda d, t=trace: t in d.execute_script(  # type: ignore[misc]
                "return document.getElementById('case-select').selectedOptions[0].textContent"
            )
        )  # fmt: skip
        _press(browser, "\ue010")  # End
        shown = _page_state(browser)
        starts = [n == 0 or records[n - 1]["at"] != r["at"] for n, r in enumerate(records)]
        instants = [r["at"] for r, first in zip(records, starts, strict=True) if first]
        assert shown["position"] == str(len(instants)), trace
        assert shown["lanes"] == _lanes_of(records), trace
        assert shown["states"] == {}  # the output carries no states, and the page says so
        assert "no states" in _js(
            browser, "return document.getElementById('state-strip').textContent"
        )
        _press(browser, "p")
        before_last = _page_state(browser)["lanes"]
        last = [r for r in records if r["at"] == instants[-1]]
        assert sum(map(len, before_last.values())) == len(records) - len(last)


# --- a `consultfsm replay --states` output ---------------------------------------------------

#: Per page, the traces whose --states output is loaded: CTI-driven legs for
#: the leg and the CCM (two legs on one agent: a leg to pick), Finesse-fed
#: AgentDesks for the desk page (two agents' desks of one consult).
STATES_TRACES = {
    "leg": ("issue-sample", "two-legs-one-agent"),
    "ccm": ("issue-sample", "consult-transfer"),
    "desk": ("finesse/ucce/b-refresh-call-dropped",),
}


def _part(machine: str, record: dict[str, Any], subject: str) -> dict[str, Any] | None:
    """The shown machine's part of a states record, as the output says it."""
    if record["to"] != "review":
        return None
    if machine == "desk":
        leg, agent = json.loads(subject)
        desk = next((d for d in record["desks"] if d["agent"] == agent), None)
        if record["leg"] != leg or desk is None:
            return None
        return {"state": {desk["role"]: desk["state"]["call"], "page": desk["state"]["page"]},
                "rows": desk["rows"]}  # fmt: skip
    if record["leg"] != subject:
        return None
    part: dict[str, Any] | None = record["leg_model" if machine == "leg" else "ccm"]
    return part


def _subjects(machine: str, states: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for r in states:
        if machine == "desk":
            names = [json.dumps([r["leg"], d["agent"]], separators=(",", ":"))
                     for d in r["desks"]]  # fmt: skip
        else:
            names = [r["leg"]] if _part(machine, r, r["leg"]) is not None else []
        out += [n for n in names if n not in out]
    return out


def _input_steps(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The output cut after each input's states records (as the page steps it)."""
    steps: list[list[dict[str, Any]]] = [[]]
    for n, r in enumerate(records):
        steps[-1].append(r)
        after = records[n + 1] if n + 1 < len(records) else None
        if r["to"] == "review" and (after is None or after["to"] != "review"):
            steps.append([])
    return [s for s in steps if s]


def _load(browser: Any, output: Path, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.ID, "trace-input").send_keys(str(output))
    WebDriverWait(browser, 10).until(
        lambda d: name in d.execute_script(
            "return document.getElementById('case-select').selectedOptions[0].textContent"
        )
    )  # fmt: skip


@pytest.mark.parametrize("machine", list(STATES_TRACES))
def test_a_loaded_states_output_marks_each_state_and_row_like_the_output_says(
    browser: Any, pages: Path, tmp_path: Path, machine: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:  # fmt: skip
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    model = next(m for m in review.machines() if m.name == machine)
    edge_of = {row: edge for p in review.panels(model) for edge, rows in p.edges for row in rows}
    key_id = {r.key: r.id for r in model.rows}
    _open(browser, (pages / f"{machine}.html").as_uri())
    for trace in STATES_TRACES[machine]:
        output = _replay(trace, tmp_path, "--states")
        records = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
        states = [r for r in records if r["to"] == "review"]
        events = [r for r in records if r["to"] != "review"]
        _load(browser, output, output.name)
        subjects = _subjects(machine, states)
        picker = Select(browser.find_element(By.ID, "subject-select"))
        assert [o.get_attribute("value") for o in picker.options] == subjects, trace
        steps = _input_steps(records)
        for subject in subjects:
            picker.select_by_value(subject)
            _press(browser, "\ue011")  # Home
            state: dict[str, str] | None = None
            rows_seen = 0
            for n, step in enumerate(steps, 1):
                _press(browser, "n")
                shown = _page_state(browser)
                parts = [p for r in step if (p := _part(machine, r, subject)) is not None]
                state = parts[-1]["state"] if parts else state  # carried over the others
                rows = [key for p in parts for key in p["rows"]]
                rows_seen += len(rows)
                assert shown["position"] == str(n), (trace, subject)
                assert shown["states"] == (state or {}), (trace, subject, n)
                assert shown["row_keys"] == rows, (trace, subject, n)
                current = sorted(f"n-{machine}-{r}__{s}" for r, s in (state or {}).items())
                assert shown["current"] == current, (trace, subject, n)
                taken = _js(browser, "return [...document.querySelectorAll('g.edge.taken')]"
                                     ".map(g => g.id).sort()")  # fmt: skip
                edges = sorted({edge_of[key_id[k]] for k in rows if key_id[k] in edge_of})
                assert taken == edges, (trace, subject, n)  # absorbed rows have no edge
                if trace == "two-legs-one-agent" and n == 4:
                    shot = _artifacts(tmp_path_factory) / f"review-{machine}-states-step-{n}.png"
                    browser.save_screenshot(str(shot))
                    print(f"screenshot of a loaded --states output: {shot}")
            assert rows_seen, (trace, subject)  # some step took a row of this machine
            assert shown["lanes"] == _lanes_of(events), trace  # the states are no lane


def test_a_states_output_names_no_desk_machine_for_cti_driven_legs(
    browser: Any, pages: Path, tmp_path: Path
) -> None:
    output = _replay("issue-sample", tmp_path, "--states")
    _open(browser, (pages / "desk.html").as_uri())
    _load(browser, output, output.name)
    _press(browser, "\ue010")  # End
    assert _page_state(browser)["states"] == {}
    strip = _js(browser, "return document.getElementById('state-strip').textContent")
    assert "only agent_desk agents have an AgentDesk machine" in strip


# --- without a browser: the model, the panels and the golden pages ------------------------------


@pytest.mark.parametrize("machine", review.machines(), ids=lambda m: m.name)
def test_every_applied_row_is_on_exactly_one_edge(machine: review.Machine) -> None:
    on_edges = [row for p in review.panels(machine) for _, rows in p.edges for row in rows]
    applied = [r.id for r in machine.rows if r.disposition == "applied"]
    assert sorted(on_edges) == sorted(applied)
    keys = [r.key for r in machine.rows]
    assert len(set(keys)) == len(keys)  # the tests and the page find rows by key


def test_the_pages_name_the_rows_each_case_step_took() -> None:
    ids = {r.key: r.id for r in review.leg_machine().rows}
    for case in CASES:
        model = review.case_model(case, ids)
        leg = new_leg(case)
        assert model["start"] == {r.value: getattr(leg.state, r.value).value for r in Region}
        for step, shown in zip(inputs_of(case), model["steps"], strict=True):
            row = leg.handle(step.kind, step.at, step.value, source_at=step.source_at).row
            assert shown["row"] == (None if row is None else ids[row.key]), case.name


@pytest.mark.parametrize("machine", ["desk", "ccm"])
def test_the_desk_and_ccm_pages_name_the_rows_each_composed_step_took(machine: str) -> None:
    model = next(m for m in review.machines() if m.name == machine)
    ids = {r.key: r.id for r in model.rows}
    for case in CASES:
        steps, _ = case_states(case)
        shown = review.composed_case_model(case, machine, ids)["steps"]
        assert len(shown) == len(steps), case.name
        for step, page in zip(steps, shown, strict=True):
            assert page["rows"] == [ids[k] for k in _composed_keys(machine, step)], case.name
            assert page["state"] == _composed_states(machine, step), case.name


def test_the_generator_does_no_io() -> None:
    source = Path(review.__file__ or "").read_text(encoding="utf-8")
    for banned in ("import subprocess", "import graphviz", "open(", "read_text(", "write_"):
        assert banned not in source, banned


def test_committed_review_pages_are_current() -> None:
    from helpers import assert_current

    from consultfsm.render.diagram import dot_version_of_svg

    _need(shutil.which("dot") is not None, "Graphviz's dot")
    committed = ROOT / "diagrams"
    pages = review_artifacts()
    here = dot_version_of_svg(pages[1].content)
    drawn = dot_version_of_svg((committed / review.REVIEW_DIR / "leg.html").read_bytes())
    if drawn != here:  # like the committed SVGs: the panels are drawn by dot
        pytest.skip(f"rendered with dot {drawn}, this machine has {here}")
    assert_current(pages, committed)


def test_cli_html_writes_and_checks_only_the_pages(tmp_path: Path) -> None:
    _need(shutil.which("dot") is not None, "Graphviz's dot")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["diagram", "--out", str(tmp_path), "--html", "--check"]) == 1
        assert main(["diagram", "--out", str(tmp_path), "--html"]) == 0
        assert main(["diagram", "--out", str(tmp_path), "--html", "--check"]) == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [f"{review.REVIEW_DIR}/{n}.html" for n in ("ccm", "desk", "index", "leg")]
