"""Render a notice from the compiled policy: one JSON-safe document, three formats.

``notice_document`` resolves every reference of a notice (categories, recipients, cookies,
jurisdictions and their rights) into one plain dictionary. That dictionary is the notice: the JSON
format prints it, the Markdown and HTML templates lay it out, the archive stores it and the diff
compares two of them. ``notice_context`` adds only presentation (plain-language sentences, the
category x purpose x basis table, the list of sections) for the templates and the web pages.

The sections follow the order the seed notices use (S2 ``002_9e508a21e3d0ba23.txt``): who we are,
what we collect and how, purposes and legal bases, disclosures, sale and sharing, cookies,
international transfers, retention, security, rights, children, changes, contact and complaints.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from pledge.notices.errors import UnknownNotice
from pledge.policy import CompiledPolicy
from pledge.policy.checks import DEFAULT_JURISDICTION
from pledge.policy.models import (
    ChildrenRule,
    ClockStart,
    CollectionMethod,
    Contact,
    ContactKind,
    Duration,
    LegalBasis,
    MarketingChannel,
    Notice,
    OptOutSignal,
    Party,
    RecipientRole,
    RetentionAction,
    Right,
    RightRule,
    Statement,
)

Format = Literal["md", "html", "json"]
FORMATS: tuple[str, ...] = ("md", "html", "json")
TEMPLATES = Path(__file__).resolve().parent / "templates"

#: Markers around the notice article in the HTML page, so an archived page can be shown inside the site.
ARTICLE_START = "<!-- pledge:notice -->"
ARTICLE_END = "<!-- /pledge:notice -->"


class UnknownFormat(ValueError):
    """Notices render as md, html or json only."""


# --- plain-language vocabulary -------------------------------------------------------------------

BASIS_LABELS: Mapping[LegalBasis, str] = {
    LegalBasis.CONSENT: "Consent",
    LegalBasis.CONTRACT: "Performance of a contract",
    LegalBasis.LEGAL_OBLIGATION: "Legal obligation",
    LegalBasis.VITAL_INTERESTS: "Vital interests",
    LegalBasis.PUBLIC_TASK: "Public task",
    LegalBasis.LEGITIMATE_INTERESTS: "Legitimate interests",
    LegalBasis.NOTICE_AT_COLLECTION: "Notice at collection (you can opt out)",
}

BASIS_EXPLANATIONS: Mapping[LegalBasis, str] = {
    LegalBasis.CONSENT: "Where we rely on your consent we ask for it separately, and you can withdraw it "
                        "at any time without affecting processing before you withdrew it.",
    LegalBasis.CONTRACT: "Where we need to perform a contract we have with you, or to take steps you asked "
                         "for before entering into one.",
    LegalBasis.LEGAL_OBLIGATION: "Where we need to comply with a legal obligation we are subject to.",
    LegalBasis.VITAL_INTERESTS: "Where we need to protect your life or health, or someone else's.",
    LegalBasis.PUBLIC_TASK: "Where we need to perform a task in the public interest.",
    LegalBasis.LEGITIMATE_INTERESTS: "Where we act in our legitimate interests, provided your interests and "
                                     "fundamental rights do not override them. You can object to this "
                                     "processing, and ask us for our balancing assessment.",
    LegalBasis.NOTICE_AT_COLLECTION: "Where we tell you about the processing when we collect your data, and "
                                     "you can opt out as the law of your state allows.",
}

COLLECTION_LABELS: Mapping[CollectionMethod, str] = {
    CollectionMethod.FROM_PERSON: "From you directly",
    CollectionMethod.AUTOMATED: "Automatically, through technologies on your product, device, app or browser",
    CollectionMethod.THIRD_PARTY: "From third parties",
    CollectionMethod.DERIVED: "Derived or inferred from other data we hold",
    CollectionMethod.ADDED_BY_COMPANY: "Added by us",
}

CHANNEL_LABELS: Mapping[MarketingChannel, str] = {
    MarketingChannel.POST: "post",
    MarketingChannel.EMAIL: "email",
    MarketingChannel.PHONE: "telephone",
    MarketingChannel.SMS: "text message (SMS)",
    MarketingChannel.PUSH: "push notification",
}

ROLE_LABELS: Mapping[RecipientRole, str] = {
    RecipientRole.CONTROLLER_AFFILIATE: "Our group companies",
    RecipientRole.PROCESSOR: "Service provider acting on our instructions",
    RecipientRole.THIRD_PARTY: "Third party acting for its own purposes",
    RecipientRole.AUTHORITY: "Public authority",
}

ACTION_LABELS: Mapping[RetentionAction, str] = {
    RetentionAction.DELETE: "Deleted",
    RetentionAction.ANONYMISE: "Anonymised",
    RetentionAction.RETURN: "Returned",
}

RIGHT_LABELS: Mapping[Right, str] = {
    Right.INFORMED: "Be informed about how we use your personal data",
    Right.ACCESS: "Access a copy of your personal data",
    Right.KNOW: "Know what personal data we collect, use, disclose, sell and share",
    Right.PORTABILITY: "Receive your data in a portable format, or have it sent to another company",
    Right.DELETION: "Have your personal data deleted",
    Right.RECTIFICATION: "Have inaccurate personal data corrected",
    Right.RESTRICTION: "Restrict how we use your personal data",
    Right.OBJECTION: "Object to how we use your personal data",
    Right.AUTOMATED_DECISION: "Not be subject to a decision based solely on automated processing",
    Right.WITHDRAW_CONSENT: "Withdraw your consent at any time",
    Right.OPT_OUT_SALE_SHARE: "Opt out of the sale or sharing of your personal data",
    Right.OPT_OUT_TARGETED_ADVERTISING: "Opt out of targeted advertising",
    Right.OPT_OUT_PROFILING: "Opt out of profiling",
    Right.LIMIT_SENSITIVE: "Limit the use of your sensitive personal data",
    Right.NON_DISCRIMINATION: "Not be treated differently for using your rights",
    Right.COMPLAINT: "Complain to a data protection authority",
    Right.APPEAL: "Appeal our decision on your request",
}

SIGNAL_LABELS: Mapping[OptOutSignal, str] = {OptOutSignal.GPC: "Global Privacy Control"}

CLOCK_PHRASES: Mapping[ClockStart, str] = {
    ClockStart.RECEIPT: "of receiving your request",
    ClockStart.VERIFICATION: "of verifying your identity",
    ClockStart.LATEST_OF_RECEIPT_AND_VERIFICATION: "of receiving your request and verifying your identity, "
                                                   "whichever is later",
}

SECTION_TITLES: tuple[tuple[str, str], ...] = (
    ("who-we-are", "Who we are"),
    ("what-we-collect", "What personal data we collect and how"),
    ("purposes", "How we use your personal data and our legal bases"),
    ("disclosures", "Who we disclose your personal data to"),
    ("sale-and-sharing", "Sale and sharing of personal data"),
    ("cookies", "Cookies"),
    ("transfers", "International transfers"),
    ("retention", "How long we keep your personal data"),
    ("security", "How we keep your personal data secure"),
    ("rights", "Your rights and how to exercise them"),
    ("children", "Children"),
    ("changes", "Changes to this notice"),
    ("contact", "Contact us and complaints"),
)

_SINGULAR_UNITS = {"days": "day", "business_days": "business day", "weeks": "week", "months": "month",
                   "years": "year"}


def describe_duration(duration: Duration | None) -> str | None:
    """``{months: 1}`` -> ``"1 month"``; ``{days: 45}`` -> ``"45 calendar days"``."""
    return None if duration is None else duration.describe()


def _first_period(notify: Duration, deadline: Duration | None) -> str:
    if deadline is not None and notify == deadline:
        return f"the first {_SINGULAR_UNITS[notify.unit]}" if notify.value == 1 else f"the first {notify.describe()}"
    return notify.describe()


def deadline_text(rule: RightRule) -> str | None:
    """The response deadline in plain words: "We answer within 1 month of receiving your request." """
    if rule.deadline is None:
        return None
    return f"We answer within {rule.deadline.describe()} {CLOCK_PHRASES[rule.clock_starts]}."


def extension_text(rule: RightRule) -> str | None:
    """How the deadline can be extended: "We may extend this by 2 months and will tell you why within ..." """
    if rule.extension is None or rule.extension_times == 0:
        return None
    times = f", up to {rule.extension_times} times" if rule.extension_times > 1 else ""
    text = f"We may extend this by {rule.extension.describe()}{times}"
    if rule.extension_notify_within is not None:
        text += f" and will tell you why within {_first_period(rule.extension_notify_within, rule.deadline)}"
    return text + "."


# --- the document ---------------------------------------------------------------------------------


def _statement(statement: Statement | None) -> dict[str, Any] | None:
    return None if statement is None else {"text": statement.text, "source": statement.source}


def _contact(contact: Contact) -> dict[str, Any]:
    value = contact.value
    href: str | None = None
    if contact.kind is ContactKind.EMAIL:
        href = f"mailto:{value}"
    elif contact.kind is ContactKind.PHONE:
        href = "tel:" + re.sub(r"[^0-9+]", "", value)
    elif contact.kind is ContactKind.WEB and re.match(r"^https?://", value):
        href = value
    return {"kind": contact.kind.value, "value": value, "label": contact.label, "country": contact.country,
            "href": href, "source": contact.source}


def _party(party: Party | None) -> dict[str, Any] | None:
    if party is None:
        return None
    return {"name": party.name, "address": party.address, "contacts": [_contact(c) for c in party.contacts],
            "source": party.source}


def _names(lookup: Mapping[str, Any], ids: Iterable[str]) -> list[str]:
    return [lookup[i].name if i in lookup else i for i in ids]


def _jurisdiction_name(compiled: CompiledPolicy, code: str) -> str:
    if code in compiled.jurisdictions:
        return compiled.jurisdictions[code].name
    return "Everywhere else" if code == DEFAULT_JURISDICTION else code


def _get_notice(compiled: CompiledPolicy, notice_id: str) -> Notice:
    try:
        return compiled.notices[notice_id]
    except KeyError:
        raise UnknownNotice(notice_id, compiled.notices) from None


def _effective_jurisdiction(compiled: CompiledPolicy, notice: Notice, jurisdiction: str | None) -> str | None:
    """The notice jurisdiction that speaks to someone from ``jurisdiction``; None when not narrowing."""
    if jurisdiction is None:
        return None
    code = compiled.resolve_jurisdiction(jurisdiction)
    return code if code in notice.jurisdictions else DEFAULT_JURISDICTION


def _children_rules(notice: Notice, scope: str | None) -> list[ChildrenRule]:
    if scope is None:
        return list(notice.children)
    exact = [rule for rule in notice.children if rule.jurisdiction == scope]
    return exact or [rule for rule in notice.children if rule.jurisdiction == DEFAULT_JURISDICTION]


def _rights(compiled: CompiledPolicy, notice: Notice, codes: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Rights per jurisdiction: what its law grants (with deadlines), then what the notice itself promises."""
    stated = list(dict.fromkeys(notice.rights))
    result: dict[str, list[dict[str, Any]]] = {}
    for code in codes:
        granted = compiled.rights.get(code, {})
        rows = [{"right": right.value, "name": RIGHT_LABELS[right], "deadline": deadline_text(rule),
                 "extension": extension_text(rule), "granted_by_law": True, "stated_in_notice": right in stated,
                 "note": rule.note, "source": rule.source}
                for right, rule in granted.items()]
        rows += [{"right": right.value, "name": RIGHT_LABELS[right], "deadline": None, "extension": None,
                  "granted_by_law": False, "stated_in_notice": True, "note": None, "source": notice.source}
                 for right in stated if right not in granted]
        result[code] = rows
    return result


