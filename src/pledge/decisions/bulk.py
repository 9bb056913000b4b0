"""Decide one purpose for millions of subjects in one pass, column-wise.

``decide_many`` compiles the same rule table as ``decide`` once per distinct residence code of the
batch, groups the checks that agree across jurisdictions, and evaluates each predicate as NumPy
operations over the whole batch. It answers exactly what ``decide`` answers for every subject
(``tests/decisions/test_agreement.py`` proves it), plus the first refusing rule of each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce

import numpy as np
import numpy.typing as npt

from pledge.decisions.engine import (
    REFUSING_RULES,
    RULE_NUMBERS,
    All,
    Always,
    ChannelsOff,
    CookieNotAccepted,
    Flag,
    NoLiveConsent,
    Not,
    Objected,
    Plan,
    Predicate,
    Rule,
    Under,
    age_cutoff,
    rule_table,
)
from pledge.decisions.state import (
    CHANNELS,
    CONSENT_CODES,
    BoolArray,
    ConsentStatus,
    StateBatch,
    epoch_days,
    epoch_seconds,
)
from pledge.policy.compile import CompiledPolicy
from pledge.policy.models import MarketingChannel

_GRANTED = CONSENT_CODES[ConsentStatus.GRANTED]
_CHANNEL_BITS: Mapping[MarketingChannel, int] = {channel: 1 << i for i, channel in enumerate(CHANNELS)}


@dataclass(frozen=True)
class BulkDecision:
    """Allowed or not for every subject of a batch, with the first refusing rule of each."""

    notice: str
    purpose: str
    subject_ids: npt.NDArray[np.generic]
    allowed: BoolArray
    first_rule: npt.NDArray[np.uint8]
    """0 where allowed, else the ``RULE_NUMBERS`` number of the first rule that refused."""

    def __len__(self) -> int:
        return len(self.allowed)

    def allowed_ids(self) -> npt.NDArray[np.generic]:
        return self.subject_ids[self.allowed]

    def rule_of(self, index: int) -> Rule | None:
        """The first refusing rule of subject ``index``, None if allowed."""
        number = int(self.first_rule[index])
        return REFUSING_RULES[number - 1] if number else None

    def refusals(self) -> dict[Rule, int]:
        """How many subjects each rule refused first."""
        counts = np.bincount(self.first_rule, minlength=len(REFUSING_RULES) + 1)
        return {rule: int(counts[n]) for rule, n in RULE_NUMBERS.items() if counts[n]}


class _Columns:
    """Evaluates predicates over a batch at one instant, each distinct predicate once."""

    def __init__(self, batch: StateBatch, at: dt.datetime) -> None:
        self.batch = batch
        self.size = len(batch)
        self.at_seconds = epoch_seconds(at)
        self.at_date = at.date()
        self._cache: dict[Predicate, BoolArray] = {}

    def ones(self) -> BoolArray:
        return np.ones(self.size, np.bool_)

    def evaluate(self, predicate: Predicate) -> BoolArray:
        found = self._cache.get(predicate)
        if found is None:
            found = self._cache[predicate] = self._evaluate(predicate)
        return found

    def _evaluate(self, predicate: Predicate) -> BoolArray:
        batch = self.batch
        match predicate:
            case Always():
                return self.ones()
            case Flag(name):
                return batch.flag(name)
            case Not(operand):
                return ~self.evaluate(operand)
            case All(operands):
                return reduce(np.logical_and, (self.evaluate(op) for op in operands))
            case Under(age):
                cutoff = epoch_days(age_cutoff(self.at_date, age))
                return batch.is_child | (batch.birth_days > cutoff)
            case NoLiveConsent(key):
                consent = batch.consents.get(key)
                if consent is None:
                    return self.ones()
                live: BoolArray = (consent.status == _GRANTED) & (consent.expires_at > self.at_seconds)
                return ~live
            case Objected(key):
                consent = batch.consents.get(key)
                return np.zeros(self.size, np.bool_) if consent is None else consent.objected
            case ChannelsOff(channels):
                mask = np.uint8(sum(_CHANNEL_BITS[channel] for channel in channels))
                off: BoolArray = (batch.channels_off & mask) == mask
                return off
            case CookieNotAccepted(category):
                if category not in batch.cookie_categories:
                    return self.ones()
                bit = np.uint64(1 << batch.cookie_categories.index(category))
                missing: BoolArray = (batch.cookie_mask & bit) == 0
                return missing
        raise TypeError(f"no column form for predicate {predicate!r}")


def decide_many(policy: CompiledPolicy, notice: str, purpose: str, states: StateBatch, *, at: dt.datetime,
                data_categories: tuple[str, ...] = (), recipient: str | None = None,
                channel: MarketingChannel | None = None, jurisdiction: str | None = None) -> BulkDecision:
    """``decide`` for every subject of ``states`` at once (``notice`` is a notice id or a service)."""
    if at.tzinfo is None:
        raise ValueError(f"at must be timezone-aware (UTC), got {at!r}")
    table = rule_table(policy)
    by_notice = notice in policy.notices
    channel = MarketingChannel(channel) if channel is not None else None

    def plan_for(code: str | None) -> Plan:
        return table.plan(notice=notice if by_notice else None, service=None if by_notice else notice,
                          purpose=purpose, jurisdiction=code, data_categories=tuple(data_categories),
                          recipient=recipient, channel=channel)

    size = len(states)
    codes = [jurisdiction] if jurisdiction is not None else list(states.jurisdictions)
    plans = [plan_for(code) for code in codes] or [plan_for(None)]
    # A check that several jurisdictions share is evaluated once, masked to the rows it covers.
    groups: dict[tuple[Rule, Predicate], list[int]] = {}
    for index, plan in enumerate(plans):
        for check in plan.checks:
            groups.setdefault((check.rule, check.when), []).append(index)
    columns = _Columns(states, at)
    refused = np.zeros(size, np.bool_)
    first_rule = np.zeros(size, np.uint8)
    row_masks: dict[tuple[int, ...], BoolArray] = {}
    for (rule, when), covered in sorted(groups.items(), key=lambda item: RULE_NUMBERS[item[0][0]]):
        hit = columns.evaluate(when)
        if len(covered) < len(plans):
            key = tuple(covered)
            rows = row_masks.get(key)
            if rows is None:
                lookup = np.zeros(len(plans), np.bool_)
                lookup[list(covered)] = True
                rows = row_masks[key] = lookup[states.jurisdiction_codes]
            hit = hit & rows
        first_rule[hit & ~refused] = RULE_NUMBERS[rule]
        refused |= hit
    return BulkDecision(notice=plans[0].notice, purpose=purpose, subject_ids=states.subject_ids,
                        allowed=~refused, first_rule=first_rule)
