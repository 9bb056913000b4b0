"""Privacy as code: load, check and compile the policy folder."""

from __future__ import annotations

from pathlib import Path

from pledge.policy.checks import check_policy
from pledge.policy.compile import CompiledPolicy, compile_policy
from pledge.policy.loader import LoadedPolicy, PolicyError, Problem, load_policy

__all__ = [
    "CompiledPolicy",
    "LoadedPolicy",
    "PolicyError",
    "Problem",
    "check_policy",
    "compile_policy",
    "load_compiled",
    "load_policy",
]


def load_compiled(root: Path | str) -> CompiledPolicy:
    """Load, check and compile a policy folder; raise PolicyError if it has any error."""
    loaded = load_policy(root)
    errors = [p for p in check_policy(loaded) if p.severity == "error"]
    if errors:
        raise PolicyError(errors)
    return compile_policy(loaded.policy)
