"""The privacy policy as typed data.

Every element a notice promises is a model here, and every model carries `source:` (the seed
clause, e.g. ``002_9e508a21e3d0ba23.txt#4``, or a statute article, e.g. ``GDPR Art. 12(3)``) so the
rendered notice and the console can show where each rule comes from.

The models are frozen and forbid unknown keys: a typo in the YAML is an error, never silently
ignored. Semantic checks (dangling references, consent without withdrawal, ...) live in
``checks.py``; lookup tables in ``compile.py``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Source = Annotated[str, Field(min_length=1, description="Seed clause or statute article")]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=80)]
#: Cookie names are chosen by whoever sets the cookie (``_csrf``, ``_ga``): any visible characters.
CookieName = Annotated[str, Field(pattern=r"^[!-~]+$", max_length=200)]


class PolicyModel(BaseModel):
    """Base for every policy element: immutable, strict about keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


# --- vocabularies ---------------------------------------------------------------------------------


class LegalBasis(StrEnum):
    """Lawful grounds (GDPR Art. 6(1), UK GDPR, Thai PDPA s. 24) plus the US notice-and-opt-out model."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"
    # US state laws (CCPA/CPRA, VCDPA, CPA, CTDPA, UCPA): processing disclosed at collection,
    # subject to the opt-out rights the jurisdiction grants.
    NOTICE_AT_COLLECTION = "notice_at_collection"


class CollectionMethod(StrEnum):
    """How a category reaches the company (S2 §3 table: 'How we collect the Personal Data')."""

    FROM_PERSON = "from_person"
    AUTOMATED = "automated"
    THIRD_PARTY = "third_party"
    DERIVED = "derived"
    ADDED_BY_COMPANY = "added_by_company"


class MarketingChannel(StrEnum):
    POST = "post"
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    PUSH = "push"


class RecipientRole(StrEnum):
    """Whether the recipient acts on our instructions (processor) or for itself (third party)."""

    CONTROLLER_AFFILIATE = "affiliate"
    PROCESSOR = "processor"
    THIRD_PARTY = "third_party"
    AUTHORITY = "authority"


class RetentionAction(StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"
    RETURN = "return"


class Right(StrEnum):
    """Data subject rights a jurisdiction can grant; the names the whole product uses."""

    INFORMED = "informed"
    ACCESS = "access"
    KNOW = "know"
    PORTABILITY = "portability"
    DELETION = "deletion"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    AUTOMATED_DECISION = "automated_decision"
    WITHDRAW_CONSENT = "withdraw_consent"
    OPT_OUT_SALE_SHARE = "opt_out_sale_share"
    OPT_OUT_TARGETED_ADVERTISING = "opt_out_targeted_advertising"
    OPT_OUT_PROFILING = "opt_out_profiling"
    LIMIT_SENSITIVE = "limit_sensitive"
    NON_DISCRIMINATION = "non_discrimination"
    COMPLAINT = "complaint"
    APPEAL = "appeal"


class ClockStart(StrEnum):
    """When a deadline starts to run."""

    RECEIPT = "receipt"
    VERIFICATION = "verification"
    # UK ICO guidance: the later of receipt and the proof of identity (and fee, if any).
    LATEST_OF_RECEIPT_AND_VERIFICATION = "latest_of_receipt_and_verification"


class OptOutSignal(StrEnum):
    GPC = "gpc"


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    POST = "post"
    WEB = "web"


# --- small shared shapes --------------------------------------------------------------------------


DURATION_UNITS = ("days", "business_days", "weeks", "months", "years")


class Duration(PolicyModel):
    """Exactly one of the units, e.g. ``{months: 1}`` or ``{business_days: 10}``."""

    days: int | None = Field(default=None, ge=0, description="calendar days")
    business_days: int | None = Field(default=None, ge=0)
    weeks: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=0)
    years: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _exactly_one_unit(self) -> Duration:
        given = [name for name in DURATION_UNITS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a duration takes exactly one of {', '.join(DURATION_UNITS)}")
        return self

    @property
    def unit(self) -> str:
        return next(name for name in DURATION_UNITS if getattr(self, name) is not None)

    @property
    def value(self) -> int:
        amount = getattr(self, self.unit)
        assert isinstance(amount, int)
        return amount

    def describe(self) -> str:
        label = {"days": "calendar day", "business_days": "business day", "weeks": "week",
                 "months": "month", "years": "year"}[self.unit]
        return f"{self.value} {label}{'' if self.value == 1 else 's'}"


class Statement(PolicyModel):
    """A sentence the notice states as it is (security measures, change policy ...)."""

    text: str = Field(min_length=1)
    source: Source


class Contact(PolicyModel):
    kind: ContactKind
    value: str = Field(min_length=1, description="address, number or URL")
    label: str | None = Field(default=None, description="who answers, e.g. 'Privacy team'")
    country: str | None = Field(default=None, description="ISO 3166 code when the contact is per country")
    source: Source


class Party(PolicyModel):
    """A person or office named with an address (DPO, EEA representative, authority)."""

    name: str = Field(min_length=1)
    address: str | None = None
    contacts: tuple[Contact, ...] = ()
    source: Source


# --- top-level sections ---------------------------------------------------------------------------


class Organization(PolicyModel):
    id: Identifier
    name: str
    description: str | None = None
    source: Source


class Controller(PolicyModel):
    """The legal entity responsible for a notice's processing (GDPR Art. 4(7), 13(1)(a))."""

    id: Identifier
    legal_name: str
    address: str | None = Field(default=None, description="postal address, where the notice gives one")
    contacts: tuple[Contact, ...] = ()
    data_protection_officer: Party | None = None
    eea_representative: Party | None = None
    source: Source


