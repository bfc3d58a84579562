"""The fuzz suite: hostile and near-valid input at every entry point (issue 15).

Near-valid CIM is drawn from the upstream schemas themselves
(:mod:`schema_strategy`), then mutated: a field dropped or replaced by a
hostile value (a lone surrogate, NUL, a huge number, deep nesting, the other
timestamp form), a key repeated in the text, a byte order mark, bytes that are
not UTF-8. The same mutations reach every entry point that takes outside
input: CIM parsing, the CCM engine, trace lines, leg and engine snapshots, and
Finesse XML. The properties, everywhere:

* only the library's typed errors escape (:class:`ConsultFsmError`), each
  naming what is wrong;
* a rejection changes nothing (the engine's and the replay's state are equal
  before and after);
* whatever is accepted writes back valid CIM (against the schema) that encodes
  as UTF-8.

Hypothesis' ``ci`` profile (``tests/conftest.py``) runs each property a
thousand times, and the report header prints the seed to replay a failure.
"""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cim_schemas import cim_schemas, schema_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schema_strategy import ANY_JSON, SchemaStrategies

from consultfsm.ccm import ChannelSession
from consultfsm.ccm.engine import CcmEngine
from consultfsm.core.errors import ConsultFsmError
from consultfsm.core.leg import Leg
from consultfsm.core.snapshot import LegSnapshot
from consultfsm.core.states import InputKind
from consultfsm.replay.system import System
from consultfsm.wire.cim import CimCodec, CimParseError, MessageIntent, parse_message
from consultfsm.wire.finesse import FinesseError, parse_dialogs, parse_update

ROOT = Path(__file__).resolve().parent.parent
TRACES = ROOT / "examples" / "traces"
CODEC = CimCodec("8000")
CUSTOMER = "+923001234567"
SESSION = ChannelSession("S1", "C1", CUSTOMER, "D0")
_HERE = schema_dir()
pytestmark = pytest.mark.skipif(
    not (_HERE / "cim-message.json").is_file(), reason=f"CIM schemas not found in {_HERE}"
)
_SCHEMAS = SchemaStrategies(_HERE)
_FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                 deadline=None)  # fmt: skip

# --- near-valid CIM, from the schemas ----------------------------------------------------

_CALL_LEG = [i.value for i in (MessageIntent.CALL_LEG_STARTED, MessageIntent.CALL_LEG_ENDED,
                               MessageIntent.CALL_HOLD, MessageIntent.CALL_RESUME)]  # fmt: skip


def _header() -> st.SearchStrategy[dict[str, Any]]:
    """A schema-valid header, often one a CCM would act on (a call-leg intent,
    the customer's number, a consult role)."""

    def steer(header: dict[str, Any], intent: str, ours: bool, role: str) -> dict[str, Any]:
        if ours:
            header = {**header, "intent": intent}
            cd = dict(header.get("channelData") or {})
            cd["channelCustomerIdentifier"] = CUSTOMER
            cd.setdefault("serviceIdentifier", "8000")
            cd["additionalAttributes"] = [
                {"key": "consultRole", "type": "String2000", "value": role}]  # fmt: skip
            header["channelData"] = cd
            header.setdefault("sender", {"id": "1002", "type": "AGENT"})
        return header

    return st.builds(steer, _SCHEMAS.for_file("message-header.json"), st.sampled_from(_CALL_LEG),
                     st.booleans(), st.sampled_from(["CONSULTED", "CONSULTING"]))  # fmt: skip


def _body() -> st.SearchStrategy[dict[str, Any]]:
    def steer(body: dict[str, Any], dialog: str, ours: bool) -> dict[str, Any]:
        return {**body, "callId": dialog, "leg": f"7002:1002:{dialog}"} if ours else body

    return st.builds(steer, _SCHEMAS.for_file("voice-message-body.json"),
                     st.sampled_from(["D1", "D2"]), st.booleans())  # fmt: skip


NEAR_VALID = st.fixed_dictionaries({
    "id": st.text(min_size=1, max_size=8), "header": _header(), "body": _body(),
})  # fmt: skip

