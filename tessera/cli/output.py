"""Listings for people and for scripts: a table on a terminal, every value in full when piped, JSON with --json.

A table squeezed to 80 columns cuts commit ids, paths and names, so piped output is tab-separated
text (one header line, one line per row) with nothing shortened. Values are never read as Rich
markup: a tenant's name like "[red]" or "[/]" is text, not a style (or a crash).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import click
from rich.table import Table
from rich.text import Text

from .base import console

Row = Mapping[str, Any]

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of a table: every value in full, for scripts.")


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Row], Any]  # the full value
    short: Callable[[Row], Any] | None = None  # what a terminal shows instead (a commit's first characters)


def column(title: str, key: str | None = None, *, short: int | None = None) -> Column:
    """A column showing ``row[key]`` (``key`` defaults to ``title``); ``short`` cuts it on a terminal only."""
    key = key or title

    def cut(row: Row) -> Any:
        value = row.get(key)
        return value[:short] if isinstance(value, str) else value

    return Column(title, lambda row: row.get(key), cut if short else None)


def on_terminal() -> bool:
    return console.is_terminal


def text(value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return "yes"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(text(v) for v in value)
    return str(value)


def _cell(value: Any) -> str:
    # One row per line and one column per tab, whatever a value holds (a job's log, say).
    return " ".join(text(value).split("\t")).replace("\r", " ").replace("\n", " ")


def show_rows(columns: Sequence[Column], rows: Iterable[Row], *, as_json: bool, empty: str | None = None) -> None:
    """Print ``rows``: JSON (the rows as they are), tab-separated full values when piped, else a table."""
    rows = list(rows)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    if not on_terminal():
        click.echo("\t".join(c.title for c in columns))
        for row in rows:
            click.echo("\t".join(_cell(c.value(row)) for c in columns))
        return
    if not rows and empty:
        console.print(Text(empty))
        return
    table = Table(*(c.title for c in columns))
    for row in rows:
        table.add_row(*(Text(text((c.short or c.value)(row))) for c in columns))
    console.print(table)


def show_record(record: Row, *, as_json: bool) -> None:
    """Print one record as ``field  value`` lines (tab-separated when piped), or as JSON."""
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False, default=str))
        return
    if not on_terminal():
        for key, value in record.items():
            click.echo(f"{key}\t{_cell(value)}")
        return
    table = Table(show_header=False, box=None)
    for key, value in record.items():
        table.add_row(Text(key), Text(text(value) or "(none)"))
    console.print(table)
