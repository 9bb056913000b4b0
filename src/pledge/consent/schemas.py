"""Vocabularies and Pydantic shapes of the consent ledger: event kinds, where and by whom, in and out."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, TypeAdapter, field_validator

from pledge.schemas import InputModel, PledgeBase, refuse_nul
from pledge.subjects.identities import IdentityKind


class EventKind(StrEnum):
    """What happened, in the past tense: the ledger records facts, not commands."""

    CONSENT_GRANTED = "consent_granted"
    CONSENT_DENIED = "consent_denied"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OBJECTION_RAISED = "objection_raised"
    OBJECTION_WITHDRAWN = "objection_withdrawn"
    RESTRICTION_REQUESTED = "restriction_requested"
    RESTRICTION_LIFTED = "restriction_lifted"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    CHANNEL_SWITCHED_OFF = "channel_switched_off"
    CHANNEL_SWITCHED_ON = "channel_switched_on"
    COOKIES_ACCEPTED = "cookies_accepted"
    COOKIES_REJECTED = "cookies_rejected"
    PARENTAL_CONSENT_GIVEN = "parental_consent_given"
    PARENTAL_CONSENT_WITHDRAWN = "parental_consent_withdrawn"


CONSENT_KINDS = frozenset({EventKind.CONSENT_GRANTED, EventKind.CONSENT_DENIED, EventKind.CONSENT_WITHDRAWN})
OBJECTION_KINDS = frozenset({EventKind.OBJECTION_RAISED, EventKind.OBJECTION_WITHDRAWN})
OPT_OUT_KINDS = frozenset({EventKind.OPTED_OUT, EventKind.OPTED_IN})
CHANNEL_KINDS = frozenset({EventKind.CHANNEL_SWITCHED_OFF, EventKind.CHANNEL_SWITCHED_ON})
COOKIE_KINDS = frozenset({EventKind.COOKIES_ACCEPTED, EventKind.COOKIES_REJECTED})
RESTRICTION_KINDS = frozenset({EventKind.RESTRICTION_REQUESTED, EventKind.RESTRICTION_LIFTED})
PARENTAL_KINDS = frozenset({EventKind.PARENTAL_CONSENT_GIVEN, EventKind.PARENTAL_CONSENT_WITHDRAWN})


class OptOut(StrEnum):
    """The US state-law opt-outs (CCPA/CPRA, VCDPA, CPA, CTDPA, UCPA; S0 Your Choices)."""

    SALE_SHARE = "sale_share"
    TARGETED_ADVERTISING = "targeted_advertising"
    PROFILING = "profiling"
    LIMIT_SENSITIVE = "limit_sensitive"


#: The target of an objection to direct marketing as such (GDPR Art. 21(2)-(3), S2 §7).
DIRECT_MARKETING = "direct_marketing"


class CollectionPoint(StrEnum):
    BANNER = "banner"
    PREFERENCE_CENTRE = "preference_centre"
    APP = "app"
    CALL_CENTRE = "call_centre"
    EMAIL_LINK = "email_link"
    GPC_SIGNAL = "gpc_signal"
    RIGHTS_REQUEST = "rights_request"


class Actor(StrEnum):
    SUBJECT = "subject"
    GUARDIAN = "guardian"
    AUTHORIZED_AGENT = "authorized_agent"
    STAFF = "staff"


class ConsentEventCreate(InputModel):
    """One event as a caller reports it; pledge fills in the notice version, jurisdiction and time."""

    subject: str = Field(min_length=1, max_length=400, description=(
        "who: an identity as typed (email, +phone, customer number) or kind:value "
        "(browser:..., device:..., lumix:...), or subject:<id>"))
    residence: str | None = Field(default=None, max_length=16, description=(
        "ISO 3166 residence code; used when the identity is new, or when the subject has none yet"))
    birth_date: dt.date | None = Field(default=None, description="recorded when the subject has no age yet")
    age_band: str | None = Field(default=None, max_length=16, description="13-15, 18+ or under-13")
    kind: EventKind
    purpose: str | None = Field(default=None, max_length=80, description="for consent and objection events")
    target: str | None = Field(default=None, max_length=120, description=(
        "opt-out (sale_share, targeted_advertising, profiling, limit_sensitive), channel (post, email, phone, "
        "sms, push), cookie category, or direct_marketing for an objection"))
    notice: str | None = Field(default=None, max_length=80, description="the notice the purpose belongs to")
    service: str | None = Field(default=None, max_length=80, description="or the service, which selects the notice")
    collection_point: CollectionPoint
    actor: Actor = Actor.SUBJECT
    actor_ref: str | None = Field(default=None, max_length=200, description="which guardian, agent or staff member")
    evidence_text: str | None = Field(default=None, max_length=100_000,
                                      description="the text shown; pledge keeps only its SHA-256")
    evidence_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                      description="SHA-256 (hex) of the text shown, when the text is not sent")
    occurred_at: dt.datetime | None = Field(default=None, description="when it happened (default: now)")
    expires_at: dt.datetime | None = Field(default=None, description="when a consent lapses, if it does")


#: The longest idempotency key (the ledger's column).
IDEMPOTENCY_KEY_MAX = 128
#: An idempotency key, wherever it comes from (header, batch item, a caller's context). Never empty:
#: an empty key would name no request, and every later empty one would replay the first.
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=IDEMPOTENCY_KEY_MAX), AfterValidator(refuse_nul)]
IDEMPOTENCY_KEY = TypeAdapter(IdempotencyKey)


class ConsentEventBatchItem(ConsentEventCreate):
    """One event of a batch, with its own idempotency key."""

    idempotency_key: IdempotencyKey | None = Field(default=None, description="the same key never records twice")


class ConsentEventBatch(InputModel):
    """Events recorded in one transaction: all of them, or (on any bad one) none."""

    events: list[ConsentEventBatchItem] = Field(min_length=1, max_length=1000)


#: The longest address text the ledger's column holds (an IPv4-mapped IPv6 address in full).
IP_ADDRESS_LENGTH = 45


@functools.lru_cache(maxsize=4096)
def ip_address_or_none(value: str | None) -> str | None:
    """The address in its canonical text, or None when ``value`` is not an IP address.

    The client address comes from the transport, and behind a trusted proxy from its
    X-Forwarded-For header, which anyone in front of that proxy can fill: the ledger keeps evidence
    that is an address, never whatever text arrived in its place. (Cached: a client sends many
    requests, and parsing costs a few microseconds of the ledger's hot path.)
    """
    if value is None:
        return None
    try:
        text = str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
    return text if len(text) <= IP_ADDRESS_LENGTH else None


class RequestContext(InputModel):
    """What the transport knows about the request: kept only as far as the policy allows."""

    ip_address: str | None = Field(default=None, description="an IPv4 or IPv6 address")
    user_agent: str | None = None
    gpc: bool = False
    idempotency_key: IdempotencyKey | None = None

    @field_validator("ip_address")
    @classmethod
    def _an_ip_address(cls, value: str | None) -> str | None:
        address = ip_address_or_none(value)
        if value is not None and address is None:
            raise ValueError(f"not an IP address of at most {IP_ADDRESS_LENGTH} characters")
        return address


class ConsentEventRead(PledgeBase):
    uid: str
    subject_id: str
    identity: str | None = Field(default=None, description="kind of the identity used")
    kind: EventKind
    target: str
    notice_id: str
    notice_version: int | None
    jurisdiction: str
    collection_point: CollectionPoint
    actor: Actor
    actor_ref: str | None
    evidence_hash: str | None
    ip_address: str | None
    user_agent: str | None
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    expires_at: dt.datetime | None
    idempotency_key: str | None


class ConsentRead(PledgeBase):
    notice: str
    purpose: str
    status: str
    expires_at: dt.datetime | None


class SubjectStateRead(PledgeBase):
    """A subject's current state, as the projection holds it and the decision engine reads it."""

    subject_id: str
    residence: str | None
    jurisdiction: str
    birth_date: dt.date | None
    is_child: bool
    parental_consent: bool
    consents: list[ConsentRead]
    objections: list[str] = Field(description="notice/purpose pairs objected to")
    objects_to_marketing: bool
    restricted: bool
    opt_out_sale_share: bool
    opt_out_targeted_advertising: bool
    opt_out_profiling: bool
    gpc: bool
    limit_sensitive: bool
    channels_off: list[str]
    cookie_categories: list[str]


class BatchRecordedRead(PledgeBase):
    """The answer to a batch: each event (new, or already recorded under its key), in order."""

    created: int
    replayed: int
    events: list[ConsentEventRead]
    gpc_events: list[ConsentEventRead] = Field(default_factory=list)


class RecordedRead(PledgeBase):
    """The answer to recording an event: the event, its receipt, and a GPC opt-out if one was honoured."""

    created: bool = Field(description="false when the idempotency key had already recorded this event")
    event: ConsentEventRead
    receipt: dict[str, Any] | None = Field(default=None, description="ISO/IEC TS 27560 receipt (not with "
                                                                    "Prefer: return=minimal)")
    gpc_event: ConsentEventRead | None = None
    state: SubjectStateRead | None = Field(default=None, description="the state after the event (not with "
                                                                     "Prefer: return=minimal)")


IDENTITY_KINDS = tuple(kind.value for kind in IdentityKind)