def _jurisdiction_details(compiled: CompiledPolicy, code: str) -> dict[str, Any]:
    """What a person in one jurisdiction needs to know besides the list of rights."""
    found = compiled.jurisdictions.get(code)
    if found is None:
        return {"id": code, "name": _jurisdiction_name(compiled, code), "law": None, "members": [],
                "confirmation": None, "verification": [], "appeal": None, "child_age": None,
                "opt_out_signals": [], "complaint_authority": None, "source": None}
    confirmation = None
    if found.confirmation_deadline is not None:
        confirmation = {"text": f"We confirm that we received your request within "
                                f"{found.confirmation_deadline.describe()}.",
                        "source": found.confirmation_source or found.source}
    appeal = None
    if found.appeal is not None:
        text = (f"If we decline your request, you can appeal; we decide on your appeal within "
                f"{found.appeal.deadline.describe()}")
        if found.appeal.extension is not None:
            text += f" (extendable by {found.appeal.extension.describe()})"
        text += "."
        if found.appeal.authority_contact_on_denial:
            text += " If we deny your appeal, we tell you how to complain to the authority."
        appeal = {"text": text, "source": found.appeal.source}
    signals = [{"signal": s.value, "name": SIGNAL_LABELS[s],
                "text": f"We treat a {SIGNAL_LABELS[s]} signal from your browser as a request to opt out of "
                        "the sale and sharing of your personal data.",
                "source": found.opt_out_signals_source or found.source} for s in found.opt_out_signals]
    return {
        "id": found.id, "name": found.name, "law": found.law, "members": list(found.members),
        "confirmation": confirmation,
        "verification": [{"id": v.id, "description": v.description, "source": v.source}
                         for v in found.verification_levels],
        "appeal": appeal,
        "child_age": None if found.child_age is None else {"age": found.child_age.value,
                                                           "source": found.child_age.source},
        "opt_out_signals": signals,
        "complaint_authority": _party(found.complaint_authority),
        "source": found.source,
    }


