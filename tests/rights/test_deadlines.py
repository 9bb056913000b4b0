"""Deadlines match the statutes' own examples, read from the Panasonic policy, never hard-coded."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.policy import CompiledPolicy
from pledge.policy.models import ClockStart, Duration, Right
from pledge.rights.deadlines import (
    NoSuchRight,
    add_business_days,
    add_months,
    appeal_deadlines,
    compute_deadlines,
    is_working_day,
)

D = dt.date.fromisoformat


# --- counting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("start, months, expected", [
    ("2026-01-31", 1, "2026-02-28"),
    ("2028-01-31", 1, "2028-02-29"),
    ("2026-03-31", 1, "2026-04-30"),
    ("2026-09-03", 1, "2026-10-03"),
    ("2026-12-15", 1, "2027-01-15"),
    ("2026-01-31", 3, "2026-04-30"),
    ("2026-11-30", 3, "2027-02-28"),
])
def test_calendar_months_keep_the_date_or_clamp_to_the_month_end(start: str, months: int, expected: str) -> None:
    """Reg. 1182/71 Art. 3(2)(c) and ICO guidance: no corresponding date means the last day of the month."""
    assert add_months(D(start), months) == D(expected)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)), st.integers(0, 36))
def test_a_month_period_never_runs_past_the_month_it_lands_in(start: dt.date, months: int) -> None:
    end = add_months(start, months)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day <= start.day


def test_business_days_skip_weekends_and_the_holiday_table() -> None:
    holidays = frozenset({D("2026-01-19")})
    assert add_business_days(D("2026-01-16"), 1, holidays) == D("2026-01-20")  # Fri -> (Mon holiday) Tue
    assert add_business_days(D("2026-01-17"), 1) == D("2026-01-19")  # from a Saturday: Monday is day 1
    assert not is_working_day(D("2026-01-18")) and not is_working_day(D("2026-01-19"), holidays)


@given(st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 1, 1)), st.integers(1, 40))
def test_n_business_days_later_is_a_working_day_with_exactly_n_working_days_between(start: dt.date, n: int) -> None:
    end = add_business_days(start, n)
    between = [start + dt.timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert is_working_day(end)
    assert sum(is_working_day(day) for day in between) == n


# --- GDPR -------------------------------------------------------------------------------------------


def test_gdpr_answer_is_due_one_month_from_receipt(panasonic: CompiledPolicy) -> None:
    """GDPR Art. 12(3): 'within one month of receipt of the request' (EDPB Guidelines 01/2022: 3 Sept -> 3 Oct)."""
    found = compute_deadlines(panasonic, "EEA", Right.ACCESS, received_on=D("2026-09-03"))
    assert found.clock_started_on == D("2026-09-03")
    assert found.due_on == D("2026-10-03")  # a Saturday: the EEA policy lists no holidays, so it does not move
    assert found.source.startswith("GDPR Art. 15, Art. 12(3)")


def test_gdpr_request_received_on_31_january_is_due_on_the_last_day_of_february(panasonic: CompiledPolicy) -> None:
    """GDPR Art. 12(3) read with Reg. 1182/71 Art. 3(2)(c)."""
    assert compute_deadlines(panasonic, "EEA", Right.DELETION, received_on=D("2026-01-31")).due_on == D("2026-02-28")
    assert compute_deadlines(panasonic, "EEA", Right.DELETION, received_on=D("2028-01-31")).due_on == D("2028-02-29")


def test_gdpr_extension_adds_two_months_told_within_the_first(panasonic: CompiledPolicy) -> None:
    """GDPR Art. 12(3): 'extended by two further months ... inform the data subject ... within one month'."""
    found = compute_deadlines(panasonic, "EEA", Right.ACCESS, received_on=D("2026-01-31"))
    assert found.extensions_left == 1
    assert found.next_extension_due_on == D("2026-04-30")
    assert found.extension_notice_by == D("2026-02-28")

    extended = compute_deadlines(panasonic, "EEA", Right.ACCESS, received_on=D("2026-01-31"), extensions_used=1)
    assert extended.due_on == D("2026-04-30")
    assert extended.original_due_on == D("2026-02-28")
    assert extended.extensions_left == 0 and extended.next_extension_due_on is None
    with pytest.raises(ValueError, match="allows 1 extension"):
        compute_deadlines(panasonic, "EEA", Right.ACCESS, received_on=D("2026-01-31"), extensions_used=2)


# --- UK ---------------------------------------------------------------------------------------------


def test_uk_clock_starts_at_the_later_of_receipt_and_proof_of_identity(panasonic: CompiledPolicy) -> None:
    """UK GDPR Art. 12A (Data (Use and Access) Act 2025): the period runs from the latest of receipt and ID."""
    waiting = compute_deadlines(panasonic, "GB", Right.ACCESS, received_on=D("2026-09-03"))
    assert waiting.clock_starts is ClockStart.LATEST_OF_RECEIPT_AND_VERIFICATION
    assert waiting.clock_started_on is None and waiting.due_on is None

    verified = compute_deadlines(panasonic, "GB", Right.ACCESS, received_on=D("2026-09-03"),
                                 verified_on=D("2026-09-08"))
    assert verified.clock_started_on == D("2026-09-08")
    assert verified.due_on == D("2026-10-08")


def test_uk_deadline_on_a_weekend_or_bank_holiday_moves_to_the_next_working_day(panasonic: CompiledPolicy) -> None:
    """ICO guidance (time limits): 'if the corresponding date falls on a weekend or a public holiday, you have
    until the next working day to respond'; bank holidays from the GB policy's table."""
    weekend = compute_deadlines(panasonic, "GB", Right.ACCESS, received_on=D("2026-09-01"),
                                verified_on=D("2026-09-10"))
    assert weekend.due_on == D("2026-10-12")  # 10 Oct 2026 is a Saturday
    boxing_day = compute_deadlines(panasonic, "GB", Right.DELETION, received_on=D("2026-11-28"),
                                   verified_on=D("2026-11-28"))
    assert boxing_day.due_on == D("2026-12-29")  # 28 Dec 2026: Boxing Day (substitute day)
    spring = compute_deadlines(panasonic, "GB", Right.RECTIFICATION, received_on=D("2026-04-25"),
                               verified_on=D("2026-04-20"))
    assert spring.clock_started_on == D("2026-04-25")  # identity proven before receipt: receipt counts
    assert spring.due_on == D("2026-05-26")  # 25 May 2026: Spring bank holiday


def test_eea_deadline_on_a_weekend_does_not_move_without_a_rollover_rule(panasonic: CompiledPolicy) -> None:
    assert compute_deadlines(panasonic, "EEA", Right.ACCESS, received_on=D("2026-09-10")).due_on == D("2026-10-10")


# --- California ----------------------------------------------------------------------------------------


def test_ccpa_confirm_in_10_business_days_answer_in_45_calendar_days_extend_once_by_45(
        panasonic: CompiledPolicy) -> None:
    """11 CCR § 7021(a)-(b): confirm within 10 business days; respond within 45 calendar days from receipt
    'regardless of time required to verify'; one extension of 45 days, noticed within the first 45."""
    found = compute_deadlines(panasonic, "US-CA", Right.KNOW, received_on=D("2026-01-08"))
    assert found.confirmation_due_on == D("2026-01-23")  # skips the weekends and Martin Luther King Jr. Day
    assert found.confirmation_source is not None and "7021(a)" in found.confirmation_source
    assert found.due_on == D("2026-02-22")
    assert found.next_extension_due_on == D("2026-04-08")
    assert found.extension_notice_by == D("2026-02-22")
    later = compute_deadlines(panasonic, "US-CA", Right.KNOW, received_on=D("2026-01-08"), verified_on=D("2026-02-01"))
    assert later.due_on == D("2026-02-22")  # verification does not move the clock


def test_ccpa_45_calendar_days_do_not_move_off_a_weekend(panasonic: CompiledPolicy) -> None:
    """11 CCR § 7021(b) counts calendar days: 22 Feb 2026 is a Sunday and stays the due date."""
    assert compute_deadlines(panasonic, "US-CA", Right.DELETION, received_on=D("2026-01-08")).due_on == D("2026-02-22")


def test_ccpa_opt_out_within_15_business_days_skipping_california_holidays(panasonic: CompiledPolicy) -> None:
    """11 CCR § 7026(f): 'no later than 15 business days from the date the business receives the request';
    Lincoln Day, Washington's Birthday and Lunar New Year 2026 are not business days."""
    found = compute_deadlines(panasonic, "US-CA", Right.OPT_OUT_SALE_SHARE, received_on=D("2026-02-06"))
    assert found.due_on == D("2026-03-04")
    assert found.extensions_left == 0
    assert "7026(f)" in found.source
    limit = compute_deadlines(panasonic, "US-CA", Right.LIMIT_SENSITIVE, received_on=D("2026-02-06"))
    assert limit.due_on == D("2026-03-04")


