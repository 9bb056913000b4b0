"""Dataset annotations are checked like code: every error points at its file and line, nothing runs on a bad map.

Issue 4 "Bad input": a dataset annotation with a dangling reference or an unsafe identifier is a
clear error, and nothing is executed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pledge.datamap import DatamapError, check_datamap, load_datamap, load_datamap_folder
from pledge.policy import CompiledPolicy, Problem
from tests.conftest import CliInvoke
from tests.datamap.conftest import DATASETS, Demo


class DatasetFolder:
    """A writable copy of the Panasonic annotations, edited the way a privacy engineer edits YAML."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def edit(self, name: str, old: str, new: str) -> Path:
        path = self.root / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))
        return path

    def line_of(self, name: str, needle: str) -> int:
        lines = (self.root / name).read_text().splitlines()
        return next(i for i, line in enumerate(lines, 1) if needle in line)


@pytest.fixture
def folder(tmp_path: Path) -> DatasetFolder:
    root = tmp_path / "datasets"
    shutil.copytree(DATASETS, root)
    return DatasetFolder(root)


def _problems(folder: DatasetFolder, policy: CompiledPolicy) -> list[Problem]:
    try:
        return check_datamap(load_datamap_folder(folder.root), policy.data_categories.keys())
    except DatamapError as exc:
        return exc.problems


def _errors(folder: DatasetFolder, policy: CompiledPolicy) -> list[tuple[str, str, int]]:
    return [(p.code, Path(p.location.file).name, p.location.line) for p in _problems(folder, policy)
            if p.severity == "error"]


def test_the_panasonic_annotations_are_clean(panasonic_policy: CompiledPolicy) -> None:
    """The demo systems' data map uses only categories the policy defines, and every table is reachable."""
    assert check_datamap(load_datamap_folder(DATASETS), panasonic_policy.data_categories.keys()) == []


def test_a_dangling_reference_is_an_error_at_its_line(folder: DatasetFolder,
                                                      panasonic_policy: CompiledPolicy) -> None:
    folder.edit("shop.yaml", "references: orders.id", "references: order.id")
    assert ("dangling-reference", "shop.yaml", folder.line_of("shop.yaml", "references: order.id")) in _errors(
        folder, panasonic_policy)


def test_a_reference_to_another_dataset_that_does_not_exist_is_an_error(
        folder: DatasetFolder, panasonic_policy: CompiledPolicy) -> None:
    folder.edit("products.yaml", "references: accounts.customers.customer_number",
                "references: crm.customers.customer_number")
    problems = [p for p in _problems(folder, panasonic_policy) if p.code == "dangling-reference"]
    assert problems and "dataset 'crm'" in problems[0].message
    assert problems[0].location.line == folder.line_of("products.yaml", "crm.customers")


def test_an_unsafe_sql_identifier_is_an_error_at_its_line(folder: DatasetFolder,
                                                          panasonic_policy: CompiledPolicy) -> None:
    folder.edit("marketing.yaml", "  - name: promotion_entries", '  - name: "promotion_entries; DROP TABLE x"')
    errors = _errors(folder, panasonic_policy)
    assert ("unsafe-identifier", "marketing.yaml", folder.line_of("marketing.yaml", "DROP TABLE")) in errors


def test_an_unknown_data_category_is_an_error_at_its_line(folder: DatasetFolder,
                                                          panasonic_policy: CompiledPolicy) -> None:
    folder.edit("smart_home.yaml", "categories: [uk.smart_home.remote_connection]",
                "categories: [uk.smart_home.remote_connexion]")
    problems = [p for p in _problems(folder, panasonic_policy) if p.code == "unknown-category"]
    assert [(Path(p.location.file).name, p.location.line) for p in problems] == [
        ("smart_home.yaml", folder.line_of("smart_home.yaml", "remote_connexion"))]
    assert "uk.smart_home.remote_connexion" in problems[0].message


def test_a_table_of_personal_data_no_identity_leads_to_is_an_error(folder: DatasetFolder,
                                                                   panasonic_policy: CompiledPolicy) -> None:
    """A missed system: the executor would never find these rows, so access and erasure would be incomplete."""
    folder.edit("smartapp.yaml", "        references: devices.device_id\n      - name: recorded_at",
                "      - name: recorded_at")
    assert ("no-identity-path", "smartapp.yaml", folder.line_of("smartapp.yaml", "- name: location_logs")) in _errors(
        folder, panasonic_policy)


def test_an_unknown_key_and_a_wrong_type_point_at_their_lines(folder: DatasetFolder,
                                                              panasonic_policy: CompiledPolicy) -> None:
    folder.edit("support.yaml", "      - name: channel\n", "      - name: channel\n        colour: blue\n")
    folder.edit("community.yaml", "references: {to: posts.id, follow: false}",
                "references: {to: posts.id, follow: sometimes}")
    errors = _errors(folder, panasonic_policy)
    assert ("unknown-key", "support.yaml", folder.line_of("support.yaml", "colour: blue")) in errors
    assert ("wrong-type", "community.yaml", folder.line_of("community.yaml", "follow: sometimes")) in errors


