"""The connect flow's state and sealed offer, with the clock passed in."""

from __future__ import annotations

from typing import Any

from herald.connect import Candidate, Offer
from herald.web.connecting import PICK_SECONDS, STATE_SECONDS, Sealer, begin, take_state

T0 = 1_800_000_000.0
OFFER = Offer("facebook", (Candidate("facebook", "1", "Page", access_token="EAA-secret",
                                     detail="Facebook Page"),), ("a note",))


def test_a_state_is_good_once_and_until_it_expires() -> None:
    session: dict[str, Any] = {}
    state = begin(session, "facebook", now=T0)
    assert take_state(session, "facebook", state, now=T0 + STATE_SECONDS - 1)
    assert not take_state(session, "facebook", state, now=T0 + 1)  # used up

    state = begin(session, "facebook", now=T0)
    assert not take_state(session, "facebook", state, now=T0 + STATE_SECONDS + 1)
    assert not take_state(session, "facebook", state, now=T0)  # expired ones go too


def test_flows_keep_their_own_states() -> None:
    session: dict[str, Any] = {}
    fb, li = begin(session, "facebook", now=T0), begin(session, "linkedin", now=T0)
    assert not take_state(session, "linkedin", fb, now=T0)
    assert take_state(session, "facebook", fb, now=T0)
    assert not take_state(session, "linkedin", li, now=T0)  # a wrong answer used it up
    assert not take_state(session, "facebook", None, now=T0)


def test_a_sealed_offer_opens_only_for_its_user_company_and_session_while_fresh() -> None:
    sealer = Sealer("test-secret-key-0123456789abcdef")
    session: dict[str, Any] = {}
    sealed = sealer.seal(session, OFFER, user_id="u1", company_id="c1", now=T0)
    assert "EAA-secret" not in sealed
    opened = sealer.open(session, "facebook", sealed, user_id="u1", company_id="c1",
                         now=T0 + PICK_SECONDS - 1)
    assert opened == OFFER and opened.candidates[0].access_token == "EAA-secret"
    for user, company, at in (("u2", "c1", T0), ("u1", "c2", T0),
                              ("u1", "c1", T0 + PICK_SECONDS + 1)):
        assert sealer.open(session, "facebook", sealed, user_id=user, company_id=company,
                           now=at) is None
    assert sealer.open({}, "facebook", sealed, user_id="u1", company_id="c1", now=T0) is None
    assert sealer.open(session, "linkedin", sealed, user_id="u1", company_id="c1",
                       now=T0) is None
    other_key = Sealer("another-secret-key-0123456789abc")
    assert other_key.open(session, "facebook", sealed, user_id="u1", company_id="c1",
                          now=T0) is None
    Sealer.used(session, "facebook")
    assert sealer.open(session, "facebook", sealed, user_id="u1", company_id="c1",
                       now=T0) is None