# --- other US states -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["US-VA", "US-CO", "US-CT", "US-UT"])
def test_virginia_colorado_connecticut_utah_answer_in_45_days_extendable_by_45(
        panasonic: CompiledPolicy, state: str) -> None:
    """Va. Code § 59.1-577(B)(1); C.R.S. § 6-1-1306(2); Conn. Gen. Stat. § 42-518(c)(1); Utah Code § 13-61-203(2)."""
    found = compute_deadlines(panasonic, state, Right.ACCESS, received_on=D("2026-03-01"))
    assert found.due_on == D("2026-04-15")
    assert found.next_extension_due_on == D("2026-05-30")
    assert found.extension_notice_by == D("2026-04-15")
    assert found.confirmation_due_on is None


@pytest.mark.parametrize("state", ["US-VA", "US-CT"])
def test_virginia_and_connecticut_answer_appeals_within_60_days(panasonic: CompiledPolicy, state: str) -> None:
    """Va. Code § 59.1-577(C); Conn. Gen. Stat. § 42-518: a written answer within 60 days of the appeal."""
    found = appeal_deadlines(panasonic, state, received_on=D("2026-03-01"))
    assert found.due_on == D("2026-04-30")
    assert found.extensions_left == 0


def test_colorado_answers_appeals_within_45_days_extendable_by_60(panasonic: CompiledPolicy) -> None:
    """C.R.S. § 6-1-1306(3): 45 days, extendable by 60 more."""
    found = appeal_deadlines(panasonic, "US-CO", received_on=D("2026-03-01"))
    assert found.due_on == D("2026-04-15")
    assert found.next_extension_due_on == D("2026-06-14")


