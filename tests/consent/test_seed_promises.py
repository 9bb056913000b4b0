"""The seed notices' promises about choices, on the Panasonic policy (seed-commitments §4, §5, §9, §10)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from pledge.consent import asks, service
from pledge.consent.schemas import ConsentEventCreate, RequestContext
from pledge.policy import CompiledPolicy, load_compiled
from tests.conftest import PANASONIC_POLICY

EIGHT_YEARS_AGO = (dt.date.today() - dt.timedelta(days=8 * 365)).isoformat()


@pytest.fixture(scope="module")
def panasonic() -> CompiledPolicy:
    return load_compiled(PANASONIC_POLICY)


def _record(session: Session, policy: CompiledPolicy, context: RequestContext | None = None,
            **fields: object) -> service.Recorded:
    fields.setdefault("collection_point", "preference_centre")
    return service.record_event(session=session, policy=policy, event_in=ConsentEventCreate(**fields),  # type: ignore[arg-type]
                                context=context)


def _decision(session: Session, policy: CompiledPolicy, subject: str, purpose: str, **ask: object) -> dict[str, object]:
    checked = asks.check_ask(policy, purpose=purpose, **ask)  # type: ignore[arg-type]
    return asks.decide_for(session=session, policy=policy, subject=subject, ask=checked)[1].as_dict()


def test_gpc_turns_off_sale_and_sharing_for_a_californian(session: Session, panasonic: CompiledPolicy) -> None:
    """S0 (000_8ec896ddd871dbc0.txt, Do Not Track: not honoured "until an industry standard exists");
    GPC is that standard, and 11 CCR § 7025 makes it an opt-out of sale and sharing in California."""
    browser = "browser:6a1f2c3d-0000-4000-8000-000000000001"
    _record(session, panasonic, subject=browser, residence="US-CA", kind="cookies_accepted", target="advertising",
            notice="us", collection_point="banner")
    _record(session, panasonic, subject=browser, kind="cookies_accepted", target="social_media", notice="us",
            collection_point="banner")
    assert _decision(session, panasonic, browser, "targeted_advertising", notice="us")["allowed"] is True
    recorded = _record(session, panasonic, RequestContext(gpc=True), subject=browser, kind="channel_switched_off",
                       target="email")
    assert recorded.gpc_event is not None
    decision = _decision(session, panasonic, browser, "targeted_advertising", notice="us")
    assert decision["allowed"] is False
    assert {r["rule"] for r in decision["reasons"]} & {"opt-out-sale-share", "global-privacy-control"}  # type: ignore[union-attr]


def test_a_marketing_objection_stops_smartapp_marketing_on_contract(session: Session,
                                                                    panasonic: CompiledPolicy) -> None:
    """S2 §7 (002_9e508a21e3d0ba23.txt): objecting to marketing stops marketing processing, even where
    §4 puts marketing communications on the contract."""
    _record(session, panasonic, subject="ann@example.com", residence="DE", kind="objection_raised",
            target="direct_marketing", notice="smartapp")
    decision = _decision(session, panasonic, "ann@example.com", "marketing-communications", notice="smartapp")
    assert decision["allowed"] is False
    assert decision["reasons"][0]["rule"] == "marketing-objection"  # type: ignore[index]


def test_uk_marketing_needs_consent_and_a_childs_needs_a_parent(session: Session, panasonic: CompiledPolicy) -> None:
    """S3 §12-13 (003_7293f6a511e294b4.txt): marketing on consent; children under 13 only with a parent's
    consent."""
    _record(session, panasonic, subject="kid@example.co.uk", residence="GB", birth_date=EIGHT_YEARS_AGO,
            kind="consent_granted", purpose="marketing", notice="uk", actor="guardian", actor_ref="parent")
    assert _decision(session, panasonic, "kid@example.co.uk", "marketing", notice="uk")["allowed"] is False
    _record(session, panasonic, subject="kid@example.co.uk", kind="parental_consent_given", notice="uk",
            actor="guardian", actor_ref="parent")
    assert _decision(session, panasonic, "kid@example.co.uk", "marketing", notice="uk")["allowed"] is True


def test_no_consent_can_be_given_to_smartapp_marketing_on_contract(session: Session,
                                                                   panasonic: CompiledPolicy) -> None:
    """S2 §4 table: marketing communications rest on the performance of a contract, not on consent."""
    with pytest.raises(service.BasisMismatch, match="rests on contract"):
        _record(session, panasonic, subject="ann@example.com", residence="TH", kind="consent_granted",
                purpose="marketing-communications", notice="smartapp")


def test_a_guardian_cannot_act_for_a_thai_adult_of_20(session: Session, panasonic: CompiledPolicy) -> None:
    """S2 Thai Appendix §6: minors are under 20 for Thai residents; at 20 a guardian's event is refused."""
    _record(session, panasonic, subject="somchai@example.co.th", residence="TH", birth_date="2005-01-01",
            kind="channel_switched_off", target="sms")
    with pytest.raises(service.NotAChild, match="under 20"):
        _record(session, panasonic, subject="somchai@example.co.th", kind="parental_consent_given",
                notice="smartapp", actor="guardian")
