"""Asking the decision engine about people pledge knows by an identity.

The engine (``pledge.decisions``) is pure: it takes a ``SubjectState``. These services find the
subject behind an identity, read their state from the projection, check the ask against the
policy (so a typo is a 4xx, not a refusal), and hand both to ``decide`` or ``decide_many``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pledge.consent.models import ConsentStateRow
from pledge.consent.projection import StateKey, StateValue
from pledge.consent.service import ConsentError, UnknownTarget, resolve_notice, resolve_purpose, state_of
from pledge.decisions import Decision, DecisionAsk, StateBatch, SubjectState, decide, decide_many
from pledge.decisions.engine import UnknownReferenceError
from pledge.policy import CompiledPolicy
from pledge.policy.models import MarketingChannel
from pledge.store import utcnow
from pledge.subjects import service as subjects
from pledge.subjects.identities import Identity
from pledge.subjects.models import DataSubject

#: Most subjects one bulk request may ask about; bigger audiences use ``decide_many`` or the SQL path.
MAX_BULK = 10_000


@dataclass(frozen=True)
class Ask:
    """A question checked against the policy: the purpose of one notice, with the optional narrowing."""

    notice: str
    purpose: str
    data_categories: tuple[str, ...] = ()
    recipient: str | None = None
    channel: MarketingChannel | None = None
    jurisdiction: str | None = None

    def for_engine(self, at: dt.datetime) -> DecisionAsk:
        return DecisionAsk(purpose=self.purpose, notice=self.notice, at=at, data_categories=self.data_categories,
                           recipient=self.recipient, channel=self.channel, jurisdiction=self.jurisdiction)


def check_ask(policy: CompiledPolicy, *, purpose: str, notice: str | None = None, service: str | None = None,
              data_categories: Sequence[str] = (), recipient: str | None = None, channel: str | None = None,
              jurisdiction: str | None = None) -> Ask:
    """The ask with every name checked: unknown purpose, category, recipient, channel or jurisdiction is an error."""
    notice_id, purpose_id = resolve_purpose(policy, purpose, resolve_notice(policy, notice=notice, service=service))
    for index, category in enumerate(data_categories):
        if category not in policy.data_categories:
            raise UnknownTarget(f"unknown data category {category!r}", field=f"data_categories.{index}")
    if recipient is not None and recipient not in policy.recipients:
        raise UnknownTarget(f"unknown recipient {recipient!r} (known: {', '.join(sorted(policy.recipients))})",
                            field="recipient")
    chosen: MarketingChannel | None = None
    if channel is not None:
        try:
            chosen = MarketingChannel(channel)
        except ValueError:
            known = ", ".join(c.value for c in MarketingChannel)
            raise UnknownTarget(f"unknown marketing channel {channel!r} (known: {known})", field="channel") from None
    code = subjects.check_residence(policy, jurisdiction, field="jurisdiction")
    return Ask(notice_id, purpose_id, tuple(data_categories), recipient, chosen, code)


def _decide(policy: CompiledPolicy, state: SubjectState, ask: Ask, at: dt.datetime) -> Decision:
    try:
        return decide(policy, state, ask.for_engine(at))
    except UnknownReferenceError as exc:
        raise ConsentError(str(exc)) from None


def decide_for(*, session: Session, policy: CompiledPolicy, subject: str, ask: Ask, create: bool = False,
               at: dt.datetime | None = None) -> tuple[DataSubject | None, Decision]:
    """Decide for the person an identity names. An unknown identity has no consents; with ``create``,
    it becomes a new subject whose residence is the ask's jurisdiction (the caller commits)."""
    at = at or utcnow()
    reference = subjects.parse_reference(subject, residence=ask.jurisdiction)
    found = subjects.lookup(session=session, reference=reference)
    if found is None and create and isinstance(reference, Identity):
        found, _identity, _created = subjects.ensure_subject(session=session, policy=policy, identity=reference,
                                                             residence=ask.jurisdiction)
    if found is None:
        return None, _decide(policy, SubjectState(jurisdiction=ask.jurisdiction), ask, at)
    states = load_states(session=session, subject_ids=[found.id], today=at.date())
    return found, _decide(policy, states[found.id], ask, at)


@dataclass(frozen=True)
class BulkAnswer:
    subject: str
    subject_id: str | None
    allowed: bool
    rule: str | None


def decide_bulk(*, session: Session, policy: CompiledPolicy, subject_refs: Sequence[str], ask: Ask,
                at: dt.datetime | None = None) -> list[BulkAnswer]:
    """One purpose for many people at once, through the bulk engine; unknown identities have no consents."""
    if len(subject_refs) > MAX_BULK:
        raise ConsentError(f"at most {MAX_BULK} subjects per request; use `pledge decisions sql` for audiences",
                           field="subjects")
    at = at or utcnow()
    found: list[DataSubject | None] = []
    for index, text in enumerate(subject_refs):
        reference = subjects.parse_reference(text, residence=ask.jurisdiction, field=f"subjects.{index}")
        try:
            found.append(subjects.lookup(session=session, reference=reference))
        except subjects.UnknownSubject:
            found.append(None)
    known = load_states(session=session, subject_ids=[s.id for s in found if s is not None], today=at.date())
    states = [known[s.id] if s is not None else SubjectState(jurisdiction=ask.jurisdiction) for s in found]
    try:
        result = decide_many(policy, ask.notice, ask.purpose, StateBatch.from_states(states), at=at,
                             data_categories=ask.data_categories, recipient=ask.recipient, channel=ask.channel,
                             jurisdiction=ask.jurisdiction)
    except UnknownReferenceError as exc:
        raise ConsentError(str(exc)) from None
    answers = []
    for index, (text, subject) in enumerate(zip(subject_refs, found, strict=True)):
        rule = result.rule_of(index)
        answers.append(BulkAnswer(text, subject.id if subject else None, bool(result.allowed[index]),
                                  rule.value if rule else None))
    return answers


def load_states(*, session: Session, subject_ids: Iterable[str], today: dt.date | None = None,
                chunk: int = 1000) -> dict[str, SubjectState]:
    """SubjectStates of many subjects, read from the projection a chunk at a time."""
    ids = list(dict.fromkeys(subject_ids))
    states: dict[str, SubjectState] = {}
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        people = {s.id: s for s in session.scalars(select(DataSubject).where(DataSubject.id.in_(part)))}
        rows: dict[str, dict[StateKey, StateValue]] = {subject_id: {} for subject_id in part}
        for row in session.scalars(select(ConsentStateRow).where(ConsentStateRow.subject_id.in_(part))):
            rows[row.subject_id][(row.aspect, row.notice_id, row.target)] = StateValue(
                row.value, row.expires_at, row.occurred_at, row.event_id)
        for subject_id in part:
            person = people.get(subject_id)
            if person is None:
                raise subjects.UnknownSubject(f"no subject {subject_id!r}", field="subject")
            states[subject_id] = state_of(person, rows[subject_id], today=today)
    return states
