"""Per-field erasure strategies: each leaves what the annotation says, and applying it twice changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from pledge.datamap.models import Erasure, HoldUntil, Strategy
from pledge.datamap.strategies import add_months, apply, hold_active, hold_ends


def _apply(erasure: Erasure, value: object, key: tuple[object, ...] = (7,)) -> object:
    return apply(erasure.strategy, erasure, value, key=key, salt="shop.orders.email", hash_key=b"k")


@pytest.mark.parametrize(("erasure", "value", "left"), [
    (Erasure(strategy=Strategy.SET_NULL), "ada@example.com", None),
    (Erasure.model_validate({"strategy": "mask"}), "Ada", "[erased]"),
    (Erasure.model_validate({"strategy": "mask", "with": "erased-{key}@invalid"}), "ada@example.com",
     "erased-7@invalid"),
    (Erasure.model_validate({"strategy": "generalise", "to": "year"}), dt.date(1984, 5, 17), dt.date(1984, 1, 1)),
    (Erasure.model_validate({"strategy": "generalise", "to": "year"}), "1984-05-17", "1984-01-01"),
    (Erasure.model_validate({"strategy": "generalise", "to": "month"}), "2024-05-17T10:11:12", "2024-05-01T00:00:00"),
    (Erasure.model_validate({"strategy": "generalise", "to": "month"}), dt.datetime(2024, 5, 17, 10),
     dt.datetime(2024, 5, 1)),
    (Erasure.model_validate({"strategy": "generalise", "to": "prefix", "length": 3}), "SW1A 1AA", "SW1"),
    (Erasure.model_validate({"strategy": "generalise", "to": "network"}), "203.0.113.77", "203.0.113.0"),
    (Erasure.model_validate({"strategy": "generalise", "to": "network"}), "2001:db8:1:2::5", "2001:db8:1::"),
    (Erasure(strategy=Strategy.KEEP), "LUMIX S5II", "LUMIX S5II"),
])
def test_each_strategy_leaves_what_it_promises_and_is_idempotent(erasure: Erasure, value: object,
                                                                 left: object) -> None:
    once = _apply(erasure, value)
    assert once == left
    assert _apply(erasure, once) == once


def test_a_hash_is_keyed_stable_and_applied_once() -> None:
    """A pseudonym: the same value hashes alike (joins survive), a second pass leaves it as it is."""
    erasure = Erasure(strategy=Strategy.HASH)
    first = _apply(erasure, "C000000021")
    assert isinstance(first, str) and first.startswith("sha256:") and len(first) == 71
    assert _apply(erasure, "C000000021") == first and _apply(erasure, first) == first
    assert apply(Strategy.HASH, erasure, "C000000021", key=(1,), salt="shop.orders.email", hash_key=b"other") != first
    short = _apply(Erasure.model_validate({"strategy": "hash", "length": 12}), "C000000021")
    assert short == first[:19]


def test_null_stays_null_whatever_the_strategy() -> None:
    for strategy in ("mask", "hash", "set_null"):
        assert _apply(Erasure.model_validate({"strategy": strategy}), None) is None


def test_a_legal_hold_lasts_its_period_after_the_date_it_runs_from() -> None:
    """Invoices kept ten years after they are issued (AO §147(3)); a hold whose start is unknown holds."""
    until = HoldUntil(after="issued_on", years=10)
    row = {"issued_on": "2016-02-29"}
    assert hold_ends(until, row) == dt.datetime(2026, 2, 28)
    assert hold_active(until, row, dt.datetime(2026, 2, 27))
    assert not hold_active(until, row, dt.datetime(2026, 2, 28))
    assert hold_active(until, {"issued_on": None}, dt.datetime(2100, 1, 1))
    assert hold_ends(HoldUntil(date=dt.date(2030, 1, 1)), {}) == dt.datetime(2030, 1, 1)


def test_months_are_added_as_the_calendar_has_them() -> None:
    assert add_months(dt.datetime(2024, 1, 31), 1) == dt.datetime(2024, 2, 29)
    assert add_months(dt.datetime(2023, 12, 15), 1) == dt.datetime(2024, 1, 15)


@pytest.mark.parametrize("bad", [
    {"strategy": "generalise"},
    {"strategy": "generalise", "to": "prefix"},
    {"strategy": "legal_hold", "reason": "tax"},
    {"strategy": "set_null", "reason": "tax"},
    {"strategy": "hash", "length": 4},
])
def test_an_erasure_missing_what_its_strategy_needs_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Erasure.model_validate(bad)
