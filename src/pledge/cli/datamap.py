"""`pledge datamap ...`: check the dataset annotations, and run the executor for one person by hand.

Rights requests call the same executor (``pledge.datamap``); these commands are for the privacy
team: lint the annotations like code, see what the systems hold about someone, read an erasure
plan before anything is erased, and correct a value everywhere it lives.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pledge.cli.common import fail, load_settings
from pledge.datamap import (
    DataMap,
    DatamapError,
    ErasureStatus,
    Systems,
    access,
    check_datamap,
    default_systems_url,
    erase,
    load_datamap,
    load_datamap_folder,
    plan_erasure,
    rectify,
)
from pledge.datamap.fides import import_fides
from pledge.datamap.live import check_live
from pledge.policy import PolicyError, load_compiled
from pledge.subjects.identities import Identity, IdentityError, parse

app = typer.Typer(help="Check the data map of connected systems; access, erase or rectify one person.",
                  no_args_is_help=True)

DEFAULT_DATASETS = Path("datasets/panasonic")


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


DatasetsOption = Annotated[Path, typer.Option("--datasets", help="Folder of dataset annotations.")]
UrlOption = Annotated[str | None, typer.Option(
    "--url", help="Systems URL, '{dataset}' standing for each dataset (default: SQLite files under the data dir).")]
SubjectOption = Annotated[list[str], typer.Option(
    "--subject", "-s", help="An identity of the person, kind:value (email:..., customer_number:...); repeatable.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text or json")]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _categories() -> Any:
    settings = load_settings()
    try:
        return load_compiled(settings.policy_dir)
    except PolicyError:
        fail(f"the policy in {settings.policy_dir} has errors; run `pledge policy check {settings.policy_dir}`")


def _open(datasets: Path, url: str | None) -> tuple[DataMap, Systems]:
    try:
        datamap = load_datamap(datasets, _categories())
    except DatamapError as exc:
        fail(f"the data map in {datasets} has {len(exc.problems)} error(s); run `pledge datamap check {datasets}`")
    systems_url = url or default_systems_url(load_settings())
    return datamap, Systems.for_datamap(datamap, systems_url)


def _identities(datamap: DataMap, subjects: list[str]) -> list[Identity]:
    if not subjects:
        fail("give at least one --subject kind:value")
    found = []
    for text in subjects:
        try:
            identity = parse(text)
        except IdentityError as exc:
            fail(str(exc))
        if identity.kind.value not in datamap.identity_kinds:
            known = ", ".join(sorted(datamap.identity_kinds))
            fail(f"no system of the data map is searched by {identity.kind.value} (known: {known})")
        found.append(identity)
    return found


@app.command("check")
def check(
    directory: Annotated[Path, typer.Argument(help="Folder of dataset annotations.")] = DEFAULT_DATASETS,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Policy folder whose data categories the fields use (default: PLEDGE_POLICY_DIR).")] = None,
    output: FormatOption = OutputFormat.TEXT,
    url: Annotated[str | None, typer.Option(
        "--url", help="Also compare with the live databases at this systems URL: missing tables and columns, "
        "columns the map does not describe, searched fields without an index.")] = None,
) -> None:
    """Load and lint the annotations; print `path:line:col: severity: message`; exit 1 on any error."""
    policy_dir = policy or load_settings().policy_dir
    try:
        categories: Any = load_compiled(policy_dir).data_categories.keys()
    except PolicyError:
        fail(f"the policy in {policy_dir} has errors; run `pledge policy check {policy_dir}`")
    try:
        loaded = load_datamap_folder(directory)
        problems = check_datamap(loaded, categories)
        if url is not None and not any(p.severity == "error" for p in problems):
            with Systems.from_url([d.id for d in loaded.datasets], url) as systems:
                problems = sorted([*problems, *check_live(loaded, systems)],
                                  key=lambda p: (p.location.file, p.location.line, p.location.column, p.code))
    except DatamapError as exc:
        problems = exc.problems
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if output is OutputFormat.JSON:
        typer.echo(json.dumps({"errors": errors, "warnings": warnings,
                               "problems": [p.as_dict() for p in problems]}, indent=2))
    else:
        console = _console()
        for problem in problems:
            style = "red" if problem.severity == "error" else "yellow"
            console.print(f"{problem.location}: [{style}]{problem.severity}[/{style}]: {problem.message} "
                          f"\\[{problem.code}]")
        console.print(f"{directory}: {errors} error(s), {warnings} warning(s)")
    raise typer.Exit(code=1 if errors else 0)


@app.command("access")
def access_command(subject: SubjectOption, datasets: DatasetsOption = DEFAULT_DATASETS, url: UrlOption = None,
                   output: FormatOption = OutputFormat.TEXT) -> None:
    """Every row the systems hold about the person, each labelled with its data categories."""
    datamap, systems = _open(datasets, url)
    with systems:
        report = access(datamap=datamap, systems=systems, identities=_identities(datamap, subject))
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    console = _console()
    for table_rows in report.tables:
        table = Table(title=f"{table_rows.dataset_name}: {table_rows.table}")
        for f in table_rows.fields:
            table.add_column(f"{f.name}\n[dim]{', '.join(f.categories)}[/dim]", overflow="fold")
        for row in table_rows.rows:
            table.add_row(*("" if row.get(f.name) is None else str(row[f.name]) for f in table_rows.fields))
        console.print(table)
    console.print(f"{report.row_count} row(s) in {len(report.tables)} table(s); categories: "
                  f"{', '.join(report.categories) or 'none'} ({report.elapsed_ms:.1f} ms)")


@app.command("plan")
def plan_command(subject: SubjectOption, datasets: DatasetsOption = DEFAULT_DATASETS, url: UrlOption = None,
                 output: FormatOption = OutputFormat.TEXT) -> None:
    """The erasure plan (a dry run): rows deleted, anonymised or kept under a legal hold, and why."""
    datamap, systems = _open(datasets, url)
    with systems:
        plan = plan_erasure(datamap=datamap, systems=systems, identities=_identities(datamap, subject))
    typer.echo(json.dumps(plan.as_dict(), indent=2) if output is OutputFormat.JSON else plan.describe())


@app.command("erase")
def erase_command(subject: SubjectOption, datasets: DatasetsOption = DEFAULT_DATASETS, url: UrlOption = None,
                  yes: Annotated[bool, typer.Option("--yes", help="Erase without asking (after reading the plan).")]
                  = False, output: FormatOption = OutputFormat.TEXT) -> None:
    """Erase the person across every system, one transaction per database; safe to run again."""
    datamap, systems = _open(datasets, url)
    identities = _identities(datamap, subject)
    with systems:
        if not yes:
            plan = plan_erasure(datamap=datamap, systems=systems, identities=identities)
            typer.echo(plan.describe())
            if plan.is_empty:
                typer.echo("nothing to erase")
                return
            typer.confirm("Carry out this plan?", abort=True)
        result = erase(datamap=datamap, systems=systems, identities=identities)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        for db in result.databases:
            line = f"{db.status.value}: {', '.join(db.datasets)}: {db.deleted} deleted, {db.updated} anonymised"
            typer.echo(line + (f" ({db.error})" if db.error else ""))
        typer.echo(f"{result.status.value}: {result.deleted} row(s) deleted, {result.updated} anonymised, "
                   f"{result.plan.kept} kept ({result.elapsed_ms:.1f} ms)")
    if result.status is not ErasureStatus.COMPLETED:
        fail(f"erasure stopped: {result.error}; run it again to finish")


@app.command("rectify")
def rectify_command(
    attribute: Annotated[str, typer.Argument(help="What to correct, e.g. surname, email, postcode.")],
    value: Annotated[str, typer.Argument(help="The correct value.")],
    subject: SubjectOption, datasets: DatasetsOption = DEFAULT_DATASETS, url: UrlOption = None,
) -> None:
    """Write the corrected value into every field the data map says holds the attribute."""
    datamap, systems = _open(datasets, url)
    with systems:
        try:
            result = rectify(datamap=datamap, systems=systems, identities=_identities(datamap, subject),
                             attribute=attribute, value=value)
        except ValueError as exc:
            fail(str(exc))
    for f in result.fields:
        held = f" ({f.held} kept as issued under a legal hold)" if f.held else ""
        typer.echo(f"{f.dataset}.{f.table}.{f.field}: {f.rows} row(s){held}")
    if result.status is not ErasureStatus.COMPLETED:
        fail(f"rectification stopped: {result.error}; run it again to finish")
    typer.echo(f"{result.rows} row(s) corrected")


@app.command("import-fides")
def import_fides_command(
    source: Annotated[Path, typer.Argument(help="A Fides dataset YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the annotations to.")] = DEFAULT_DATASETS,
    notice: Annotated[str | None, typer.Option(
        "--notice", help="Map categories onto this notice's data categories only (default: every notice's).")] = None,
) -> None:
    """Translate Fides dataset YAML into annotations (categories via the policy's fides_categories); check them."""
    policy = _categories()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{source}: {exc.strerror or exc}")
    categories = policy.data_categories.values()
    if notice is not None:
        if notice not in policy.notices:
            fail(f"no notice {notice!r} in the policy (known: {', '.join(policy.notices)})")
        categories = [policy.data_categories[c] for c in policy.notices[notice].data_categories]
    try:
        imported = import_fides(text, {c.id: c.fides_categories for c in categories})
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        fail(f"{source}: not a Fides dataset file ({exc})")
    if not imported.datasets:
        fail(f"{source}: no 'dataset:' entries found")
    for path in imported.write(out):
        typer.echo(f"wrote {path}")
    for note in imported.notes:
        typer.echo(f"note: {note}")
    try:
        problems = check_datamap(load_datamap_folder(out), policy.data_categories.keys())
    except DatamapError as exc:
        problems = exc.problems
    for problem in problems:
        typer.echo(str(problem))
    errors = sum(1 for p in problems if p.severity == "error")
    typer.echo(f"{out}: {errors} error(s), {len(problems) - errors} warning(s)")
    raise typer.Exit(code=1 if errors else 0)
