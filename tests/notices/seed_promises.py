"""What the seed-promise tests (``test_seed_*.py``) share: the rendered notices and the checks.

Each test module holds a table of rows, one promise of seed-commitments.md each: (promise, seed
clause, text fragments the Markdown notice must contain). A fragment given as a tuple is satisfied
by any one of its alternatives. Whitespace is normalised before matching. A failure names the seed
file and clause the promise comes from.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pledge.notices.render import render_notice
from pledge.policy import CompiledPolicy, load_compiled

POLICY = Path(__file__).resolve().parents[2] / "policies" / "panasonic"

Fragment = str | tuple[str, ...]
Row = tuple[str, str, tuple[Fragment, ...]]


@cache
def _compiled() -> CompiledPolicy:
    return load_compiled(POLICY)


@cache
def rendered_markdown(notice_id: str) -> str:
    """The notice ``notice_id`` of the Panasonic policy, rendered as Markdown (loaded once a session)."""
    markdown: str = render_notice(_compiled(), notice_id, "md")
    return markdown


def normalised(text: str) -> str:
    """``text`` with every run of whitespace (line breaks too) made one space."""
    return " ".join(text.split())


def lines(text: str) -> list[str]:
    """The lines of ``text``, each with its whitespace normalised."""
    return [normalised(line) for line in text.splitlines()]


def found(text: str, fragment: Fragment) -> bool:
    """Whether ``text`` contains ``fragment`` (or, for a tuple, any one of its alternatives)."""
    return any(alt in text for alt in ((fragment,) if isinstance(fragment, str) else fragment))


def missing(text: str, fragments: tuple[Fragment, ...]) -> list[Fragment]:
    """The fragments ``text`` does not contain."""
    return [f for f in fragments if not found(text, f)]


def check(text: str, row: Row, seed: str) -> None:
    """Assert that ``text`` states every fragment of ``row``, a promise of the seed file ``seed``."""
    promise, clause, fragments = row
    lacking = missing(text, fragments)
    assert not lacking, f"{promise} [{seed}#{clause}]: the rendered notice lacks {lacking}"


def check_together(lines: list[str], row: Row, seed: str) -> None:
    """Assert that one of ``lines`` (one table row) states all the fragments of ``row`` together."""
    promise, clause, fragments = row
    assert any(all(found(line, f) for f in fragments) for line in lines), (
        f"{promise} [{seed}#{clause}]: no line of the rendered notice states all of {fragments}")


def ids(rows: list[Row]) -> list[str]:
    """Test ids: each row's promise."""
    return [row[0] for row in rows]
