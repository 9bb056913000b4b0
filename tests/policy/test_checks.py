"""The checker finds what a schema cannot, each finding at the file and line that causes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pledge.policy import check_policy, load_policy
from pledge.policy.loader import Problem
from tests.policy.conftest import VALID, PolicyCopy

NOTICE = "notices/app.yaml"


def _findings(copy: PolicyCopy, code: str) -> list[Problem]:
    return [p for p in check_policy(load_policy(copy.root)) if p.code == code]


def _single(copy: PolicyCopy, code: str, relative: str, needle: str, severity: str = "error") -> Problem:
    found = _findings(copy, code)
    assert len(found) == 1, found
    problem = found[0]
    assert problem.severity == severity
    assert problem.location.file == str(copy.root / relative)
    assert problem.location.line == copy.line_of(relative, needle)
    return problem


def test_valid_policy_has_no_findings() -> None:
    assert check_policy(load_policy(VALID)) == []


def test_duplicate_category_id(policy_copy: PolicyCopy) -> None:
    policy_copy.write("zz_more.yaml", "data_categories:\n  - id: usage\n    name: Usage again\n"
                      "    description: x\n    collection: [automated]\n    source: t\n")
    problem = _single(policy_copy, "duplicate-id", "zz_more.yaml", "- id: usage")
    assert "'usage'" in problem.message
    assert f"first defined at {policy_copy.root / 'policy.yaml'}:" in problem.message


def test_duplicate_purpose_id_within_a_notice(policy_copy: PolicyCopy) -> None:
    policy_copy.edit(NOTICE, "  - id: newsletter", "  - id: service")
    # the second 'service' is the one flagged
    found = _findings(policy_copy, "duplicate-id")
    assert len(found) == 1
    text = (policy_copy.root / NOTICE).read_text().splitlines()
    lines = [n for n, line in enumerate(text, 1) if "id: service" in line]
    assert found[0].location.line == lines[1]


def test_purpose_naming_an_undefined_category(policy_copy: PolicyCopy) -> None:
    policy_copy.edit(NOTICE, "categories: [contact]\n    basis: {EEA", "categories: [contakt]\n    basis: {EEA")
    problem = _single(policy_copy, "dangling-reference", NOTICE, "categories: [contakt]")
    assert "contakt" in problem.message


def test_disclosure_to_an_undefined_recipient(policy_copy: PolicyCopy) -> None:
    policy_copy.edit(NOTICE, "  - recipient: mailer", "  - recipient: postman")
    problem = _single(policy_copy, "dangling-reference", NOTICE, "recipient: postman")
    assert "postman" in problem.message


def test_notice_naming_an_undefined_jurisdiction(policy_copy: PolicyCopy) -> None:
    policy_copy.edit(NOTICE, "jurisdictions: [EEA]", "jurisdictions: [EEA, XX]")
    problem = _single(policy_copy, "dangling-reference", NOTICE, "jurisdictions: [EEA, XX]")
    assert "jurisdiction 'XX'" in problem.message


def test_consent_purpose_with_no_way_to_withdraw(policy_copy: PolicyCopy) -> None:
    """Consent can be withdrawn at any time [S1, S2 §7, S0]; GDPR Art. 7(3)."""
    policy_copy.edit(NOTICE, "    withdrawal: [unsubscribe link]\n", "")
    found = _findings(policy_copy, "consent-without-withdrawal")
    assert {p.location.line for p in found} == {policy_copy.line_of(NOTICE, "basis: {EEA: consent")}
    assert all("newsletter" in p.message for p in found)


def test_category_no_purpose_uses(policy_copy: PolicyCopy) -> None:
    policy_copy.edit(NOTICE, "    categories: [contact, usage]\n    basis: {default: contract}",
                     "    categories: [contact]\n    basis: {default: contract}")
    problem = _single(policy_copy, "category-without-purpose", NOTICE, "data_categories: [contact, usage]")
    assert "'usage'" in problem.message


def test_category_with_no_retention_rule(policy_copy: PolicyCopy) -> None:
    """Keep data only as long as a purpose needs it [S0 Data Retention]; GDPR Art. 5(1)(e)."""
    policy_copy.edit(NOTICE, "    categories: [contact, usage]\n    until:", "    categories: [contact]\n    until:")
    problem = _single(policy_copy, "category-without-retention", NOTICE, "data_categories: [contact, usage]")
    assert "'usage'" in problem.message


def test_transfer_without_safeguard(policy_copy: PolicyCopy) -> None:
    policy_copy.edit(NOTICE, "    safeguard: standard contractual clauses\n", "")
    _single(policy_copy, "transfer-without-safeguard", NOTICE, "  - destinations: [US]")


def test_sale_of_sensitive_data(policy_copy: PolicyCopy) -> None:
    """'We do not sell or share sensitive personal information' [S0 Sale of Information]."""
    policy_copy.edit("policy.yaml", "    collection: [automated]\n",
                     "    collection: [automated]\n    sensitive: true\n")
    policy_copy.edit(NOTICE, "    basis: {default: contract}\n", "    basis: {default: contract}\n    sale: true\n")
    problem = _single(policy_copy, "sale-of-protected-data", NOTICE, "  - id: service")
    assert "sensitive" in problem.message


def test_sharing_of_childrens_data_through_a_disclosure(policy_copy: PolicyCopy) -> None:
    """No sale or sharing of anyone under 16 [S0 Sale of Information]."""
    policy_copy.edit("policy.yaml", "    examples: [email address]\n",
                     "    examples: [email address]\n    children: true\n")
    policy_copy.edit(NOTICE, "  - recipient: mailer\n", "  - recipient: mailer\n    share: true\n")
    problem = _single(policy_copy, "sale-of-protected-data", NOTICE, "  - recipient: mailer")
    assert "children" in problem.message


def test_legitimate_interest_without_assessment_is_a_warning(policy_copy: PolicyCopy) -> None:
    """LI purposes keep a balancing assessment that can be handed out [S0 EEA, S2 §4]."""
    policy_copy.edit(NOTICE, "basis: {default: contract}", "basis: {default: legitimate_interests}")
    problem = _single(policy_copy, "no-lia", NOTICE, "basis: {default: legitimate_interests}", severity="warning")
    assert "service" in problem.message


def test_cli_check_prints_compiler_style_and_fails(policy_copy: PolicyCopy) -> None:
    from typer.testing import CliRunner

    from pledge.cli.main import app

    policy_copy.edit(NOTICE, "jurisdictions: [EEA]", "jurisdictions: [EEA, XX]")
    result = CliRunner().invoke(app, ["policy", "check", str(policy_copy.root)])
    assert result.exit_code == 1
    line = policy_copy.line_of(NOTICE, "jurisdictions: [EEA, XX]")
    assert f"{policy_copy.root / NOTICE}:{line}:" in result.output
    assert "error: jurisdiction 'XX' is not defined" in result.output


def test_cli_check_json_format(policy_copy: PolicyCopy) -> None:
    import json

    from typer.testing import CliRunner

    from pledge.cli.main import app

    policy_copy.edit(NOTICE, "    safeguard: standard contractual clauses\n", "")
    result = CliRunner().invoke(app, ["policy", "check", str(policy_copy.root), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["errors"] == 1
    assert report["problems"][0]["code"] == "transfer-without-safeguard"
    assert report["problems"][0]["file"] == str(policy_copy.root / NOTICE)


@pytest.mark.parametrize("root", [VALID])
def test_cli_check_valid_exits_zero(root: Path) -> None:
    from typer.testing import CliRunner

    from pledge.cli.main import app

    result = CliRunner().invoke(app, ["policy", "check", str(root)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_cookie_consent_rule_for_a_jurisdiction_the_notice_does_not_cover(policy_copy: PolicyCopy) -> None:
    policy_copy.edit(NOTICE, "transfers:", "cookie_consent:\n  required: {default: false, US-CA: true}\n"
                     "  source: test\ntransfers:")
    problem = _single(policy_copy, "dangling-reference", NOTICE, "required: {default: false, US-CA: true}")
    assert "'US-CA'" in problem.message
