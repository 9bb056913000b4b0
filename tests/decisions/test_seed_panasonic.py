"""The decision engine on the seeded company's own policy: promises of S0 hold for real purposes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pledge.decisions import ConsentState, ConsentStatus, Decision, DecisionAsk, SubjectState, decide
from pledge.policy import CompiledPolicy, load_compiled

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def panasonic() -> CompiledPolicy:
    return load_compiled(Path(__file__).resolve().parents[2] / "policies" / "panasonic")


def _ad(policy: CompiledPolicy, state: SubjectState) -> Decision:
    return decide(policy, state, DecisionAsk(notice="us", purpose="targeted_advertising", at=NOW))


def _rules(decision: Decision) -> set[str]:
    return {reason.rule for reason in decision.reasons}


@pytest.mark.parametrize("residence", ["US-CA", "US-CO", "US-CT", "US-UT", "US-VA", "US-NY"])
def test_no_sale_or_sharing_of_anyone_under_16(panasonic: CompiledPolicy, residence: str) -> None:
    """'We do not sell or share ... the information of consumers under 16 years of age'
    [000_8ec896ddd871dbc0.txt#Sale of Information and Targeted Advertising]."""
    fifteen = SubjectState(jurisdiction=residence, birth_date=dt.date(2011, 6, 1))
    decision = _ad(panasonic, fifteen)
    assert not decision.allowed
    assert "sale-share-under-age" in _rules(decision)


def test_an_adult_who_has_not_opted_out_may_see_targeted_ads_in_the_us(panasonic: CompiledPolicy) -> None:
    """US targeted advertising runs on notice at collection until the person opts out: advertising cookies are
    an opt-out ("Cookie Settings", "Do Not Sell My Data") [000_8ec896ddd871dbc0.txt#How Can You Control Cookies?]."""
    adult = SubjectState(jurisdiction="US-CA", birth_date=dt.date(1980, 1, 1))
    decision = _ad(panasonic, adult)
    assert decision.allowed, decision.reasons
    assert decision.legal_basis == "notice_at_collection"


def test_eea_advertising_cookies_need_opt_in_even_with_consent_to_the_purpose(panasonic: CompiledPolicy) -> None:
    """Under the same US notice, an EEA visitor's advertising cookies need consent (ePrivacy Art. 5(3))."""
    consented = SubjectState(jurisdiction="DE", birth_date=dt.date(1980, 1, 1), consents={
        ("us", "targeted_advertising"): ConsentState(ConsentStatus.GRANTED)})
    decision = _ad(panasonic, consented)
    assert not decision.allowed
    assert _rules(decision) == {"cookie-consent-missing"}
    with_cookies = SubjectState(jurisdiction="DE", birth_date=dt.date(1980, 1, 1), consents={
        ("us", "targeted_advertising"): ConsentState(ConsentStatus.GRANTED)},
        cookie_categories=frozenset({"advertising", "social_media"}))
    assert _ad(panasonic, with_cookies).allowed


def test_global_site_analytics_cookies_need_consent_in_the_eea(panasonic: CompiledPolicy) -> None:
    """S1 analysis runs on legitimate interests, but its performance cookies still need opt-in in the EEA
    (the global notice has no opt-out rule of its own; 002_9e508a21e3d0ba23.txt#Cookie-2.6)."""
    ask = DecisionAsk(notice="global", purpose="analysis", at=NOW)
    without = decide(panasonic, SubjectState(jurisdiction="FR", birth_date=dt.date(1980, 1, 1)), ask)
    assert not without.allowed and _rules(without) == {"cookie-consent-missing"}
    accepted = SubjectState(jurisdiction="FR", birth_date=dt.date(1980, 1, 1),
                            cookie_categories=frozenset({"performance"}))
    assert decide(panasonic, accepted, ask).allowed