def test_malformed_yaml_points_at_the_line(folder: DatasetFolder, panasonic_policy: CompiledPolicy) -> None:
    folder.edit("analytics.yaml", "categories: [uk.log, us.log_usage]\n      - name: user_agent",
                "categories: [uk.log, us.log_usage\n      - name: user_agent")
    (code, name, line), = _errors(folder, panasonic_policy)
    assert (code, name) == ("yaml-syntax", "analytics.yaml") and line >= folder.line_of("analytics.yaml", "referrer")


def test_a_strategy_that_does_not_fit_its_field_is_an_error(folder: DatasetFolder,
                                                           panasonic_policy: CompiledPolicy) -> None:
    folder.edit("accounts.yaml", "erasure: {strategy: generalise, to: prefix, length: 3}",
                "erasure: {strategy: generalise, to: month}")
    assert ("strategy-type", "accounts.yaml", folder.line_of("accounts.yaml", "to: month}")) in _errors(
        folder, panasonic_policy)


def test_a_legal_hold_needs_a_reason_and_an_end(folder: DatasetFolder, panasonic_policy: CompiledPolicy) -> None:
    """S3 §9: data is kept longer only when the law requires it, so the hold says which law and until when."""
    folder.edit("shop.yaml", "          reason: Invoices are accounting records kept for ten years after they are "
                "issued (tax law).\n", "")
    errors = _errors(folder, panasonic_policy)
    assert errors and errors[0][:2] == ("wrong-type", "shop.yaml")


def test_a_hold_running_from_a_field_that_is_not_there_is_an_error(folder: DatasetFolder,
                                                                   panasonic_policy: CompiledPolicy) -> None:
    folder.edit("shop.yaml", "until: {after: issued_on, years: 10}", "until: {after: issued, years: 10}")
    assert ("dangling-reference", "shop.yaml", folder.line_of("shop.yaml", "after: issued,")) in _errors(
        folder, panasonic_policy)


def test_load_datamap_refuses_a_map_with_errors(folder: DatasetFolder, panasonic_policy: CompiledPolicy) -> None:
    folder.edit("shop.yaml", "references: orders.id", "references: order.id")
    with pytest.raises(DatamapError) as caught:
        load_datamap(folder.root, panasonic_policy)
    assert "shop.yaml" in str(caught.value)


def test_datamap_check_prints_compiler_style_errors_and_exits_1(folder: DatasetFolder, cli: CliInvoke) -> None:
    path = folder.edit("shop.yaml", "references: orders.id", "references: order.id")
    result = cli("datamap", "check", str(folder.root))
    assert result.exit_code == 1
    line = folder.line_of("shop.yaml", "references: order.id")
    assert f"{path}:{line}:" in result.stdout and "error: shop.order_lines.order_id references table shop.order" \
        in result.stdout
    assert "1 error(s)" in result.stdout


def test_datamap_check_of_the_panasonic_annotations_passes(cli: CliInvoke) -> None:
    result = cli("datamap", "check", str(DATASETS), "--format", "json")
    assert result.exit_code == 0, result.stdout
    assert '"errors": 0' in result.stdout


def test_no_erasure_runs_on_a_map_with_errors(folder: DatasetFolder, cli: CliInvoke, tmp_path: Path) -> None:
    """Bad input: nothing executed."""
    folder.edit("shop.yaml", "references: orders.id", "references: order.id")
    result = cli("datamap", "erase", "--yes", "--subject", "email:a@example.com", "--datasets", str(folder.root),
                 "--url", f"sqlite:///{tmp_path}/nothing/{{dataset}}.db")
    assert result.exit_code == 1
    assert "pledge datamap check" in result.stderr
    assert not (tmp_path / "nothing").exists()


def test_check_against_the_live_databases_finds_what_the_map_and_the_systems_disagree_on(
        cli: CliInvoke, demo: Demo) -> None:
    """A missed system is found before a request misses it: a column no annotation describes, a missing
    table, a searched field without an index."""
    clean = cli("datamap", "check", str(DATASETS), "--url", demo.url)
    assert clean.exit_code == 0 and "0 error(s), 0 warning(s)" in clean.stdout, clean.stdout

    schema = "" if demo.url.startswith("sqlite") else '"marketing".'
    demo.execute("marketing", f"ALTER TABLE {demo.systems.table('marketing', 'promotion_entries')} "
                              "ADD COLUMN passport_number VARCHAR(20)")
    demo.execute("marketing", f'DROP INDEX {schema}"ix_newsletter_subscriptions_email"')
    demo.execute("smart_home", f"DROP TABLE {demo.systems.table('smart_home', 'connections')}")
    result = cli("datamap", "check", str(DATASETS), "--url", demo.url)
    assert result.exit_code == 1
    assert "marketing.promotion_entries.passport_number is in the database but not in the annotation" in result.stdout
    assert "[unindexed-lookup]" in result.stdout and "newsletter_subscriptions.email" in result.stdout
    assert "smart_home.connections is not in the database [missing-table]" in result.stdout
    assert f"{DATASETS / 'smart_home.yaml'}:" in result.stdout
