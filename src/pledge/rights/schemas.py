"""Vocabularies and Pydantic shapes of rights requests: what comes in, what the public and staff see."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from pledge.policy.models import Right
from pledge.schemas import InputModel, PledgeBase


class RequestType(StrEnum):
    """What a person can ask for; each exercises one ``Right`` of the policy."""

    ACCESS = "access"
    KNOW = "know"
    PORTABILITY = "portability"
    DELETION = "deletion"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    LIFT_RESTRICTION = "lift_restriction"
    OBJECTION = "objection"
    OPT_OUT_SALE_SHARE = "opt_out_sale_share"
    OPT_OUT_TARGETED_ADVERTISING = "opt_out_targeted_advertising"
    OPT_OUT_PROFILING = "opt_out_profiling"
    LIMIT_SENSITIVE = "limit_sensitive"
    WITHDRAW_CONSENT = "withdraw_consent"
    AUTOMATED_DECISION = "automated_decision"
    APPEAL = "appeal"


#: The right each request type exercises; lifting a restriction belongs to the right of restriction.
RIGHT_OF: dict[RequestType, Right] = {
    **{kind: Right(kind.value) for kind in RequestType if kind is not RequestType.LIFT_RESTRICTION},
    RequestType.LIFT_RESTRICTION: Right.RESTRICTION,
}

#: Types that only stop or limit processing: no identity verification is required unless the policy names a
#: level for them (11 CCR § 7060(b); Conn. Gen. Stat. § 42-518(c)(4) covers only rights (a)(1) to (4)).
STOP_TYPES: frozenset[RequestType] = frozenset({
    RequestType.OPT_OUT_SALE_SHARE, RequestType.OPT_OUT_TARGETED_ADVERTISING, RequestType.OPT_OUT_PROFILING,
    RequestType.LIMIT_SENSITIVE, RequestType.WITHDRAW_CONSENT})

#: Types answered with a response package.
PACKAGE_TYPES: frozenset[RequestType] = frozenset({RequestType.ACCESS, RequestType.KNOW, RequestType.PORTABILITY})

#: Types a person decides on with staff, not carried out by a machine.
MANUAL_TYPES: frozenset[RequestType] = frozenset({RequestType.APPEAL, RequestType.AUTOMATED_DECISION})


class Channel(StrEnum):
    """How the request reached the company (S0 'Your Rights': web form, email, phone or post)."""

    API = "api"
    WEB = "web"
    CLI = "cli"
    EMAIL = "email"
    PHONE = "phone"
    POST = "post"


class DocumentKind(StrEnum):
    AGENT_PERMISSION = "agent_permission"
    SIGNED_DECLARATION = "signed_declaration"


class DocumentIn(InputModel):
    """An uploaded file: the agent's signed permission, or a declaration under penalty of perjury."""

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=120)
    content: bytes = Field(description="the file's bytes, base64-encoded in JSON")

    @field_validator("content", mode="before")
    @classmethod
    def _base64_text(cls, value: object) -> object:
        """JSON carries the file as base64 text; Python callers hand over the bytes themselves."""
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("content must be base64-encoded") from None
        return value


class AgentIn(InputModel):
    """An authorised agent acting for the person (Cal. Civ. Code § 1798.185(a)(7); 11 CCR § 7063)."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    permission: DocumentIn | None = Field(default=None, description="the person's signed permission (required)")


class RequestDetails(InputModel):
    """What the request asks for, beyond its type."""

    corrections: dict[str, str] = Field(default_factory=dict, description=(
        "rectification: the attribute to correct (as the data map names it, e.g. email, postal_address) "
        "and its correct value"))
    purposes: list[str] = Field(default_factory=list, description=(
        "restriction, objection, withdrawal of consent: purpose ids (notice.purpose or purpose); "
        "empty means every purpose it can apply to"))
    send_to: str | None = Field(default=None, max_length=320, description=(
        "portability: the email of another controller to send the package link to, at the person's direction"))
    message: str | None = Field(default=None, max_length=10_000, description="what the person wrote, as written")


class RightsRequestCreate(InputModel):
    """A request as the person (or their agent, or staff on their behalf) makes it."""

    request_type: RequestType
    identity: str = Field(min_length=1, max_length=400, description=(
        "who the request is about: an email, a +phone number, a customer number or kind:value"))
    contact_email: str | None = Field(default=None, max_length=320, description=(
        "where the code and the answer go; defaults to the identity when it is an email"))
    residence: str | None = Field(default=None, max_length=16, description=(
        "ISO 3166 code of residence (DE, GB, US-CA, TH): selects the law whose rules apply"))
    details: RequestDetails = Field(default_factory=RequestDetails)
    agent: AgentIn | None = None
    appeal_of: str | None = Field(default=None, max_length=24, description="appeal: the reference of the decision")


class VerifyIn(InputModel):
    """The person's proof: the code they were sent, and the data points the request's level needs."""

    code: str = Field(min_length=1, max_length=20)
    data_points: dict[str, str] = Field(default_factory=dict, description=(
        "kind -> value: phone, customer_number, device_id, lumix_pro_membership, birth_date (YYYY-MM-DD) ..."))
    declaration: DocumentIn | None = Field(default=None, description="signed declaration, where the level needs one")


class ReasonIn(InputModel):
    reason: str = Field(min_length=1, max_length=10_000)


class RequestReceipt(PledgeBase):
    """The public answer to a request: the same whether or not the company knows the person."""

    reference: str
    request_type: RequestType
    jurisdiction: str
    state: str
    received_at: dt.datetime
    confirmation_due_on: dt.date | None
    due_on: dt.date | None
    next_step: str


class VerificationOutcome(PledgeBase):
    """What a verification attempt produced."""

    reference: str
    verified: bool
    state: str
    attempts_left: int
    message: str


class EventRead(PledgeBase):
    kind: str
    from_state: str | None
    to_state: str | None
    actor: str
    reason: str | None
    data: dict[str, Any]
    occurred_at: dt.datetime


class DocumentRead(PledgeBase):
    kind: str
    filename: str
    content_type: str
    sha256: str
    size: int
    uploaded_at: dt.datetime


class JobProgress(PledgeBase):
    id: int
    kind: str
    state: str
    progress: float
    message: str | None
    attempts: int
    error: str | None


class RightsRequestRead(PledgeBase):
    """A request as staff see it: everything, with its log."""

    reference: str
    request_type: RequestType
    right: str
    jurisdiction: str
    residence: str | None
    state: str
    channel: str
    subject_id: str | None
    identity: str
    contact_email: str
    details: dict[str, Any]
    agent_name: str | None
    agent_email: str | None
    appeal_of: str | None
    received_at: dt.datetime
    confirmation_due_on: dt.date | None
    confirmed_at: dt.datetime | None
    verification_level: str | None
    verified_at: dt.datetime | None
    verification_method: str | None
    clock_started_on: dt.date | None
    due_on: dt.date | None
    original_due_on: dt.date | None
    extensions_used: int
    extension_notice_by: dt.date | None
    deadline_source: str | None
    closed_at: dt.datetime | None
    outcome_reason: str | None
    result: dict[str, Any]
    package_sha256: str | None
    package_created_at: dt.datetime | None
    retain_until: dt.datetime
    events: list[EventRead]
    documents: list[DocumentRead]
    jobs: list[JobProgress] = Field(default_factory=list)
