"""Response packages for access, know and portability requests, and the signed links that reach them.

A package is a zip file:

- ``report.html``: a page a person can read, made from the policy: which categories of their data
  the company holds, why (purposes and legal bases), from where, to whom it goes and how long it
  is kept;
- ``data/<dataset>/<table>.json`` and ``.csv``: every row the data map's executor found, one JSON
  and one CSV file per table (not for a request to know, which gets categories, not pieces);
- ``manifest.json``: the SHA-256 and size of every other file, so the person can check nothing was
  altered.

The package is reachable only through a link signed with HMAC-SHA256 that expires
(``PLEDGE_RIGHTS_LINK_TTL_HOURS``); the zip's own SHA-256 is kept on the request and checked before
it is served.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pledge.policy import CompiledPolicy
from pledge.rights.models import RightsRequest
from pledge.rights.schemas import RequestType

TEMPLATES = Path(__file__).resolve().parent / "templates"
LINK_PURPOSE = "package"


class LinkError(ValueError):
    """A package link that is malformed, forged or expired."""


class TableLike(Protocol):
    """One table of an access result (``pledge.datamap.executor.TableRows``)."""

    @property
    def dataset(self) -> str: ...

    @property
    def dataset_name(self) -> str: ...

    @property
    def table(self) -> str: ...

    @property
    def rows(self) -> Sequence[Mapping[str, Any]]: ...

    def as_dict(self) -> dict[str, Any]: ...

    def row_categories(self, row: Mapping[str, Any]) -> tuple[str, ...]: ...


class AccessLike(Protocol):
    """An access result (``pledge.datamap.executor.AccessReport``)."""

    @property
    def tables(self) -> Sequence[TableLike]: ...

    @property
    def categories(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class BuiltPackage:
    path: Path
    sha256: str
    files: tuple[dict[str, Any], ...]


# --- signed links -----------------------------------------------------------------------------------


def _signature(secret: bytes, reference: str, expires: int) -> str:
    digest = hmac.new(secret, f"{LINK_PURPOSE}:{reference}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_link(secret: bytes, reference: str, expires_at: dt.datetime) -> str:
    """A token naming the request's package until ``expires_at``: ``<reference>.<expiry>.<signature>``."""
    expires = int(expires_at.timestamp())
    return f"{reference}.{expires}.{_signature(secret, reference, expires)}"


def read_link(secret: bytes, token: str, now: dt.datetime) -> str:
    """The reference a token names; LinkError when it is malformed, forged or expired."""
    parts = token.split(".")
    # ASCII only: str.isdigit() accepts "²" (which int() refuses) and compare_digest refuses non-ASCII text
    if not token.isascii() or len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 20:
        raise LinkError("this link is not a package link")
    reference, expires_text, signature = parts
    if not hmac.compare_digest(_signature(secret, reference, int(expires_text)), signature):
        raise LinkError("this link is not valid")
    if int(expires_text) < now.timestamp():
        raise LinkError("this link has expired; ask us for a new one")
    return reference


# --- the report -------------------------------------------------------------------------------------


def _notices_for(policy: CompiledPolicy, jurisdiction: str) -> list[str]:
    found = [n.id for n in policy.notices.values() if jurisdiction in n.jurisdictions]
    return found or list(policy.notices)


