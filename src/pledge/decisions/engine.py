"""The single decision: may this use of this person's data go ahead?

``decide(policy, state, ask)`` is pure: it reads the compiled policy, the subject's state and the
ask, and returns a ``Decision`` with the legal basis relied on and the reasons, each naming its rule
and its source. Nothing here does I/O or reads a clock; the ask carries the instant.

One table of rules (``RULES``) drives all three paths. For a (notice, purpose, jurisdiction) and the
ask's categories, recipient and channel, each rule *compiles* into checks: a ``Predicate`` over the
subject's state that, when true, refuses. The predicates are a small closed vocabulary (a flag is
set, under an age, no live consent, an objection, channels off, a cookie category not accepted) that
this module evaluates for one person, ``bulk.py`` over NumPy columns and ``sql.py`` as a SQL
expression. A rule is written once; the three paths cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any, ClassVar

from pledge.decisions.state import ConsentStatus, PurposeKey, SubjectState
from pledge.policy.checks import DEFAULT_JURISDICTION
from pledge.policy.compile import CompiledPolicy
from pledge.policy.models import (
    Jurisdiction,
    LegalBasis,
    MarketingChannel,
    Notice,
    OptOutSignal,
    Purpose,
    Right,
)

# --- vocabulary ------------------------------------------------------------------------------------


class Rule(StrEnum):
    """Stable codes of the rules, in the order the engine applies them.

    The refusing rules come first, in table order; ``LEGAL_BASIS`` and ``LIVE_CONSENT`` explain an
    allowed decision.
    """

    NO_LEGAL_BASIS = "no-legal-basis"
    CATEGORY_OUTSIDE_PURPOSE = "category-outside-purpose"
    SENSITIVE_DATA_NOT_ALLOWED = "sensitive-data-not-allowed"
    RECIPIENT_NOT_NAMED = "recipient-not-named"
    CHANNEL_NOT_IN_PURPOSE = "channel-not-in-purpose"
    CHILD_NOT_SERVED = "child-not-served"
    CHILD_WITHOUT_PARENTAL_CONSENT = "child-without-parental-consent"
    SALE_SHARE_UNDER_AGE = "sale-share-under-age"
    RESTRICTED = "restricted"
    NO_LIVE_CONSENT = "no-live-consent"
    DISCLOSURE_NEEDS_CONSENT = "disclosure-needs-consent"
    OBJECTION = "objection"
    MARKETING_OBJECTION = "marketing-objection"
    OPT_OUT_SALE_SHARE = "opt-out-sale-share"
    GLOBAL_PRIVACY_CONTROL = "global-privacy-control"
    OPT_OUT_TARGETED_ADVERTISING = "opt-out-targeted-advertising"
    OPT_OUT_PROFILING = "opt-out-profiling"
    LIMIT_SENSITIVE = "limit-sensitive"
    CHANNEL_OFF = "channel-off"
    COOKIE_CONSENT_MISSING = "cookie-consent-missing"
    # explanations of an allowed decision
    LEGAL_BASIS = "legal-basis"
    LIVE_CONSENT = "live-consent"


REFUSING_RULES: tuple[Rule, ...] = tuple(r for r in Rule if r not in (Rule.LEGAL_BASIS, Rule.LIVE_CONSENT))
RULE_NUMBERS: Mapping[Rule, int] = MappingProxyType({rule: n for n, rule in enumerate(REFUSING_RULES, start=1)})
"""A refusing rule's number (1-based, table order): the bulk path reports the first one per subject."""

_CONSENT_RULES = frozenset({Rule.NO_LIVE_CONSENT, Rule.DISCLOSURE_NEEDS_CONSENT,
                            Rule.CHILD_WITHOUT_PARENTAL_CONSENT, Rule.COOKIE_CONSENT_MISSING})


class Outcome(StrEnum):
    ALLOWED = "allowed"
    CONSENT_REQUIRED = "consent_required"
    """Refused only for want of a consent (the person's, a parent's, or a cookie category's)."""
    REFUSED = "refused"


