"""The decision engine on the seeded company's own policy: promises of S0 hold for real purposes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pledge.decisions import Decision, DecisionAsk, SubjectState, decide
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
    """US targeted advertising runs on notice at collection until the person opts out [S0]."""
    adult = SubjectState(jurisdiction="US-CA", birth_date=dt.date(1980, 1, 1),
                         cookie_categories=frozenset({"advertising", "social_media"}))
    assert _ad(panasonic, adult).allowed


def test_do_not_sell_my_data_stops_targeted_advertising(panasonic: CompiledPolicy) -> None:
    """'You can disable them entirely by clicking the "Do Not Sell My Data" link' [S0 Sale of Information]."""
    opted_out = SubjectState(jurisdiction="US-CA", birth_date=dt.date(1980, 1, 1), opt_out_sale_share=True,
                             cookie_categories=frozenset({"advertising", "social_media"}))
    decision = _ad(panasonic, opted_out)
    assert not decision.allowed
    assert "opt-out-sale-share" in _rules(decision)


def test_global_privacy_control_is_an_opt_out_in_california(panasonic: CompiledPolicy) -> None:
    """GPC is the industry standard S0 waits for; 11 CCR § 7025 makes it an opt-out of sale/sharing."""
    gpc = SubjectState(jurisdiction="US-CA", birth_date=dt.date(1980, 1, 1), gpc=True,
                       cookie_categories=frozenset({"advertising", "social_media"}))
    decision = _ad(panasonic, gpc)
    assert not decision.allowed
    assert "global-privacy-control" in _rules(decision)


def test_eea_targeted_advertising_needs_consent(panasonic: CompiledPolicy) -> None:
    """S0 'Individuals in the European Economic Area': advertising cookies rest on consent there."""
    decision = _ad(panasonic, SubjectState(jurisdiction="DE", birth_date=dt.date(1980, 1, 1)))
    assert not decision.allowed
    assert decision.legal_basis == "consent"
