"""The life of a rights request as a state machine, and its log.

::

    received -> awaiting_verification -> verified -> in_progress -> (awaiting_approval) -> completed
                                                                                         partially_completed
                                                                                         denied
                                                                                         withdrawn

Every change of state is a ``rights_request_event`` with the actor, the time and the reason; an
illegal transition is refused with ``IllegalTransition`` and nothing is written. A request is
denied, or only partly done, with its reason, always: a refused rectification is recorded with
why (PDPA s. 35, S2 Thai appendix s. 4(7)). A run that fails part way leaves the request in
``error`` with what was done so far, from where staff retry or close it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pledge.rights.models import RightsRequest, RightsRequestEvent
from pledge.store import utcnow


class RequestState(StrEnum):
    RECEIVED = "received"
    AWAITING_VERIFICATION = "awaiting_verification"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    ERROR = "error"


S = RequestState

#: Where each state may go next. Work that has started (in_progress, error) can no longer be withdrawn:
#: it is finished, denied or left partly done, so the log always says what happened to the data.
TRANSITIONS: Mapping[RequestState, frozenset[RequestState]] = {
    S.RECEIVED: frozenset({S.AWAITING_VERIFICATION, S.VERIFIED, S.DENIED, S.WITHDRAWN}),
    S.AWAITING_VERIFICATION: frozenset({S.VERIFIED, S.DENIED, S.WITHDRAWN}),
    S.VERIFIED: frozenset({S.IN_PROGRESS, S.DENIED, S.WITHDRAWN}),
    S.IN_PROGRESS: frozenset({S.AWAITING_APPROVAL, S.COMPLETED, S.PARTIALLY_COMPLETED, S.DENIED, S.ERROR}),
    S.AWAITING_APPROVAL: frozenset({S.IN_PROGRESS, S.COMPLETED, S.PARTIALLY_COMPLETED, S.DENIED, S.WITHDRAWN}),
    S.ERROR: frozenset({S.IN_PROGRESS, S.PARTIALLY_COMPLETED, S.DENIED}),
    S.COMPLETED: frozenset(),
    S.PARTIALLY_COMPLETED: frozenset(),
    S.DENIED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

TERMINAL: frozenset[RequestState] = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)
OPEN: frozenset[RequestState] = frozenset(RequestState) - TERMINAL
#: States that must say why.
NEEDS_REASON: frozenset[RequestState] = frozenset({S.DENIED, S.PARTIALLY_COMPLETED, S.ERROR})


class IllegalTransition(Exception):
    """A change of state the machine does not allow; nothing was recorded."""

    def __init__(self, reference: str, current: RequestState, target: RequestState, why: str | None = None) -> None:
        self.reference = reference
        self.current = current
        self.target = target
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing: it is closed"
        super().__init__(why or f"request {reference} is {current.value}; it cannot become {target.value} "
                                f"(from {current.value} it can become {allowed})")


def can_transition(current: RequestState, target: RequestState) -> bool:
    return target in TRANSITIONS[current]


def transition(request: RightsRequest, to: RequestState, *, actor: str, reason: str | None = None,
               data: Mapping[str, Any] | None = None, now: dt.datetime | None = None) -> RightsRequestEvent:
    """Move the request to ``to`` and log it; refuses a move the machine forbids or a denial without reason."""
    current = RequestState(request.state)
    if not can_transition(current, to):
        raise IllegalTransition(request.reference, current, to)
    if to in NEEDS_REASON and not (reason and reason.strip()):
        raise IllegalTransition(request.reference, current, to,
                                f"request {request.reference} cannot become {to.value} without a reason")
    now = now or utcnow()
    request.state = to.value
    if to in TERMINAL:
        request.closed_at = now
        request.outcome_reason = reason.strip() if reason else request.outcome_reason
    elif to is S.ERROR:
        request.outcome_reason = reason.strip() if reason else None
    event = RightsRequestEvent(kind="transition", from_state=current.value, to_state=to.value, actor=actor,
                               reason=reason, data=dict(data or {}), occurred_at=now)
    request.events.append(event)
    return event


def note(request: RightsRequest, kind: str, *, actor: str, reason: str | None = None,
         data: Mapping[str, Any] | None = None, now: dt.datetime | None = None) -> RightsRequestEvent:
    """Log something that happened to the request without changing its state (a code sent, an extension)."""
    event = RightsRequestEvent(kind=kind, from_state=request.state, to_state=request.state, actor=actor,
                               reason=reason, data=dict(data or {}), occurred_at=now or utcnow())
    request.events.append(event)
    return event
