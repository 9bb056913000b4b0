"""`pledge consent`, `pledge decide`, `pledge subject`, `pledge suppression`, `pledge apikey` (issue 3, item 7)."""

from __future__ import annotations

import json

import pytest

from pledge.settings import Settings
from tests.conftest import CliInvoke


@pytest.fixture(autouse=True)
def _env(consent_env: Settings) -> Settings:
    return consent_env


def test_decide_for_an_unknown_identity_creates_the_subject_in_that_jurisdiction(cli: CliInvoke) -> None:
    """Issue 3 item 7: an identity not yet known creates the subject, with --jurisdiction as residence."""
    result = cli("decide", "--subject", "ann@example.com", "--purpose", "newsletter", "--jurisdiction", "DE")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["allowed"] is False and body["legal_basis"] == "consent"
    assert body["reasons"][0]["rule"] == "no-live-consent" and body["reasons"][0]["source"]
    shown = json.loads(cli("subject", "show", "ann@example.com").stdout)
    assert shown["residence"] == "DE" and shown["jurisdiction"] == "EEA"


def test_grant_then_decide_then_withdraw(cli: CliInvoke) -> None:
    """S1 (001_cbab263f9514547f.txt): consent can be withdrawn at any time."""
    granted = cli("consent", "grant", "--subject", "+353 1 234 5678", "--purpose", "newsletter", "--jurisdiction",
                  "IE", "--actor-ref", "agent-7")
    assert granted.exit_code == 0, granted.output
    assert "recorded consent_granted shop/newsletter" in granted.stdout
    assert json.loads(cli("decide", "--subject", "+35312345678", "--purpose", "newsletter").stdout)["allowed"]
    assert cli("consent", "withdraw", "--subject", "+35312345678", "--purpose", "newsletter").exit_code == 0
    decision = json.loads(cli("decide", "--subject", "+35312345678", "--purpose", "newsletter").stdout)
    assert decision["allowed"] is False
    assert "withdrawn" in decision["reasons"][0]["detail"]


def test_object_opt_out_and_show(cli: CliInvoke) -> None:
    assert cli("consent", "object", "--subject", "C-1", "--purpose", "analytics", "--jurisdiction", "FR").exit_code == 0
    assert cli("consent", "opt-out", "--subject", "C-1", "--of", "profiling").exit_code == 0
    shown = cli("consent", "show", "--subject", "C-1", "--ledger")
    body = json.loads(shown.stdout)
    assert body["objections"] == ["shop/analytics"] and body["opt_out_profiling"] is True
    assert [e["kind"] for e in body["ledger"]] == ["objection_raised", "opted_out"]
    assert body["ledger"][0]["actor"] == "staff" and body["ledger"][0]["collection_point"] == "call_centre"


def test_grant_prints_a_receipt_as_json(cli: CliInvoke) -> None:
    result = cli("consent", "grant", "--subject", "ann@example.com", "--purpose", "newsletter", "--jurisdiction",
                 "DE", "--json")
    body = json.loads(result.stdout)
    assert body["schema_version"].startswith("ISO/IEC TS 27560")
    assert cli("consent", "receipt", body["record_id"]).exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["consent", "grant", "--subject", "ann@example.com", "--purpose", "orders"], "not on consent"),
    (["consent", "grant", "--subject", "ann@example.com", "--purpose", "nope"], "unknown purpose 'nope'"),
    (["consent", "grant", "--subject", "+1 23", "--purpose", "newsletter"], "not a valid phone number"),
    (["consent", "grant", "--subject", "a@b.co", "--purpose", "newsletter", "--jurisdiction", "Mars"],
     "unknown jurisdiction"),
    (["consent", "parental", "--subject", "old@example.com", "--guardian", "g", "--birth-date", "1950-01-01"],
     "a guardian cannot act for them"),
    (["decide", "--subject", "ann@example.com", "--purpose", "newsletter", "--category", "dna"],
     "unknown data category"),
    (["decide", "--subject", "ann@example.com", "--purpose", "ads", "--recipient", "nsa"], "unknown recipient"),
    (["consent", "cookies", "--subject", "browser:x", "--category", "tracking"], "unknown cookie category"),
])
def test_bad_input_is_one_line_on_stderr_and_nothing_is_written(cli: CliInvoke, args: list[str],
                                                                 message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no-live-consent" not in result.stdout
    rebuilt = cli("consent", "rebuild", "--check")
    assert "0 events, 0 subjects" in rebuilt.stdout


def test_rebuild_check_passes_on_a_consistent_ledger(cli: CliInvoke) -> None:
    cli("consent", "grant", "--subject", "ann@example.com", "--purpose", "newsletter", "--jurisdiction", "DE")
    result = cli("consent", "rebuild", "--check")
    assert result.exit_code == 0 and "projection matches the ledger: 1 events" in result.stdout


def test_subject_link_merges_a_browser_after_login(cli: CliInvoke) -> None:
    cli("consent", "cookies", "--subject", "browser:b-1", "--category", "advertising", "--jurisdiction", "DE")
    assert cli("subject", "create", "--identity", "ann@example.com", "--residence", "DE").exit_code == 0
    linked = cli("subject", "link", "ann@example.com", "--identity", "browser:b-1")
    assert linked.exit_code == 0 and "merged subject" in linked.stdout
    body = json.loads(cli("consent", "show", "--subject", "ann@example.com").stdout)
    assert body["cookie_categories"] == ["advertising"]


def test_suppression_export_writes_hashes_and_records_a_disclosure(cli: CliInvoke, tmp_path: object) -> None:
    cli("consent", "withdraw", "--subject", "No@Example.com", "--purpose", "newsletter", "--jurisdiction", "DE")
    result = cli("suppression", "export", "--purpose", "newsletter")
    assert result.exit_code == 0, result.output
    import hashlib

    assert result.stdout.splitlines() == ["email_sha256", hashlib.sha256(b"no@example.com").hexdigest()]
    assert "disclosure 1 recorded to vendors" in result.stderr


def test_apikey_create_list_revoke(cli: CliInvoke) -> None:
    created = cli("apikey", "create", "--scope", "consent:write", "--scope", "decide", "--name", "crm")
    assert created.exit_code == 0 and created.stdout.startswith("pk_")
    key_id = created.stdout.split("_")[1]
    assert key_id in cli("apikey", "list").stdout
    assert cli("apikey", "revoke", key_id).exit_code == 0
    bad = cli("apikey", "create", "--scope", "root")
    assert bad.exit_code == 1 and "unknown scope 'root'" in bad.stderr
