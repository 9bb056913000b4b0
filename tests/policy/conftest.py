"""Fixtures for policy tests: a valid policy folder to copy and break, one edit at a time."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

VALID = Path(__file__).parent / "fixtures" / "valid"


class PolicyCopy:
    """A writable copy of the valid fixture, with helpers to break it and to find lines."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def edit(self, relative: str, old: str, new: str) -> Path:
        path = self.root / relative
        text = path.read_text()
        assert old in text, f"fixture text {old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))
        return path

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def line_of(self, relative: str, needle: str) -> int:
        for number, line in enumerate((self.root / relative).read_text().splitlines(), start=1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} not found in {relative}")


@pytest.fixture
def policy_copy(tmp_path: Path) -> PolicyCopy:
    shutil.copytree(VALID, tmp_path / "policy")
    return PolicyCopy(tmp_path / "policy")


ProblemFinder = Callable[[PolicyCopy], list]
