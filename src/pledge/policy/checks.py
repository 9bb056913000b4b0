"""Lint a loaded policy like source code.

Types and unknown keys are caught by the models while loading; this module finds what a schema
cannot: references to things that do not exist, and policies that would break a promise (a
consent with no way to withdraw it, data kept with no retention rule, sensitive data sold).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pledge.policy.loader import LoadedPolicy, NodePath, Problem
from pledge.policy.models import LegalBasis, Notice, Policy

DEFAULT_JURISDICTION = "default"


@dataclass
class _Findings:
    loaded: LoadedPolicy
    problems: list[Problem]

    def error(self, path: NodePath, code: str, message: str) -> None:
        self.problems.append(Problem(self.loaded.source_map.locate(path), "error", message, code))

    def warning(self, path: NodePath, code: str, message: str) -> None:
        self.problems.append(Problem(self.loaded.source_map.locate(path), "warning", message, code))


def check_policy(loaded: LoadedPolicy) -> list[Problem]:
    """Every error and warning in the policy, in file order."""
    findings = _Findings(loaded, [])
    policy = loaded.policy
    for check in _CHECKS:
        check(policy, findings)
    return sorted(findings.problems, key=lambda p: (p.location.file, p.location.line, p.location.column))


def _check_duplicate_ids(policy: Policy, f: _Findings) -> None:
    sections: dict[str, list[str]] = {
        "controllers": [c.id for c in policy.controllers],
        "data_categories": [c.id for c in policy.data_categories],
        "recipients": [r.id for r in policy.recipients],
        "cookie_categories": [c.id for c in policy.cookie_categories],
        "cookies": [c.name for c in policy.cookies],
        "jurisdictions": [j.id for j in policy.jurisdictions],
        "notices": [n.id for n in policy.notices],
    }
    for section, ids in sections.items():
        first: dict[str, int] = {}
        for index, ident in enumerate(ids):
            if ident in first:
                where = f.loaded.source_map.locate((section, first[ident]))
                f.error((section, index), "duplicate-id",
                        f"duplicate id {ident!r} in {section} (first defined at {where})")
            else:
                first[ident] = index
    for n_index, notice in enumerate(policy.notices):
        scoped = (("purposes", [p.id for p in notice.purposes]), ("retention", [r.id for r in notice.retention]))
        for label, ids in scoped:
            seen: set[str] = set()
            for index, ident in enumerate(ids):
                if ident in seen:
                    f.error(("notices", n_index, label, index), "duplicate-id",
                            f"duplicate id {ident!r} in {label} of notice {notice.id!r}")
                seen.add(ident)


def _check_references(policy: Policy, f: _Findings) -> None:
    controllers = {c.id for c in policy.controllers}
    categories = {c.id for c in policy.data_categories}
    recipients = {r.id for r in policy.recipients}
    cookie_categories = {c.id for c in policy.cookie_categories}
    cookies = {c.name for c in policy.cookies}
    jurisdictions = {j.id for j in policy.jurisdictions}

    def need(known: set[str], value: str, path: NodePath, what: str) -> None:
        if value not in known:
            f.error(path, "dangling-reference", f"{what} {value!r} is not defined")

    for c_index, cookie in enumerate(policy.cookies):
        need(cookie_categories, cookie.category, ("cookies", c_index, "category"), "cookie category")
    for j_index, jurisdiction in enumerate(policy.jurisdictions):
        levels = {level.id for level in jurisdiction.verification_levels}
        for right, rule in jurisdiction.rights.items():
            if rule.verification is not None:
                need(levels, rule.verification, ("jurisdictions", j_index, "rights", right.value, "verification"),
                     f"verification level (jurisdiction {jurisdiction.id})")
    for n_index, notice in enumerate(policy.notices):
        base: NodePath = ("notices", n_index)
        need(controllers, notice.controller, (*base, "controller"), "controller")
        for i, code in enumerate(notice.jurisdictions):
            need(jurisdictions, code, (*base, "jurisdictions", i), "jurisdiction")
        for i, cat in enumerate(notice.data_categories):
            need(categories, cat, (*base, "data_categories", i), "data category")
        for i, cc in enumerate(notice.cookie_categories):
            need(cookie_categories, cc, (*base, "cookie_categories", i), "cookie category")
        for i, name in enumerate(notice.cookies):
            need(cookies, name, (*base, "cookies", i), "cookie")
        notice_categories = set(notice.data_categories)
        notice_scope = {*notice.jurisdictions, DEFAULT_JURISDICTION}
        purpose_ids = {p.id for p in notice.purposes}
        for p_index, purpose in enumerate(notice.purposes):
            p_base = (*base, "purposes", p_index)
            for i, cat in enumerate(purpose.categories):
                if cat not in notice_categories:
                    f.error((*p_base, "categories", i), "dangling-reference",
                            f"purpose {purpose.id!r} uses category {cat!r}, which notice {notice.id!r} does not list")
            for code in purpose.basis:
                if code not in notice_scope:
                    f.error((*p_base, "basis", code), "dangling-reference",
                            f"basis given for jurisdiction {code!r}, which notice {notice.id!r} does not cover")
            for i, cc in enumerate(purpose.cookie_categories):
                need(cookie_categories, cc, (*p_base, "cookie_categories", i), "cookie category")
            for i, rid in enumerate(purpose.recipients):
                need(recipients, rid, (*p_base, "recipients", i), "recipient")
        for d_index, disclosure in enumerate(notice.disclosures):
            d_base = (*base, "disclosures", d_index)
            need(recipients, disclosure.recipient, (*d_base, "recipient"), "recipient")
            for i, pid in enumerate(disclosure.purposes):
                need(purpose_ids, pid, (*d_base, "purposes", i), f"purpose (notice {notice.id})")
            for i, cat in enumerate(disclosure.categories):
                need(notice_categories, cat, (*d_base, "categories", i), f"data category (notice {notice.id})")
        for t_index, transfer in enumerate(notice.transfers):
            for i, cat in enumerate(transfer.categories):
                need(notice_categories, cat, (*base, "transfers", t_index, "categories", i),
                     f"data category (notice {notice.id})")
        for r_index, retention_rule in enumerate(notice.retention):
            for i, cat in enumerate(retention_rule.categories):
                need(notice_categories, cat, (*base, "retention", r_index, "categories", i),
                     f"data category (notice {notice.id})")
        if notice.cookie_consent is not None:
            for code in notice.cookie_consent.required:
                if code not in notice_scope:
                    f.error((*base, "cookie_consent", "required", code), "dangling-reference",
                            f"cookie consent rule for jurisdiction {code!r}, which notice {notice.id!r} does not cover")
        for c_index, child_rule in enumerate(notice.children):
            if child_rule.jurisdiction not in notice_scope:
                f.error((*base, "children", c_index, "jurisdiction"), "dangling-reference",
                        f"children rule for jurisdiction {child_rule.jurisdiction!r}, "
                        f"which notice {notice.id!r} does not cover")


def _bases(notice: Notice) -> Iterable[tuple[int, str, LegalBasis]]:
    for index, purpose in enumerate(notice.purposes):
        for code, basis in purpose.basis.items():
            yield index, code, basis


def _check_consent_and_interests(policy: Policy, f: _Findings) -> None:
    for n_index, notice in enumerate(policy.notices):
        warned: set[int] = set()
        for p_index, code, basis in _bases(notice):
            purpose = notice.purposes[p_index]
            path = ("notices", n_index, "purposes", p_index)
            if basis is LegalBasis.CONSENT and not purpose.withdrawal:
                f.error((*path, "basis", code), "consent-without-withdrawal",
                        f"purpose {purpose.id!r} relies on consent in {code!r} but gives no way to withdraw it "
                        "(GDPR Art. 7(3): withdrawing must be as easy as giving)")
            if (basis is LegalBasis.LEGITIMATE_INTERESTS and not purpose.legitimate_interest_assessment
                    and p_index not in warned):
                warned.add(p_index)
                f.warning((*path, "basis", code), "no-lia",
                          f"purpose {purpose.id!r} relies on legitimate interests with no assessment reference")


def _check_categories_used_and_kept(policy: Policy, f: _Findings) -> None:
    used_anywhere: set[str] = set()
    for n_index, notice in enumerate(policy.notices):
        used = {cat for purpose in notice.purposes for cat in purpose.categories}
        kept = {cat for rule in notice.retention for cat in rule.categories}
        used_anywhere |= set(notice.data_categories)
        for i, cat in enumerate(notice.data_categories):
            path = ("notices", n_index, "data_categories", i)
            if cat not in used:
                f.error(path, "category-without-purpose",
                        f"notice {notice.id!r} collects {cat!r} but no purpose uses it (GDPR Art. 5(1)(b))")
            if cat not in kept:
                f.error(path, "category-without-retention",
                        f"notice {notice.id!r} collects {cat!r} with no retention rule (GDPR Art. 5(1)(e))")
    for index, category in enumerate(policy.data_categories):
        if category.id not in used_anywhere:
            f.warning(("data_categories", index), "category-unused",
                      f"data category {category.id!r} is in no notice")


def _check_transfers(policy: Policy, f: _Findings) -> None:
    for n_index, notice in enumerate(policy.notices):
        for t_index, transfer in enumerate(notice.transfers):
            if not (transfer.safeguard or "").strip():
                f.error(("notices", n_index, "transfers", t_index), "transfer-without-safeguard",
                        f"transfer to {', '.join(transfer.destinations)} has no safeguard (GDPR Art. 44-46)")


def _check_sale_of_protected_data(policy: Policy, f: _Findings) -> None:
    protected = {c.id: c for c in policy.data_categories if c.sensitive or c.children}

    def flag(path: NodePath, what: str, categories: Iterable[str]) -> None:
        for cat in categories:
            if cat in protected:
                kind = "sensitive" if protected[cat].sensitive else "children's"
                f.error(path, "sale-of-protected-data",
                        f"{what} sells or shares {kind} data {cat!r} "
                        "(000_8ec896ddd871dbc0.txt#Sale of Information and Targeted Advertising)")

    for n_index, notice in enumerate(policy.notices):
        for p_index, purpose in enumerate(notice.purposes):
            if purpose.sale or purpose.share:
                flag(("notices", n_index, "purposes", p_index), f"purpose {purpose.id!r}", purpose.categories)
        for d_index, disclosure in enumerate(notice.disclosures):
            if disclosure.sale or disclosure.share:
                flag(("notices", n_index, "disclosures", d_index), f"disclosure to {disclosure.recipient!r}",
                     disclosure.categories)
        for c_index, child_rule in enumerate(notice.children):
            sells = any(p.sale or p.share for p in notice.purposes)
            if child_rule.collects and sells and not child_rule.parental_consent:
                f.error(("notices", n_index, "children", c_index), "sale-of-protected-data",
                        f"notice {notice.id!r} collects children's data without parental consent and has purposes "
                        "that sell or share data")


def _check_bases_cover_scope(policy: Policy, f: _Findings) -> None:
    for n_index, notice in enumerate(policy.notices):
        for p_index, purpose in enumerate(notice.purposes):
            if DEFAULT_JURISDICTION in purpose.basis:
                continue
            missing = [code for code in notice.jurisdictions if code not in purpose.basis]
            if missing:
                f.warning(("notices", n_index, "purposes", p_index, "basis"), "no-basis",
                          f"purpose {purpose.id!r} has no legal basis in {', '.join(missing)}: "
                          "it will be refused there")


_CHECKS: tuple[Callable[[Policy, _Findings], None], ...] = (
    _check_duplicate_ids,
    _check_references,
    _check_consent_and_interests,
    _check_categories_used_and_kept,
    _check_transfers,
    _check_sale_of_protected_data,
    _check_bases_cover_scope,
)
