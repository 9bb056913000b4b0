"""Identity kinds and how each is normalised, so one person typed two ways is found once.

An email is lower-cased; a phone number becomes E.164 (``+442071234567``) through Google's
libphonenumber rules; a UUID-shaped device or browser id is lower-cased. Anything that cannot be
an identity of its kind is refused with a message that says why.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CUSTOMER_NUMBER = "customer_number"
    DEVICE_ID = "device_id"
    BROWSER_ID = "browser_id"
    LUMIX_PRO_MEMBERSHIP = "lumix_pro_membership"


#: Prefixes accepted in ``kind:value`` form (``--subject browser:3f9c...``), besides the kind names.
ALIASES: dict[str, IdentityKind] = {
    "email": IdentityKind.EMAIL,
    "phone": IdentityKind.PHONE,
    "tel": IdentityKind.PHONE,
    "customer": IdentityKind.CUSTOMER_NUMBER,
    "device": IdentityKind.DEVICE_ID,
    "browser": IdentityKind.BROWSER_ID,
    "lumix": IdentityKind.LUMIX_PRO_MEMBERSHIP,
    "lumix_pro": IdentityKind.LUMIX_PRO_MEMBERSHIP,
    **{kind.value: kind for kind in IdentityKind},
}

#: Kinds an anonymous visitor has before logging in; a subject holding only these can be merged.
ANONYMOUS_KINDS = frozenset({IdentityKind.BROWSER_ID, IdentityKind.DEVICE_ID})

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
_CUSTOMER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$")
_LUMIX = re.compile(r"^[A-Z0-9][A-Z0-9\-]{3,31}$")


class IdentityError(ValueError):
    """A value that cannot be an identity of its kind; the message says what is wrong."""


@dataclass(frozen=True)
class Identity:
    """A normalised identity: the key every lookup uses."""

    kind: IdentityKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


def normalise(kind: IdentityKind | str, value: str, *, region: str | None = None) -> Identity:
    """The canonical form of ``value`` as an identity of ``kind``; ``region`` helps read national phone numbers."""
    try:
        kind = IdentityKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in IdentityKind)
        raise IdentityError(f"unknown identity kind {kind!r} (known: {known})") from None
    text = (value or "").strip()
    if not text:
        raise IdentityError(f"the {kind.value} is empty")
    if kind is IdentityKind.EMAIL:
        return Identity(kind, _email(text))
    if kind is IdentityKind.PHONE:
        return Identity(kind, _phone(text, region))
    if kind is IdentityKind.CUSTOMER_NUMBER:
        if not _CUSTOMER.match(text):
            raise IdentityError(f"{text!r} is not a customer number (letters, digits, '.', '_', '-', '/'; at most 64)")
        return Identity(kind, text)
    if kind is IdentityKind.LUMIX_PRO_MEMBERSHIP:
        upper = text.upper().replace(" ", "")
        if not _LUMIX.match(upper):
            raise IdentityError(f"{text!r} is not a LUMIX PRO membership number (4 to 32 letters, digits or '-')")
        return Identity(kind, upper)
    if not _TOKEN.match(text):
        raise IdentityError(f"{text!r} is not a {kind.value.replace('_', ' ')} "
                            "(letters, digits, '.', '_', ':', '-'; at most 128)")
    try:
        return Identity(kind, str(uuid.UUID(text)))
    except ValueError:
        return Identity(kind, text)


def parse(text: str, *, region: str | None = None) -> Identity:
    """Read an identity as a person types it: ``kind:value``, or an email, a ``+`` phone number or a customer number."""
    raw = (text or "").strip()
    if not raw:
        raise IdentityError("no identity given")
    prefix, sep, rest = raw.partition(":")
    if sep and prefix.lower() in ALIASES:
        return normalise(ALIASES[prefix.lower()], rest, region=region)
    if "@" in raw:
        return normalise(IdentityKind.EMAIL, raw)
    if raw.startswith("+") or raw.startswith("00"):
        return normalise(IdentityKind.PHONE, raw, region=region)
    return normalise(IdentityKind.CUSTOMER_NUMBER, raw)


def region_of(residence: str | None) -> str | None:
    """The country part of a residence code (``US-CA`` -> ``US``), as libphonenumber wants a region."""
    if not residence:
        return None
    country = residence.strip().upper().split("-", 1)[0]
    return country if len(country) == 2 and country.isalpha() else None


def _email(text: str) -> str:
    lowered = text.lower()
    if len(lowered) > 254 or not _EMAIL.match(lowered):
        raise IdentityError(f"{text!r} is not an email address")
    return lowered


def _phone(text: str, region: str | None) -> str:
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+") and not region:
        raise IdentityError(f"{text!r}: give the phone number in international form (+ and the country code)")
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        raise IdentityError(f"{text!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise IdentityError(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
