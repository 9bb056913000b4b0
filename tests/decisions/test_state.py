"""The subject state the engine reads, one at a time and column-wise."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pledge.decisions import ConsentState, ConsentStatus, StateBatch, SubjectState
from pledge.decisions.state import NO_BIRTH_DATE, NO_EXPIRY, epoch_days
from pledge.policy.models import MarketingChannel
from tests.decisions.conftest import AT


def test_a_state_is_immutable_and_normalised() -> None:
    """The projection is read, never changed in place [DESIGN principle 3]."""
    consents = {("app", "marketing"): ConsentState("granted")}  # type: ignore[arg-type]
    state = SubjectState(consents=consents, channels_off=frozenset({"email"}),  # type: ignore[arg-type]
                         objections={("app", "improve")})  # type: ignore[arg-type]
    consents.clear()
    assert state.consents[("app", "marketing")].status is ConsentStatus.GRANTED
    assert state.channels_off == frozenset({MarketingChannel.EMAIL})
    assert state.objections == frozenset({("app", "improve")})
    with pytest.raises(TypeError):
        state.consents[("app", "x")] = ConsentState(ConsentStatus.GRANTED)  # type: ignore[index]
    with pytest.raises(AttributeError):
        state.restricted = True  # type: ignore[misc]


def test_consent_is_live_until_it_expires() -> None:
    consent = ConsentState(ConsentStatus.GRANTED, expires_at=AT)
    assert consent.live_at(AT - dt.timedelta(seconds=1))
    assert not consent.live_at(AT)
    assert not ConsentState(ConsentStatus.WITHDRAWN).live_at(AT)
    with pytest.raises(ValueError, match="timezone-aware"):
        ConsentState(ConsentStatus.GRANTED, expires_at=dt.datetime(2030, 1, 1))
    with pytest.raises(TypeError, match="ConsentState"):
        SubjectState(consents={("app", "x"): "granted"})  # type: ignore[dict-item]


def test_a_batch_holds_states_column_wise_and_gives_them_back() -> None:
    states = [
        SubjectState(),
        SubjectState(jurisdiction="DE", birth_date=dt.date(2001, 2, 3), restricted=True, gpc=True,
                     consents={("app", "marketing"): ConsentState(ConsentStatus.GRANTED, AT)},
                     objections=frozenset({("app", "improve")}), channels_off=frozenset({MarketingChannel.SMS}),
                     cookie_categories=frozenset({"analytics", "advertising"})),
        SubjectState(jurisdiction="DE", consents={("app", "marketing"): ConsentState(ConsentStatus.WITHDRAWN)}),
    ]
    batch = StateBatch.from_states(states, subject_ids=["a", "b", "c"])
    assert len(batch) == 3
    assert batch.jurisdictions == (None, "DE")
    assert batch.jurisdiction_codes.tolist() == [0, 1, 1]
    assert batch.birth_days.tolist() == [NO_BIRTH_DATE, epoch_days(dt.date(2001, 2, 3)), NO_BIRTH_DATE]
    assert batch.restricted.tolist() == [False, True, False]
    marketing = batch.consents[("app", "marketing")]
    assert marketing.status.tolist() == [0, 1, 3]
    assert marketing.expires_at.tolist() == [NO_EXPIRY, int(AT.timestamp()), NO_EXPIRY]
    assert batch.consents[("app", "improve")].objected.tolist() == [False, True, False]
    assert batch.cookie_categories == ("advertising", "analytics")
    assert [batch.subject_state(i) for i in range(3)] == states


def test_a_batch_refuses_ragged_columns() -> None:
    batch = StateBatch.from_states([SubjectState(), SubjectState()])
    with pytest.raises(ValueError, match="column restricted has shape"):
        StateBatch(**{**{name: getattr(batch, name) for name in batch.__dataclass_fields__},
                      "restricted": np.zeros(3, np.bool_)})
    with pytest.raises(ValueError, match="3 subject ids for 2 states"):
        StateBatch.from_states([SubjectState(), SubjectState()], subject_ids=[1, 2, 3])
