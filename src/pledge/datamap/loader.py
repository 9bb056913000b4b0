"""Load a folder of dataset annotations, remembering the file, line and column of every node.

Each ``*.yaml`` file under the folder describes one dataset (one database). The YAML reader and
the translation of validation errors into ``path:line:col`` problems are the policy loader's, so a
privacy team reads the same kind of message for a policy and for a data map.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from pledge.datamap.models import Dataset
from pledge.policy.loader import Location, NodePath, PolicyError, Problem, SourceMap, pydantic_problems, read_yaml


class DatamapError(PolicyError):
    """Raised when a data map cannot be loaded or has errors; carries every problem found."""


@dataclass(frozen=True)
class LoadedDatamap:
    """The validated datasets, in file order, with where each node was written (paths start at the dataset index)."""

    datasets: tuple[Dataset, ...]
    source_map: SourceMap
    root: Path


def _files(root: Path) -> list[Path]:
    return sorted(p for p in (*root.rglob("*.yaml"), *root.rglob("*.yml")) if p.is_file())


def load_datamap_folder(root: Path | str) -> LoadedDatamap:
    """Read every YAML file under ``root`` into validated datasets, or raise DatamapError."""
    root = Path(root)
    if not root.is_dir():
        raise DatamapError([Problem(Location(str(root), 1, 1), "error", "dataset folder not found", "no-datamap")])
    problems: list[Problem] = []
    source_map = SourceMap()
    datasets: list[Dataset] = []
    files = _files(root)
    if not files:
        problems.append(Problem(Location(str(root), 1, 1), "error", "no dataset annotations (*.yaml) found",
                                "no-datamap"))
    for file in files:
        display = str(file)
        data, positions = read_yaml(file, display, problems)
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(Problem(Location(display, 1, 1), "error",
                                    "expected one dataset: a mapping with id, name and tables", "wrong-type"))
            continue
        index = len(datasets)
        local = SourceMap({(index, *path): location for path, location in positions.items()})
        source_map.locations.update(local.locations)
        try:
            datasets.append(Dataset.model_validate(data))
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, (index,), local))
            # keep the index taken, so later files' positions do not collide with this one's
            datasets.append(Dataset.model_construct(id=f"<invalid:{display}>", name="", tables=()))
    if problems:
        raise DatamapError(problems)
    return LoadedDatamap(datasets=tuple(datasets), source_map=source_map, root=root)


def locate(loaded: LoadedDatamap, path: NodePath) -> Location:
    """The location of a node of the loaded data map (``(dataset index, 'tables', 2, 'fields', 0, ...)``)."""
    return loaded.source_map.locate(path)
