"""`pledge demo ...`: build the seeded company's customer systems with synthetic people."""

from __future__ import annotations

from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import SQLAlchemyError

from pledge.cli.common import display_url, fail, load_settings
from pledge.datamap import default_systems_url
from pledge.demo.build import DemoBuildError, build
from pledge.demo.schema import DATASET_IDS

app = typer.Typer(help="Build the demo customer systems of the seeded company.", no_args_is_help=True)


@app.command("build")
def build_command(
    subjects: Annotated[int, typer.Option("--subjects", "-n", min=0, help="How many people to create.")] = 1000,
    url: Annotated[str | None, typer.Option(
        "--url", help="Systems URL, '{dataset}' standing for each dataset (default: SQLite files under the "
        "data dir); a PostgreSQL URL without it puts each dataset in its own schema.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed builds the same rows.")] = 0,
    processes: Annotated[int | None, typer.Option(
        "--processes", min=1, help="Processes writing datasets side by side (default: one per CPU, up to one "
        "per dataset, for large builds).")] = None,
) -> None:
    """Create (or re-create) the service databases, deterministically from the seed, with a progress bar."""
    target = url or default_systems_url(load_settings())
    console = Console(highlight=False, soft_wrap=True, stderr=True)
    columns = (TextColumn("[bold]building[/bold]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("person-datasets"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("build", total=subjects * len(DATASET_IDS))
        try:
            report = build(url=target, subjects=subjects, seed=seed, processes=processes,
                           progress=lambda n: progress.advance(task, n))
        except (DemoBuildError, SQLAlchemyError, psycopg.Error, OSError, ValueError) as exc:
            fail(f"demo build into {display_url(target)}: {str(exc).splitlines()[0]}")
    out = Console(highlight=False, soft_wrap=True)
    for dataset, location in report.locations.items():
        rows = {k.split(".", 1)[1]: v for k, v in report.rows.items() if k.startswith(f"{dataset}.")}
        out.print(f"{dataset}: {location}: " + ", ".join(f"{table} {count:,}" for table, count in rows.items()))
    out.print(f"{report.subjects:,} people, {report.total_rows:,} rows in {report.seconds:.1f} s "
              f"({report.persons_per_second:,.0f} people/s), seed {report.seed}")
