"""Age and child status: who counts as a child depends on the notice and the jurisdiction.

A subject has a birth date, or only an age band (``13-15``, ``18+``, ``under-13``) when that is
all a sign-up form asked. Child status follows from the policy: the notice's own rule for the
subject's jurisdiction (S2 Thai Appendix §6: under 20), else the jurisdiction's age (GDPR Art. 8(1):
16), else the notice's default rule (S3 §13: under 13), else the default jurisdiction's age.
A band that straddles the child age cannot prove adulthood, so it counts as a child.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pledge.policy import CompiledPolicy
from pledge.policy.checks import DEFAULT_JURISDICTION

_RANGE = re.compile(r"^(\d{1,3})\s*-\s*(\d{1,3})$")
_OPEN = re.compile(r"^(\d{1,3})\s*\+$")
_UNDER = re.compile(r"^(?:under|<)\s*-?\s*(\d{1,3})$")


class AgeBandError(ValueError):
    """An age band pledge cannot read; the message gives the accepted forms."""


@dataclass(frozen=True)
class AgeRange:
    """Ages a person may be, inclusive; ``maximum`` None means no upper bound."""

    minimum: int
    maximum: int | None

    def canonical(self) -> str:
        if self.maximum is None:
            return f"{self.minimum}+"
        return f"{self.minimum}-{self.maximum}"


@dataclass(frozen=True)
class ChildAge:
    """Under this age a person is a child, and the rule that says so."""

    age: int
    source: str


def parse_age_band(text: str) -> AgeRange:
    """Read ``13-15``, ``18+`` or ``under-13`` (also ``<13``) into an inclusive range."""
    band = (text or "").strip().lower()
    if match := _RANGE.match(band):
        low, high = int(match[1]), int(match[2])
        if low > high:
            raise AgeBandError(f"age band {text!r}: the lower age is above the upper one")
        return AgeRange(low, high)
    if match := _OPEN.match(band):
        return AgeRange(int(match[1]), None)
    if match := _UNDER.match(band):
        limit = int(match[1])
        if limit == 0:
            raise AgeBandError(f"age band {text!r} contains no age")
        return AgeRange(0, limit - 1)
    raise AgeBandError(f"age band {text!r}: write it as 13-15, 18+ or under-13")


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Completed years on ``day``."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def age_range(*, birth_date: dt.date | None, age_band: str | None, today: dt.date | None = None) -> AgeRange | None:
    """What pledge knows of a person's age today: exact from a birth date, a band, or nothing."""
    if birth_date is not None:
        age = age_on(birth_date, today or dt.date.today())
        return AgeRange(age, age)
    if age_band:
        return parse_age_band(age_band)
    return None


def child_age(policy: CompiledPolicy, jurisdiction: str | None, notice_id: str | None = None) -> ChildAge | None:
    """The age under which a person is a child, for this jurisdiction and (optionally) notice."""
    code = policy.resolve_jurisdiction(jurisdiction)
    notice = policy.notices.get(notice_id) if notice_id else None
    if notice is not None:
        for rule in notice.children:
            if rule.jurisdiction == code:
                return ChildAge(rule.age, rule.source)
    governing = policy.jurisdictions.get(code)
    if governing is not None and governing.child_age is not None:
        return ChildAge(governing.child_age.value, governing.child_age.source)
    if notice is not None:
        for rule in notice.children:
            if rule.jurisdiction == DEFAULT_JURISDICTION:
                return ChildAge(rule.age, rule.source)
    fallback = policy.jurisdictions.get(DEFAULT_JURISDICTION)
    if fallback is not None and fallback.child_age is not None:
        return ChildAge(fallback.child_age.value, fallback.child_age.source)
    return None


def is_child(known: AgeRange | None, limit: ChildAge | None) -> bool | None:
    """True when the person may be under the child age, False when surely not, None when unknown."""
    if known is None or limit is None:
        return None
    return known.minimum < limit.age