class DataCategory(PolicyModel):
    """A kind of personal data as the notice names it, mapped onto the fideslang taxonomy."""

    id: Identifier
    name: str
    description: str
    examples: tuple[str, ...] = ()
    sensitive: bool = Field(default=False, description="special category / sensitive personal information")
    children: bool = Field(default=False, description="data that is about children as such")
    collection: tuple[CollectionMethod, ...] = Field(min_length=1)
    third_party_sources: tuple[str, ...] = Field(default=(), description="who supplies it, when third_party")
    fides_categories: tuple[str, ...] = Field(default=(), description="fideslang names, e.g. user.contact.email")
    source: Source


class Recipient(PolicyModel):
    """A type of recipient the notices disclose to (affiliates, service providers, authorities ...)."""

    id: Identifier
    name: str
    description: str
    role: RecipientRole
    source: Source


class CookieCategory(PolicyModel):
    id: Identifier
    name: str
    description: str
    consent_required: bool = Field(description="non-essential cookies need consent (ePrivacy Art. 5(3))")
    legal_basis: LegalBasis
    source: Source


class Cookie(PolicyModel):
    """One row of a cookie table (S2 cookie policy §4.1)."""

    name: CookieName
    category: Identifier
    purpose: str
    placed_by: str
    used_by: str
    data_collected: str | None = None
    duration: str
    source: Source


class RightRule(PolicyModel):
    """How a jurisdiction grants one right: deadline, extension, clock."""

    deadline: Duration | None = None
    extension: Duration | None = None
    extension_times: int = Field(default=1, ge=0)
    extension_notify_within: Duration | None = Field(
        default=None, description="the person must be told of an extension, with reasons, within this")
    clock_starts: ClockStart = ClockStart.RECEIPT
    verification: Identifier | None = Field(default=None, description="id of a verification level")
    note: str | None = None
    source: Source


class VerificationLevel(PolicyModel):
    id: Identifier
    description: str
    data_points: int = Field(default=0, ge=0)
    signed_declaration: bool = False
    source: Source


class AppealRule(PolicyModel):
    deadline: Duration
    extension: Duration | None = None
    authority_contact_on_denial: bool = True
    source: Source


class ChildAge(PolicyModel):
    value: int = Field(ge=0, le=25)
    source: Source


class Holiday(PolicyModel):
    date: dt.date
    name: str