#: Values no honest desk sends, in any field.
HOSTILE: st.SearchStrategy[Any] = st.sampled_from([
    "\ud800", "a\udfffb", "a\x00b", "", " ", 10**30, -(10**30), 1e308, -1, 0, True, None,
    [], {}, [[[[[[[[[[]]]]]]]]]], "9" * 400, "2025-02-13T13:57:11+00:99", 1739455031000,
    "1970-01-01T00:00:00Z", "NaN",
]) | ANY_JSON  # fmt: skip


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[Any]) -> Any:
    """A document from ``base``, mutated a few times; sometimes as text with a
    repeated key, a byte order mark, or bytes that are not UTF-8."""
    doc = json.loads(json.dumps(draw(base)))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        *parents, last = path
        node = doc
        for p in parents:
            node = node[p]
        if draw(st.booleans()) and isinstance(node, dict):
            del node[last]
        else:
            node[last] = copy.deepcopy(draw(HOSTILE))  # HOSTILE's constants stay as they are
    form = draw(st.sampled_from(["object", "text", "bytes", "repeated key", "bom", "bad bytes"]))
    if form == "object":
        return doc
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    if form == "repeated key" and text.startswith("{") and len(text) > 2:
        return '{"id": "again", ' + text[1:]
    if form == "bom":
        return "\ufeff" + text
    data = text.encode("utf-8", "surrogatepass")
    return data + b"\xff" if form == "bad bytes" else (data if form == "bytes" else text)


def test_the_schema_strategies_draw_valid_documents() -> None:
    """The generator's own check: unmutated, what it draws validates."""
    schemas = cim_schemas()

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_SCHEMAS.for_file("message-header.json"), _SCHEMAS.for_file("voice-message-body.json"))
    def check(header: dict[str, Any], body: dict[str, Any]) -> None:
        assert not schemas.errors("message-header.json", header)
        assert not schemas.errors("voice-message-body.json", body)

    check()


# --- CIM parse and encode ------------------------------------------------------------------


@_FUZZ
@given(mutated(NEAR_VALID))
def test_cim_parsing_only_raises_cim_parse_error_and_what_it_takes_writes_back_valid(
    data: Any,
) -> None:
    try:
        message = parse_message(data)
    except CimParseError as exc:
        assert exc.path and exc.why  # names the field and the fault
        return
    out = CODEC.encode(message)
    cim_schemas().check_message(out)
    text = CODEC.dumps(message)
    text.encode("utf-8")
    assert parse_message(text) == message


# --- the CCM engine ---------------------------------------------------------------------------


def _engine() -> CcmEngine:
    engine = CcmEngine(CODEC)
    engine.start_session(SESSION, at=0)
    return engine


@_FUZZ
@given(st.lists(mutated(NEAR_VALID), min_size=1, max_size=4))
def test_the_engine_refuses_with_typed_errors_changing_nothing_and_publishes_valid_cim(
    posts: list[Any],
) -> None:
    engine = _engine()
    schemas = cim_schemas()
    for at, data in enumerate(posts, start=1):
        before = json.dumps(engine.snapshot(), sort_keys=True)
        try:
            outcome = engine.receive(data, at)
        except ConsultFsmError as exc:
            assert str(exc)
            assert json.dumps(engine.snapshot(), sort_keys=True) == before
            continue
        for p in outcome.published:
            p.json.encode("utf-8")
            schemas.check_conversation_event(json.loads(p.json))
    json.dumps(engine.snapshot()).encode("utf-8")  # what a store would write


# --- trace lines ------------------------------------------------------------------------------


def _trace_lines() -> list[str]:
    return [line for path in sorted(TRACES.glob("*.jsonl")) if ".expected" not in path.name
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]  # fmt: skip


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


_LINES = _trace_lines()


_JSON_LINES = [line for line in _LINES if _is_json(line)]


def _state(system: System) -> tuple[Any, ...]:
    return (system.now, [leg.snapshot() for leg in system.legs],
            json.dumps(system.ccm.snapshot(), sort_keys=True))  # fmt: skip


