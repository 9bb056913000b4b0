"""Consent receipts with the information structure of ISO/IEC TS 27560:2023.

A receipt is the person's copy of one ledger event: the record header (schema version, record
and receipt ids, PII principal), the processing the event is about (notice, language, purposes
with their lawful basis, PII types, controllers, collection method, storage and processing
locations, retention, services, jurisdiction, recipients, withdrawal method, rights, authority),
the parties, and the event itself (time, validity, who acted, type and state). Field names follow
the standard's terms, written in snake_case; DPV's ``dpv-27560`` profile maps them onto RDF.

Events that are not about one purpose (an opt-out, a channel, a cookie category) list the
purposes the policy maps them onto, so the person sees what their choice switches off.
"""

from __future__ import annotations

from typing import Any

from pledge.consent.models import ConsentEvent
from pledge.consent.projection import effects
from pledge.consent.schemas import DIRECT_MARKETING, EventKind, OptOut
from pledge.policy import CompiledPolicy
from pledge.policy.compile import PurposeKey
from pledge.policy.models import Contact, ContactKind, Controller, LegalBasis, MarketingChannel, Party, Purpose

SCHEMA_VERSION = "ISO/IEC TS 27560:2023; pledge-receipt/1"

#: The 27560 "event state" each event kind leaves the consent (or the choice) in.
EVENT_STATE: dict[EventKind, str] = {
    EventKind.CONSENT_GRANTED: "consent given",
    EventKind.CONSENT_DENIED: "consent refused",
    EventKind.CONSENT_WITHDRAWN: "consent withdrawn",
    EventKind.OBJECTION_RAISED: "objected",
    EventKind.OBJECTION_WITHDRAWN: "objection withdrawn",
    EventKind.RESTRICTION_REQUESTED: "restricted",
    EventKind.RESTRICTION_LIFTED: "restriction lifted",
    EventKind.OPTED_OUT: "opted out",
    EventKind.OPTED_IN: "opted in",
    EventKind.CHANNEL_SWITCHED_OFF: "channel off",
    EventKind.CHANNEL_SWITCHED_ON: "channel on",
    EventKind.COOKIES_ACCEPTED: "consent given",
    EventKind.COOKIES_REJECTED: "consent refused",
    EventKind.PARENTAL_CONSENT_GIVEN: "consent given",
    EventKind.PARENTAL_CONSENT_WITHDRAWN: "consent withdrawn",
}


def affected_purposes(policy: CompiledPolicy, event: ConsentEvent) -> list[PurposeKey]:
    """The purposes an event bears on, as the policy maps choices onto purposes."""
    return list(_purposes_of(policy, EventKind(event.kind), event.notice_id, event.target))


def _purposes_of(policy: CompiledPolicy, kind: EventKind, notice_id: str, target: str) -> tuple[PurposeKey, ...]:
    if kind in (EventKind.CONSENT_GRANTED, EventKind.CONSENT_DENIED, EventKind.CONSENT_WITHDRAWN) or (
            kind in (EventKind.OBJECTION_RAISED, EventKind.OBJECTION_WITHDRAWN) and target != DIRECT_MARKETING):
        return ((notice_id, target),)
    scope = [key for key in policy.purposes if not notice_id or key[0] == notice_id]

    def where(test: Any) -> tuple[PurposeKey, ...]:
        return tuple(key for key in scope if test(policy.purposes[key]))

    if kind in (EventKind.OBJECTION_RAISED, EventKind.OBJECTION_WITHDRAWN):
        return where(lambda p: p.for_marketing)
    if kind in (EventKind.CHANNEL_SWITCHED_OFF, EventKind.CHANNEL_SWITCHED_ON):
        channel = MarketingChannel(target)
        return where(lambda p: channel in p.marketing_channels)
    if kind in (EventKind.COOKIES_ACCEPTED, EventKind.COOKIES_REJECTED):
        return where(lambda p: target in p.cookie_categories)
    if kind in (EventKind.OPTED_OUT, EventKind.OPTED_IN):
        opt_out = OptOut(target)
        if opt_out is OptOut.SALE_SHARE:
            return where(lambda p: p.sale or p.share)
        if opt_out is OptOut.TARGETED_ADVERTISING:
            return where(lambda p: p.targeted_advertising)
        if opt_out is OptOut.PROFILING:
            return where(lambda p: p.profiles_people)
        # the same test as the decision engine's limit-sensitive rule
        return where(lambda p: not p.limit_sensitive_exempt and any(
            policy.data_categories[c].sensitive for c in p.categories if c in policy.data_categories))
    return tuple(scope)