class UnknownReferenceError(LookupError):
    """The ask names a notice, service, purpose, category or recipient the policy does not define."""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why: the rule (a stable code), where it comes from (a seed clause or a statute), and a sentence."""

    rule: Rule
    source: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule.value, "source": self.source, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: allowed or not, on which legal basis, and why."""

    allowed: bool
    outcome: Outcome
    legal_basis: LegalBasis | None
    reasons: tuple[Reason, ...]
    notice: str
    purpose: str
    jurisdiction: str
    """The policy jurisdiction the decision was taken under (``default`` when none matched)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``pledge decide`` prints and the API returns."""
        return {
            "allowed": self.allowed,
            "outcome": self.outcome.value,
            "legal_basis": self.legal_basis.value if self.legal_basis else None,
            "notice": self.notice,
            "purpose": self.purpose,
            "jurisdiction": self.jurisdiction,
            "reasons": [reason.as_dict() for reason in self.reasons],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionAsk:
    """The question: this purpose (of this notice, or of the notice covering this service), at ``at``.

    ``data_categories`` narrows the use to some categories (default: all the purpose lists);
    ``recipient`` asks about a disclosure; ``channel`` about one marketing channel; ``jurisdiction``
    overrides the subject's residence.
    """

    purpose: str
    at: dt.datetime
    notice: str | None = None
    service: str | None = None
    data_categories: tuple[str, ...] = ()
    recipient: str | None = None
    channel: MarketingChannel | None = None
    jurisdiction: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"at must be timezone-aware (UTC), got {self.at!r}")
        if (self.notice is None) == (self.service is None):
            raise ValueError("give exactly one of notice and service")
        if not isinstance(self.data_categories, tuple):
            object.__setattr__(self, "data_categories", tuple(self.data_categories))
        if self.channel is not None and not isinstance(self.channel, MarketingChannel):
            object.__setattr__(self, "channel", MarketingChannel(self.channel))


# --- predicates: the vocabulary every path evaluates ------------------------------------------------


@lru_cache(maxsize=4096)
def age_cutoff(on: dt.date, age: int) -> dt.date:
    """The latest birth date of someone who is at least ``age`` years old ``on`` that day.

    Someone born on 29 February comes of age on 1 March in a common year.
    """
    try:
        return on.replace(year=on.year - age)
    except ValueError:  # 29 February -> 28 February
        return on.replace(year=on.year - age, day=28)


class Predicate:
    """A condition on one subject's state; true means the check refuses."""

    __slots__ = ()

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        raise NotImplementedError

    def explain(self, state: SubjectState, at: dt.datetime) -> str | None:
        """A sentence specific to this state, or None to use the check's own."""
        return None


@dataclass(frozen=True, slots=True)
class Always(Predicate):
    """Refuses whatever the state: the ask itself is outside the policy."""

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Flag(Predicate):
    """A boolean field of the state is set (``restricted``, ``opt_out_profiling``, ``gpc`` ...)."""

    name: str
    _get: Callable[[SubjectState], bool] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_get", attrgetter(self.name))

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        return self._get(state)


@dataclass(frozen=True, slots=True)
class Not(Predicate):
    operand: Predicate

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        return not self.operand.test(state, at)


@dataclass(frozen=True, slots=True)
class All(Predicate):
    operands: tuple[Predicate, ...]

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        for operand in self.operands:  # noqa: SIM110 - a generator costs a frame per call on the hot path
            if not operand.test(state, at):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Under(Predicate):
    """Younger than ``age`` at ``at`` (by birth date), or known to be a child."""

    age: int

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        if state.is_child:
            return True
        born = state.birth_date
        return born is not None and born > age_cutoff(at.date(), self.age)


@dataclass(frozen=True, slots=True)
class NoLiveConsent(Predicate):
    """No consent granted for (notice, purpose), or it was denied, withdrawn or has expired."""

    key: PurposeKey

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        consent = state.consents.get(self.key)
        return consent is None or not consent.live_at(at)

    def explain(self, state: SubjectState, at: dt.datetime) -> str:
        consent = state.consents.get(self.key)
        what = f"consent to {self.key[0]}/{self.key[1]}"
        if consent is None:
            return f"{what} was never given"
        if consent.status is ConsentStatus.GRANTED:
            assert consent.expires_at is not None
            return f"{what} expired at {consent.expires_at.isoformat()}"
        return f"{what} was {consent.status.value}"


