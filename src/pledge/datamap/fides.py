"""Read Fides dataset YAML into pledge annotations, for companies that already keep a Fides data map.

A Fides file holds ``dataset: [{fides_key, name, collections: [{name, fields: [...]}]}]``; a field
has ``data_categories`` (fideslang names such as ``user.contact.email``) and ``fides_meta`` with
``identity``, ``primary_key``, ``data_type`` and ``references`` (``{dataset, field, direction}``).
The importer:

- maps fideslang categories onto the policy's data categories through their ``fides_categories``
  (a policy category listing ``user.contact`` takes ``user.contact.email`` too); what maps to
  nothing is reported, and the field keeps no category for it;
- turns ``direction: from`` references into ours as they are (the referencing row belongs to the
  referenced one's owner) and ``direction: to`` into a reference written on the other side;
- keeps Fides ``identity`` kinds, spelling ``phone_number`` as pledge's ``phone``.

Erasure strategies are not part of a Fides dataset (Fides keeps them in policies): imported fields
get pledge's defaults, to be reviewed before the first erasure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pledge.datamap.models import FieldType

IDENTITY_KINDS = {"phone_number": "phone", "email": "email", "customer_number": "customer_number",
                  "device_id": "device_id", "browser_id": "browser_id"}
TYPES = {"string": FieldType.STRING, "integer": FieldType.INTEGER, "float": FieldType.DECIMAL,
         "boolean": FieldType.BOOLEAN, "object_id": FieldType.STRING}


@dataclass
class FidesImport:
    """The annotations read from a Fides file, one mapping per dataset, and what could not be carried over."""

    datasets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> list[Path]:
        """One YAML file per dataset in ``folder``; returns the files written."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for dataset in self.datasets:
            path = folder / f"{dataset['id']}.yaml"
            header = "# Imported from a Fides dataset: review each field's erasure strategy before erasing.\n"
            path.write_text(header + yaml.safe_dump(dataset, sort_keys=False, allow_unicode=True, width=110))
            written.append(path)
        return written


def category_map(policy_categories: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    """fideslang name -> policy category ids, from each policy category's ``fides_categories``."""
    out: dict[str, list[str]] = {}
    for category_id, fides_names in policy_categories.items():
        for name in fides_names:
            out.setdefault(name, []).append(category_id)
    return out


def _categories(fides: list[str], mapping: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    found: list[str] = []
    unmapped: list[str] = []
    for name in fides:
        parts = name.split(".")
        hits = next((mapping[".".join(parts[:n])] for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in mapping),
                    None)
        if hits is None:
            unmapped.append(name)
        else:
            found.extend(c for c in hits if c not in found)
    return found, unmapped


def _safe(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


def import_fides(text: str, policy_categories: Mapping[str, Collection[str]]) -> FidesImport:
    """Translate a Fides dataset document; ``policy_categories`` maps each policy category id to its fideslang names."""
    document = yaml.safe_load(text) or {}
    mapping = category_map(policy_categories)
    result = FidesImport()
    raw_datasets = document.get("dataset", []) if isinstance(document, dict) else []
    ids = {d.get("fides_key", ""): _safe(str(d.get("fides_key", ""))) for d in raw_datasets if isinstance(d, dict)}
    for key, safe in ids.items():
        if key != safe:
            result.notes.append(f"dataset {key!r} is named {safe!r} (a safe SQL identifier)")
    back_references: list[tuple[str, str, str, str]] = []  # (dataset, table, field, target)
    for raw in raw_datasets:
        if not isinstance(raw, dict):
            continue
        dataset_id = ids[raw.get("fides_key", "")]
        tables = []
        for collection in raw.get("collections") or []:
            fields = []
            keys = []
            for raw_field in collection.get("fields") or []:
                meta = raw_field.get("fides_meta") or {}
                name = str(raw_field["name"])
                entry: dict[str, Any] = {"name": name}
                if raw_field.get("description"):
                    entry["description"] = str(raw_field["description"])
                data_type = TYPES.get(str(meta.get("data_type", "string")), FieldType.STRING)
                if data_type is not FieldType.STRING:
                    entry["type"] = data_type.value
                categories, unmapped = _categories(list(raw_field.get("data_categories") or []), mapping)
                if unmapped:
                    label = f"{dataset_id}.{collection['name']}.{name}"
                    system_only = all(u.startswith("system.") for u in unmapped)
                    if not system_only:
                        result.notes.append(f"{label}: no policy category for {', '.join(unmapped)}")
                if categories:
                    entry["categories"] = categories
                if meta.get("identity"):
                    entry["identity"] = IDENTITY_KINDS.get(str(meta["identity"]), str(meta["identity"]))
                    if not categories:
                        result.notes.append(f"{dataset_id}.{collection['name']}.{name}: an identity with no "
                                            "policy category; give it one")
                if meta.get("primary_key"):
                    keys.append(name)
                for reference in meta.get("references") or []:
                    target_dataset = ids.get(reference.get("dataset", ""), _safe(str(reference.get("dataset", ""))))
                    target = f"{target_dataset}.{reference['field']}"
                    if reference.get("direction", "from") == "to":
                        table_name, _, field_name = str(reference["field"]).partition(".")
                        back_references.append((target_dataset, table_name, field_name,
                                                f"{dataset_id}.{collection['name']}.{name}"))
                    elif "references" in entry:
                        result.notes.append(f"{dataset_id}.{collection['name']}.{name}: only the first reference kept")
                    else:
                        entry["references"] = target
                fields.append(entry)
            if not keys:
                keys = ["id"] if any(f["name"] == "id" for f in fields) else [fields[0]["name"]] if fields else []
                result.notes.append(f"{dataset_id}.{collection['name']}: no primary key in Fides; using "
                                    f"{', '.join(keys) or 'none'}")
            tables.append({"name": str(collection["name"]), "primary_key": keys if len(keys) > 1 else keys[0],
                           "fields": fields})
        dataset: dict[str, Any] = {"id": dataset_id, "name": str(raw.get("name") or dataset_id)}
        if raw.get("description"):
            dataset["description"] = str(raw["description"])
        dataset["tables"] = tables
        result.datasets.append(dataset)
    for target_dataset, table, field_name, source in back_references:
        target_entry = _find(result.datasets, target_dataset, table, field_name)
        if target_entry is None:
            result.notes.append(f"{source}: reference to {target_dataset}.{table}.{field_name}, not found")
        elif "references" in target_entry:
            result.notes.append(f"{target_dataset}.{table}.{field_name}: only the first reference kept")
        else:
            target_entry["references"] = source
    return result


def _find(datasets: list[dict[str, Any]], dataset: str, table: str, field_name: str) -> dict[str, Any] | None:
    for d in datasets:
        if d["id"] != dataset:
            continue
        for t in d["tables"]:
            if t["name"] == table:
                return next((f for f in t["fields"] if f["name"] == field_name), None)
    return None


__all__ = ["FidesImport", "category_map", "import_fides"]