def _children_text(rule: ChildrenRule) -> str:
    if rule.collects:
        text = f"A child is anyone under the age of {rule.age}."
        if rule.parental_consent:
            text += " We collect a child's personal data only with the consent of a parent or guardian."
    else:
        text = (f"This service is not intended for children (anyone under the age of {rule.age}) and we do not "
                "knowingly collect personal data from or about children")
        text += " without the consent of a parent or guardian." if rule.parental_consent else "."
    if rule.action_without_consent:
        text += f" {rule.action_without_consent}"
    if rule.minimum_service_age is not None:
        text += f" You must be at least {rule.minimum_service_age} to use this service."
    return text


def notice_document(compiled: CompiledPolicy, notice_id: str, jurisdiction: str | None = None) -> dict[str, Any]:
    """The notice with every reference resolved, JSON-safe; narrowed to one jurisdiction when given."""
    notice = _get_notice(compiled, notice_id)
    scope = _effective_jurisdiction(compiled, notice, jurisdiction)
    codes = list(notice.jurisdictions) if scope is None else [scope]
    controller = compiled.controllers[notice.controller]
    categories = compiled.data_categories
    recipients = compiled.recipients

    def bases(purpose_id: str, declared: Mapping[str, LegalBasis]) -> dict[str, str]:
        if scope is None:
            return {code: basis.value for code, basis in declared.items()}
        found = compiled.basis(notice.id, purpose_id, scope)
        return {} if found is None else {scope: found.value}

    purposes: list[dict[str, Any]] = []
    used_bases: set[str] = set()
    for purpose in notice.purposes:
        basis = bases(purpose.id, purpose.basis)
        used_bases.update(basis.values())
        purposes.append({
            "id": purpose.id, "name": purpose.name, "description": purpose.description,
            "categories": list(purpose.categories), "category_names": _names(categories, purpose.categories),
            "basis": basis,
            "basis_labels": {code: BASIS_LABELS[LegalBasis(b)] for code, b in basis.items()},
            "consent": LegalBasis.CONSENT.value in basis.values(),
            "legitimate_interest_assessment": purpose.legitimate_interest_assessment,
            "sale": purpose.sale, "share": purpose.share, "targeted_advertising": purpose.targeted_advertising,
            "profiling": purpose.profiling, "automated_decision": purpose.automated_decision,
            "marketing_channels": [c.value for c in purpose.marketing_channels],
            "marketing_channel_labels": [CHANNEL_LABELS[c] for c in purpose.marketing_channels],
            "withdrawal": list(purpose.withdrawal),
            "cookie_categories": list(purpose.cookie_categories),
            "recipients": list(purpose.recipients), "recipient_names": _names(recipients, purpose.recipients),
            "source": purpose.source,
        })
    purpose_names = {p.id: p.name for p in notice.purposes}

    disclosures = []
    for disclosure in notice.disclosures:
        recipient = recipients.get(disclosure.recipient)
        disclosures.append({
            "recipient": disclosure.recipient,
            "recipient_name": recipient.name if recipient else disclosure.recipient,
            "recipient_description": recipient.description if recipient else None,
            "role": recipient.role.value if recipient else None,
            "role_label": ROLE_LABELS[recipient.role] if recipient else None,
            "description": disclosure.description,
            "purposes": list(disclosure.purposes),
            "purpose_names": [purpose_names.get(p, p) for p in disclosure.purposes],
            "categories": list(disclosure.categories), "category_names": _names(categories, disclosure.categories),
            "sale": disclosure.sale, "share": disclosure.share, "requires_consent": disclosure.requires_consent,
            "fields": list(disclosure.fields), "source": disclosure.source,
        })

    cookie_categories = [compiled.cookie_categories[c] for c in notice.cookie_categories
                         if c in compiled.cookie_categories]
    cookies = []
    for name in notice.cookies:
        cookie = compiled.cookies[name]
        category = compiled.cookie_categories.get(cookie.category)
        cookies.append({
            "name": cookie.name, "category": cookie.category,
            "category_name": category.name if category else cookie.category,
            "consent_required": category.consent_required if category else None,
            "purpose": cookie.purpose, "placed_by": cookie.placed_by, "used_by": cookie.used_by,
            "data_collected": cookie.data_collected, "duration": cookie.duration, "source": cookie.source,
        })

    own_authority = _party(notice.complaint_authority)
    details = {code: _jurisdiction_details(compiled, code) for code in codes}
    complaint_authority = {code: own_authority or details[code]["complaint_authority"] for code in codes}

    return {
        "id": notice.id,
        "title": notice.title,
        "language": notice.language,
        "last_updated": notice.last_updated.isoformat(),
        "summary": notice.summary,
        "services": list(notice.services),
        "source": notice.source,
        "jurisdiction": scope,
        "controller": {
            "id": controller.id, "legal_name": controller.legal_name, "address": controller.address,
            "contacts": [_contact(c) for c in controller.contacts],
            "data_protection_officer": _party(controller.data_protection_officer),
            "eea_representative": _party(controller.eea_representative),
            "source": controller.source,
        },
        "jurisdictions": [{"id": code, "name": _jurisdiction_name(compiled, code)} for code in notice.jurisdictions],
        "data_categories": [{
            "id": cat.id, "name": cat.name, "description": cat.description, "examples": list(cat.examples),
            "sensitive": cat.sensitive, "children": cat.children,
            "collection": [m.value for m in cat.collection],
            "collection_labels": [COLLECTION_LABELS[m] for m in cat.collection],
            "third_party_sources": list(cat.third_party_sources),
            "fides_categories": list(cat.fides_categories), "source": cat.source,
        } for cat in (categories[c] for c in notice.data_categories if c in categories)],
        "purposes": purposes,
        "legal_bases": [{"basis": b.value, "label": BASIS_LABELS[b], "explanation": BASIS_EXPLANATIONS[b]}
                        for b in LegalBasis if b.value in used_bases],
        "disclosures": disclosures,
        "no_third_party_marketing_without_consent": _statement(notice.no_third_party_marketing_without_consent),
        "sale_and_sharing": [_statement(s) for s in notice.sale_and_sharing],
        "cookie_categories": [{
            "id": c.id, "name": c.name, "description": c.description, "consent_required": c.consent_required,
            "legal_basis": c.legal_basis.value, "legal_basis_label": BASIS_LABELS[c.legal_basis], "source": c.source,
        } for c in cookie_categories],
        "cookies": cookies,
        "transfers": [{
            "destinations": list(t.destinations), "safeguard": t.safeguard,
            "supplementary_measures": t.supplementary_measures, "copy_on_request": t.copy_on_request,
            "categories": list(t.categories), "category_names": _names(categories, t.categories), "source": t.source,
        } for t in notice.transfers],
        "retention": [{
            "id": r.id, "categories": list(r.categories), "category_names": _names(categories, r.categories),
            "period": describe_duration(r.period),
            "until": r.until, "action": r.action.value,
            "action_label": ACTION_LABELS[r.action],
            "legal_reason_for_longer": r.legal_reason_for_longer, "source": r.source,
        } for r in notice.retention],
        "security": [_statement(s) for s in notice.security],
        "stated_rights": [{"right": r.value, "name": RIGHT_LABELS[r]} for r in dict.fromkeys(notice.rights)],
        "rights": _rights(compiled, notice, codes),
        "jurisdiction_details": details,
        "rights_requests": None if notice.rights_requests is None else {
            "channels": [_contact(c) for c in notice.rights_requests.channels],
            "agent_allowed": notice.rights_requests.agent_allowed, "source": notice.rights_requests.source,
        },
        "children": [{
            "jurisdiction": rule.jurisdiction, "jurisdiction_name": _jurisdiction_name(compiled, rule.jurisdiction),
            "age": rule.age, "parental_consent": rule.parental_consent, "collects": rule.collects,
            "action_without_consent": rule.action_without_consent, "minimum_service_age": rule.minimum_service_age,
            "text": _children_text(rule), "source": rule.source,
        } for rule in _children_rules(notice, scope)],
        "changes": [_statement(s) for s in notice.changes],
        "contacts": [_contact(c) for c in notice.contacts],
        "complaint_authority": complaint_authority,
    }


