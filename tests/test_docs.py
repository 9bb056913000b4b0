"""The docs cannot drift from the code: every setting documented, the CLI reference regenerated."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from pledge.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_settings() -> dict[str, str]:
    """Rows of the tables in docs/settings.md: variable -> description."""
    rows: dict[str, str] = {}
    for line in (DOCS / "settings.md").read_text().splitlines():
        match = re.match(r"\|\s*`(PLEDGE_[A-Z0-9_]+)`\s*\|.*\|\s*(.*?)\s*\|\s*$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_setting_is_documented_with_a_description() -> None:
    expected = script("gen_settings_docs").environment_names()
    assert {"PLEDGE_DATA_DIR", "PLEDGE_DATABASE_URL", "PLEDGE_POLICY_DIR"} <= set(expected)
    documented = documented_settings()

    missing = sorted(set(expected) - set(documented))
    assert not missing, (f"settings missing from docs/settings.md: {', '.join(missing)}; "
                         "run .venv/bin/python scripts/gen_settings_docs.py")
    stale = sorted(set(documented) - set(expected))
    assert not stale, f"docs/settings.md documents settings that do not exist: {', '.join(stale)}"
    undescribed = sorted(name for name, text in expected.items() if not text.strip())
    assert not undescribed, f"add description= to these settings in settings.py: {', '.join(undescribed)}"


def test_settings_tables_are_up_to_date() -> None:
    current = (DOCS / "settings.md").read_text()
    assert script("gen_settings_docs").render(current) == current, (
        "docs/settings.md is stale: run .venv/bin/python scripts/gen_settings_docs.py")


def test_each_documented_text_variable_reaches_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names in the tables are the names pledge reads (checked for every plain text setting)."""
    generator = script("gen_settings_docs")
    probes: list[tuple[str | None, str, str]] = []
    for attribute, model in generator.sections():
        for name, field in model.model_fields.items():
            if field.annotation in (str, str | None):
                variable = f"{generator._prefix(model)}{name.upper()}"
                monkeypatch.setenv(variable, f"probe-{variable.lower()}")
                probes.append((attribute, name, variable))
    assert probes
    settings = Settings()
    for attribute, name, variable in probes:
        holder = settings if attribute is None else getattr(settings, attribute)
        assert getattr(holder, name) == f"probe-{variable.lower()}", variable


def test_cli_reference_is_up_to_date() -> None:
    assert (DOCS / "cli.md").read_text() == script("gen_cli_docs").render(), (
        "docs/cli.md is stale: run .venv/bin/python scripts/gen_cli_docs.py")


def test_cli_reference_lists_every_notice_and_db_command() -> None:
    text = (DOCS / "cli.md").read_text()
    for command in ("notice list", "notice render", "notice publish", "notice versions", "notice diff",
                    "db upgrade"):
        assert f"`pledge {command}`" in text
