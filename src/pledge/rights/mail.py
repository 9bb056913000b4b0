"""Outgoing mail: one-time codes, confirmations, extension notices and answers.

``SmtpMailer`` talks SMTP with ``smtplib`` (plain, STARTTLS or TLS, with a login when configured);
``OutboxMailer`` writes each message as an ``.eml`` file, for the demo and for machines without a
mail server. Both take a ``Message`` and raise ``MailError`` when it could not be handed over.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from pledge.settings import MailSettings, Settings


class MailError(RuntimeError):
    """The message could not be handed to the mail server (or written to the outbox)."""


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    def send(self, message: Message) -> None: ...


def _email(message: Message, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(message.body)
    return mail


class SmtpMailer:
    """Send through an SMTP server, one connection per message."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        """Hand the message to the server; MailError when it refuses or cannot be reached."""
        cfg = self.settings
        mail = _email(message, cfg.sender)
        try:
            smtp: smtplib.SMTP
            if cfg.security == "ssl":
                smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
            with smtp:
                if cfg.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.username:
                    smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"mail to {message.to} not sent: {exc}") from exc


class OutboxMailer:
    """Write each message to ``<folder>/<time>-<random>.eml`` instead of sending it."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    def send(self, message: Message) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{formatdate(usegmt=True).replace(' ', '_').replace(':', '')}-{secrets.token_hex(4)}.eml"
            (self.folder / name).write_bytes(bytes(_email(message, self.sender)))
        except OSError as exc:
            raise MailError(f"mail to {message.to} not written to {self.folder}: {exc}") from exc

    def messages(self) -> list[Path]:
        return sorted(self.folder.glob("*.eml")) if self.folder.exists() else []


def mailer_from_settings(settings: Settings) -> Mailer:
    """The mailer the settings ask for (``PLEDGE_MAIL_BACKEND``)."""
    if settings.mail.backend == "smtp":
        return SmtpMailer(settings.mail)
    return OutboxMailer(settings.mail.outbox_dir or settings.data_dir / "outbox", settings.mail.sender)


def secret_key(settings: Settings) -> bytes:
    """The HMAC key of links and codes: ``PLEDGE_RIGHTS_SECRET_KEY``, else one created once in the data folder."""
    if settings.rights.secret_key is not None:
        return settings.rights.secret_key.get_secret_value().encode("utf-8")
    path = settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode("utf-8")