def report_context(policy: CompiledPolicy, request: RightsRequest, categories: Sequence[str],
                   tables: Sequence[TableLike] = (), *, now: dt.datetime) -> dict[str, Any]:
    """What the report says, from the policy: per category held, why, from where, to whom, how long."""
    jurisdiction = request.jurisdiction
    notices = _notices_for(policy, jurisdiction)
    rows = []
    for category_id in categories:
        category = policy.data_categories.get(category_id)
        if category is None:
            continue
        purposes = []
        recipients: dict[str, dict[str, Any]] = {}
        for notice_id, purpose_id in policy.category_purposes.get(category_id, ()):
            if notice_id not in notices:
                continue
            purpose = policy.purposes[(notice_id, purpose_id)]
            basis = policy.basis(notice_id, purpose_id, jurisdiction)
            purposes.append({"name": purpose.name, "basis": basis.value.replace("_", " ") if basis else "-",
                             "notice": policy.notices[notice_id].title, "source": purpose.source})
            for recipient_id in purpose.recipients:
                recipient = policy.recipients.get(recipient_id)
                if recipient is not None:
                    recipients.setdefault(recipient_id, {"name": recipient.name, "sold": False, "shared": False})
        for notice_id in notices:
            for disclosure in policy.notices[notice_id].disclosures:
                if category_id not in disclosure.categories:
                    continue
                recipient = policy.recipients.get(disclosure.recipient)
                entry = recipients.setdefault(disclosure.recipient, {
                    "name": recipient.name if recipient else disclosure.recipient, "sold": False, "shared": False})
                entry["sold"] = entry["sold"] or disclosure.sale
                entry["shared"] = entry["shared"] or disclosure.share
        retention = []
        for notice_id in notices:
            for rule in policy.retention_by_category.get((notice_id, category_id), ()):
                text = rule.period.describe() if rule.period else ""
                if rule.until:
                    text = f"{text} after {rule.until}" if text else f"until {rule.until}"
                retention.append({"text": text, "action": rule.action.value, "source": rule.source})
        sources = [method.value.replace("_", " ") for method in category.collection]
        rows.append({"id": category.id, "name": category.name, "description": category.description,
                     "sensitive": category.sensitive, "purposes": purposes, "sources": sources,
                     "third_party_sources": list(category.third_party_sources),
                     "recipients": sorted(recipients.values(), key=lambda r: str(r["name"])),
                     "retention": retention, "source": category.source})
    governing = policy.jurisdictions.get(jurisdiction)
    return {
        "reference": request.reference, "request_type": request.request_type.replace("_", " "),
        "jurisdiction": governing.name if governing else jurisdiction, "law": governing.law if governing else "",
        "generated_at": now.strftime("%Y-%m-%d %H:%M UTC"), "organization": policy.policy.organization.name,
        "categories": rows, "specific_pieces": request.request_type != RequestType.KNOW.value,
        "tables": [{"dataset": t.dataset_name, "table": t.table, "rows": len(t.rows),
                    "file": f"data/{t.dataset}/{t.table}"} for t in tables],
        "authority": governing.complaint_authority.name if governing and governing.complaint_authority else None,
    }


def render_report(context: Mapping[str, Any]) -> str:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("report.html").render(**context)


# --- files --------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def table_csv(table: TableLike) -> str:
    """One CSV of a table: a header of the field names, then each row."""
    document = table.as_dict()
    names = [f["name"] for f in document["fields"]]
    for row in document["rows"]:
        names += [name for name in row["values"] if name not in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for row in document["rows"]:
        writer.writerow([_cell(row["values"].get(name)) for name in names])
    return out.getvalue()


def table_json(table: TableLike) -> str:
    return json.dumps(table.as_dict(), ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n"


def build_package(*, policy: CompiledPolicy, request: RightsRequest, access: AccessLike | None, folder: Path,
                  now: dt.datetime) -> BuiltPackage:
    """Write the request's zip to ``folder`` and return its path, SHA-256 and the manifest's file list."""
    tables: Sequence[TableLike] = access.tables if access is not None else ()
    categories = access.categories if access is not None else ()
    specific = request.request_type != RequestType.KNOW.value
    files: dict[str, bytes] = {}
    context = report_context(policy, request, categories, tables if specific else (), now=now)
    files["report.html"] = render_report(context).encode("utf-8")
    if specific:
        for table in tables:
            base = f"data/{table.dataset}/{table.table}"
            files[f"{base}.json"] = table_json(table).encode("utf-8")
            files[f"{base}.csv"] = table_csv(table).encode("utf-8")
    listing = tuple({"path": name, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
                    for name, content in files.items())
    manifest = {"reference": request.reference, "request_type": request.request_type,
                "generated_at": now.isoformat(), "policy_revision": policy.revision, "files": list(listing)}
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{request.reference}.zip"
    partial = path.with_suffix(".zip.part")
    stamp = now.timetuple()[:6]
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(f"{request.reference}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    partial.replace(path)
    return BuiltPackage(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), files=listing)