# --- presentation ---------------------------------------------------------------------------------


def _basis_text(purpose: Mapping[str, Any], jurisdiction_names: Mapping[str, str]) -> str:
    labels: Mapping[str, str] = purpose["basis_labels"]
    if not labels:
        return "No legal basis in this jurisdiction: we do not do this"
    if len(set(labels.values())) == 1:
        return next(iter(labels.values()))
    return "; ".join(f"{label} ({jurisdiction_names.get(code, code)})" for code, label in labels.items())


def _purpose_facts(purpose: Mapping[str, Any]) -> list[str]:
    """The short sentences under a purpose: channels, how to withdraw, flags the law wants said out loud."""
    facts = []
    if purpose["marketing_channel_labels"]:
        facts.append(f"We contact you by {', '.join(purpose['marketing_channel_labels'])}.")
    if purpose["withdrawal"]:
        bases = set(purpose["basis"].values())
        consent_only = bases == {LegalBasis.CONSENT.value}
        how = ("To withdraw your consent" if consent_only
               else "To withdraw your consent or opt out" if purpose["consent"] else "To object or opt out")
        facts.append(f"{how}: {'; '.join(purpose['withdrawal'])}.")
    if purpose["legitimate_interest_assessment"]:
        facts.append(f"We have assessed our legitimate interests (reference "
                     f"{purpose['legitimate_interest_assessment']}); you can ask us for this assessment.")
    flags = (("profiling", "This involves profiling."),
             ("targeted_advertising", "This is targeted advertising."),
             ("sale", "This involves selling personal data."),
             ("share", "This involves sharing personal data for cross-context behavioural advertising."),
             ("automated_decision", "This involves decisions based solely on automated processing."))
    facts += [text for flag, text in flags if purpose[flag]]
    if purpose["recipient_names"]:
        facts.append(f"Recipients: {', '.join(purpose['recipient_names'])}.")
    return facts


