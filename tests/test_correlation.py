"""Finding the customer's channel session: each rule, its order, and its refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consultfsm.ccm.correlation import (
    PLACEHOLDER_ANIS,
    AmbiguousSession,
    ChannelSession,
    ConsultEvidence,
    CorrelationError,
    Evidence,
    NoUsableEvidence,
    SessionNotFound,
    SessionResolver,
    dialog_id_of,
    normalise_ani,
)
from consultfsm.core.errors import ConfigError, ConsultFsmError

CUSTOMER = "+923001234567"
S1 = ChannelSession("S1", "C1", CUSTOMER, dialog_id="16777221", agents=frozenset({"A"}))
S2 = ChannelSession("S2", "C2", "+923337654321", dialog_id="16777230")
PK = SessionResolver("PK")


def test_associated_dialog_uri_wins() -> None:
    # The ANI points at S2, the dialog URI at S1: the stronger evidence decides.
    evidence = ConsultEvidence("/finesse/api/Dialog/16777221", None, "+923337654321")
    found = PK.resolve(evidence, [S1, S2])
    assert (found.session, found.evidence) == (S1, Evidence.ASSOCIATED_DIALOG_URI)


def test_explicit_session_id_beats_the_ani() -> None:
    found = PK.resolve(ConsultEvidence(None, "S2", CUSTOMER), [S1, S2])
    assert (found.session, found.evidence) == (S2, Evidence.CHANNEL_SESSION_ID)


def test_ani_is_the_last_resort() -> None:
    found = PK.resolve(ConsultEvidence(None, None, CUSTOMER), [S1, S2])
    assert (found.session, found.evidence) == (S1, Evidence.CUSTOMER_ANI)


def test_unmatched_evidence_falls_through_to_the_next_kind() -> None:
    evidence = ConsultEvidence("/finesse/api/Dialog/999", "S404", CUSTOMER)
    found = PK.resolve(evidence, [S1, S2])
    assert found.evidence is Evidence.CUSTOMER_ANI


def test_nothing_matching_is_session_not_found_naming_what_was_tried() -> None:
    with pytest.raises(SessionNotFound) as info:
        PK.resolve(ConsultEvidence("/finesse/api/Dialog/999", "S404", "+12025550123"), [S1, S2])
    assert len(info.value.tried) == 3
    assert "999" in str(info.value) and "S404" in str(info.value)


@pytest.mark.parametrize(
    "uri",
    [
        "/finesse/api/Dialog/16777221",
        "https://finesse.example.com:8445/finesse/api/Dialog/16777221",
        "https://finesse.example.com/finesse/api/Dialog/16777221/",
        "/finesse/api/Dialog/16777221?x=1",
        "16777221",
    ],
)
def test_dialog_uri_forms(uri: str) -> None:
    assert dialog_id_of(uri) == "16777221"


@pytest.mark.parametrize("uri", [None, "", " ", "null", "NULL"])
def test_placeholder_dialog_uris_are_absent(uri: str | None) -> None:
    assert dialog_id_of(uri) is None


@pytest.mark.parametrize(
    "ani", ["+923001234567", "923001234567", "03001234567", "0300 1234567", "0300-1234567",
            "00923001234567", "+92 300 1234567", " +923001234567 "],
)  # fmt: skip
def test_ani_forms_normalise_to_e164(ani: str) -> None:
    assert normalise_ani(ani, "PK") == CUSTOMER
    assert PK.resolve(ConsultEvidence(customer_ani=ani), [S1, S2]).session == S1


def test_national_forms_need_a_region() -> None:
    assert normalise_ani("03001234567", None) is None
    assert normalise_ani("+923001234567", None) == CUSTOMER
    with pytest.raises(NoUsableEvidence):
        SessionResolver().resolve(ConsultEvidence(customer_ani="03001234567"), [S1])


def test_the_region_is_configurable() -> None:
    us = ChannelSession("U1", "CU", "+12025550123")
    assert SessionResolver("US").resolve(ConsultEvidence(customer_ani="(202) 555-0123"), [us])
    with pytest.raises(CorrelationError):
        PK.resolve(ConsultEvidence(customer_ani="(202) 555-0123"), [us])


def test_unknown_region_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        SessionResolver("XX")


@pytest.mark.parametrize(
    "ani",
    [None, "", " ", "null", "NULL", "None", "undefined", "anonymous", "Anonymous", "withheld",
     "unknown", "private", "restricted", "1001", "A-ext"],
)  # fmt: skip
def test_placeholders_anonymous_and_extensions_never_match(ani: str | None) -> None:
    # A session whose identifier is the same placeholder must not match either.
    same = ChannelSession("SX", "CX", ani or "", dialog_id="DX")
    with pytest.raises(NoUsableEvidence):
        PK.resolve(ConsultEvidence(customer_ani=ani), [S1, same])
    assert normalise_ani(ani, "PK") is None


@pytest.mark.parametrize(
    ("ani", "region"),
    [("70011", "PK"), ("7001", "GB"), ("1001", "GB"), ("+441001", None), ("+9270011", None)],
)
def test_an_extension_s_length_is_no_customer_s_number_in_any_region(
    ani: str, region: str | None
) -> None:
    """Was a defect (an adversarial review): a length only dialable within an
    area (phonenumbers' "local only") passed as a possible number, so with a
    region set A's extension, what a consult dialog's ANI is, found any
    session whose number was that short (``7001`` in GB was +447001)."""
    assert normalise_ani(ani, region) is None
    short = ChannelSession("SX", "CX", ani, dialog_id="DX")
    with pytest.raises(NoUsableEvidence):
        SessionResolver(region).resolve(ConsultEvidence(customer_ani=ani), [S1, short])


@pytest.mark.parametrize(
    ("ani", "region", "e164"),
    [("0300 1234567", "PK", "+923001234567"), ("051 1234567", "PK", "+92511234567"),
     ("020 7946 0018", "GB", "+442079460018"), ("(202) 555-0123", "US", "+12025550123")],
)  # fmt: skip
def test_national_numbers_still_normalise(ani: str, region: str, e164: str) -> None:
    assert normalise_ani(ani, region) == e164


@pytest.mark.parametrize("ani", ["00000000000", "+920000000000", "0000 0000000", "+1 000 000 0000"])
def test_an_all_zero_number_is_a_placeholder_and_matches_nothing(ani: str) -> None:
    """Was a defect (issue 15, 9): ``00000000000`` normalised to
    ``+920000000000``, and every all-zero number matched every other."""
    assert normalise_ani(ani, "PK") is None
    zeros = ChannelSession("SZ", "CZ", "00000000000", dialog_id="DZ")
    with pytest.raises(NoUsableEvidence):
        PK.resolve(ConsultEvidence(customer_ani=ani), [S1, zeros])


def test_a_number_with_zeros_in_it_is_still_a_number() -> None:
    assert normalise_ani("03000000001", "PK") == "+923000000001"


@given(st.sampled_from(sorted(PLACEHOLDER_ANIS)), st.sampled_from(["", " ", "  "]))
def test_every_placeholder_never_normalises(word: str, pad: str) -> None:
    assert normalise_ani(pad + word.upper() + pad, "PK") is None


def test_two_sessions_for_one_ani_are_ambiguous() -> None:
    twin = ChannelSession("S3", "C3", "0300 1234567")
    with pytest.raises(AmbiguousSession) as info:
        PK.resolve(ConsultEvidence(customer_ani=CUSTOMER, agent_a="Z"), [S1, twin])
    assert info.value.candidates == ("S1", "S3")
    assert info.value.ani == CUSTOMER


def test_a_own_conversation_disambiguates() -> None:
    twin = ChannelSession("S3", "C3", "0300 1234567", agents=frozenset({"X"}))
    found = PK.resolve(ConsultEvidence(customer_ani=CUSTOMER, agent_a="A"), [twin, S1])
    assert found.session == S1


def test_a_in_both_conversations_is_still_ambiguous() -> None:
    twin = ChannelSession("S3", "C3", CUSTOMER, agents=frozenset({"A"}))
    with pytest.raises(AmbiguousSession):
        PK.resolve(ConsultEvidence(customer_ani=CUSTOMER, agent_a="A"), [S1, twin])


def test_inactive_sessions_never_match() -> None:
    ended = ChannelSession("S0", "C0", CUSTOMER, dialog_id="16777221", active=False)
    with pytest.raises(SessionNotFound):
        PK.resolve(ConsultEvidence("/finesse/api/Dialog/16777221", "S0", CUSTOMER), [ended])
    # ... and do not make a live one ambiguous.
    assert PK.resolve(ConsultEvidence(customer_ani=CUSTOMER), [ended, S1]).session == S1


def test_ani_matching_is_scoped_to_the_channel_type() -> None:
    chat = ChannelSession("W1", "C1", CUSTOMER, channel_type="WEB")
    assert PK.resolve(ConsultEvidence(customer_ani=CUSTOMER), [chat, S1]).session == S1


def test_resolution_never_creates_a_session() -> None:
    sessions = [S2]
    with pytest.raises(SessionNotFound):
        PK.resolve(ConsultEvidence(customer_ani=CUSTOMER), sessions)
    assert sessions == [S2]


def test_errors_are_typed() -> None:
    for cls in (NoUsableEvidence, SessionNotFound, AmbiguousSession):
        assert issubclass(cls, CorrelationError)
    assert issubclass(CorrelationError, ConsultFsmError)


@given(st.text(max_size=30), st.sampled_from([None, "PK", "US", "GB"]))
def test_normalise_is_total(text: str, region: str | None) -> None:
    result = normalise_ani(text, region)
    assert result is None or result.startswith("+")


def test_a_dialog_uri_matching_two_sessions_is_ambiguous_not_a_fall_through() -> None:
    # The ANI alone would pick S1; the dialog URI names two sessions: never guess.
    twin = ChannelSession("S3", "C3", "+923337654321", dialog_id="16777221")
    evidence = ConsultEvidence("/finesse/api/Dialog/16777221", None, CUSTOMER, agent_a="Z")
    with pytest.raises(AmbiguousSession) as info:
        PK.resolve(evidence, [S1, twin])
    assert info.value.candidates == ("S1", "S3")
    assert info.value.evidence is Evidence.ASSOCIATED_DIALOG_URI
    assert info.value.value == "16777221" and info.value.ani is None
    assert "associatedDialogUri dialog '16777221' matches 2" in str(info.value)


def test_a_own_conversation_disambiguates_a_dialog_uri_too() -> None:
    twin = ChannelSession("S3", "C3", CUSTOMER, dialog_id="16777221", agents=frozenset({"X"}))
    evidence = ConsultEvidence("/finesse/api/Dialog/16777221", None, None, agent_a="A")
    found = PK.resolve(evidence, [twin, S1])
    assert (found.session, found.evidence) == (S1, Evidence.ASSOCIATED_DIALOG_URI)


def test_an_ambiguous_ani_names_its_evidence() -> None:
    twin = ChannelSession("S3", "C3", CUSTOMER)
    with pytest.raises(AmbiguousSession) as info:
        PK.resolve(ConsultEvidence(customer_ani=CUSTOMER, agent_a="Z"), [S1, twin])
    assert info.value.evidence is Evidence.CUSTOMER_ANI and info.value.value == CUSTOMER
