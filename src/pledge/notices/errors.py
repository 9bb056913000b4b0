"""Errors about notices, shared by rendering, publishing, the web pages and the CLI."""

from __future__ import annotations

from collections.abc import Iterable


class NoticeError(Exception):
    """A request about notices that cannot be answered; the message is fit to show to a person."""


class UnknownNotice(NoticeError, KeyError):
    """The policy has no notice with this id (a KeyError too, for callers that look notices up)."""

    def __init__(self, notice_id: str, known: Iterable[str] = ()) -> None:
        self.notice_id = notice_id
        self.known = tuple(sorted(known))
        super().__init__(notice_id)

    def __str__(self) -> str:
        hint = f" (known: {', '.join(self.known)})" if self.known else ""
        return f"unknown notice {self.notice_id!r}{hint}"