def _disclosure_notes(disclosure: Mapping[str, Any]) -> list[str]:
    notes = [text for text in (disclosure["recipient_description"], disclosure["description"]) if text]
    if disclosure["fields"]:
        notes.append(f"Only these fields: {', '.join(disclosure['fields'])}.")
    if disclosure["requires_consent"]:
        notes.append("Only with your consent.")
    if disclosure["sale"]:
        notes.append("This is a sale of personal data.")
    if disclosure["share"]:
        notes.append("This is sharing for cross-context behavioural advertising.")
    return notes


def _sale_sentences(document: Mapping[str, Any]) -> list[str]:
    """What the notice's own flags say about sale, sharing and targeted advertising."""
    def purposes(flag: str) -> list[str]:
        return [p["name"] for p in document["purposes"] if p[flag]]

    def recipients(flag: str) -> list[str]:
        return list(dict.fromkeys(d["recipient_name"] for d in document["disclosures"] if d[flag]))

    sentences = []
    for flag, doing, recipient_word in (("sale", "We sell personal data", "to"),
                                        ("share", "We share personal data for cross-context behavioural "
                                                  "advertising", "with")):
        if purposes(flag):
            sentences.append(f"{doing} for these purposes: {', '.join(purposes(flag))}.")
        if recipients(flag):
            sentences.append(f"{doing} {recipient_word}: {', '.join(recipients(flag))}.")
    if purposes("targeted_advertising"):
        sentences.append(f"Purposes that involve targeted advertising: {', '.join(purposes('targeted_advertising'))}.")
    if not sentences and not document["sale_and_sharing"]:
        sentences.append("This notice describes no sale or sharing of personal data and no targeted advertising.")
    return sentences


