"""Fixtures for rights tests: the Panasonic policy (every jurisdiction's real clocks), a real SMTP server on
loopback (aiosmtpd) that keeps what it receives, and the parts rights services need."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from pledge.bootstrap import Container, bootstrap
from pledge.jobs.queue import SqlJobQueue
from pledge.policy import CompiledPolicy, load_compiled
from pledge.rights.mail import SmtpMailer
from pledge.rights.service import RightsParts
from pledge.settings import JobSettings, MailSettings, RightsSettings, Settings
from tests.conftest import PANASONIC_POLICY, _free_port

SECRET = "test-secret-key-for-links-and-codes"


@pytest.fixture(scope="session")
def panasonic() -> CompiledPolicy:
    """policies/panasonic: the seeded company's policy with its twelve jurisdictions."""
    return load_compiled(PANASONIC_POLICY)


@dataclass
class Inbox:
    """What the SMTP server received, newest last."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def body(self, message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def last_code(self, address: str) -> str:
        for message in reversed(self.to(address)):
            found = re.search(r"verification code is (\d{6})", self.body(message))
            if found:
                return found.group(1)
        raise AssertionError(f"no code was sent to {address}")

    def last_link(self, address: str) -> str:
        for message in reversed(self.to(address)):
            found = re.search(r"(http\S+/api/v1/requests/package/\S+)", self.body(message))
            if found:
                return found.group(1)
        raise AssertionError(f"no package link was sent to {address}")


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    def settings(self) -> MailSettings:
        return MailSettings(backend="smtp", host=self.host, port=self.port, sender="privacy@panasonic.example")


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port for the whole session."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp_server: SmtpServer) -> Inbox:
    """The server's inbox, emptied for this test."""
    with smtp_server.inbox.lock:
        smtp_server.inbox.messages.clear()
    return smtp_server.inbox


@pytest.fixture
def rights_settings(tmp_path: Path, database_url: str, smtp_server: SmtpServer) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url, policy_dir=PANASONIC_POLICY,
                    mail=smtp_server.settings(),
                    rights=RightsSettings(secret_key=SECRET, public_url="https://privacy.example",  # type: ignore[arg-type]
                                          datasets_dir=tmp_path / "no-datasets"),
                    jobs=JobSettings(poll_seconds=0.05, lease_seconds=30))


@pytest.fixture
def rights_container(rights_settings: Settings, panasonic: CompiledPolicy) -> Iterator[Container]:
    """pledge wired on a fresh database with the Panasonic policy and mail to the test SMTP server."""
    with bootstrap(rights_settings, policy=panasonic) as wired:
        yield wired


@pytest.fixture
def parts(rights_container: Container, inbox: Inbox) -> RightsParts:
    """Rights parts with real SMTP mail and no queue: requests stop at 'verified' until run by hand."""
    settings = rights_container.settings
    return RightsParts(settings=settings.rights, secret=SECRET.encode(), mailer=SmtpMailer(settings.mail))


@pytest.fixture
def queued_parts(rights_container: Container, parts: RightsParts) -> RightsParts:
    """The same parts with the SQL job queue: verified requests are put to work at once."""
    queue = SqlJobQueue(rights_container.session_factory, rights_container.settings.jobs)
    return RightsParts(settings=parts.settings, secret=parts.secret, mailer=parts.mailer, queue=queue)