class DeadlineRollover(PolicyModel):
    """A deadline of these units that ends on a weekend or holiday moves to the next working day."""

    units: tuple[Literal["days", "business_days", "weeks", "months", "years"], ...] = Field(
        min_length=1, description="duration units it applies to, e.g. [months]")
    source: Source


class Jurisdiction(PolicyModel):
    """A legal regime a notice speaks to, with the rights it grants and their clocks."""

    id: Identifier
    name: str
    members: tuple[str, ...] = Field(default=(), description="ISO 3166 codes grouped under this id (EEA)")
    law: str
    rights: dict[Right, RightRule]
    confirmation_deadline: Duration | None = None
    confirmation_source: Source | None = None
    verification_levels: tuple[VerificationLevel, ...] = ()
    appeal: AppealRule | None = None
    child_age: ChildAge | None = None
    sale_opt_in_age: ChildAge | None = Field(
        default=None, description="under this age personal information is not sold or shared without opt-in "
        "(Cal. Civ. Code §1798.120(c)-(d)); pledge refuses it outright")
    opt_out_signals: tuple[OptOutSignal, ...] = ()
    opt_out_signals_source: Source | None = None
    complaint_authority: Party | None = None
    holidays: tuple[Holiday, ...] = ()
    holidays_source: Source | None = None
    deadline_rollover: DeadlineRollover | None = None
    source: Source


# --- notice-scoped elements -----------------------------------------------------------------------


class Purpose(PolicyModel):
    """A processing activity: what for, with which categories, on which legal basis per jurisdiction."""

    id: Identifier
    name: str
    description: str
    categories: tuple[Identifier, ...] = Field(min_length=1)
    basis: dict[str, LegalBasis] = Field(min_length=1, description="jurisdiction id (or 'default') -> basis")
    legitimate_interest_assessment: str | None = Field(default=None, description="reference of the LIA")
    withdrawal: tuple[str, ...] = Field(default=(), description="ways to withdraw consent or object")
    marketing_channels: tuple[MarketingChannel, ...] = ()
    cookie_categories: tuple[Identifier, ...] = ()
    recipients: tuple[Identifier, ...] = ()
    sale: bool = False
    share: bool = False
    targeted_advertising: bool = False
    profiling: bool = False
    automated_decision: bool = False
    direct_marketing: bool = Field(
        default=False, description="direct marketing (incl. profiling for it) even without marketing_channels: "
        "an objection to direct marketing stops it (GDPR Art. 21(2)-(3))")
    restriction_exempt: bool = Field(
        default=False, description="storage or the establishment, exercise or defence of legal claims: "
        "allowed while processing is restricted (GDPR Art. 18(2))")
    limit_sensitive_exempt: bool = Field(
        default=False, description="a use of sensitive data that a request to limit it does not stop "
        "(Cal. Civ. Code §1798.121(a), CCPA Regs. §7027(m))")
    source: Source

    @property
    def for_marketing(self) -> bool:
        """Direct marketing: an objection to marketing stops it (GDPR Art. 21(2)-(3), S2 §7)."""
        return self.direct_marketing or bool(self.marketing_channels)

    @property
    def profiles_people(self) -> bool:
        """What an opt-out of profiling stops: profiling, and decisions made by automated means about people."""
        return self.profiling or self.automated_decision


class Disclosure(PolicyModel):
    """To whom the notice says data goes, for which purposes and categories."""

    recipient: Identifier
    description: str | None = None
    purposes: tuple[Identifier, ...] = ()
    categories: tuple[Identifier, ...] = ()
    sale: bool = False
    share: bool = False
    requires_consent: bool = False
    fields: tuple[str, ...] = Field(default=(), description="exact fields, where the notice limits them (S4)")
    source: Source


class Transfer(PolicyModel):
    """An international transfer and what protects it (GDPR Art. 44-49, PDPA s. 28-29)."""

    destinations: tuple[str, ...] = Field(min_length=1)
    safeguard: str | None = None
    supplementary_measures: str | None = None
    copy_on_request: bool = False
    categories: tuple[Identifier, ...] = ()
    source: Source