def notice_context(compiled: CompiledPolicy, notice_id: str, jurisdiction: str | None = None) -> dict[str, Any]:
    """Everything the notice templates show: the document plus plain-language tables and sentences."""
    document = notice_document(compiled, notice_id, jurisdiction)
    return context_for_document(document)


def context_for_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The template context for an already built notice document."""
    names = {j["id"]: j["name"] for j in document["jurisdictions"]}
    names.update({code: d["name"] for code, d in document["jurisdiction_details"].items()})
    basis_table = []
    for purpose in document["purposes"]:
        basis = _basis_text(purpose, names)
        rows = [{"category": cid, "category_name": cname}
                for cid, cname in zip(purpose["categories"], purpose["category_names"], strict=True)]
        basis_table.append({"purpose": purpose["id"], "purpose_name": purpose["name"], "basis": basis,
                            "rows": rows, "source": purpose["source"]})
    cookie_groups: dict[str, dict[str, Any]] = {}
    for cookie in document["cookies"]:
        group = cookie_groups.setdefault(cookie["category"], {"category": cookie["category"],
                                                              "name": cookie["category_name"], "cookies": []})
        group["cookies"].append(cookie)
    present = {
        "who-we-are": True,
        "what-we-collect": True,
        "purposes": True,
        "disclosures": bool(document["disclosures"] or document["no_third_party_marketing_without_consent"]),
        "sale-and-sharing": True,
        "cookies": bool(document["cookies"] or document["cookie_categories"]),
        "transfers": bool(document["transfers"]),
        "retention": bool(document["retention"]),
        "security": bool(document["security"]),
        "rights": True,
        "children": bool(document["children"]),
        "changes": bool(document["changes"]),
        "contact": True,
    }
    sections = [{"id": sid, "title": title, "number": 0} for sid, title in SECTION_TITLES if present[sid]]
    for number, section in enumerate(sections, start=1):
        section["number"] = number
    authorities: dict[str, list[str]] = {}
    for code, party in document["complaint_authority"].items():
        if party is not None:
            authorities.setdefault(party["name"], []).append(names.get(code, code))
    return {
        "notice": document,
        "sections": sections,
        "section": {s["id"]: s for s in sections},
        "last_updated_text": long_date(document["last_updated"]),
        "basis_table": basis_table,
        "cookie_groups": list(cookie_groups.values()),
        "sale_sentences": _sale_sentences(document),
        "purpose_facts": {p["id"]: _purpose_facts(p) for p in document["purposes"]},
        "disclosure_notes": [_disclosure_notes(d) for d in document["disclosures"]],
        "jurisdiction_names": names,
        "automated_decisions": any(p["automated_decision"] for p in document["purposes"]),
        "authorities": [{"name": party["name"], "party": party,
                         "places": authorities.get(party["name"], [])}
                        for party in _unique_parties(document["complaint_authority"].values())],
    }


def long_date(iso: str) -> str:
    """``2022-06-27`` -> ``27 June 2022``: no locale, no ambiguity between day and month."""
    day = dt.date.fromisoformat(iso)
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _unique_parties(parties: Iterable[Mapping[str, Any] | None]) -> list[Mapping[str, Any]]:
    seen: dict[str, Mapping[str, Any]] = {}
    for party in parties:
        if party is not None:
            seen.setdefault(party["name"], party)
    return list(seen.values())


# --- formats --------------------------------------------------------------------------------------

_MD_ESCAPES = str.maketrans({"|": "\\|", "<": "&lt;", ">": "&gt;", "\\": "\\\\", "\n": " ", "\r": " "})


def markdown_escape(value: object) -> str:
    """Text safe inside Markdown (and its table cells): no raw HTML, no cell breaks."""
    if value is None:
        return ""
    if isinstance(value, Markup):  # markup a template built on purpose (``| safe``)
        return str(value)
    return str(value).translate(_MD_ESCAPES)


def _join(values: Iterable[object], sep: str = ", ") -> str:
    return sep.join(str(v) for v in values if v not in (None, ""))


@lru_cache(maxsize=1)
def _html_env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["join_text"] = _join
    env.globals["ARTICLE_START"] = Markup(ARTICLE_START)
    env.globals["ARTICLE_END"] = Markup(ARTICLE_END)
    return env


@lru_cache(maxsize=1)
def _md_env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                      finalize=markdown_escape)
    env.filters["join_text"] = _join
    return env


def template_environment() -> Environment:
    """The autoescaping environment of the notice templates, for pages that embed the notice article."""
    return _html_env()


def render_article(context: Mapping[str, Any]) -> Markup:
    """The notice as an HTML ``<article>`` (no page around it), for embedding in the privacy centre."""
    return Markup(_html_env().get_template("_notice_article.html").render(**context))


def render_notice(compiled: CompiledPolicy, notice_id: str, fmt: str, jurisdiction: str | None = None) -> str:
    """The notice as Markdown, a complete accessible HTML page, or its JSON document."""
    if fmt not in FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(notice_document(compiled, notice_id, jurisdiction), indent=2, ensure_ascii=False) + "\n"
    context = notice_context(compiled, notice_id, jurisdiction)
    if fmt == "md":
        text = _md_env().get_template("notice.md.j2").render(**context)
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return _html_env().get_template("notice.html").render(article=render_article(context), **context)


def extract_article(html: str) -> Markup | None:
    """The notice article inside a rendered (or archived) HTML page; None when the page has no markers."""
    start = html.find(ARTICLE_START)
    end = html.find(ARTICLE_END)
    if start < 0 or end < start:
        return None
    return Markup(html[start + len(ARTICLE_START):end])
