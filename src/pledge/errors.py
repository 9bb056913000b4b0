"""The one base of every service's "bad input" error.

A service refuses what it cannot do with a ``DomainError`` subclass before it writes anything; the
message is fit to show to a person, ``field`` names the input at fault, and the class attributes
give the RFC 9457 problem (status, title, type) the JSON API answers with. The CLI prints the
message on one line.
"""

from __future__ import annotations


class DomainError(Exception):
    """Input a service cannot act on; nothing was written."""

    status = 422
    title = "Invalid input"
    type = "urn:pledge:problem:invalid-input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)

    def problem_errors(self) -> list[dict[str, str]]:
        """The ``errors[]`` member of the problem body: the field at fault, if known."""
        return [{"field": self.field, "message": str(self)}] if self.field else []
