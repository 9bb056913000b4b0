"""Decisions: may this use of personal data go ahead? One rule table, three paths.

- ``decide(policy, state, ask)``: one person, pure, microseconds (``engine.py``).
- ``decide_many(policy, notice, purpose, batch, at=...)``: millions at once, NumPy (``bulk.py``).
- ``allowed_subjects_sql(policy, notice, purpose, dialect)``: the same as a SQL SELECT (``sql.py``).
"""

from __future__ import annotations

from pledge.decisions.bulk import BulkDecision, decide_many
from pledge.decisions.engine import (
    REFUSING_RULES,
    RULE_NUMBERS,
    RULES,
    Decision,
    DecisionAsk,
    Outcome,
    Reason,
    Rule,
    UnknownReferenceError,
    decide,
    rule_table,
)
from pledge.decisions.sql import allowed_subjects_select, allowed_subjects_sql
from pledge.decisions.state import ConsentState, ConsentStatus, PurposeKey, StateBatch, SubjectState

__all__ = [
    "REFUSING_RULES",
    "RULES",
    "RULE_NUMBERS",
    "BulkDecision",
    "ConsentState",
    "ConsentStatus",
    "Decision",
    "DecisionAsk",
    "Outcome",
    "PurposeKey",
    "Reason",
    "Rule",
    "StateBatch",
    "SubjectState",
    "UnknownReferenceError",
    "allowed_subjects_select",
    "allowed_subjects_sql",
    "decide",
    "decide_many",
    "rule_table",
]