def _policy_part(policy: CompiledPolicy, kind: EventKind, notice_id: str, target: str,
                 jurisdiction: str) -> dict[str, Any]:
    """What a receipt says that follows from the policy alone, computed once per kind of event.

    The consent API answers every event with its receipt; an opt-out of sale lists every purpose
    that sells or shares, with its categories, retention and recipients. The answer is the same for
    every event with the same kind, notice, target and jurisdiction, so it is kept on the policy.
    The dict is shared: callers serialise it and never change it.
    """
    memo = ("receipt", kind, notice_id, target, jurisdiction)
    found: dict[str, Any] | None = policy.derived.get(memo)
    if found is not None:
        return found
    keys = _purposes_of(policy, kind, notice_id, target)
    notice = policy.notices.get(notice_id) if notice_id else None
    notices = [policy.notices[n] for n in dict.fromkeys(key[0] for key in keys)] if notice is None else [notice]
    controllers = [policy.controllers[n.controller] for n in notices if n.controller in policy.controllers]
    controllers = list({c.id: c for c in controllers}.values())
    jurisdiction_rule = policy.jurisdictions.get(jurisdiction)
    authority = (jurisdiction_rule.complaint_authority if jurisdiction_rule and jurisdiction_rule.complaint_authority
                 else notice.complaint_authority if notice else None)
    found = policy.derived[memo] = {
        "language": notice.language if notice else (notices[0].language if notices else "en"),
        "notice": notice,
        "processing": [_processing(policy, key, jurisdiction) for key in keys],
        "pii_controllers": [c.id for c in controllers],
        "privacy_rights": sorted(right.value for right in policy.rights_in(jurisdiction)),
        "authority_party": _party_dict(authority, role="authority") if authority else None,
        "parties": [_controller_party(c) for c in controllers],
        "event_type": _event_type(kind, target),
        "event_state": EVENT_STATE[kind],
    }
    return found


def receipt(*, policy: CompiledPolicy, event: ConsentEvent, identity_kind: str | None = None) -> dict[str, Any]:
    """The ISO/IEC TS 27560 receipt of one ledger event, as a JSON-ready dict."""
    kind = EventKind(event.kind)
    known = _policy_part(policy, kind, event.notice_id, event.target, event.jurisdiction)
    notice = known["notice"]
    return {
        "schema_version": SCHEMA_VERSION,
        "receipt_id": f"receipt-{event.uid}",
        "record_id": event.uid,
        "pii_principal_id": event.subject_id,
        "pii_principal_identity_kind": identity_kind,
        "record_created_at": event.recorded_at.isoformat(),
        "language": known["language"],
        "jurisdiction": event.jurisdiction,
        "privacy_notice": ({"id": notice.id, "title": notice.title, "version": event.notice_version,
                            "last_updated": notice.last_updated.isoformat()} if notice else None),
        "processing": known["processing"],
        "pii_controllers": known["pii_controllers"],
        "collection_method": event.collection_point,
        "privacy_rights": known["privacy_rights"],
        "authority_party": known["authority_party"],
        "parties": known["parties"],
        "events": [{
            "event_time": event.occurred_at.isoformat(),
            "validity_duration": event.expires_at.isoformat() if event.expires_at else "until withdrawn",
            "entity_id": event.actor_ref or (event.subject_id if event.actor == "subject" else event.actor),
            "entity_role": event.actor,
            "event_type": known["event_type"],
            "event_state": known["event_state"],
            "event_kind": kind.value,
            "target": event.target or None,
            "state_changes": [{"aspect": e.aspect, "target": e.target or None, "value": e.value}
                              for e in effects(kind=kind, notice_id=event.notice_id, target=event.target,
                                               collection_point=event.collection_point,
                                               expires_at=event.expires_at)],
        }],
        "evidence": {"text_sha256": event.evidence_hash, "ip_address": event.ip_address,
                     "user_agent": event.user_agent},
        "policy_revision": event.policy_revision,
    }


