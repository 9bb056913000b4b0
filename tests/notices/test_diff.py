"""Notice diffs: every change listed, the material ones marked, the consents they outgrow named.

Seed clauses: 000_8ec896ddd871dbc0.txt (intro: changes are announced by revising the date, "in some
cases" with additional notice), 002_9e508a21e3d0ba23.txt#13 (additional notice when changes are
material), 003_7293f6a511e294b4.txt#14 (notice of material changes and, where the law requires,
consent).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pledge.notices.diff import ChangeKind, Materiality, NoticeDiff, Section, diff_documents
from pledge.notices.render import notice_document
from pledge.policy import CompiledPolicy
from tests.conftest import PolicyFolder


def document() -> dict[str, Any]:
    """A notice document in the shape ``notice_document`` builds, small enough to read."""
    return {
        "id": "app",
        "title": "App notice",
        "last_updated": "2024-03-01",
        "data_categories": [
            {"id": "contact", "name": "Contact data", "description": "How to reach you.",
             "examples": ["email"], "sensitive": False, "collection": ["from_person"]},
            {"id": "usage", "name": "Usage data", "description": "What you do.",
             "examples": [], "sensitive": False, "collection": ["automated"]},
        ],
        "purposes": [
            {"id": "service", "name": "Provide the app", "description": "Run your account.",
             "categories": ["contact", "usage"], "basis": {"default": "contract"}, "consent": False,
             "sale": False, "share": False, "targeted_advertising": False, "profiling": False,
             "automated_decision": False, "marketing_channels": [], "recipients": ["hosting"]},
            {"id": "newsletter", "name": "Newsletter", "description": "News by email.",
             "categories": ["contact"], "basis": {"default": "consent"}, "consent": True,
             "sale": False, "share": False, "targeted_advertising": False, "profiling": False,
             "automated_decision": False, "marketing_channels": ["email"], "recipients": ["mailer"]},
        ],
        "disclosures": [
            {"recipient": "hosting", "recipient_name": "Hosting provider", "role": "processor",
             "purposes": ["service"], "categories": ["contact", "usage"], "sale": False, "share": False},
            {"recipient": "mailer", "recipient_name": "Email service", "role": "processor",
             "purposes": ["newsletter"], "categories": ["contact"], "sale": False, "share": False},
        ],
        "transfers": [{"destinations": ["US"], "safeguard": "standard contractual clauses",
                       "supplementary_measures": None}],
        "retention": [
            {"id": "account", "categories": ["contact"], "period": None, "until": "the account is closed",
             "action": "delete"},
            {"id": "logs", "categories": ["usage"], "period": "13 months", "until": None, "action": "anonymise"},
        ],
        "rights": {"EEA": [{"right": "access", "deadline": "1 month"}, {"right": "deletion", "deadline": "1 month"}]},
    }


def purpose(doc: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in doc["purposes"] if p["id"] == pid)


def disclosure(doc: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(d for d in doc["disclosures"] if d["recipient"] == rid)


def changed(edit: Any) -> NoticeDiff:
    old = document()
    new = copy.deepcopy(old)
    edit(new)
    return diff_documents(old, new)


def test_identical_documents_have_no_changes() -> None:
    result = diff_documents(document(), document())
    assert result.changes == ()
    assert not result.material
    assert result.reconsent_purposes == ()


def test_a_new_consent_purpose_is_material_and_needs_consent_before_use() -> None:
    def add(doc: dict[str, Any]) -> None:
        doc["purposes"].append({"id": "surveys", "name": "Surveys", "categories": ["contact"],
                                "basis": {"default": "consent"}, "consent": True})

    result = changed(add)

    [change] = result.changes
    assert (change.section, change.kind, change.subject) == (Section.PURPOSES, ChangeKind.ADDED, "surveys")
    assert change.reasons == (Materiality.NEW_PURPOSE,)
    assert result.material
    assert result.new_consent_purposes == ("surveys",)
    assert result.reconsent_purposes == ()  # nobody has consented to it yet: consent is asked, not re-asked


def test_a_new_purpose_on_another_basis_is_material_too() -> None:
    result = changed(lambda doc: doc["purposes"].append(
        {"id": "analytics", "name": "Analytics", "categories": ["usage"], "basis": {"default": "legitimate_interests"},
         "consent": False}))
    assert result.material
    assert result.new_consent_purposes == ()


def test_a_new_category_in_a_consent_purpose_is_material_and_needs_re_consent() -> None:
    result = changed(lambda doc: purpose(doc, "newsletter")["categories"].append("usage"))

    [change] = result.changes
    assert change.reasons == (Materiality.NEW_CATEGORY_IN_CONSENT_PURPOSE,)
    assert "usage" in change.detail
    assert result.reconsent_purposes == ("newsletter",)


def test_a_new_category_in_a_contract_purpose_is_listed_but_not_material() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["data_categories"].append({"id": "device", "name": "Device data", "description": "Your phone."})
        purpose(doc, "service")["categories"].append("device")

    result = changed(edit)

    assert {(c.section, c.kind) for c in result.changes} == {
        (Section.PURPOSES, ChangeKind.CHANGED), (Section.DATA_CATEGORIES, ChangeKind.ADDED)}
    assert not result.material
    assert result.reconsent_purposes == ()


def test_dropping_a_purpose_or_category_is_not_material() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["purposes"] = [p for p in doc["purposes"] if p["id"] != "newsletter"]
        purpose(doc, "service")["categories"].remove("usage")

    result = changed(edit)
    assert {(c.section, c.kind, c.subject) for c in result.changes} == {
        (Section.PURPOSES, ChangeKind.REMOVED, "newsletter"), (Section.PURPOSES, ChangeKind.CHANGED, "service")}
    assert not result.material


def test_a_new_recipient_type_is_material() -> None:
    result = changed(lambda doc: doc["disclosures"].append(
        {"recipient": "analytics-vendor", "recipient_name": "Analytics vendors", "purposes": ["service"],
         "categories": ["usage"], "sale": False, "share": False}))

    [change] = result.changes
    assert (change.section, change.kind) == (Section.DISCLOSURES, ChangeKind.ADDED)
    assert change.reasons == (Materiality.NEW_RECIPIENT_TYPE,)


def test_a_consent_purpose_disclosing_to_a_new_recipient_type_needs_re_consent() -> None:
    def edit(doc: dict[str, Any]) -> None:
        purpose(doc, "newsletter")["recipients"].append("ad-network")
        doc["disclosures"].append({"recipient": "ad-network", "recipient_name": "Advertising networks",
                                   "purposes": ["newsletter"], "categories": ["contact"]})

    result = changed(edit)
    assert {c.section for c in result.material_changes} == {Section.PURPOSES, Section.DISCLOSURES}
    assert all(Materiality.NEW_RECIPIENT_TYPE in c.reasons for c in result.material_changes)
    assert result.reconsent_purposes == ("newsletter",)


def test_an_existing_recipient_getting_more_data_is_listed_but_not_material() -> None:
    result = changed(lambda doc: disclosure(doc, "mailer")["categories"].append("usage"))
    [change] = result.changes
    assert change.section is Section.DISCLOSURES and "usage" in change.detail
    assert not result.material


def test_a_new_sale_to_a_recipient_is_material() -> None:
    result = changed(lambda doc: disclosure(doc, "mailer").update(sale=True))
    [change] = result.changes
    assert change.reasons == (Materiality.NEW_SALE_OR_SHARING,)
    assert result.reconsent_purposes == ("newsletter",)


def test_a_purpose_that_starts_sharing_or_targeting_ads_is_material() -> None:
    for flag in ("share", "sale", "targeted_advertising"):
        result = changed(lambda doc, flag=flag: purpose(doc, "service").update({flag: True}))
        assert [c.reasons for c in result.changes] == [(Materiality.NEW_SALE_OR_SHARING,)], flag
        assert result.reconsent_purposes == ()  # a contract purpose has no consents to renew


def test_stopping_a_sale_is_not_material() -> None:
    old = document()
    disclosure(old, "mailer")["sale"] = True
    result = diff_documents(old, document())
    assert len(result.changes) == 1
    assert not result.material


def test_profiling_is_listed_but_not_material_on_its_own() -> None:
    result = changed(lambda doc: purpose(doc, "service").update(profiling=True))
    assert [c.detail for c in result.changes] == ["purpose 'service' now involves profiling"]
    assert not result.material


def test_a_new_transfer_destination_is_material() -> None:
    result = changed(lambda doc: doc["transfers"].append(
        {"destinations": ["JP", "US"], "safeguard": "adequacy decision"}))

    assert [(c.subject, c.kind, c.reasons) for c in result.changes] == [
        ("JP", ChangeKind.ADDED, (Materiality.NEW_TRANSFER_DESTINATION,)),
        ("US", ChangeKind.CHANGED, ()),  # a second safeguard named for an existing destination
    ]


def test_a_dropped_destination_or_new_safeguard_is_not_material() -> None:
    result = changed(lambda doc: doc["transfers"].__setitem__(
        0, {"destinations": ["US"], "safeguard": "EU-US Data Privacy Framework"}))
    assert [c.kind for c in result.changes] == [ChangeKind.CHANGED]
    assert not result.material
    assert not changed(lambda doc: doc.update(transfers=[])).material


def test_retention_changes_are_listed_but_not_material() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["retention"][1]["period"] = "25 months"
        doc["retention"][1]["action"] = "delete"

    result = changed(edit)
    assert [c.detail for c in result.changes] == [
        "retention of usage: 13 months -> 25 months", "at the end of retention, usage: anonymise -> delete"]
    assert not result.material


def test_rights_changes_are_listed_but_not_material() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["rights"]["EEA"].append({"right": "portability", "deadline": "1 month"})
        doc["rights"]["EEA"][0]["deadline"] = "2 months"
        doc["rights"]["US-CA"] = [{"right": "know", "deadline": "45 calendar days"}]

    result = changed(edit)
    assert sorted(c.detail for c in result.changes) == [
        "deadline for access in EEA: 1 month -> 2 months",
        "new rights in EEA: portability",
        "rights stated for US-CA: know",
    ]
    assert not result.material


def test_a_category_becoming_sensitive_is_listed() -> None:
    result = changed(lambda doc: doc["data_categories"][1].update(sensitive=True))
    assert [c.detail for c in result.changes] == ["category 'usage': now sensitive"]


def test_a_basis_change_is_listed() -> None:
    result = changed(lambda doc: purpose(doc, "service")["basis"].update(EEA="legitimate_interests"))
    assert [c.detail for c in result.changes] == ["legal basis of 'service' in EEA: none -> legitimate_interests"]


def test_older_snapshots_missing_sections_count_as_empty() -> None:
    result = diff_documents({"id": "app"}, document())
    assert {c.kind for c in result.changes} == {ChangeKind.ADDED}
    assert result.material
    assert result.new_consent_purposes == ("newsletter",)


def test_the_diff_is_json_serialisable() -> None:
    result = changed(lambda doc: purpose(doc, "newsletter")["categories"].append("usage"))
    data = json.loads(json.dumps(result.as_dict()))
    assert data["material"] is True
    assert data["reconsent_purposes"] == ["newsletter"]
    assert data["changes"][0]["reasons"] == ["new data category in a consent purpose"]


def test_diff_of_rendered_documents_finds_the_policy_edit(minimal_policy: CompiledPolicy,
                                                          minimal_copy: PolicyFolder) -> None:
    """End to end with the real notice document: widening a consent purpose in the YAML."""
    changed_policy = minimal_copy.edit(
        "notices/app.yaml", "    categories: [contact]\n    basis: {default: consent}",
        "    categories: [contact, identity]\n    basis: {default: consent}").compile()

    result = diff_documents(notice_document(minimal_policy, "app"), notice_document(changed_policy, "app"))

    assert [(c.subject, c.reasons) for c in result.changes] == [
        ("newsletter", (Materiality.NEW_CATEGORY_IN_CONSENT_PURPOSE,))]
    assert result.reconsent_purposes == ("newsletter",)
