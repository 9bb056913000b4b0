"""`pledge notice ...`: the CLI parses, calls the notice services and prints; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pledge.notices.render import notice_document, render_notice
from pledge.policy import CompiledPolicy
from pledge.settings import Settings
from tests.conftest import CliInvoke, PolicyFolder


def assert_one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("error: ")
    assert text in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_list_shows_each_notice_and_what_is_published(cli: CliInvoke, pledge_env: Settings) -> None:
    before = cli("notice", "list")
    assert before.exit_code == 0, before.output
    assert "Minimal App Privacy Notice" in before.stdout
    assert "2024-03-01" in before.stdout
    assert "v1" not in before.stdout

    cli("notice", "publish", "app")
    assert "v1" in cli("notice", "list").stdout


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_render_prints_the_notice_as_the_renderer_makes_it(cli: CliInvoke, pledge_env: Settings,
                                                           minimal_policy: CompiledPolicy, fmt: str) -> None:
    result = cli("notice", "render", "app", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip("\n") == render_notice(minimal_policy, "app", fmt).rstrip("\n")


def test_render_for_a_jurisdiction(cli: CliInvoke, pledge_env: Settings, minimal_policy: CompiledPolicy) -> None:
    result = cli("notice", "render", "app", "--format", "json", "--jurisdiction", "DE")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == notice_document(minimal_policy, "app", "DE")
    assert json.loads(result.stdout)["jurisdiction"] == "EEA"


@pytest.mark.parametrize("command", [("render", "nope"), ("publish", "nope"), ("versions", "nope"),
                                     ("diff", "nope", "1", "2")])
def test_an_unknown_notice_is_one_line_on_stderr_and_exit_2(cli: CliInvoke, pledge_env: Settings,
                                                            command: tuple[str, ...]) -> None:
    assert_one_line_error(cli("notice", *command), 2, "unknown notice 'nope' (known: app)")


def test_render_refuses_an_unknown_format(cli: CliInvoke, pledge_env: Settings) -> None:
    result = cli("notice", "render", "app", "--format", "pdf")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_publish_twice_keeps_one_version_until_the_notice_changes(cli: CliInvoke, pledge_env: Settings,
                                                                  minimal_copy: PolicyFolder,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = cli("notice", "publish", "app")
    assert first.exit_code == 0, first.output
    assert "published version 1" in first.stdout

    again = cli("notice", "publish", "app")
    assert again.exit_code == 0
    assert "unchanged, version 1 is current" in again.stdout

    minimal_copy.edit("notices/app.yaml", "summary: How the Minimal app", "summary: How the Minimal App")
    monkeypatch.setenv("PLEDGE_POLICY_DIR", str(minimal_copy.root))
    assert "published version 2" in cli("notice", "publish", "app").stdout

    listing = cli("notice", "versions", "app")
    assert listing.exit_code == 0
    rows = [line for line in listing.stdout.splitlines() if "2024-03-01" in line]
    assert len(rows) == 2
    assert "current" in rows[1] and "current" not in rows[0]


def test_versions_of_a_notice_never_published(cli: CliInvoke, pledge_env: Settings) -> None:
    result = cli("notice", "versions", "app")
    assert result.exit_code == 0
    assert "no published version yet" in result.stdout


def test_diff_marks_a_widened_consent_purpose_material(cli: CliInvoke, pledge_env: Settings,
                                                       minimal_copy: PolicyFolder,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """003_7293f6a511e294b4.txt#14: material changes are notified and, where required, consented to."""
    cli("notice", "publish", "app")
    minimal_copy.edit("notices/app.yaml", "    categories: [contact]\n    basis: {default: consent}",
                      "    categories: [contact, usage]\n    basis: {default: consent}")
    monkeypatch.setenv("PLEDGE_POLICY_DIR", str(minimal_copy.root))
    cli("notice", "publish", "app")

    text = cli("notice", "diff", "app", "1", "2")
    assert text.exit_code == 0, text.output
    assert "new data category in a consent purpose" in text.stdout
    assert "Material: yes" in text.stdout
    assert "Re-consent needed for: newsletter" in text.stdout

    data = json.loads(cli("notice", "diff", "app", "1", "2", "--format", "json").stdout)
    assert data["material"] is True
    assert data["reconsent_purposes"] == ["newsletter"]


def test_diff_of_a_version_with_itself_has_no_changes(cli: CliInvoke, pledge_env: Settings) -> None:
    cli("notice", "publish", "app")
    result = cli("notice", "diff", "app", "1", "1")
    assert result.exit_code == 0
    assert "no changes" in result.stdout


def test_diff_of_an_unknown_version_is_one_line_and_exit_2(cli: CliInvoke, pledge_env: Settings) -> None:
    cli("notice", "publish", "app")
    assert_one_line_error(cli("notice", "diff", "app", "1", "9"), 2, "notice 'app' has no published version 9")


def test_a_database_not_yet_migrated_says_what_to_run(cli: CliInvoke, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path, minimal_policy: CompiledPolicy) -> None:
    from tests.conftest import MINIMAL_POLICY

    monkeypatch.setenv("PLEDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("PLEDGE_POLICY_DIR", str(MINIMAL_POLICY))
    assert_one_line_error(cli("notice", "publish", "app"), 1, "run `pledge db upgrade`")


def test_a_broken_policy_says_how_to_see_the_errors(cli: CliInvoke, pledge_env: Settings,
                                                    minimal_copy: PolicyFolder,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    minimal_copy.edit("notices/app.yaml", "controller: minimal-ltd", "controller: nobody")
    monkeypatch.setenv("PLEDGE_POLICY_DIR", str(minimal_copy.root))
    assert_one_line_error(cli("notice", "list"), 1, "run `pledge policy check")
