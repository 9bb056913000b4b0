"""The docs cannot drift from the code: every setting documented, the CLI reference regenerated."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from pydantic import BaseModel
from pydantic_settings import BaseSettings

from pledge.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def environment_names(model: type[BaseModel], prefix: str, delimiter: str | None) -> set[str]:
    """The variables a settings model reads, nested models included (``PLEDGE_MAIL__HOST``)."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if delimiter and isinstance(annotation, type) and issubclass(annotation, BaseModel) \
                and not issubclass(annotation, BaseSettings):
            names |= environment_names(annotation, f"{prefix}{name.upper()}{delimiter}", delimiter)
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def documented_settings() -> dict[str, str]:
    """Rows of the table in docs/settings.md: variable -> description."""
    rows: dict[str, str] = {}
    for line in (DOCS / "settings.md").read_text().splitlines():
        match = re.match(r"\|\s*`(PLEDGE_[A-Z0-9_]+)`\s*\|[^|]*\|\s*(.*?)\s*\|\s*$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_setting_is_documented_with_a_description() -> None:
    config = Settings.model_config
    expected = environment_names(Settings, str(config.get("env_prefix", "")).upper(),
                                 config.get("env_nested_delimiter"))
    documented = documented_settings()

    missing = sorted(expected - set(documented))
    assert not missing, f"settings missing from docs/settings.md: {', '.join(missing)}"
    stale = sorted(set(documented) - expected)
    assert not stale, f"docs/settings.md documents settings that do not exist: {', '.join(stale)}"
    assert all(len(text) > 20 for text in documented.values())


def test_every_setting_has_a_description_in_the_code() -> None:
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert not undocumented, f"add description= to Settings fields: {undocumented}"


def test_cli_reference_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", SCRIPTS / "gen_cli_docs.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)

    assert (DOCS / "cli.md").read_text() == generator.render(), (
        "docs/cli.md is stale: run .venv/bin/python scripts/gen_cli_docs.py")


def test_cli_reference_lists_every_notice_and_db_command() -> None:
    text = (DOCS / "cli.md").read_text()
    for command in ("notice list", "notice render", "notice publish", "notice versions", "notice diff",
                    "db upgrade"):
        assert f"`pledge {command}`" in text