def test_utah_has_no_appeal(panasonic: CompiledPolicy) -> None:
    """Utah Code § 13-61-203 has no appeal process."""
    with pytest.raises(NoSuchRight, match="US-UT grants no right of appeal"):
        appeal_deadlines(panasonic, "US-UT", received_on=D("2026-03-01"))


# --- Thailand, Vietnam, no statutory clock ---------------------------------------------------------------


def test_thai_access_is_fulfilled_within_30_days_of_receipt_without_extension(panasonic: CompiledPolicy) -> None:
    """PDPA s. 30: 'without delay, within thirty days as from the date of receiving the request'."""
    found = compute_deadlines(panasonic, "TH", Right.ACCESS, received_on=D("2026-03-01"))
    assert found.due_on == D("2026-03-31")
    assert found.extensions_left == 0 and found.next_extension_due_on is None


def test_vietnam_acknowledges_within_2_working_days(panasonic: CompiledPolicy) -> None:
    """Decree No. 356/2025/ND-CP: respond within 2 working days; restriction done within 15 days, +15 once."""
    found = compute_deadlines(panasonic, "VN", Right.RESTRICTION, received_on=D("2026-03-06"))  # a Friday
    assert found.confirmation_due_on == D("2026-03-10")
    assert found.due_on == D("2026-03-21") and found.next_extension_due_on == D("2026-04-05")


def test_a_right_without_a_statutory_period_has_no_due_date(panasonic: CompiledPolicy) -> None:
    """APPI Art. 33: 'without delay', no numeric period; pledge invents none."""
    found = compute_deadlines(panasonic, "JP", Right.ACCESS, received_on=D("2026-03-01"))
    assert found.due_on is None and found.extensions_left == 0


def test_a_right_the_jurisdiction_does_not_grant_is_refused(panasonic: CompiledPolicy) -> None:
    with pytest.raises(NoSuchRight):
        compute_deadlines(panasonic, "US-UT", Right.RECTIFICATION, received_on=D("2026-03-01"))
    with pytest.raises(NoSuchRight):
        compute_deadlines(panasonic, "Atlantis", Right.ACCESS, received_on=D("2026-03-01"))


def test_deadlines_follow_an_edited_policy(minimal_policy: CompiledPolicy) -> None:
    """Never guess a deadline: the fixture policy's EEA deletion has no extension, so none is offered."""
    found = compute_deadlines(minimal_policy, "EEA", Right.DELETION, received_on=D("2026-01-31"))
    assert found.due_on == D("2026-02-28") and found.extensions_left == 0
    assert Duration(months=1).describe() == "1 month"
