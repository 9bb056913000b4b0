"""Due dates of rights requests, computed from the compiled policy and nothing else.

Pure functions: no I/O, no clock. Every period comes from the jurisdiction's ``RightRule`` (or its
``AppealRule``), every holiday from its holiday table; this module only knows how to count.

Counting rules:

- **Calendar days**: the day of receipt is day 0, so 45 days from 1 March is 15 April (the period
  excludes the first day and includes the last).
- **Months**: the same date in the later month; where that month is shorter, its last day
  (Regulation (EEC, Euratom) No 1182/71 Art. 3(2)(c), ICO guidance): 31 January + 1 month is
  28 February, or 29 February in a leap year. A period of several months is counted from the
  start in one step, so 31 January + 3 months is 30 April, never 28 April.
- **Business days**: the days after the start that are neither a Saturday, a Sunday nor a holiday
  in the jurisdiction's table (Cal. Civ. Code §§ 7, 9 for the 11 CCR periods).
- **A deadline that ends on a weekend or a listed holiday moves to the next working day** only
  where the jurisdiction's ``deadline_rollover`` says so for that unit, with its source (GB: ICO
  guidance, "until the next working day", for months). Calendar-day periods never move (11 CCR
  § 7021(b): 45 *calendar* days): pledge never assumes a later deadline than the policy states.
- **The clock** starts at receipt, at verification, or at the later of the two (UK GDPR Art. 12A),
  as the rule's ``clock_starts`` says; until the identity is proven a verification clock has not
  started, and the due date is unknown.
- **An extension** adds its period to the original one, counted from the clock's start; the person
  must be told of it, with reasons, within ``extension_notify_within`` of the start.

Dates are the UTC calendar date of the event.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from pledge.policy import CompiledPolicy
from pledge.policy.models import ClockStart, Duration, Jurisdiction, Right, RightRule

SATURDAY = 5


class NoSuchRight(LookupError):
    """The jurisdiction does not grant this right (or, for an appeal, has no appeal process)."""

    def __init__(self, jurisdiction: str, right: Right) -> None:
        self.jurisdiction = jurisdiction
        self.right = right
        super().__init__(f"{jurisdiction} grants no right of {right.value.replace('_', ' ')}")


# --- counting ---------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same date ``months`` later, or the last day of that month when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def is_working_day(day: dt.date, holidays: frozenset[dt.date] = frozenset()) -> bool:
    """Neither a Saturday, a Sunday nor a holiday of the table."""
    return day.weekday() < SATURDAY and day not in holidays


def next_working_day(day: dt.date, holidays: frozenset[dt.date] = frozenset()) -> dt.date:
    """``day`` itself when it is a working day, otherwise the first working day after it."""
    while not is_working_day(day, holidays):
        day += dt.timedelta(days=1)
    return day


def add_business_days(day: dt.date, count: int, holidays: frozenset[dt.date] = frozenset()) -> dt.date:
    """The ``count``-th working day after ``day`` (``day`` itself is not counted)."""
    remaining = count
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays):
            remaining -= 1
    return day


def add_duration(day: dt.date, duration: Duration, holidays: frozenset[dt.date] = frozenset()) -> dt.date:
    """``day`` plus a policy duration, in its own unit (no moving to a working day here)."""
    unit, value = duration.unit, duration.value
    if unit == "days":
        return day + dt.timedelta(days=value)
    if unit == "weeks":
        return day + dt.timedelta(weeks=value)
    if unit == "months":
        return add_months(day, value)
    if unit == "years":
        return add_months(day, 12 * value)
    return add_business_days(day, value, holidays)


def holidays_of(jurisdiction: Jurisdiction) -> frozenset[dt.date]:
    """The jurisdiction's holiday table as a set of dates."""
    return frozenset(holiday.date for holiday in jurisdiction.holidays)


def rolls_to_working_day(jurisdiction: Jurisdiction, duration: Duration) -> bool:
    """Whether a deadline of this unit ending on a non-working day moves to the next working day.

    Only where the policy says so (``deadline_rollover``, with its source): pledge never assumes a
    later deadline than the law gives.
    """
    rollover = jurisdiction.deadline_rollover
    return rollover is not None and duration.unit in rollover.units


def period_end(jurisdiction: Jurisdiction, start: dt.date, *periods: Duration) -> dt.date:
    """The end of one period, or of several added together, counted from ``start`` in the jurisdiction."""
    holidays = holidays_of(jurisdiction)
    units = {period.unit for period in periods}
    if len(units) == 1:
        unit = units.pop()
        # Same unit: count the total from the start, so month ends never compound (31 Jan + 3 m = 30 Apr).
        end = add_duration(start, Duration(**{unit: sum(p.value for p in periods)}), holidays)
    else:
        end = start
        for period in periods:
            end = add_duration(end, period, holidays)
    if rolls_to_working_day(jurisdiction, periods[-1]):
        end = next_working_day(end, holidays)
    return end


def clock_start(rule: RightRule, *, received_on: dt.date, verified_on: dt.date | None) -> dt.date | None:
    """When the response period starts under the rule, or None while it waits for verification."""
    if rule.clock_starts is ClockStart.RECEIPT:
        return received_on
    if verified_on is None:
        return None
    if rule.clock_starts is ClockStart.VERIFICATION:
        return verified_on
    return max(received_on, verified_on)


# --- the rules of one request -------------------------------------------------------------------------