@dataclass(frozen=True, slots=True)
class Objected(Predicate):
    """The person objected to (notice, purpose)."""

    key: PurposeKey

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        return self.key in state.objections


@dataclass(frozen=True, slots=True)
class ChannelsOff(Predicate):
    """Every one of these marketing channels is switched off."""

    channels: frozenset[MarketingChannel]

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        return self.channels <= state.channels_off


@dataclass(frozen=True, slots=True)
class CookieNotAccepted(Predicate):
    """The person has not accepted this cookie category."""

    category: str

    def test(self, state: SubjectState, at: dt.datetime) -> bool:
        return self.category not in state.cookie_categories


ALWAYS = Always()


# --- checks and plans ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One compiled rule: refuses when ``when`` holds, citing ``source``."""

    rule: Rule
    when: Predicate
    source: str
    detail: str
    reason: Reason = field(init=False, compare=False)
    test: Callable[[SubjectState, dt.datetime], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", Reason(self.rule, self.source, self.detail))
        object.__setattr__(self, "test", self.when.test)

    def refusal(self, state: SubjectState, at: dt.datetime) -> Reason:
        specific = self.when.explain(state, at)
        return self.reason if specific is None else Reason(self.rule, self.source, specific)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every check that applies to one (notice, purpose, jurisdiction, categories, recipient, channel)."""

    notice: str
    purpose: str
    jurisdiction: str
    legal_basis: LegalBasis | None
    checks: tuple[Check, ...]
    allowed: Decision
    """The decision when no check refuses (shared: decisions are immutable)."""


@dataclass(frozen=True)
class Context:
    """What a rule compiles against: the policy elements an ask selects."""

    policy: CompiledPolicy
    notice: Notice
    purpose: Purpose
    jurisdiction_id: str
    jurisdiction: Jurisdiction | None
    basis: LegalBasis | None
    categories: tuple[str, ...]
    recipient: str | None
    channel: MarketingChannel | None

    @property
    def key(self) -> PurposeKey:
        return (self.notice.id, self.purpose.id)

    @property
    def name(self) -> str:
        return f"{self.notice.id}/{self.purpose.id}"

    @property
    def marketing(self) -> bool:
        """Direct marketing: an objection to marketing stops it (GDPR Art. 21(2)-(3), S2 §7)."""
        return self.purpose.for_marketing

    @property
    def used_categories(self) -> tuple[str, ...]:
        return self.categories or self.purpose.categories

    def right_source(self, right: Right, statute: str) -> str:
        """The jurisdiction's source for a right it grants, else the statute."""
        if self.jurisdiction is not None and right in self.jurisdiction.rights:
            return self.jurisdiction.rights[right].source
        return statute


Compiler = Callable[[Context], Iterator[Check]]


@dataclass(frozen=True)
class RuleSpec:
    """A row of the rule table: the rule, the law behind it, how it compiles for a context."""

    rule: Rule
    statute: str
    compile: Compiler


# --- the rule table --------------------------------------------------------------------------------


def _no_legal_basis(c: Context) -> Iterator[Check]:
    if c.basis is None:
        yield Check(Rule.NO_LEGAL_BASIS, ALWAYS, c.purpose.source,
                    f"{c.name} has no legal basis in {c.jurisdiction_id}")


def _category_outside_purpose(c: Context) -> Iterator[Check]:
    outside = [cat for cat in c.categories
               if cat not in c.purpose.categories and not c.policy.data_categories[cat].sensitive]
    if outside:
        yield Check(Rule.CATEGORY_OUTSIDE_PURPOSE, ALWAYS, c.purpose.source,
                    f"{c.name} does not use {', '.join(outside)}")


def _sensitive_data_not_allowed(c: Context) -> Iterator[Check]:
    outside = [cat for cat in c.categories
               if cat not in c.purpose.categories and c.policy.data_categories[cat].sensitive]
    if outside:
        yield Check(Rule.SENSITIVE_DATA_NOT_ALLOWED, ALWAYS, c.purpose.source,
                    f"{c.name} is not allowed sensitive data {', '.join(outside)}")


def _recipients(c: Context) -> set[str]:
    named = set(c.purpose.recipients)
    named.update(d.recipient for d in c.notice.disclosures if c.purpose.id in d.purposes)
    return named


def _recipient_not_named(c: Context) -> Iterator[Check]:
    if c.recipient is not None and c.recipient not in _recipients(c):
        yield Check(Rule.RECIPIENT_NOT_NAMED, ALWAYS, c.purpose.source,
                    f"{c.name} does not name recipient {c.recipient}")


def _channel_not_in_purpose(c: Context) -> Iterator[Check]:
    if c.channel is not None and c.channel not in c.purpose.marketing_channels:
        yield Check(Rule.CHANNEL_NOT_IN_PURPOSE, ALWAYS, c.purpose.source,
                    f"{c.name} does not use the {c.channel.value} channel")


@dataclass(frozen=True)
class _ChildRule:
    age: int
    collects: bool
    parental_consent: bool
    source: str


def _child_rules(c: Context) -> list[_ChildRule]:
    """The notice's rule for this jurisdiction (else its default), and the jurisdiction's own age.

    The jurisdiction's age (GDPR Art. 8(1)) needs a parent's consent only where consent is the basis.
    """
    rules: list[_ChildRule] = []
    by_jurisdiction = {rule.jurisdiction: rule for rule in c.notice.children}
    notice_rule = by_jurisdiction.get(c.jurisdiction_id) or by_jurisdiction.get("default")
    if notice_rule is not None:
        rules.append(_ChildRule(notice_rule.age, notice_rule.collects, notice_rule.parental_consent,
                                notice_rule.source))
    if c.jurisdiction is not None and c.jurisdiction.child_age is not None and c.basis is LegalBasis.CONSENT:
        rules.append(_ChildRule(c.jurisdiction.child_age.value, True, True, c.jurisdiction.child_age.source))
    return rules


def _child_not_served(c: Context) -> Iterator[Check]:
    for rule in _child_rules(c):
        if not rule.collects:
            yield Check(Rule.CHILD_NOT_SERVED, Under(rule.age), rule.source,
                        f"{c.notice.id} does not collect or keep data of anyone under {rule.age}")


def _child_without_parental_consent(c: Context) -> Iterator[Check]:
    seen: set[int] = set()
    for rule in _child_rules(c):
        if rule.collects and rule.parental_consent and rule.age not in seen:
            seen.add(rule.age)
            yield Check(Rule.CHILD_WITHOUT_PARENTAL_CONSENT, All((Not(Flag("parental_consent")), Under(rule.age))),
                        rule.source, f"under {rule.age} without a parent's or guardian's consent")


def _sale_share_under_age(c: Context) -> Iterator[Check]:
    limit = c.jurisdiction.sale_opt_in_age if c.jurisdiction is not None else None
    if limit is not None and (c.purpose.sale or c.purpose.share):
        yield Check(Rule.SALE_SHARE_UNDER_AGE, Under(limit.value), limit.source,
                    f"{c.name} sells or shares; never for anyone under {limit.value}")


def _restricted(c: Context) -> Iterator[Check]:
    if not c.purpose.restriction_exempt:
        yield Check(Rule.RESTRICTED, Flag("restricted"), c.right_source(Right.RESTRICTION, "GDPR Art. 18(2)"),
                    "processing is restricted: only storage and legal claims go on")


def _no_live_consent(c: Context) -> Iterator[Check]:
    if c.basis is LegalBasis.CONSENT:
        yield Check(Rule.NO_LIVE_CONSENT, NoLiveConsent(c.key), c.purpose.source,
                    f"{c.name} relies on consent, which is not live")


def _disclosure_needs_consent(c: Context) -> Iterator[Check]:
    if c.recipient is None or c.basis is LegalBasis.CONSENT or c.basis is None:
        return
    for disclosure in c.notice.disclosures:
        if disclosure.recipient == c.recipient and c.purpose.id in disclosure.purposes and disclosure.requires_consent:
            yield Check(Rule.DISCLOSURE_NEEDS_CONSENT, NoLiveConsent(c.key), disclosure.source,
                        f"disclosure to {c.recipient} for {c.name} needs consent")
            return


def _objection(c: Context) -> Iterator[Check]:
    if c.basis in (LegalBasis.LEGITIMATE_INTERESTS, LegalBasis.PUBLIC_TASK) or (c.marketing and c.basis is not None):
        yield Check(Rule.OBJECTION, Objected(c.key), c.right_source(Right.OBJECTION, "GDPR Art. 21(1)"),
                    f"the person objected to {c.name}")


def _marketing_objection(c: Context) -> Iterator[Check]:
    if c.marketing:
        yield Check(Rule.MARKETING_OBJECTION, Flag("objects_to_marketing"),
                    c.right_source(Right.OBJECTION, "GDPR Art. 21(3)"),
                    "the person objected to direct marketing")


def _opt_out_sale_share(c: Context) -> Iterator[Check]:
    if c.purpose.sale or c.purpose.share:
        yield Check(Rule.OPT_OUT_SALE_SHARE, Flag("opt_out_sale_share"),
                    c.right_source(Right.OPT_OUT_SALE_SHARE, "Cal. Civ. Code §1798.120(a)"),
                    "the person opted out of the sale and sharing of their data")


def _global_privacy_control(c: Context) -> Iterator[Check]:
    j = c.jurisdiction
    if (j is not None and OptOutSignal.GPC in j.opt_out_signals
            and (c.purpose.sale or c.purpose.share or c.purpose.targeted_advertising)):
        yield Check(Rule.GLOBAL_PRIVACY_CONTROL, Flag("gpc"), j.opt_out_signals_source or "CCPA Regs. §7025",
                    f"a Global Privacy Control signal opts out of sale, sharing and targeted advertising in {j.id}")


def _opt_out_targeted_advertising(c: Context) -> Iterator[Check]:
    if c.purpose.targeted_advertising:
        yield Check(Rule.OPT_OUT_TARGETED_ADVERTISING, Flag("opt_out_targeted_advertising"),
                    c.right_source(Right.OPT_OUT_TARGETED_ADVERTISING, "Colo. Rev. Stat. §6-1-1306(1)(a)(I)(A)"),
                    "the person opted out of targeted advertising")


def _opt_out_profiling(c: Context) -> Iterator[Check]:
    if c.purpose.profiles_people:
        yield Check(Rule.OPT_OUT_PROFILING, Flag("opt_out_profiling"),
                    c.right_source(Right.OPT_OUT_PROFILING, "Colo. Rev. Stat. §6-1-1306(1)(a)(I)(C)"),
                    "the person opted out of profiling")


def _limit_sensitive(c: Context) -> Iterator[Check]:
    sensitive = [cat for cat in c.used_categories if c.policy.data_categories[cat].sensitive]
    if sensitive and not c.purpose.limit_sensitive_exempt:
        yield Check(Rule.LIMIT_SENSITIVE, Flag("limit_sensitive"),
                    c.right_source(Right.LIMIT_SENSITIVE, "Cal. Civ. Code §1798.121(a)"),
                    f"the person limited the use of sensitive data ({', '.join(sensitive)})")


def _channel_off(c: Context) -> Iterator[Check]:
    channels = c.purpose.marketing_channels
    if not channels:
        return
    if c.channel is not None:
        if c.channel not in channels:
            return  # refused already: channel-not-in-purpose
        channels = (c.channel,)
    names = ", ".join(ch.value for ch in channels)
    yield Check(Rule.CHANNEL_OFF, ChannelsOff(frozenset(channels)), c.purpose.source,
                f"the person switched off marketing by {names}")


def _cookie_opt_in(c: Context) -> tuple[bool | None, str | None]:
    """The notice's own cookie-consent rule for this jurisdiction, if it has one, with its source."""
    rule = c.notice.cookie_consent
    if rule is None:
        return None, None
    required = rule.required.get(c.jurisdiction_id, rule.required.get(DEFAULT_JURISDICTION))
    return required, rule.source


def _cookie_consent_missing(c: Context) -> Iterator[Check]:
    notice_says, notice_source = _cookie_opt_in(c)
    if notice_says is False:
        return  # cookies are an opt-out here (e.g. US state law); the opt-out rules cover them
    for name in c.purpose.cookie_categories:
        category = c.policy.cookie_categories[name]
        if category.consent_required:
            source = category.source if notice_source is None else f"{notice_source}; {category.source}"
            yield Check(Rule.COOKIE_CONSENT_MISSING, CookieNotAccepted(name), source,
                        f"{c.name} uses {name} cookies, which the person has not accepted")


RULES: tuple[RuleSpec, ...] = (
    RuleSpec(Rule.NO_LEGAL_BASIS, "GDPR Art. 6(1)", _no_legal_basis),
    RuleSpec(Rule.CATEGORY_OUTSIDE_PURPOSE, "GDPR Art. 5(1)(b)", _category_outside_purpose),
    RuleSpec(Rule.SENSITIVE_DATA_NOT_ALLOWED, "GDPR Art. 9(1); Cal. Civ. Code §1798.121", _sensitive_data_not_allowed),
    RuleSpec(Rule.RECIPIENT_NOT_NAMED, "GDPR Art. 13(1)(e)", _recipient_not_named),
    RuleSpec(Rule.CHANNEL_NOT_IN_PURPOSE, "GDPR Art. 5(1)(b)", _channel_not_in_purpose),
    RuleSpec(Rule.CHILD_NOT_SERVED, "COPPA 16 CFR §312.5", _child_not_served),
    RuleSpec(Rule.CHILD_WITHOUT_PARENTAL_CONSENT, "GDPR Art. 8(1)", _child_without_parental_consent),
    RuleSpec(Rule.SALE_SHARE_UNDER_AGE, "Cal. Civ. Code §1798.120(c)-(d)", _sale_share_under_age),
    RuleSpec(Rule.RESTRICTED, "GDPR Art. 18(2)", _restricted),
    RuleSpec(Rule.NO_LIVE_CONSENT, "GDPR Art. 6(1)(a), 7(3)", _no_live_consent),
    RuleSpec(Rule.DISCLOSURE_NEEDS_CONSENT, "GDPR Art. 6(1)(a)", _disclosure_needs_consent),
    RuleSpec(Rule.OBJECTION, "GDPR Art. 21(1)-(3)", _objection),
    RuleSpec(Rule.MARKETING_OBJECTION, "GDPR Art. 21(3)", _marketing_objection),
    RuleSpec(Rule.OPT_OUT_SALE_SHARE, "Cal. Civ. Code §1798.120(a)", _opt_out_sale_share),
    RuleSpec(Rule.GLOBAL_PRIVACY_CONTROL, "CCPA Regs. §7025", _global_privacy_control),
    RuleSpec(Rule.OPT_OUT_TARGETED_ADVERTISING, "Colo. Rev. Stat. §6-1-1306(1)(a)(I)(A)",
             _opt_out_targeted_advertising),
    RuleSpec(Rule.OPT_OUT_PROFILING, "Colo. Rev. Stat. §6-1-1306(1)(a)(I)(C)", _opt_out_profiling),
    RuleSpec(Rule.LIMIT_SENSITIVE, "Cal. Civ. Code §1798.121(a)", _limit_sensitive),
    RuleSpec(Rule.CHANNEL_OFF, "GDPR Art. 21(3); ePrivacy Art. 13", _channel_off),
    RuleSpec(Rule.COOKIE_CONSENT_MISSING, "ePrivacy Art. 5(3)", _cookie_consent_missing),
)
"""The rule table, in the order reasons are reported. Every path compiles from it."""

assert tuple(spec.rule for spec in RULES) == REFUSING_RULES, "RULES and Rule must list the same rules in order"


# --- plans, cached per policy ----------------------------------------------------------------------


PlanKey = tuple[str | None, str | None, str, str | None, tuple[str, ...], str | None, MarketingChannel | None]


class RuleTable:
    """The rule table compiled against one policy: plans built on first use and kept."""

    _MAX_PLANS: ClassVar[int] = 65_536

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.plans: dict[PlanKey, Plan] = {}

    def notice_id(self, notice: str | None, service: str | None = None) -> str:
        """A notice id, given the notice or a service it covers."""
        if notice is not None:
            if notice in self.policy.notices:
                return notice
            raise UnknownReferenceError(f"unknown notice {notice!r}")
        if service is not None and service in self.policy.notice_for_service:
            return self.policy.notice_for_service[service]
        raise UnknownReferenceError(f"no notice covers service {service!r}")

    def plan(self, *, purpose: str, jurisdiction: str | None, notice: str | None = None, service: str | None = None,
             data_categories: tuple[str, ...] = (), recipient: str | None = None,
             channel: MarketingChannel | None = None) -> Plan:
        key: PlanKey = (notice, service, purpose, jurisdiction, data_categories, recipient, channel)
        return self.plans.get(key) or self.plan_for(key)

    def plan_for(self, key: PlanKey) -> Plan:
        """Build (or find) the plan of a key, and keep it."""
        found = self.plans.get(key)
        if found is None:
            found = self._build(key)
            if len(self.plans) >= self._MAX_PLANS:
                self.plans.clear()
            self.plans[key] = found
        return found

    def _build(self, key: PlanKey) -> Plan:
        notice_ref, service, purpose_id, code, categories, recipient, channel = key
        policy = self.policy
        notice_id = self.notice_id(notice_ref, service)
        purpose = policy.purposes.get((notice_id, purpose_id))
        if purpose is None:
            raise UnknownReferenceError(f"notice {notice_id!r} has no purpose {purpose_id!r}")
        for category in categories:
            if category not in policy.data_categories:
                raise UnknownReferenceError(f"unknown data category {category!r}")
        if recipient is not None and recipient not in policy.recipients:
            raise UnknownReferenceError(f"unknown recipient {recipient!r}")
        jurisdiction_id = policy.resolve_jurisdiction(code)
        basis = policy.basis(notice_id, purpose_id, jurisdiction_id)
        context = Context(policy=policy, notice=policy.notices[notice_id], purpose=purpose,
                          jurisdiction_id=jurisdiction_id, jurisdiction=policy.jurisdictions.get(jurisdiction_id),
                          basis=basis, categories=categories, recipient=recipient, channel=channel)
        checks = tuple(check for spec in RULES for check in spec.compile(context))
        because: list[Reason] = []
        if basis is not None:
            because.append(Reason(Rule.LEGAL_BASIS, purpose.source, f"{basis.value} in {jurisdiction_id}"))
            if basis is LegalBasis.CONSENT:
                because.append(Reason(Rule.LIVE_CONSENT, purpose.source, f"consent to {context.name} is live"))
        allowed = Decision(True, Outcome.ALLOWED, basis, tuple(because), notice_id, purpose_id, jurisdiction_id)
        return Plan(notice_id, purpose_id, jurisdiction_id, basis, checks, allowed)


_TABLES: dict[str, RuleTable] = {}
_last: list[tuple[CompiledPolicy, RuleTable]] = []


def rule_table(policy: CompiledPolicy) -> RuleTable:
    """The compiled rule table of a policy, shared by every decision on the same policy revision."""
    if _last and _last[0][0] is policy:
        return _last[0][1]
    table = _TABLES.get(policy.revision)
    if table is None:
        if len(_TABLES) >= 8:
            _TABLES.clear()
        table = _TABLES[policy.revision] = RuleTable(policy)
    _last[:] = [(policy, table)]
    return table


# --- the decision ----------------------------------------------------------------------------------


def decide(policy: CompiledPolicy, state: SubjectState, ask: DecisionAsk) -> Decision:
    """Decide one use of one person's data: pure, every reason with its source."""
    table = _last[0][1] if _last and _last[0][0] is policy else rule_table(policy)
    jurisdiction = ask.jurisdiction if ask.jurisdiction is not None else state.jurisdiction
    key: PlanKey = (ask.notice, ask.service, ask.purpose, jurisdiction, ask.data_categories, ask.recipient,
                    ask.channel)
    plan = table.plans.get(key) or table.plan_for(key)
    at = ask.at
    reasons = None
    for check in plan.checks:  # a plain loop: cheaper than a comprehension on the hot path
        if check.test(state, at):
            if reasons is None:
                reasons = [check.refusal(state, at)]
            else:
                reasons.append(check.refusal(state, at))
    if reasons is None:
        return plan.allowed
    consent_only = all(reason.rule in _CONSENT_RULES for reason in reasons)
    return Decision(False, Outcome.CONSENT_REQUIRED if consent_only else Outcome.REFUSED, plan.legal_basis,
                    tuple(reasons), plan.notice, plan.purpose, plan.jurisdiction)
