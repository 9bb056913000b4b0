"""Fixtures for rights tests: the Panasonic policy (every jurisdiction's real clocks)."""

from __future__ import annotations

import pytest

from pledge.policy import CompiledPolicy, load_compiled
from tests.conftest import PANASONIC_POLICY


@pytest.fixture(scope="session")
def panasonic() -> CompiledPolicy:
    """policies/panasonic: the seeded company's policy with its twelve jurisdictions."""
    return load_compiled(PANASONIC_POLICY)