@_FUZZ
@given(
    st.integers(0, 30), mutated(st.sampled_from([x for x in _LINES if _is_json(x)]).map(json.loads))
)
def test_a_hostile_trace_line_is_rejected_whole_or_taken_and_written_valid(
    prefix: int, line: Any
) -> None:
    system = System()
    system.feed_lines(_LINES[:prefix])
    before, rejected = _state(system), system.rejected
    if isinstance(line, bytes):
        text = line.decode("utf-8", "replace")  # the CLI decodes; the System takes text
    else:
        text = line if isinstance(line, str) else json.dumps(line)
    records = system.feed_line(text)
    if system.rejected > rejected:
        assert [r["event"] for r in records] == ["input_rejected"] and records[0]["reason"]
        assert _state(system) == before
        return
    for record in records:
        json.dumps(record).encode("utf-8")
        if record["event"] == "cim_message":
            cim_schemas().check_message(record["message"])
        elif record["to"] == "conversation":
            cim_schemas().check_conversation_event(record["message"])


# --- snapshots ----------------------------------------------------------------------------------


def _leg_snapshot() -> dict[str, Any]:
    leg = Leg("L1", "A", "B", CUSTOMER, conversation_id="C1", channel_session_id="S1",
              call_id="D1")  # fmt: skip
    leg.handle(InputKind.ALERTING, 100)
    leg.handle(InputKind.ACCEPTED, 900)
    leg.handle(InputKind.BROWSER_DISCONNECTED_B, 1000)
    return leg.snapshot().to_dict()


@_FUZZ
@given(mutated(st.just(_leg_snapshot())))
def test_a_tampered_leg_snapshot_is_a_snapshot_error_or_a_leg_that_snapshots_again(
    data: Any,
) -> None:
    if not isinstance(data, dict):
        data = {"not": "an object"}
    try:
        snap = LegSnapshot.from_dict(data)
    except ConsultFsmError as exc:
        assert str(exc)
        return
    leg = Leg.restore(snap)
    again = leg.snapshot()
    assert LegSnapshot.from_dict(json.loads(json.dumps(again.to_dict()))) == again


def _engine_snapshot() -> dict[str, Any]:
    engine = _engine()
    message = CODEC.agent_message(
        leg="7002:1002:D1", at=5, intent=MessageIntent.CALL_LEG_STARTED, agent="1002",
        customer=CUSTOMER, call_id="D1", reason=None, consult_role="CONSULTED",
    )  # fmt: skip
    engine.receive(message, 5)
    engine.desk_down("1002", 6)
    return engine.snapshot()


@_FUZZ
@given(mutated(st.just(_engine_snapshot())))
def test_a_tampered_engine_snapshot_is_a_typed_error_or_an_engine_that_goes_on(data: Any) -> None:
    if not isinstance(data, dict):
        data = {"not": "an object"}
    try:
        engine = CcmEngine.restore(data, CODEC)
    except ConsultFsmError as exc:
        assert str(exc)
        return
    json.dumps(engine.snapshot()).encode("utf-8")
    # A restored clock the codec cannot write (past year 9999) is refused, typed.
    with contextlib.suppress(ConsultFsmError):
        engine.handle_timers(engine.now + 10**7)


# --- Finesse XML ----------------------------------------------------------------------------------

_BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<Update><data>&lol3;</data></Update>"
)
_EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    "<Dialogs><Dialog><id>&x;</id></Dialog></Dialogs>"
)


@pytest.mark.parametrize("xml", [_BILLION_LAUGHS, _EXTERNAL])
def test_finesse_xml_with_entities_is_refused(xml: str) -> None:
    for parse in (parse_update, parse_dialogs):
        with pytest.raises(FinesseError):
            parse(xml)


@_FUZZ
@given(
    st.text(max_size=300)
    | st.binary(max_size=300)
    | st.sampled_from(
        ["<Update/>", "<Dialogs/>", "<Update><data><dialog/></data></Update>", "<", "<a>" * 500]
    )
)
def test_finesse_parsing_only_raises_finesse_errors(xml: str | bytes) -> None:
    for parse in (parse_update, parse_dialogs):
        try:
            parse(xml)
        except FinesseError as exc:
            assert str(exc)


