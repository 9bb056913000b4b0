"""decide_many: one purpose, a whole batch, the same answers as decide."""

from __future__ import annotations

import datetime as dt

import pytest

from pledge.decisions import (
    ConsentState,
    ConsentStatus,
    DecisionAsk,
    Rule,
    StateBatch,
    SubjectState,
    UnknownReferenceError,
    decide,
    decide_many,
)
from pledge.policy import CompiledPolicy
from pledge.policy.models import MarketingChannel
from tests.decisions.conftest import AT

GRANTED = {("app", "marketing"): ConsentState(ConsentStatus.GRANTED)}
STATES = [
    SubjectState(jurisdiction="DE", consents=GRANTED),                      # allowed (consent)
    SubjectState(jurisdiction="DE"),                                        # no consent
    SubjectState(jurisdiction="GB"),                                        # allowed (legitimate interests)
    SubjectState(jurisdiction="GB", objects_to_marketing=True),             # marketing objection
    SubjectState(jurisdiction="VN", channels_off=frozenset({MarketingChannel.EMAIL})),  # email off
    SubjectState(jurisdiction="TH", restricted=True),                       # restricted
]


def test_an_audience_for_email_marketing(policy: CompiledPolicy) -> None:
    """The marketing audience: consent in the EEA, no objection [S2 §7], email not switched off [S3 §12]."""
    batch = StateBatch.from_states(STATES, subject_ids=[10, 11, 12, 13, 14, 15])
    result = decide_many(policy, "app", "marketing", batch, at=AT, channel=MarketingChannel.EMAIL)
    assert result.allowed_ids().tolist() == [10, 12]
    assert [result.rule_of(i) for i in range(len(STATES))] == [
        None, Rule.NO_LIVE_CONSENT, None, Rule.MARKETING_OBJECTION, Rule.CHANNEL_OFF, Rule.RESTRICTED]
    assert result.refusals() == {Rule.NO_LIVE_CONSENT: 1, Rule.MARKETING_OBJECTION: 1, Rule.CHANNEL_OFF: 1,
                                 Rule.RESTRICTED: 1}
    for i, state in enumerate(STATES):
        single = decide(policy, state, DecisionAsk(purpose="marketing", notice="app", at=AT, channel="email"))
        assert single.allowed == bool(result.allowed[i])


def test_a_service_and_a_jurisdiction_override(policy: CompiledPolicy) -> None:
    """A service selects its notice; an ask's jurisdiction applies to the whole batch."""
    batch = StateBatch.from_states([SubjectState(jurisdiction="US-CA", gpc=True), SubjectState(gpc=True)])
    assert decide_many(policy, "acme-web", "ads", batch, at=AT).allowed.tolist() == [False, True]
    overridden = decide_many(policy, "acme-web", "ads", batch, at=AT, jurisdiction="US-CA")
    assert overridden.notice == "web"
    assert overridden.allowed.tolist() == [False, False]


def test_an_empty_batch(policy: CompiledPolicy) -> None:
    result = decide_many(policy, "app", "provide", StateBatch.from_states([]), at=AT)
    assert len(result) == 0
    assert result.refusals() == {}


def test_bad_asks_are_errors(policy: CompiledPolicy) -> None:
    batch = StateBatch.from_states(STATES)
    with pytest.raises(UnknownReferenceError, match="no purpose 'nope'"):
        decide_many(policy, "app", "nope", batch, at=AT)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_many(policy, "app", "provide", batch, at=dt.datetime(2025, 1, 1))
