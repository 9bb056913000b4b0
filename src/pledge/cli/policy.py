"""`pledge policy ...`: check the policy folder like source code."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pledge.policy import PolicyError, check_policy, load_policy
from pledge.settings import get_settings

app = typer.Typer(help="Check the policy-as-code folder.", no_args_is_help=True)


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@app.command("check")
def check(
    directory: Annotated[Path | None, typer.Argument(help="Policy folder (default: PLEDGE_POLICY_DIR).")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = OutputFormat.TEXT,
) -> None:
    """Load and lint the policy; print `path:line:col: severity: message`; exit 1 on any error."""
    root = directory or get_settings().policy_dir
    try:
        problems = check_policy(load_policy(root))
    except PolicyError as exc:
        problems = exc.problems
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if output is OutputFormat.JSON:
        typer.echo(json.dumps({"errors": errors, "warnings": warnings,
                               "problems": [p.as_dict() for p in problems]}, indent=2))
    else:
        console = Console(highlight=False, soft_wrap=True)
        for problem in problems:
            style = "red" if problem.severity == "error" else "yellow"
            console.print(f"{problem.location}: [{style}]{problem.severity}[/{style}]: {problem.message} "
                          f"\\[{problem.code}]")
        console.print(f"{root}: {errors} error(s), {warnings} warning(s)")
    raise typer.Exit(code=1 if errors else 0)
