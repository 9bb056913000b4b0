"""Identities are normalised, so the same person typed two ways is found once (issue 3, item 1)."""

from __future__ import annotations

import pytest

from pledge.subjects.identities import Identity, IdentityError, IdentityKind, normalise, parse, region_of


def test_an_email_is_found_whatever_its_case() -> None:
    assert normalise("email", "  Ann.Smith@Example.COM ") == Identity(IdentityKind.EMAIL, "ann.smith@example.com")


@pytest.mark.parametrize("typed", ["+44 20 7946 0958", "0044 20 7946 0958", "+44(0)20-7946-0958"])
def test_a_phone_number_becomes_e164(typed: str) -> None:
    assert normalise("phone", typed).value == "+442079460958"


def test_a_national_phone_number_is_read_in_the_residence_country() -> None:
    assert normalise("phone", "020 7946 0958", region=region_of("GB")).value == "+442079460958"
    assert normalise("phone", "(415) 555-2671", region=region_of("US-CA")).value == "+14155552671"


@pytest.mark.parametrize(("kind", "value", "message"), [
    ("email", "not-an-email", "not an email address"),
    ("email", "a@b", "not an email address"),
    ("phone", "12345", "international form"),
    ("phone", "+44 12", "not a valid phone number"),
    ("phone", "+abc", "not a phone number"),
    ("customer_number", "has space", "not a customer number"),
    ("browser_id", "x" * 200, "not a browser id"),
    ("lumix_pro_membership", "ab", "not a LUMIX PRO membership number"),
    ("passport", "X123", "unknown identity kind"),
    ("email", "   ", "empty"),
])
def test_a_malformed_identity_is_refused_with_the_reason(kind: str, value: str, message: str) -> None:
    with pytest.raises(IdentityError, match=message):
        normalise(kind, value)


def test_uuid_shaped_browser_and_device_ids_are_lower_cased() -> None:
    assert normalise("browser_id", "3F9C0F5E-2B1A-4C1D-9E8F-0123456789AB").value == \
        "3f9c0f5e-2b1a-4c1d-9e8f-0123456789ab"
    assert normalise("device_id", "Pixel-7_abc").value == "Pixel-7_abc"


def test_a_lumix_pro_membership_number_is_upper_cased() -> None:
    """S4 (004_63f6557fef08b1c5.txt): the membership number is added by the company."""
    assert normalise("lumix_pro_membership", "lp-00123 45").value == "LP-0012345"


@pytest.mark.parametrize(("typed", "expected"), [
    ("ann@example.com", Identity(IdentityKind.EMAIL, "ann@example.com")),
    ("+14155552671", Identity(IdentityKind.PHONE, "+14155552671")),
    ("C-100234", Identity(IdentityKind.CUSTOMER_NUMBER, "C-100234")),
    ("browser:abc123", Identity(IdentityKind.BROWSER_ID, "abc123")),
    ("device:dev-1", Identity(IdentityKind.DEVICE_ID, "dev-1")),
    ("lumix:LP1234", Identity(IdentityKind.LUMIX_PRO_MEMBERSHIP, "LP1234")),
    ("customer:C 1".replace(" ", ""), Identity(IdentityKind.CUSTOMER_NUMBER, "C1")),
    ("email:Bob@Example.com", Identity(IdentityKind.EMAIL, "bob@example.com")),
])
def test_any_identity_is_read_as_a_person_types_it(typed: str, expected: Identity) -> None:
    assert parse(typed) == expected


def test_region_of_a_residence_code() -> None:
    assert region_of("US-CA") == "US"
    assert region_of("de") == "DE"
    assert region_of("EEA") is None
    assert region_of(None) is None
