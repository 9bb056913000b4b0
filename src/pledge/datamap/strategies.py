"""Per-field erasure strategies: pure functions from the value held to the value left.

Every strategy is idempotent (applying it to its own result changes nothing), so an erasure that
is run again, after a crash or by mistake, finds nothing left to change and ends in the same
state. Dates arrive as ``date``/``datetime`` (PostgreSQL) or ISO text (SQLite) and leave in the
form they came.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from typing import Any

from pledge.datamap.models import DatasetField, Erasure, Generalisation, HoldUntil, Strategy

DEFAULT_MASK = "[erased]"
HASH_PREFIX = "sha256:"


def as_datetime(value: Any) -> dt.datetime | None:
    """A date or datetime, in whichever form the driver returned it, as a naive datetime."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).replace(tzinfo=None)
        except ValueError:
            return None
    return None


def hold_ends(until: HoldUntil, row: dict[str, Any]) -> dt.datetime | None:
    """When the hold on this row ends; None when the date it runs from is unknown (then it holds)."""
    if until.date is not None:
        return dt.datetime(until.date.year, until.date.month, until.date.day)
    start = as_datetime(row.get(until.after or ""))
    if start is None:
        return None
    return add_months(start, 12 * (until.years or 0) + (until.months or 0)) + dt.timedelta(days=until.days or 0)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day ``months`` later, or the month's last day when it has none (31 Jan + 1 month = 28/29 Feb)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def hold_active(until: HoldUntil, row: dict[str, Any], now: dt.datetime) -> bool:
    ends = hold_ends(until, row)
    return ends is None or now < ends


def _generalise_date(value: Any, to: Generalisation) -> Any:
    parsed = as_datetime(value)
    if parsed is None:
        return None
    general = parsed.replace(month=1 if to is Generalisation.YEAR else parsed.month, day=1,
                             hour=0, minute=0, second=0, microsecond=0)
    if isinstance(value, dt.datetime):
        return general.replace(tzinfo=value.tzinfo)
    if isinstance(value, dt.date):
        return general.date()
    text = str(value).strip()
    return general.date().isoformat() if len(text) <= 10 else general.isoformat(sep="T" if "T" in text else " ")


def _network(value: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return DEFAULT_MASK
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def apply(strategy: Strategy, erasure: Erasure | None, value: Any, *, key: Sequence[Any], salt: str,
          hash_key: bytes = b"") -> Any:
    """The value left after erasing ``value`` with ``strategy`` (options from ``erasure``)."""
    if value is None or strategy is Strategy.KEEP:
        return value
    if strategy in (Strategy.SET_NULL, Strategy.DELETE_ROW):
        return None
    if strategy is Strategy.MASK:
        template = erasure.mask_with if erasure is not None and erasure.mask_with else DEFAULT_MASK
        return template.replace("{key}", "-".join(str(part) for part in key))
    if strategy is Strategy.HASH:
        text = str(value)
        if text.startswith(HASH_PREFIX):
            return text
        digest = hmac.new(hash_key or b"pledge", f"{salt}:{text}".encode(), hashlib.sha256).hexdigest()
        keep = erasure.length if erasure is not None and erasure.length else len(digest)
        return HASH_PREFIX + digest[:keep]
    if strategy is Strategy.GENERALISE:
        assert erasure is not None and erasure.to is not None
        if erasure.to in (Generalisation.YEAR, Generalisation.MONTH):
            return _generalise_date(value, erasure.to)
        if erasure.to is Generalisation.PREFIX:
            return str(value)[: erasure.length or 1]
        return _network(str(value))
    raise ValueError(f"{strategy} does not compute a value")


def field_strategy(field: DatasetField) -> Strategy:
    """The strategy a personal field is erased with when no other applies: its own, or set_null."""
    if field.erasure is None:
        return Strategy.SET_NULL if field.personal else Strategy.KEEP
    return field.erasure.strategy
