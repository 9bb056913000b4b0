"""Fixtures for the decision tests: the decisions fixture policy and a fixed instant."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pledge.policy import CompiledPolicy, load_compiled

POLICY_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "policies" / "decisions"
AT = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def policy() -> CompiledPolicy:
    """tests/fixtures/policies/decisions: an app notice (after S2, S3) and a US web notice (after S0)."""
    return load_compiled(POLICY_DIR)
