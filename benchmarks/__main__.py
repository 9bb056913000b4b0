"""`make bench`: run every ``benchmarks/bench_*.py`` module's ``run()`` and print one table.

A benchmark module defines ``run() -> Iterable[Mapping[str, object]]``; each mapping is one figure:

- ``name`` (required): what was measured, e.g. ``decide: median single decision``;
- ``value`` (required): the figure, a number or a string;
- ``unit``: e.g. ``µs``, ``s``, ``x``;
- ``target``: the figure it should meet, as text, e.g. ``<= 5 µs``;
- ``met``: True or False when there is a target;
- ``detail``: how it was measured (sizes, policy, machine notes).

``python -m benchmarks decisions`` runs only the modules whose name contains ``decisions``.
Benchmarks are never asserted in tests. A figure that misses its target is marked in the table;
the exit status is 1 only when a benchmark module fails to run.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
#: The last run's table as Markdown, for BENCHMARKS.md.
LATEST = HERE.parent / "var" / "bench-latest.md"


def discover(filters: Iterable[str] = ()) -> list[str]:
    """Module names of the benchmarks, in file-name order, filtered by substrings."""
    wanted = list(filters)
    names = [path.stem for path in sorted(HERE.glob("bench_*.py"))]
    return [name for name in names if not wanted or any(word in name for word in wanted)]


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: list[str]) -> int:
    console = Console()
    root = str(HERE.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    table = Table(title="pledge benchmarks", show_lines=False)
    for column in ("benchmark", "measure", "value", "target", "met", "detail"):
        table.add_column(column, overflow="fold", justify="right" if column == "value" else "left")
    failed = False
    markdown = ["| benchmark | measure | value | target | met | detail |", "|---|---|---:|---|---|---|"]
    for name in discover(argv):
        started = time.perf_counter()
        console.print(f"[dim]running {name} ...[/dim]")
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            rows: list[Mapping[str, object]] = list(module.run())
        except Exception:
            console.print(f"[red]{name} failed[/red]\n{traceback.format_exc()}")
            failed = True
            continue
        for row in rows:
            met = row.get("met")
            value = f"{_format(row['value'])} {row.get('unit', '')}".strip()
            table.add_row(name.removeprefix("bench_"), str(row["name"]), value, str(row.get("target", "")),
                          "" if met is None else ("[green]yes[/green]" if met else "[red]no[/red]"),
                          str(row.get("detail", "")))
            cells = [name.removeprefix("bench_"), str(row["name"]), value, str(row.get("target", "")),
                     "" if met is None else ("yes" if met else "**no**"), str(row.get("detail", ""))]
            markdown.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
        console.print(f"[dim]{name} took {time.perf_counter() - started:.1f} s[/dim]")
    console.print(table)
    LATEST.parent.mkdir(parents=True, exist_ok=True)
    LATEST.write_text("\n".join(markdown) + "\n", encoding="utf-8")
    console.print(f"[dim]the same table as Markdown: {LATEST} (paste it into BENCHMARKS.md)[/dim]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