class RetentionRule(PolicyModel):
    """How long data is kept, and what happens then (S0 Data Retention, S1, S3 §9, S4)."""

    id: Identifier
    categories: tuple[Identifier, ...] = Field(min_length=1)
    period: Duration | None = None
    until: str | None = Field(default=None, description="the event that ends the period")
    action: RetentionAction = RetentionAction.DELETE
    legal_reason_for_longer: str | None = None
    source: Source

    @model_validator(mode="after")
    def _period_or_event(self) -> RetentionRule:
        if self.period is None and self.until is None:
            raise ValueError("a retention rule needs a period or an ending event ('until')")
        return self


class ChildrenRule(PolicyModel):
    """Who counts as a child under this notice, and what happens to their data."""

    jurisdiction: str = Field(default="default", description="jurisdiction id the age applies to")
    age: int = Field(ge=0, le=25, description="under this age a person is a child")
    parental_consent: bool = Field(description="data collected only with a verified parent's consent")
    collects: bool = Field(description="whether the service knowingly collects children's data at all")
    action_without_consent: str | None = None
    minimum_service_age: int | None = None
    source: Source


class CookieConsentRule(PolicyModel):
    """Whether non-essential cookies need opt-in consent under this notice, per jurisdiction.

    The EEA and the UK require it (ePrivacy Directive Art. 5(3), PECR reg. 6); US state laws treat
    advertising cookies as an opt-out (a "sale"), so a US notice can set ``{default: false, EEA: true}``.
    Without this rule a notice follows each cookie category's ``consent_required``.
    """

    required: dict[str, bool] = Field(min_length=1, description="jurisdiction id (or 'default') -> opt-in needed")
    source: Source


class RightsRequests(PolicyModel):
    """How the notice tells people to exercise their rights."""

    channels: tuple[Contact, ...] = Field(min_length=1)
    agent_allowed: bool = False
    source: Source


class Notice(PolicyModel):
    """One published privacy notice: a controller, the services it covers, the law it speaks to."""

    id: Identifier
    title: str
    controller: Identifier
    services: tuple[str, ...] = Field(min_length=1)
    jurisdictions: tuple[Identifier, ...] = Field(min_length=1)
    language: str = "en"
    last_updated: dt.date
    summary: str
    data_categories: tuple[Identifier, ...] = Field(min_length=1)
    purposes: tuple[Purpose, ...] = Field(min_length=1)
    disclosures: tuple[Disclosure, ...] = ()
    no_third_party_marketing_without_consent: Statement | None = None
    sale_and_sharing: tuple[Statement, ...] = ()
    cookie_categories: tuple[Identifier, ...] = ()
    cookies: tuple[CookieName, ...] = Field(default=(), description="cookie names in this notice's table")
    cookie_consent: CookieConsentRule | None = None
    transfers: tuple[Transfer, ...] = ()
    retention: tuple[RetentionRule, ...] = ()
    security: tuple[Statement, ...] = ()
    rights: tuple[Right, ...] = Field(default=(), description="rights the notice itself states")
    rights_requests: RightsRequests | None = None
    children: tuple[ChildrenRule, ...] = ()
    changes: tuple[Statement, ...] = ()
    contacts: tuple[Contact, ...] = ()
    complaint_authority: Party | None = None
    source: Source


class Policy(PolicyModel):
    """The whole policy of one organisation, as loaded from its folder."""

    organization: Organization
    controllers: tuple[Controller, ...] = ()
    data_categories: tuple[DataCategory, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    cookie_categories: tuple[CookieCategory, ...] = ()
    cookies: tuple[Cookie, ...] = ()
    jurisdictions: tuple[Jurisdiction, ...] = ()
    notices: tuple[Notice, ...] = ()


#: Sections a policy folder may hold, and the model of one item in each.
SECTIONS: dict[str, type[PolicyModel]] = {
    "controllers": Controller,
    "data_categories": DataCategory,
    "recipients": Recipient,
    "cookie_categories": CookieCategory,
    "cookies": Cookie,
    "jurisdictions": Jurisdiction,
    "notices": Notice,
}