def test_an_engine_snapshot_with_a_session_field_of_the_wrong_type_is_refused() -> None:
    """Found by the suite: a leg's session with a numeric customer identifier
    restored, then made the CCM's own end fail with an AttributeError."""
    data = _engine_snapshot()
    data["legs"][0]["session"]["customer_identifier"] = 10**30
    with pytest.raises(ConsultFsmError, match="customer_identifier"):
        CcmEngine.restore(data, CODEC)
    data = _engine_snapshot()
    data["sessions"][0]["active"] = "yes"
    with pytest.raises(ConsultFsmError, match="active"):
        CcmEngine.restore(data, CODEC)
    # Found by CI's seed 3677596666: a dialog named twice broke the eviction.
    data = _engine_snapshot()
    data["legs"][0]["dialogs"] += ["9", "9"]
    with pytest.raises(ConsultFsmError, match="named twice"):
        CcmEngine.restore(data, CODEC)


# --- the durable CCM and its HTTP service -------------------------------------------------------

_TABLES = ("legs", "leg_dialogs", "leg_agents", "presence", "sessions", "tombstones", "inbox",
           "outbox")  # fmt: skip


def _dump(store: Any) -> list[Any]:
    """Every row of every table: what a refused input must leave as it was."""
    with store.transaction() as tx:
        return [sorted(map(repr, tx._q(f"SELECT * FROM {t}"))) for t in _TABLES]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from starlette.testclient import TestClient

    from consultfsm.durable.engine import DurableCcm
    from consultfsm.durable.sqlite import SqliteStore
    from consultfsm.service.app import create_app
    from consultfsm.service.worker import Worker

    store = SqliteStore(tmp_path_factory.mktemp("fuzz") / "ccm.db")
    ccm = DurableCcm(store, CODEC)
    ccm.start_session(SESSION)
    with TestClient(create_app(Worker(ccm, None), run_loops=False),
                    raise_server_exceptions=False) as client:  # fmt: skip
        yield client, store


def _as_body(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    return json.dumps(data).encode("utf-8", "surrogatepass")


@_FUZZ
@given(st.lists(mutated(NEAR_VALID), min_size=1, max_size=4))
def test_the_http_endpoint_answers_200_400_or_422_and_a_refusal_changes_no_row(
    service: Any, posts: list[Any]
) -> None:
    client, store = service
    schemas = cim_schemas()
    for data in posts:
        before = _dump(store)
        answer = client.post("/message/receive", content=_as_body(data))
        assert answer.status_code in (200, 400, 422), answer.text
        body = answer.json()
        if answer.status_code != 200:
            assert body["error"] and body["why"]
            assert _dump(store) == before
            continue
        with store.transaction() as tx:
            rows = tx.pending(None, 100)
            tx.delete_sent(rows)
        for row in rows:
            schemas.check_conversation_event(json.loads(row.body))


@_FUZZ
@given(session=mutated(st.just({"id": "S9", "conversation_id": "C9", "customer_ani": CUSTOMER,
                                "dialog_id": "D9", "agents": ["1001"]})),
       agent=st.text(max_size=12) | HOSTILE.filter(lambda v: isinstance(v, str)))  # fmt: skip
def test_session_and_presence_requests_never_fail_the_server(
    service: Any, session: Any, agent: str
) -> None:
    from urllib.parse import quote

    client, store = service
    before = _dump(store)
    answer = client.post("/sessions", content=_as_body(session))
    assert answer.status_code in (200, 400, 422), answer.text
    if answer.status_code != 200:
        assert _dump(store) == before
    path = quote(agent.encode("utf-8", "surrogatepass"), safe="")
    answer = client.post(f"/desk/{path}/down", headers={"Idempotency-Key": "k"})
    assert answer.status_code in (200, 400, 404, 422), answer.text
