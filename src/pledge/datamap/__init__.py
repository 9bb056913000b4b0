"""The data map: dataset annotations of the company's databases, and one executor over them.

``load_datamap(folder, policy)`` loads, checks and compiles the annotations; ``Systems`` says
where each dataset lives; ``access``, ``plan_erasure``, ``erase`` and ``rectify`` (executor.py)
do the work for rights requests.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pledge.datamap.checks import check_datamap
from pledge.datamap.connector import Systems, default_systems_url
from pledge.datamap.executor import (
    AccessReport,
    DatabaseStatus,
    ErasurePlan,
    ErasureResult,
    ErasureStatus,
    RectificationResult,
    RowAction,
    access,
    attributes,
    erase,
    plan_erasure,
    rectify,
)
from pledge.datamap.graph import DataMap, compile_datamap
from pledge.datamap.loader import DatamapError, LoadedDatamap, load_datamap_folder
from pledge.datamap.walk import SubjectIdentity
from pledge.policy import CompiledPolicy

__all__ = [
    "AccessReport",
    "DataMap",
    "DatabaseStatus",
    "DatamapError",
    "ErasurePlan",
    "ErasureResult",
    "ErasureStatus",
    "LoadedDatamap",
    "RectificationResult",
    "RowAction",
    "SubjectIdentity",
    "Systems",
    "access",
    "attributes",
    "check_datamap",
    "compile_datamap",
    "default_systems_url",
    "erase",
    "load_datamap",
    "load_datamap_folder",
    "plan_erasure",
    "rectify",
]


def load_datamap(root: Path | str, policy: CompiledPolicy | Collection[str] | None = None) -> DataMap:
    """Load, check and compile a folder of annotations; raise DatamapError if it has any error.

    ``policy`` (the compiled policy, or its category ids) lets the check refuse unknown data categories.
    """
    loaded = load_datamap_folder(root)
    categories = policy.data_categories.keys() if isinstance(policy, CompiledPolicy) else policy
    errors = [p for p in check_datamap(loaded, categories) if p.severity == "error"]
    if errors:
        raise DatamapError(errors)
    return compile_datamap(loaded.datasets, root=loaded.root)
