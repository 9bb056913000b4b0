"""From ledger events to current state: one pure mapping, used both live and on replay.

Each event has *effects*: the (aspect, notice, target) keys it sets and the value it sets them
to. A key's current value is the effect of the latest event for it, latest by (``occurred_at``,
ledger id). Because that rule does not depend on the order events arrive in, writing the
projection event by event and replaying the whole ledger give the same rows; ``pledge consent
rebuild --check`` proves it on the real data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pledge.consent.schemas import DIRECT_MARKETING, CollectionPoint, EventKind, OptOut

StateKey = tuple[str, str, str]
"""(aspect, notice id or '', target or '')."""


class Aspect:
    CONSENT = "consent"
    OBJECTION = "objection"
    RESTRICTION = "restriction"
    OPT_OUT = "opt_out"
    GPC = "gpc"
    CHANNEL = "channel"
    COOKIE = "cookie"
    PARENTAL = "parental"


@dataclass(frozen=True)
class Effect:
    aspect: str
    notice_id: str
    target: str
    value: str
    expires_at: dt.datetime | None = None

    @property
    def key(self) -> StateKey:
        return (self.aspect, self.notice_id, self.target)


@dataclass(frozen=True)
class StateValue:
    """What a projection row holds: the value and the event that set it."""

    value: str
    expires_at: dt.datetime | None
    occurred_at: dt.datetime
    event_id: int

    @property
    def order(self) -> tuple[dt.datetime, int]:
        return (self.occurred_at, self.event_id)


def effects(*, kind: EventKind, notice_id: str, target: str, collection_point: CollectionPoint | str,
            expires_at: dt.datetime | None) -> list[Effect]:
    """The state keys an event sets, and to what."""
    kind = EventKind(kind)
    if kind is EventKind.CONSENT_GRANTED:
        return [Effect(Aspect.CONSENT, notice_id, target, "granted", expires_at)]
    if kind is EventKind.CONSENT_DENIED:
        return [Effect(Aspect.CONSENT, notice_id, target, "denied")]
    if kind is EventKind.CONSENT_WITHDRAWN:
        return [Effect(Aspect.CONSENT, notice_id, target, "withdrawn")]
    if kind in (EventKind.OBJECTION_RAISED, EventKind.OBJECTION_WITHDRAWN):
        value = "raised" if kind is EventKind.OBJECTION_RAISED else "withdrawn"
        return [Effect(Aspect.OBJECTION, "" if target == DIRECT_MARKETING else notice_id, target, value)]
    if kind in (EventKind.RESTRICTION_REQUESTED, EventKind.RESTRICTION_LIFTED):
        return [Effect(Aspect.RESTRICTION, "", "", "on" if kind is EventKind.RESTRICTION_REQUESTED else "off")]
    if kind in (EventKind.OPTED_OUT, EventKind.OPTED_IN):
        value = "on" if kind is EventKind.OPTED_OUT else "off"
        found = [Effect(Aspect.OPT_OUT, "", target, value)]
        if target == OptOut.SALE_SHARE and (kind is EventKind.OPTED_IN
                                           or CollectionPoint(collection_point) is CollectionPoint.GPC_SIGNAL):
            found.append(Effect(Aspect.GPC, "", "", value))
        return found
    if kind in (EventKind.CHANNEL_SWITCHED_OFF, EventKind.CHANNEL_SWITCHED_ON):
        return [Effect(Aspect.CHANNEL, "", target, "off" if kind is EventKind.CHANNEL_SWITCHED_OFF else "on")]
    if kind in (EventKind.COOKIES_ACCEPTED, EventKind.COOKIES_REJECTED):
        return [Effect(Aspect.COOKIE, "", target, "accepted" if kind is EventKind.COOKIES_ACCEPTED else "rejected")]
    value = "given" if kind is EventKind.PARENTAL_CONSENT_GIVEN else "withdrawn"
    return [Effect(Aspect.PARENTAL, "", "", value)]


class EventLike(Protocol):
    """The fields of a ledger event that the projection reads (ConsentEvent has them all)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def notice_id(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def collection_point(self) -> str: ...
    @property
    def occurred_at(self) -> dt.datetime: ...
    @property
    def expires_at(self) -> dt.datetime | None: ...


def replay(events: Iterable[EventLike]) -> dict[StateKey, StateValue]:
    """The projection of a run of events, in any order: for each key, the latest event's effect."""
    rows: dict[StateKey, StateValue] = {}
    for event in events:
        for effect in effects(kind=EventKind(event.kind), notice_id=event.notice_id, target=event.target,
                              collection_point=event.collection_point, expires_at=event.expires_at):
            candidate = StateValue(effect.value, effect.expires_at, event.occurred_at, event.id)
            current = rows.get(effect.key)
            if current is None or candidate.order > current.order:
                rows[effect.key] = candidate
    return rows


def differences(expected: Mapping[StateKey, StateValue], actual: Mapping[StateKey, StateValue]) -> list[str]:
    """Human-readable lines for every key where the projection and the replay disagree."""
    lines: list[str] = []
    for key in sorted(set(expected) | set(actual)):
        want, have = expected.get(key), actual.get(key)
        if want == have:
            continue
        label = "/".join(part for part in key if part)
        lines.append(f"{label}: ledger says {_show(want)}, projection holds {_show(have)}")
    return lines


def _show(value: StateValue | None) -> str:
    if value is None:
        return "nothing"
    expiry = f" until {value.expires_at.isoformat()}" if value.expires_at else ""
    return f"{value.value}{expiry} (event {value.event_id})"
