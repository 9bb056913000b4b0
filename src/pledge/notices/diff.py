"""What changed between two versions of a notice, and which changes are material.

The seeds promise to tell people about changes, and to do more when a change is material:

- ``000_8ec896ddd871dbc0.txt`` (intro): "If we make changes, we will notify you by revising the
  date at the top of the policy and, in some cases, we may provide you with additional notice".
- ``002_9e508a21e3d0ba23.txt#13``: "We will provide additional notice to you if these changes are
  material by adding a statement to this website or by sending you a notification".
- ``003_7293f6a511e294b4.txt#14``: "We will provide notice to you if these changes are material
  and, where required by applicable law, we will obtain your consent."

So a diff lists every change in purposes, data categories, disclosures (recipients), transfers,
retention and rights, and marks as **material** the ones that widen what is done with personal
data: a new purpose, a new data category in a consent purpose, a new recipient type, a new sale or
sharing (including sharing for targeted advertising, which is what CCPA/CPRA calls "sharing"), a
new transfer destination. A consent given for the old scope does not cover the wider one, so the
consent purposes a material change touches are listed as needing **re-consent**; a new consent
purpose needs consent before its first use. Everything else (a narrower scope, new wording, a
different retention period, a right added) is listed but not material.

The documents compared are the ones ``pledge.notices.render.notice_document`` builds and
``NoticeVersion.snapshot`` stores; keys missing from older snapshots count as empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Section(StrEnum):
    PURPOSES = "purposes"
    DATA_CATEGORIES = "data_categories"
    DISCLOSURES = "disclosures"
    TRANSFERS = "transfers"
    RETENTION = "retention"
    RIGHTS = "rights"


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Materiality(StrEnum):
    """The rules that make a change material (issue 2, item 6; 002_9e508a21e3d0ba23.txt#13)."""

    NEW_PURPOSE = "new purpose"
    NEW_CATEGORY_IN_CONSENT_PURPOSE = "new data category in a consent purpose"
    NEW_RECIPIENT_TYPE = "new recipient type"
    NEW_SALE_OR_SHARING = "new sale or sharing"
    NEW_TRANSFER_DESTINATION = "new transfer destination"


#: Purpose flags whose switching on is a new sale or sharing.
SALE_OR_SHARING_FLAGS = ("sale", "share", "targeted_advertising")
#: Purpose flags listed when they change, without being material on their own.
OTHER_FLAGS = ("profiling", "automated_decision")


@dataclass(frozen=True)
class Change:
    """One difference between two notice versions, in plain words, with its materiality."""

    section: Section
    kind: ChangeKind
    subject: str
    detail: str
    reasons: tuple[Materiality, ...] = ()
    reconsent: tuple[str, ...] = ()

    @property
    def material(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {"section": self.section.value, "kind": self.kind.value, "subject": self.subject,
                "detail": self.detail, "material": self.material,
                "reasons": [r.value for r in self.reasons], "reconsent": list(self.reconsent)}


@dataclass(frozen=True)
class NoticeDiff:
    """Every change between two versions; ``material`` says whether people must be told."""

    changes: tuple[Change, ...]
    new_consent_purposes: tuple[str, ...] = field(default=())

    @property
    def material(self) -> bool:
        return any(change.material for change in self.changes)

    @property
    def material_changes(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.material)

    @property
    def reconsent_purposes(self) -> tuple[str, ...]:
        """Existing consent purposes whose consents no longer cover what the new version does."""
        return tuple(sorted({pid for change in self.changes for pid in change.reconsent}))

    def in_section(self, section: Section) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.section is section)

    def as_dict(self) -> dict[str, Any]:
        return {"material": self.material, "reconsent_purposes": list(self.reconsent_purposes),
                "new_consent_purposes": list(self.new_consent_purposes),
                "changes": [change.as_dict() for change in self.changes]}


def diff_documents(old: Mapping[str, Any], new: Mapping[str, Any]) -> NoticeDiff:
    """Compare two notice documents section by section and mark the material changes.

    Material changes need notice (002_9e508a21e3d0ba23.txt#13, 003_7293f6a511e294b4.txt#14) and,
    for consent purposes, fresh consent; other changes only move the last-updated date
    (000_8ec896ddd871dbc0.txt, intro).
    """
    old_recipients = _recipient_ids(old)
    changes: list[Change] = []
    changes += _purpose_changes(old, new, old_recipients)
    changes += _category_changes(old, new)
    changes += _disclosure_changes(old, new, old_recipients)
    changes += _transfer_changes(old, new)
    changes += _retention_changes(old, new)
    changes += _rights_changes(old, new)
    old_purposes = _by_id(old.get("purposes"))
    new_consent = tuple(pid for pid, purpose in _by_id(new.get("purposes")).items()
                        if pid not in old_purposes and _is_consent(purpose))
    return NoticeDiff(changes=tuple(changes), new_consent_purposes=new_consent)


# --- helpers --------------------------------------------------------------------------------------


def _ident(item: Any) -> str:
    """The id of a referenced thing, whether the document holds the id or a small mapping."""
    if isinstance(item, Mapping):
        for key in ("id", "right", "recipient", "name"):
            if item.get(key) is not None:
                return str(item[key])
        return repr(sorted(item.items()))
    return str(item)


def _ids(items: Iterable[Any] | None) -> list[str]:
    return [_ident(item) for item in items or ()]


def _by_id(items: Iterable[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    return {_ident(item): item for item in items or ()}


def _listing(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def _is_consent(purpose: Mapping[str, Any]) -> bool:
    if "consent" in purpose and purpose["consent"] is not None:
        return bool(purpose["consent"])
    return "consent" in (purpose.get("basis") or {}).values()


def _recipient_ids(document: Mapping[str, Any]) -> set[str]:
    found = {_ident(d.get("recipient")) for d in document.get("disclosures") or () if d.get("recipient")}
    for purpose in document.get("purposes") or ():
        found.update(_ids(purpose.get("recipients")))
    return found


def _added(old: Iterable[str], new: Iterable[str]) -> list[str]:
    before = set(old)
    return sorted({item for item in new if item not in before})


def _name(item: Mapping[str, Any], fallback: str) -> str:
    return str(item.get("name") or item.get("recipient_name") or fallback)


# --- sections -------------------------------------------------------------------------------------


def _purpose_changes(old: Mapping[str, Any], new: Mapping[str, Any], old_recipients: set[str]) -> list[Change]:
    before, after = _by_id(old.get("purposes")), _by_id(new.get("purposes"))
    changes: list[Change] = []
    for pid, purpose in after.items():
        if pid in before:
            changes += _purpose_edits(pid, before[pid], purpose, old_recipients)
            continue
        consent = _is_consent(purpose)
        detail = (f"new purpose {_name(purpose, pid)!r} using {_listing(_ids(purpose.get('categories')))}"
                  + (" (relies on consent)" if consent else ""))
        reasons = [Materiality.NEW_PURPOSE]
        if any(purpose.get(flag) for flag in SALE_OR_SHARING_FLAGS):
            reasons.append(Materiality.NEW_SALE_OR_SHARING)
        if _added(old_recipients, _ids(purpose.get("recipients"))):
            reasons.append(Materiality.NEW_RECIPIENT_TYPE)
        changes.append(Change(Section.PURPOSES, ChangeKind.ADDED, pid, detail, tuple(reasons)))
    for pid, purpose in before.items():
        if pid not in after:
            changes.append(Change(Section.PURPOSES, ChangeKind.REMOVED, pid,
                                  f"purpose {_name(purpose, pid)!r} is no longer carried out"))
    return changes


def _purpose_edits(pid: str, old: Mapping[str, Any], new: Mapping[str, Any],
                   old_recipients: set[str]) -> list[Change]:
    consent = _is_consent(new)
    # Consents on record were given under the old version; only a purpose that relied on consent
    # then has consents a wider scope can outgrow.
    reconsent = (pid,) if consent and _is_consent(old) else ()
    changes: list[Change] = []

    def add(detail: str, *reasons: Materiality) -> None:
        changes.append(Change(Section.PURPOSES, ChangeKind.CHANGED, pid, detail, tuple(reasons),
                              reconsent if reasons else ()))

    old_categories, new_categories = _ids(old.get("categories")), _ids(new.get("categories"))
    gained = _added(old_categories, new_categories)
    if gained:
        reasons = (Materiality.NEW_CATEGORY_IN_CONSENT_PURPOSE,) if consent else ()
        add(f"purpose {pid!r} now uses {_listing(gained)}", *reasons)
    lost = _added(new_categories, old_categories)
    if lost:
        add(f"purpose {pid!r} no longer uses {_listing(lost)}")

    old_basis: Mapping[str, Any] = old.get("basis") or {}
    new_basis: Mapping[str, Any] = new.get("basis") or {}
    for code in sorted(set(old_basis) | set(new_basis)):
        if old_basis.get(code) != new_basis.get(code):
            add(f"legal basis of {pid!r} in {code}: {old_basis.get(code) or 'none'} -> "
                f"{new_basis.get(code) or 'none'}")

    for flag in SALE_OR_SHARING_FLAGS + OTHER_FLAGS:
        was, now = bool(old.get(flag)), bool(new.get(flag))
        if was == now:
            continue
        label = flag.replace("_", " ")
        if now and flag in SALE_OR_SHARING_FLAGS:
            add(f"purpose {pid!r} now involves {label}", Materiality.NEW_SALE_OR_SHARING)
        else:
            add(f"purpose {pid!r} {'now involves' if now else 'no longer involves'} {label}")

    old_recipient_ids, new_recipient_ids = _ids(old.get("recipients")), _ids(new.get("recipients"))
    for recipient in _added(old_recipient_ids, new_recipient_ids):
        if recipient in old_recipients:
            add(f"purpose {pid!r} now discloses to {recipient}")
        else:
            add(f"purpose {pid!r} now discloses to {recipient}, a new type of recipient",
                Materiality.NEW_RECIPIENT_TYPE)
    for recipient in _added(new_recipient_ids, old_recipient_ids):
        add(f"purpose {pid!r} no longer discloses to {recipient}")

    channels_gained = _added(_ids(old.get("marketing_channels")), _ids(new.get("marketing_channels")))
    channels_lost = _added(_ids(new.get("marketing_channels")), _ids(old.get("marketing_channels")))
    if channels_gained:
        add(f"purpose {pid!r} now uses channels {_listing(channels_gained)}")
    if channels_lost:
        add(f"purpose {pid!r} no longer uses channels {_listing(channels_lost)}")
    for key in ("name", "description"):
        if old.get(key) != new.get(key):
            add(f"{key} of purpose {pid!r} reworded")
    return changes


def _category_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    before, after = _by_id(old.get("data_categories")), _by_id(new.get("data_categories"))
    changes: list[Change] = []
    for cid, category in after.items():
        if cid not in before:
            sensitive = " (sensitive)" if category.get("sensitive") else ""
            changes.append(Change(Section.DATA_CATEGORIES, ChangeKind.ADDED, cid,
                                  f"now collects {_name(category, cid)!r}{sensitive}"))
            continue
        was = before[cid]
        edits = [f"{key} changed" for key in ("name", "description", "examples", "collection")
                 if was.get(key) != category.get(key)]
        if bool(was.get("sensitive")) != bool(category.get("sensitive")):
            edits.append("now sensitive" if category.get("sensitive") else "no longer sensitive")
        if edits:
            changes.append(Change(Section.DATA_CATEGORIES, ChangeKind.CHANGED, cid,
                                  f"category {cid!r}: {', '.join(edits)}"))
    for cid, category in before.items():
        if cid not in after:
            changes.append(Change(Section.DATA_CATEGORIES, ChangeKind.REMOVED, cid,
                                  f"no longer collects {_name(category, cid)!r}"))
    return changes


def _merged_disclosures(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Disclosures per recipient; a recipient listed twice gets the union of what it receives."""
    merged: dict[str, dict[str, Any]] = {}
    for disclosure in document.get("disclosures") or ():
        rid = _ident(disclosure.get("recipient"))
        entry = merged.setdefault(rid, {"name": _name(disclosure, rid), "purposes": set(),
                                        "categories": set(), "sale": False, "share": False})
        entry["purposes"].update(_ids(disclosure.get("purposes")))
        entry["categories"].update(_ids(disclosure.get("categories")))
        entry["sale"] = entry["sale"] or bool(disclosure.get("sale"))
        entry["share"] = entry["share"] or bool(disclosure.get("share"))
    return merged


def _disclosure_changes(old: Mapping[str, Any], new: Mapping[str, Any], old_recipients: set[str]) -> list[Change]:
    before, after = _merged_disclosures(old), _merged_disclosures(new)
    old_consent = {pid for pid, p in _by_id(old.get("purposes")).items() if _is_consent(p)}
    new_consent = {pid for pid, p in _by_id(new.get("purposes")).items() if _is_consent(p)}
    changes: list[Change] = []
    for rid, entry in after.items():
        touched = tuple(sorted(entry["purposes"] & old_consent & new_consent))
        was = before.get(rid)
        if was is None:
            reasons: list[Materiality] = []
            if rid not in old_recipients:
                reasons.append(Materiality.NEW_RECIPIENT_TYPE)
            if entry["sale"] or entry["share"]:
                reasons.append(Materiality.NEW_SALE_OR_SHARING)
            what = _listing(entry["categories"]) or "personal data"
            changes.append(Change(Section.DISCLOSURES, ChangeKind.ADDED, rid,
                                  f"now discloses {what} to {entry['name']}", tuple(reasons),
                                  touched if reasons else ()))
            continue
        for flag, label in (("sale", "sells"), ("share", "shares")):
            if entry[flag] and not was[flag]:
                changes.append(Change(Section.DISCLOSURES, ChangeKind.CHANGED, rid,
                                      f"now {label} personal data with {entry['name']}",
                                      (Materiality.NEW_SALE_OR_SHARING,), touched))
            elif was[flag] and not entry[flag]:
                changes.append(Change(Section.DISCLOSURES, ChangeKind.CHANGED, rid,
                                      f"no longer {label} personal data with {entry['name']}"))
        for key, label in (("categories", "data"), ("purposes", "purposes")):
            gained = sorted(entry[key] - was[key])
            lost = sorted(was[key] - entry[key])
            if gained:
                changes.append(Change(Section.DISCLOSURES, ChangeKind.CHANGED, rid,
                                      f"discloses to {entry['name']} for more {label}: {', '.join(gained)}"))
            if lost:
                changes.append(Change(Section.DISCLOSURES, ChangeKind.CHANGED, rid,
                                      f"discloses to {entry['name']} for fewer {label}: {', '.join(lost)}"))
    for rid, was in before.items():
        if rid not in after:
            changes.append(Change(Section.DISCLOSURES, ChangeKind.REMOVED, rid,
                                  f"no longer discloses to {was['name']}"))
    return changes


def _safeguards(document: Mapping[str, Any]) -> dict[str, set[str]]:
    """Each destination and the safeguards the document names for it."""
    found: dict[str, set[str]] = {}
    for transfer in document.get("transfers") or ():
        for destination in _ids(transfer.get("destinations")):
            found.setdefault(destination, set())
            if transfer.get("safeguard"):
                found[destination].add(str(transfer["safeguard"]))
    return found


def _transfer_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    before, after = _safeguards(old), _safeguards(new)
    changes: list[Change] = []
    for destination in sorted(after):
        safeguard = _listing(after[destination]) or "no safeguard named"
        if destination not in before:
            changes.append(Change(Section.TRANSFERS, ChangeKind.ADDED, destination,
                                  f"now transfers personal data to {destination} ({safeguard})",
                                  (Materiality.NEW_TRANSFER_DESTINATION,)))
        elif before[destination] != after[destination]:
            changes.append(Change(Section.TRANSFERS, ChangeKind.CHANGED, destination,
                                  f"safeguard for {destination}: {_listing(before[destination]) or 'none'} -> "
                                  f"{safeguard}"))
    for destination in sorted(set(before) - set(after)):
        changes.append(Change(Section.TRANSFERS, ChangeKind.REMOVED, destination,
                              f"no longer transfers personal data to {destination}"))
    return changes


def _describe_retention(rule: Mapping[str, Any]) -> str:
    period = rule.get("period")
    if isinstance(period, Mapping):
        period = ", ".join(f"{value} {unit}" for unit, value in period.items() if value is not None)
    parts = [str(part) for part in (period, rule.get("until") and f"until {rule['until']}") if part]
    return " or ".join(parts) or "unspecified"


def _retention_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    before, after = _by_id(old.get("retention")), _by_id(new.get("retention"))
    changes: list[Change] = []
    for rid, rule in after.items():
        cats = _listing(_ids(rule.get("categories")))
        if rid not in before:
            changes.append(Change(Section.RETENTION, ChangeKind.ADDED, rid,
                                  f"new retention rule for {cats}: {_describe_retention(rule)}"))
            continue
        was = before[rid]
        if _describe_retention(was) != _describe_retention(rule):
            changes.append(Change(Section.RETENTION, ChangeKind.CHANGED, rid,
                                  f"retention of {cats}: {_describe_retention(was)} -> {_describe_retention(rule)}"))
        if was.get("action") != rule.get("action"):
            changes.append(Change(Section.RETENTION, ChangeKind.CHANGED, rid,
                                  f"at the end of retention, {cats}: {was.get('action')} -> {rule.get('action')}"))
        if set(_ids(was.get("categories"))) != set(_ids(rule.get("categories"))):
            changes.append(Change(Section.RETENTION, ChangeKind.CHANGED, rid,
                                  f"rule {rid!r} now covers {cats}"))
    for rid, rule in before.items():
        if rid not in after:
            changes.append(Change(Section.RETENTION, ChangeKind.REMOVED, rid,
                                  f"retention rule {rid!r} for {_listing(_ids(rule.get('categories')))} removed"))
    return changes


def _rights_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    before: Mapping[str, Any] = old.get("rights") or {}
    after: Mapping[str, Any] = new.get("rights") or {}
    changes: list[Change] = []
    for code in sorted(set(before) | set(after)):
        was, now = _ids(before.get(code)), _ids(after.get(code))
        if code not in before:
            changes.append(Change(Section.RIGHTS, ChangeKind.ADDED, code,
                                  f"rights stated for {code}: {_listing(now) or 'none'}"))
        elif code not in after:
            changes.append(Change(Section.RIGHTS, ChangeKind.REMOVED, code, f"no rights stated for {code} any more"))
        else:
            gained, lost = _added(was, now), _added(now, was)
            if gained:
                changes.append(Change(Section.RIGHTS, ChangeKind.CHANGED, code,
                                      f"new rights in {code}: {_listing(gained)}"))
            if lost:
                changes.append(Change(Section.RIGHTS, ChangeKind.CHANGED, code,
                                      f"rights no longer stated in {code}: {_listing(lost)}"))
            old_rows, new_rows = _rows(before.get(code)), _rows(after.get(code))
            for right in sorted(set(old_rows) & set(new_rows)):
                for key in ("deadline", "extension"):
                    was_value, now_value = old_rows[right].get(key), new_rows[right].get(key)
                    if was_value != now_value:
                        changes.append(Change(Section.RIGHTS, ChangeKind.CHANGED, code,
                                              f"{key} for {right} in {code}: {was_value or 'none'} -> "
                                              f"{now_value or 'none'}"))
    return changes


def _rows(rights: Iterable[Any] | None) -> dict[str, Mapping[str, Any]]:
    """Rights given as rows (with deadlines), keyed by right; plain names carry no details."""
    return {_ident(row): row for row in rights or () if isinstance(row, Mapping)}