def _event_type(kind: EventKind, target: str) -> str:
    if kind in (EventKind.PARENTAL_CONSENT_GIVEN, EventKind.PARENTAL_CONSENT_WITHDRAWN):
        return "parental consent"
    if kind in (EventKind.OPTED_OUT, EventKind.OPTED_IN):
        return f"opt-out of {target.replace('_', ' ')}"
    if kind in (EventKind.OBJECTION_RAISED, EventKind.OBJECTION_WITHDRAWN):
        return "objection"
    if kind in (EventKind.RESTRICTION_REQUESTED, EventKind.RESTRICTION_LIFTED):
        return "restriction of processing"
    if kind in (EventKind.CHANNEL_SWITCHED_OFF, EventKind.CHANNEL_SWITCHED_ON):
        return "marketing preference"
    return "expressed consent"


def _processing(policy: CompiledPolicy, key: PurposeKey, jurisdiction: str) -> dict[str, Any]:
    notice_id, purpose_id = key
    notice = policy.notices[notice_id]
    purpose: Purpose = policy.purposes[key]
    basis = policy.basis(notice_id, purpose_id, jurisdiction)
    categories = [policy.data_categories[c] for c in purpose.categories if c in policy.data_categories]
    retention = [rule for c in purpose.categories for rule in policy.retention_by_category.get((notice_id, c), ())]
    return {
        "notice": notice_id,
        "purpose": purpose_id,
        "purpose_name": purpose.name,
        "purpose_description": purpose.description,
        "lawful_basis": basis.value if isinstance(basis, LegalBasis) else None,
        "pii_information": [{"pii_type": c.id, "name": c.name, "sensitive": c.sensitive,
                             "fides_categories": list(c.fides_categories)} for c in categories],
        "collection_method": sorted({m.value for c in categories for m in c.collection}),
        "storage_locations": sorted({d for t in notice.transfers for d in t.destinations}),
        "retention_period": [{"rule": r.id, "period": r.period.describe() if r.period else None, "until": r.until}
                             for r in {r.id: r for r in retention}.values()],
        "service": list(notice.services),
        "recipient_third_parties": [{"id": r, "name": policy.recipients[r].name,
                                     "role": policy.recipients[r].role.value}
                                    for r in purpose.recipients if r in policy.recipients],
        "withdrawal_method": list(purpose.withdrawal),
        "source": purpose.source,
    }


def _controller_party(controller: Controller) -> dict[str, Any]:
    return {
        "party_id": controller.id,
        "party_name": controller.legal_name,
        "party_address": controller.address,
        "party_email": _contact(controller.contacts, ContactKind.EMAIL),
        "party_phone": _contact(controller.contacts, ContactKind.PHONE),
        "party_url": _contact(controller.contacts, ContactKind.WEB),
        "party_role": "controller",
        "party_type": "legal entity",
        "party_contact": _contact(controller.contacts, ContactKind.EMAIL) or controller.address,
    }


def _party_dict(party: Party, *, role: str) -> dict[str, Any]:
    return {"party_name": party.name, "party_address": party.address,
            "party_email": _contact(party.contacts, ContactKind.EMAIL),
            "party_phone": _contact(party.contacts, ContactKind.PHONE),
            "party_url": _contact(party.contacts, ContactKind.WEB), "party_role": role}


def _contact(contacts: tuple[Contact, ...], kind: ContactKind) -> str | None:
    return next((c.value for c in contacts if c.kind is kind), None)

