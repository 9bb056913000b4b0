"""The loader turns a policy folder into models and points every error at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pledge.policy import PolicyError, load_policy
from pledge.policy.models import LegalBasis, Policy
from tests.policy.conftest import VALID, PolicyCopy


def _errors(root: Path) -> list:
    with pytest.raises(PolicyError) as caught:
        load_policy(root)
    return caught.value.problems


def test_valid_fixture_loads_every_section() -> None:
    policy = load_policy(VALID).policy
    assert policy.organization.id == "acme"
    assert [n.id for n in policy.notices] == ["app"]
    assert [j.id for j in policy.jurisdictions] == ["EEA"]
    assert policy.notices[0].purposes[1].basis["EEA"] is LegalBasis.CONSENT


def test_norway_code_stays_a_string_not_a_yaml_boolean(policy_copy: PolicyCopy) -> None:
    """YAML 1.1 reads a bare NO as false; a jurisdiction list must keep Norway."""
    policy_copy.edit("jurisdictions/eea.yaml", '"NO"', "NO")
    policy = load_policy(policy_copy.root).policy
    assert "NO" in policy.jurisdictions[0].members


def test_malformed_yaml_points_at_the_line(policy_copy: PolicyCopy) -> None:
    path = policy_copy.edit("notices/app.yaml", "summary: How", "summary: [How")
    problems = _errors(policy_copy.root)
    assert problems[0].code == "yaml-syntax"
    assert problems[0].location.file == str(path)
    assert problems[0].location.line >= policy_copy.line_of("notices/app.yaml", "summary: [How")


def test_unknown_key_is_an_error_at_its_line(policy_copy: PolicyCopy) -> None:
    path = policy_copy.edit("notices/app.yaml", "    name: Newsletter\n", "    name: Newsletter\n    colour: blue\n")
    problems = _errors(policy_copy.root)
    assert [(p.code, p.location.file, p.location.line) for p in problems] == [
        ("unknown-key", str(path), policy_copy.line_of("notices/app.yaml", "colour: blue"))]
    assert "colour" in problems[0].message


def test_wrong_type_is_an_error_at_its_line(policy_copy: PolicyCopy) -> None:
    policy_copy.edit("notices/app.yaml", "last_updated: 2024-01-31", "last_updated: last tuesday")
    problems = _errors(policy_copy.root)
    assert problems[0].code == "wrong-type"
    assert problems[0].location.line == policy_copy.line_of("notices/app.yaml", "last_updated:")
    assert "last_updated" in problems[0].message


def test_unknown_legal_basis_is_a_wrong_type(policy_copy: PolicyCopy) -> None:
    policy_copy.edit("notices/app.yaml", "basis: {default: contract}", "basis: {default: because}")
    problems = _errors(policy_copy.root)
    assert problems[0].code == "wrong-type"
    assert problems[0].location.line == policy_copy.line_of("notices/app.yaml", "default: because")


def test_missing_source_is_reported(policy_copy: PolicyCopy) -> None:
    """Every element carries its source (DESIGN.md principle 2)."""
    policy_copy.edit("policy.yaml", "    role: processor\n    source: test fixture\n", "    role: processor\n")
    problems = _errors(policy_copy.root)
    assert problems[0].code == "missing-key"
    assert "source" in problems[0].message
    assert problems[0].location.file.endswith("policy.yaml")
    assert problems[0].location.line == policy_copy.line_of("policy.yaml", "- id: mailer")


def test_duplicate_key_in_one_mapping(policy_copy: PolicyCopy) -> None:
    policy_copy.edit("notices/app.yaml", "title: Acme App Privacy Notice", "title: A\ntitle: B")
    problems = _errors(policy_copy.root)
    assert problems[0].code == "yaml-duplicate-key"
    assert problems[0].location.line == policy_copy.line_of("notices/app.yaml", "title: B")


def test_unknown_section_in_a_top_level_file(policy_copy: PolicyCopy) -> None:
    policy_copy.write("extra.yaml", "purposes:\n  - id: x\n")
    problems = _errors(policy_copy.root)
    assert problems[0].code == "unknown-key"
    assert problems[0].location.file.endswith("extra.yaml")


def test_a_section_folder_may_hold_a_list(policy_copy: PolicyCopy) -> None:
    policy_copy.write("recipients/more.yaml",
                      "- {id: auditors, name: Auditors, description: Check our books., role: third_party,"
                      " source: test}\n")
    policy = load_policy(policy_copy.root).policy
    assert {r.id for r in policy.recipients} == {"mailer", "auditors"}


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    problems = _errors(tmp_path / "nowhere")
    assert problems[0].code == "no-policy"


def test_policy_json_round_trip_is_identical() -> None:
    """policy -> JSON -> policy gives the same policy (issue 2, 'Round trip')."""
    policy = load_policy(VALID).policy
    again = Policy.model_validate_json(policy.model_dump_json())
    assert again == policy
    assert again.model_dump_json() == policy.model_dump_json()
