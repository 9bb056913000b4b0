"""Child status follows from a birth date or an age band and the policy's rule for the notice and
jurisdiction (seed-commitments §10: under 13 [S3 §13], under 16 [S1, S0], under 20 [S2 Thai §6])."""

from __future__ import annotations

import datetime as dt

import pytest

from pledge.policy import CompiledPolicy, load_compiled
from pledge.subjects.age import AgeBandError, AgeRange, age_on, age_range, child_age, is_child, parse_age_band
from tests.conftest import PANASONIC_POLICY


@pytest.fixture(scope="module")
def panasonic() -> CompiledPolicy:
    return load_compiled(PANASONIC_POLICY)


@pytest.mark.parametrize(("band", "expected"), [
    ("13-15", AgeRange(13, 15)), (" 16 - 17 ", AgeRange(16, 17)), ("18+", AgeRange(18, None)),
    ("under-13", AgeRange(0, 12)), ("<16", AgeRange(0, 15)), ("UNDER 13", AgeRange(0, 12)),
])
def test_age_bands_are_read(band: str, expected: AgeRange) -> None:
    assert parse_age_band(band) == expected


@pytest.mark.parametrize("band", ["teen", "15-13", "under-0", "", "18-"])
def test_an_unreadable_age_band_is_refused(band: str) -> None:
    with pytest.raises(AgeBandError):
        parse_age_band(band)


def test_age_counts_completed_years() -> None:
    assert age_on(dt.date(2010, 6, 15), dt.date(2026, 6, 14)) == 15
    assert age_on(dt.date(2010, 6, 15), dt.date(2026, 6, 15)) == 16
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 17


def test_a_thai_resident_of_19_is_a_child_under_the_smartapp_thai_appendix(panasonic: CompiledPolicy) -> None:
    """S2 Thai Appendix §6 (002_9e508a21e3d0ba23.txt): a minor is under 20 for Thai residents."""
    limit = child_age(panasonic, "TH", "smartapp")
    assert limit is not None and limit.age == 20
    known = age_range(birth_date=dt.date(2007, 1, 1), age_band=None, today=dt.date(2026, 6, 1))
    assert is_child(known, limit) is True


def test_a_uk_child_is_under_13(panasonic: CompiledPolicy) -> None:
    """S3 §13 (003_7293f6a511e294b4.txt): children under 13."""
    limit = child_age(panasonic, "GB", "uk")
    assert limit is not None and limit.age == 13
    assert is_child(AgeRange(13, 15), limit) is False
    assert is_child(AgeRange(0, 12), limit) is True


def test_the_gdpr_age_applies_to_an_eea_resident_of_the_global_websites(panasonic: CompiledPolicy) -> None:
    """S1 (001_cbab263f9514547f.txt): a child is anyone under 16, or younger where the law says so."""
    limit = child_age(panasonic, "DE", "global")
    assert limit is not None and limit.age == 16


def test_a_band_that_straddles_the_child_age_cannot_prove_adulthood(panasonic: CompiledPolicy) -> None:
    limit = child_age(panasonic, "TH", "smartapp")
    assert is_child(AgeRange(18, None), limit) is True
    assert is_child(None, limit) is None
