"""`pledge request ...`: staff take a request by phone, enter the code the caller reads out, run it, approve it,
hand out the package link; bad input is one line on stderr and nothing recorded."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pledge.demo.build import build
from tests.conftest import PANASONIC_POLICY, CliInvoke
from tests.datamap.conftest import DATASETS
from tests.rights.conftest import SECRET, Inbox, SmtpServer

REFERENCE = re.compile(r"(R-[0-9A-Z]{12})")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, smtp_server: SmtpServer,
        inbox: Inbox) -> Path:
    """The environment the CLI reads: this test's database, the Panasonic policy, mail to the test SMTP server,
    and demo systems (20 people) on SQLite beside it."""
    systems = f"sqlite:///{tmp_path / 'systems'}/{{dataset}}.db"
    build(url=systems, subjects=20, seed=3)
    for name, value in {
        "PLEDGE_DATABASE_URL": database_url, "PLEDGE_POLICY_DIR": str(PANASONIC_POLICY),
        "PLEDGE_DATA_DIR": str(tmp_path / "var"), "PLEDGE_MAIL_BACKEND": "smtp",
        "PLEDGE_MAIL_HOST": smtp_server.host, "PLEDGE_MAIL_PORT": str(smtp_server.port),
        "PLEDGE_RIGHTS_SECRET_KEY": SECRET, "PLEDGE_RIGHTS_DATASETS_DIR": str(DATASETS),
        "PLEDGE_RIGHTS_SYSTEMS_URL": systems, "PLEDGE_JOBS_POLL_SECONDS": "0.05",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def demo_email(env: Path) -> str:
    import sqlite3

    with sqlite3.connect(env / "systems" / "accounts.db") as conn:
        row = conn.execute("SELECT email FROM customers ORDER BY customer_number LIMIT 1").fetchone()
    return str(row[0])


def reference_of(output: str) -> str:
    found = REFERENCE.search(output)
    assert found, output
    return found.group(1)


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def test_staff_take_an_access_request_by_phone_and_the_person_gets_their_package(
        cli: CliInvoke, env: Path, inbox: Inbox, tmp_path: Path) -> None:
    """S0 'Your Rights' (requests by phone) and GDPR Art. 15: entered by staff, verified with the emailed code."""
    email = demo_email(env)
    out = ok(cli("request", "submit", "--type", "access", "--identity", email, "--residence", "DE",
                 "--channel", "phone", "--actor", "staff:maria"))
    reference = reference_of(out)
    assert "access under EEA, awaiting_verification" in out and "verification code" in out

    listed = ok(cli("request", "list", "--open"))
    assert reference in listed and "phone" in listed

    wrong = cli("request", "verify", reference, "--code", "000000" if inbox.last_code(email) != "000000" else "1")
    assert wrong.exit_code == 1 and "wrong code; 4 attempt(s) left" in wrong.stdout
    ok(cli("request", "verify", reference, "--code", inbox.last_code(email)))

    ran = ok(cli("request", "run", reference))
    assert f"{reference}: access under EEA, completed" in ran
    assert inbox.last_link(email).startswith("https://") is False  # public URL not set: the local default

    target = tmp_path / "copy.zip"
    link = ok(cli("request", "package", reference, "--output", str(target)))
    assert f"/api/v1/requests/package/{reference}." in link and "sha256" in link
    assert any(name.endswith("report.html") for name in zipfile.ZipFile(target).namelist())

    shown = ok(cli("request", "show", reference))
    for text in ("received", "awaiting_verification", "attempt_failed", "package_built", "completed",
                 "staff:maria", "job #"):
        assert text in shown
    assert '"state": "completed"' in ok(cli("request", "show", reference, "--format", "json"))


def test_an_erasure_runs_only_after_staff_approve_its_dry_run(cli: CliInvoke, env: Path, inbox: Inbox) -> None:
    """GDPR Art. 17: staff read the plan before anything is erased."""
    email = demo_email(env)
    reference = reference_of(ok(cli("request", "submit", "--type", "deletion", "--identity", email,
                                    "--residence", "FR", "--channel", "email")))
    ok(cli("request", "verify", reference, "--code", inbox.last_code(email)))
    assert "awaiting_approval" in ok(cli("request", "run", reference))
    assert "Erasure plan for" in ok(cli("request", "show", reference))
    ok(cli("request", "approve", reference, "--reason", "plan read"))
    assert "completed" in ok(cli("request", "run", reference))


def test_deny_and_extend_are_told_to_the_person(cli: CliInvoke, env: Path, inbox: Inbox) -> None:
    """GDPR Art. 12(3)-(4): an extension with reasons; a refusal with reasons and the right to complain."""
    reference = reference_of(ok(cli("request", "submit", "--type", "rectification", "--identity", "r@example.com",
                                    "--residence", "DE", "--correct", "surname=Brown")))
    assert "due" in ok(cli("request", "extend", reference, "--reason", "many systems"))
    assert "many systems" in inbox.body(inbox.to("r@example.com")[-1])
    again = cli("request", "extend", reference, "--reason", "more")
    assert again.exit_code == 1 and "no extension left" in again.stderr
    ok(cli("request", "deny", reference, "--reason", "the surname on file is correct"))
    assert "the surname on file is correct" in inbox.body(inbox.to("r@example.com")[-1])
    assert reference in ok(cli("request", "list", "--state", "denied"))


@pytest.mark.parametrize("args, message", [
    (["--type", "rectification", "--identity", "u@example.com", "--residence", "US-UT", "--correct", "a=b"],
     "not offered under US-UT"),
    (["--type", "access", "--identity", "not-an-email@", "--residence", "DE"], "not an email address"),
    (["--type", "deletion", "--identity", "p@example.com", "--residence", "US-CA", "--agent-name", "A",
      "--agent-email", "a@agents.example"], "signed permission"),
    (["--type", "access", "--identity", "p@example.com", "--residence", "DE", "--correct", "oops"],
     "--correct takes NAME=VALUE"),
    (["--type", "access", "--identity", "p@example.com", "--residence", "D" * 40], "residence"),
    (["--type", "appeal", "--identity", "p@example.com", "--residence", "US-VA", "--appeal-of", "R" * 60],
     "appeal_of"),
])
def test_bad_input_is_one_line_on_stderr_and_nothing_is_recorded(args: list[str], message: str, cli: CliInvoke,
                                                                 env: Path, inbox: Inbox) -> None:
    result = cli("request", "submit", *args)
    assert result.exit_code == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert ok(cli("request", "list")).strip() == "no requests"
    assert inbox.messages == []


def test_an_unknown_reference_exits_2(cli: CliInvoke, env: Path) -> None:
    result = cli("request", "show", "R-NOSUCHTHING2")
    assert result.exit_code == 2 and "no rights request" in result.stderr


def test_an_opt_out_taken_by_phone_is_run_by_a_worker(cli: CliInvoke, env: Path, inbox: Inbox) -> None:
    """11 CCR §§ 7026(f), 7060(b): no verification; a `pledge worker` writes the opt-out to the ledger."""
    out = ok(cli("request", "submit", "--type", "opt_out_sale_share", "--identity", "+14155550188",
                 "--email", "caller@example.com", "--residence", "US-CA", "--channel", "phone"))
    reference = reference_of(out)
    assert "in_progress" in out
    assert "1 job(s) run" in ok(cli("worker", "--burst"))
    assert "completed" in ok(cli("request", "show", reference))
    assert "no requests" in ok(cli("request", "list", "--due-soon", "--days", "400"))  # done: nothing due
    waiting = reference_of(ok(cli("request", "submit", "--type", "deletion", "--identity", "d@example.com",
                                  "--residence", "US-CA")))
    soon = ok(cli("request", "list", "--due-soon", "--days", "60"))
    assert waiting in soon and reference not in soon
    assert "no requests" in ok(cli("request", "list", "--overdue"))
    assert "0 request(s) purged" in ok(cli("request", "purge"))
