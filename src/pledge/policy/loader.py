"""Load a policy folder into typed models, remembering where every node came from.

A privacy team edits YAML by hand; an error that says only "field required" is useless. So the
loader keeps the file, line and column of every mapping key and list item, and every problem it
or the checker finds is reported as ``path:line:col: severity: message``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pledge.policy.models import SECTIONS, Organization, Policy, PolicyModel

#: A path into the merged policy: ("notices", 2, "purposes", 0, "categories", 1).
NodePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One finding of the loader or the checker, compiler style."""

    location: Location
    severity: str  # "error" | "warning"
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message} [{self.code}]"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.location.file, "line": self.location.line, "column": self.location.column,
                "severity": self.severity, "message": self.message, "code": self.code}


class PolicyError(Exception):
    """Raised when a policy cannot be loaded or compiled; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class SourceMap:
    """Where each node of the merged policy was written."""

    locations: dict[NodePath, Location] = field(default_factory=dict)

    def locate(self, path: NodePath) -> Location:
        """The location of ``path``, or of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe:
            if probe in self.locations:
                return self.locations[probe]
            probe = probe[:-1]
        return self.locations.get((), Location("<policy>", 1, 1))


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    source_map: SourceMap
    root: Path


# --- YAML with positions ----------------------------------------------------------------------------


class _PolicyYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so Norway's code ``NO`` stays a string."""


_PolicyYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PolicyYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _construct(node: yaml.Node, file: str, path: NodePath, out: dict[NodePath, Location],
               problems: list[Problem]) -> Any:
    out[path] = Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            key_path = (*path, key if isinstance(key, str | int) else str(key))
            if key in result:
                problems.append(Problem(Location(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1),
                                        "error", f"duplicate key {key!r}", "yaml-duplicate-key"))
            result[key] = _construct(value_node, file, key_path, out, problems)
            out[key_path] = Location(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, file, (*path, index), out, problems) for index, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node)


def _scalar(node: yaml.ScalarNode) -> Any:
    return _PolicyYamlLoader("").construct_object(node, deep=True)


def _read_yaml(path: Path, display: str, problems: list[Problem]) -> tuple[Any, dict[NodePath, Location]]:
    positions: dict[NodePath, Location] = {}
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_PolicyYamlLoader)
    except UnicodeDecodeError as exc:
        problems.append(Problem(Location(display, 1, 1), "error", f"not UTF-8 text: {exc.reason}", "yaml-encoding"))
        return None, positions
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(Location(display, line, col), "error",
                                f"malformed YAML: {exc.problem or exc.context}", "yaml-syntax"))
        return None, positions
    if node is None:
        return None, positions
    try:
        data = _construct(node, display, (), positions, problems)
    except yaml.YAMLError as exc:
        problems.append(Problem(Location(display, 1, 1), "error", f"malformed YAML: {exc}", "yaml-syntax"))
        return None, positions
    return data, positions


# --- assembling the folder ----------------------------------------------------------------------------


def _policy_files(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.rglob("*.yaml") if p.is_file())
    yield from sorted(p for p in root.rglob("*.yml") if p.is_file())


def _pydantic_problems(exc: ValidationError, base: NodePath, source_map: SourceMap) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = (*base, *loc)
        where = ".".join(str(p) for p in loc) or "item"
        kind = err["type"]
        if kind == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
            code = "unknown-key"
        elif kind == "missing":
            message = f"missing required key {where!r}"
            code = "missing-key"
        else:
            message = f"{where}: {err['msg']}"
            code = "wrong-type"
        problems.append(Problem(source_map.locate(path), "error", message, code))
    return problems


def load_policy(root: Path | str) -> LoadedPolicy:
    """Read every YAML file under ``root`` into one validated Policy, or raise PolicyError."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        raise PolicyError([Problem(Location(str(root), 1, 1), "error", "policy folder not found", "no-policy")])
    source_map = SourceMap()
    sections: dict[str, list[Any]] = {name: [] for name in SECTIONS}
    organization: Any = None
    organization_path: NodePath = ("organization",)

    for file in _policy_files(root):
        display = str(file)
        data, positions = _read_yaml(file, display, problems)
        if data is None:
            continue
        folder = file.parent.name if file.parent != root else None
        if folder in SECTIONS:
            items = data if isinstance(data, list) else [data]
            for index, item in enumerate(items):
                local: NodePath = (index,) if isinstance(data, list) else ()
                _append(sections, folder, item, local, positions, source_map)
            continue
        if not isinstance(data, dict):
            problems.append(Problem(Location(display, 1, 1), "error",
                                    "expected a mapping of section names to lists", "wrong-type"))
            continue
        for key, value in data.items():
            if key == "organization":
                organization = value
                _remap(positions, (key,), organization_path, source_map)
            elif key in SECTIONS:
                if not isinstance(value, list):
                    problems.append(Problem(positions.get((key,), Location(display, 1, 1)), "error",
                                            f"section {key!r} must be a list", "wrong-type"))
                    continue
                for index, item in enumerate(value):
                    _append(sections, key, item, (key, index), positions, source_map)
            else:
                known = ", ".join(["organization", *SECTIONS])
                problems.append(Problem(positions.get((key,), Location(display, 1, 1)), "error",
                                        f"unknown section {key!r} (known: {known})", "unknown-key"))

    validated: dict[str, list[BaseModel]] = {name: [] for name in SECTIONS}
    for name, items in sections.items():
        model: type[PolicyModel] = SECTIONS[name]
        for index, item in enumerate(items):
            try:
                validated[name].append(model.model_validate(item))
            except ValidationError as exc:
                problems.extend(_pydantic_problems(exc, (name, index), source_map))
    org: Organization | None = None
    if organization is None:
        problems.append(Problem(Location(str(root / "policy.yaml"), 1, 1), "error",
                                "no 'organization:' found (policy.yaml)", "missing-key"))
    else:
        try:
            org = Organization.model_validate(organization)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, organization_path, source_map))
    if problems or org is None:
        raise PolicyError(problems)
    policy = Policy.model_validate({"organization": org, **{k: tuple(v) for k, v in validated.items()}})
    source_map.locations.setdefault((), Location(str(root), 1, 1))
    return LoadedPolicy(policy=policy, source_map=source_map, root=root)


def _append(sections: dict[str, list[Any]], section: str, item: Any, local: NodePath,
            positions: dict[NodePath, Location], source_map: SourceMap) -> None:
    index = len(sections[section])
    sections[section].append(item)
    _remap(positions, local, (section, index), source_map)


def _remap(positions: dict[NodePath, Location], local: NodePath, merged: NodePath, source_map: SourceMap) -> None:
    """Copy a file's positions under ``local`` to their place in the merged policy."""
    size = len(local)
    for path, location in positions.items():
        if path[:size] == local:
            source_map.locations[(*merged, *path[size:])] = location


#: Public names for other readers of hand-written YAML (the data map's dataset annotations).
read_yaml = _read_yaml
pydantic_problems = _pydantic_problems
