"""Suppression lists for vendors: who must not be contacted for a purpose, as hashed emails.

S0 (000_8ec896ddd871dbc0.txt, Your Choices): "we provide our vendors with our opt-out lists" so
they do not contact people who opted out. The list names every subject with an email whose
decision for the purpose is *not allowed* (withdrawn, never given, objected, opted out, channel
off ...), as the SHA-256 of the normalised (lower-case, trimmed) email: the format ad and email
platforms take for matching. Handing it over is a disclosure, so each export is recorded in the
``disclosure`` table with the hash of exactly what was exported.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from sqlalchemy.orm import Session

from pledge.consent.asks import Ask, load_states
from pledge.consent.models import Disclosure
from pledge.consent.service import subjects_with
from pledge.decisions import StateBatch, decide_many
from pledge.policy import CompiledPolicy
from pledge.store import utcnow
from pledge.subjects import service as subjects
from pledge.subjects.identities import IdentityKind

#: The column header; Google Customer Match and Meta custom audiences both accept hashed emails.
HEADER = "email_sha256"
EMAIL_FIDES = "user.contact.email"
SOURCE = "000_8ec896ddd871dbc0.txt#Your Choices (we provide our vendors with our opt-out lists)"


@dataclass(frozen=True)
class SuppressionList:
    """An export: the CSV text, how many hashes it holds, and the disclosure recorded for it."""

    csv: str
    count: int
    subjects_considered: int
    disclosure: Disclosure


def email_sha256(email: str) -> str:
    """SHA-256 (hex) of the normalised email: lower-case, no surrounding space."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def export_suppression(*, session: Session, policy: CompiledPolicy, ask: Ask, recipient: str = "vendors",
                       at: dt.datetime | None = None, chunk: int = 5000) -> SuppressionList:
    """Build the suppression list for one purpose and record handing it to ``recipient``."""
    at = at or utcnow()
    hashes: set[str] = set()
    ids = subjects_with(session=session, kind=IdentityKind.EMAIL)
    for start in range(0, len(ids), chunk):
        part = list(ids[start:start + chunk])
        states = load_states(session=session, subject_ids=part, today=at.date())
        batch = StateBatch.from_states([states[i] for i in part], subject_ids=part)
        result = decide_many(policy, ask.notice, ask.purpose, batch, at=at, data_categories=ask.data_categories,
                             recipient=ask.recipient, channel=ask.channel, jurisdiction=ask.jurisdiction)
        refused = [str(subject_id) for subject_id in result.subject_ids[~result.allowed]]
        emails = subjects.identities_of(session=session, subject_ids=refused, kind=IdentityKind.EMAIL)
        hashes.update(email_sha256(email) for values in emails.values() for email in values)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([HEADER])
    for digest in sorted(hashes):
        writer.writerow([digest])
    text = out.getvalue()
    notice = policy.notices[ask.notice]
    categories = [c for c in notice.data_categories if EMAIL_FIDES in policy.data_categories[c].fides_categories]
    disclosure = Disclosure(
        kind="suppression_list", recipient=recipient, notice_id=ask.notice, purpose=ask.purpose,
        data_categories=categories, record_count=len(hashes),
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        detail={"format": f"CSV, header {HEADER}, SHA-256 of the lower-case email", "at": at.isoformat(),
                "subjects_considered": len(ids), "channel": ask.channel.value if ask.channel else None,
                "jurisdiction": ask.jurisdiction, "source": SOURCE},
        disclosed_at=at)
    session.add(disclosure)
    session.flush()
    return SuppressionList(csv=text, count=len(hashes), subjects_considered=len(ids), disclosure=disclosure)
