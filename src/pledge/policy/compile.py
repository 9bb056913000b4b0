"""Compile a checked policy into immutable lookup tables.

Everything outside ``pledge.policy`` reads a ``CompiledPolicy`` and nothing else: no module
re-reads YAML or hard-codes a purpose, a deadline or an age. The tables are built once, so the
hot paths (decisions, deadlines) are dictionary look-ups.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from pledge.policy.checks import DEFAULT_JURISDICTION
from pledge.policy.models import (
    Controller,
    Cookie,
    CookieCategory,
    DataCategory,
    Jurisdiction,
    LegalBasis,
    Notice,
    Policy,
    Purpose,
    Recipient,
    RetentionRule,
    Right,
    RightRule,
)

_T = TypeVar("_T")
PurposeKey = tuple[str, str]  # (notice id, purpose id)


def _frozen(mapping: dict[Any, _T]) -> Mapping[Any, _T]:
    return MappingProxyType(mapping)


def policy_revision(policy: Policy) -> str:
    """A content hash of the policy: two identical policies share it, any change alters it."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CompiledPolicy:
    """Read-only view of one policy, indexed the ways the rest of pledge asks."""

    policy: Policy
    revision: str
    notices: Mapping[str, Notice]
    controllers: Mapping[str, Controller]
    data_categories: Mapping[str, DataCategory]
    recipients: Mapping[str, Recipient]
    cookie_categories: Mapping[str, CookieCategory]
    cookies: Mapping[str, Cookie]
    jurisdictions: Mapping[str, Jurisdiction]
    purposes: Mapping[PurposeKey, Purpose]
    bases: Mapping[tuple[str, str, str], LegalBasis]
    notice_for_service: Mapping[str, str]
    category_purposes: Mapping[str, tuple[PurposeKey, ...]]
    retention_by_category: Mapping[tuple[str, str], tuple[RetentionRule, ...]]
    rights: Mapping[str, Mapping[Right, RightRule]]
    member_jurisdiction: Mapping[str, str]
    #: Answers computed from the policy alone (a receipt's processing section for a purpose and a
    #: jurisdiction, ...), kept by whoever computed them: the policy never changes, so neither do they.
    derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def resolve_jurisdiction(self, code: str | None) -> str:
        """Map a residence code (``DE``, ``US-NY``, ``US-CA``) to the policy jurisdiction that governs it."""
        if not code:
            return DEFAULT_JURISDICTION
        code = code.strip()
        if code in self.jurisdictions:
            return code
        upper = code.upper()
        if upper in self.jurisdictions:
            return upper
        if upper in self.member_jurisdiction:
            return self.member_jurisdiction[upper]
        country = upper.split("-", 1)[0]
        if country in self.jurisdictions:
            return country
        if country in self.member_jurisdiction:
            return self.member_jurisdiction[country]
        return DEFAULT_JURISDICTION

    def basis(self, notice_id: str, purpose_id: str, jurisdiction: str | None) -> LegalBasis | None:
        """The legal basis a notice gives a purpose in a jurisdiction, falling back to its default."""
        code = self.resolve_jurisdiction(jurisdiction)
        found = self.bases.get((notice_id, purpose_id, code))
        if found is None:
            found = self.bases.get((notice_id, purpose_id, DEFAULT_JURISDICTION))
        return found

    def rights_in(self, jurisdiction: str | None) -> Mapping[Right, RightRule]:
        return self.rights.get(self.resolve_jurisdiction(jurisdiction), _frozen({}))

    def cookies_of(self, notice_id: str) -> tuple[Cookie, ...]:
        return tuple(self.cookies[name] for name in self.notices[notice_id].cookies)


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Build the lookup tables. Expects a policy that passed ``check_policy`` without errors."""
    purposes: dict[PurposeKey, Purpose] = {}
    bases: dict[tuple[str, str, str], LegalBasis] = {}
    service_notice: dict[str, str] = {}
    category_purposes: dict[str, list[PurposeKey]] = {}
    retention: dict[tuple[str, str], list[RetentionRule]] = {}
    for notice in policy.notices:
        for service in notice.services:
            service_notice.setdefault(service, notice.id)
        for purpose in notice.purposes:
            key = (notice.id, purpose.id)
            purposes[key] = purpose
            for code, basis in purpose.basis.items():
                bases[(notice.id, purpose.id, code)] = basis
            for category in purpose.categories:
                category_purposes.setdefault(category, []).append(key)
        for rule in notice.retention:
            for category in rule.categories:
                retention.setdefault((notice.id, category), []).append(rule)
    members: dict[str, str] = {}
    for jurisdiction in policy.jurisdictions:
        for member in jurisdiction.members:
            members[member.upper()] = jurisdiction.id
    return CompiledPolicy(
        policy=policy,
        revision=policy_revision(policy),
        notices=_frozen({n.id: n for n in policy.notices}),
        controllers=_frozen({c.id: c for c in policy.controllers}),
        data_categories=_frozen({c.id: c for c in policy.data_categories}),
        recipients=_frozen({r.id: r for r in policy.recipients}),
        cookie_categories=_frozen({c.id: c for c in policy.cookie_categories}),
        cookies=_frozen({c.name: c for c in policy.cookies}),
        jurisdictions=_frozen({j.id: j for j in policy.jurisdictions}),
        purposes=_frozen(purposes),
        bases=_frozen(bases),
        notice_for_service=_frozen(service_notice),
        category_purposes=_frozen({k: tuple(v) for k, v in category_purposes.items()}),
        retention_by_category=_frozen({k: tuple(v) for k, v in retention.items()}),
        rights=_frozen({j.id: _frozen(dict(j.rights)) for j in policy.jurisdictions}),
        member_jurisdiction=_frozen(members),
    )