def rule_for(policy: CompiledPolicy, jurisdiction: str, right: Right) -> RightRule:
    """The rule the jurisdiction gives the right; an appeal falls back to the jurisdiction's appeal rule."""
    governing = policy.jurisdictions.get(jurisdiction)
    if governing is None:
        raise NoSuchRight(jurisdiction, right)
    found = governing.rights.get(right)
    if found is not None:
        return found
    if right is Right.APPEAL and governing.appeal is not None:
        appeal = governing.appeal
        return RightRule(deadline=appeal.deadline, extension=appeal.extension,
                         extension_times=1 if appeal.extension is not None else 0, source=appeal.source)
    raise NoSuchRight(jurisdiction, right)


@dataclass(frozen=True)
class Deadlines:
    """Every date a request must be answered or acted on by, and the rule each comes from."""

    jurisdiction: str
    right: Right
    received_on: dt.date
    clock_starts: ClockStart
    clock_started_on: dt.date | None
    #: The answer is due by this date, counting the extensions already taken; None when the policy sets
    #: no period ("without undue delay") or the clock has not started.
    due_on: dt.date | None
    #: The due date of the first period, before any extension.
    original_due_on: dt.date | None
    extensions_used: int
    extensions_left: int
    #: The due date if one more extension were taken (None when none is left).
    next_extension_due_on: dt.date | None
    #: The person must be told of that extension, with reasons, by this date.
    extension_notice_by: dt.date | None
    #: Receipt must be confirmed by this date (11 CCR § 7021(a): 10 business days).
    confirmation_due_on: dt.date | None
    source: str
    confirmation_source: str | None

    def as_dict(self) -> dict[str, str | int | None]:
        """Dates as ISO strings, for JSON."""
        def iso(day: dt.date | None) -> str | None:
            return day.isoformat() if day else None
        return {
            "jurisdiction": self.jurisdiction, "right": self.right.value, "received_on": iso(self.received_on),
            "clock_starts": self.clock_starts.value, "clock_started_on": iso(self.clock_started_on),
            "due_on": iso(self.due_on), "original_due_on": iso(self.original_due_on),
            "extensions_used": self.extensions_used, "extensions_left": self.extensions_left,
            "next_extension_due_on": iso(self.next_extension_due_on),
            "extension_notice_by": iso(self.extension_notice_by),
            "confirmation_due_on": iso(self.confirmation_due_on), "source": self.source,
            "confirmation_source": self.confirmation_source,
        }


def compute_deadlines(policy: CompiledPolicy, jurisdiction: str, right: Right, *, received_on: dt.date,
                      verified_on: dt.date | None = None, extensions_used: int = 0) -> Deadlines:
    """The deadlines of a request for ``right`` received on ``received_on`` in ``jurisdiction``.

    Raises ``NoSuchRight`` when the jurisdiction does not grant it, and ``ValueError`` when more
    extensions are claimed than the rule allows.
    """
    governing = policy.jurisdictions.get(jurisdiction)
    rule = rule_for(policy, jurisdiction, right)
    assert governing is not None
    allowed = rule.extension_times if rule.extension is not None else 0
    if extensions_used < 0 or extensions_used > allowed:
        raise ValueError(f"{jurisdiction} allows {allowed} extension(s) of a {right.value} request, "
                         f"not {extensions_used}")
    start = clock_start(rule, received_on=received_on, verified_on=verified_on)
    original = due = next_due = notice_by = None
    if start is not None and rule.deadline is not None:
        original = period_end(governing, start, rule.deadline)
        due = _with_extensions(governing, start, rule, extensions_used)
        if extensions_used < allowed:
            next_due = _with_extensions(governing, start, rule, extensions_used + 1)
            if rule.extension_notify_within is not None:
                notice_by = period_end(governing, start, rule.extension_notify_within)
    confirmation = None
    if governing.confirmation_deadline is not None:
        confirmation = period_end(governing, received_on, governing.confirmation_deadline)
    return Deadlines(
        jurisdiction=jurisdiction, right=right, received_on=received_on, clock_starts=rule.clock_starts,
        clock_started_on=start, due_on=due, original_due_on=original, extensions_used=extensions_used,
        extensions_left=allowed - extensions_used, next_extension_due_on=next_due, extension_notice_by=notice_by,
        confirmation_due_on=confirmation, source=rule.source, confirmation_source=governing.confirmation_source)


def _with_extensions(jurisdiction: Jurisdiction, start: dt.date, rule: RightRule, count: int) -> dt.date:
    assert rule.deadline is not None
    periods: list[Duration] = [rule.deadline]
    if count and rule.extension is not None:
        periods.extend([rule.extension] * count)
    return period_end(jurisdiction, start, *periods)


def appeal_deadlines(policy: CompiledPolicy, jurisdiction: str, *, received_on: dt.date,
                     extensions_used: int = 0) -> Deadlines:
    """The deadlines of an appeal received on ``received_on`` (VA, CT: 60 days; CO: 45 + 60; UT: none)."""
    return compute_deadlines(policy, jurisdiction, Right.APPEAL, received_on=received_on,
                             extensions_used=extensions_used)


def days_left(due_on: dt.date | None, today: dt.date) -> int | None:
    """Calendar days until the due date (negative once overdue), or None without a due date."""
    return None if due_on is None else (due_on - today).days


def earliest(days: Iterable[dt.date | None]) -> dt.date | None:
    """The earliest of the dates given, ignoring the missing ones."""
    present = [day for day in days if day is not None]
    return min(present) if present else None
