"""Reports from the command line: ``tessera report TENANT --from --to``, the same numbers as
``GET /api/admin/reports/traffic`` (both read ``publish.analytics.traffic``)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import click
from rich.table import Table
from rich.text import Text

from .base import Context, console, handle_errors, main, pass_ctx

# (key in the report, title, columns): every table ``traffic`` returns.
TABLES = (
    ("days", "Views and visitors per day", ("day", "views", "visitors")),
    ("pages", "Top pages", ("path", "views", "visitors")),
    ("referrers", "Referrers", ("host", "views")),
    ("devices", "Devices", ("device", "views")),
    ("browsers", "Browsers", ("browser", "views")),
    ("countries", "Countries", ("country", "views")),
)


@main.command("report")
@click.argument("tenant_slug", metavar="TENANT")
@click.option("--from", "since", metavar="YYYY-MM-DD", help="First day (UTC); default: 29 days before --to.")
@click.option("--to", "until", metavar="YYYY-MM-DD", help="Last day (UTC), included; default: today.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Rows in each top list (pages, referrers, ...).")
@click.option("--csv", "as_csv", is_flag=True,
              help="Print CSV instead of tables: one row per line of every table, its name first.")
@pass_ctx
@handle_errors
def report_command(ctx: Context, tenant_slug: str, since: str | None, until: str | None, limit: int,
                   as_csv: bool) -> None:
    """Print a site's traffic: views and visitors per day, top pages, referrers, devices, browsers, countries.

    Visitors are unique within a day (no cookies: a daily keyed hash); over a range they add up the days.
    """
    from publish.analytics import traffic
    from publish.analytics.rollups import report_range

    tenant = ctx.tenants.registry.get(tenant_slug)
    if not tenant.has("analytics"):
        raise click.ClickException(f"{tenant_slug} counts no traffic (the analytics feature is off); turn it on "
                                   f"with `tessera tenant update {tenant_slug} --features "
                                   f"{','.join(sorted(tenant.features | {'analytics'}))}`")
    start, end = report_range(since, until, today=datetime.now(timezone.utc).date())
    conn = ctx.tenants.open_db(tenant_slug)
    try:
        report = traffic(conn, start, end, limit=limit)
    finally:
        conn.close()
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["table", "key", "views", "visitors"])
        for key, _, columns in TABLES:
            for row in report[key]:
                writer.writerow([key, row[columns[0]], row["views"], row.get("visitors", "")])
        click.echo(out.getvalue(), nl=False)
        return
    totals = report["totals"]
    console.print(Text(f"{tenant.name}: {totals['views']} views, {totals['visitors']} visitors "
                       f"from {report['from']} to {report['to']} (UTC)"))
    for key, title, columns in TABLES:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, justify="right" if column in ("views", "visitors") else "left")
        for row in report[key]:
            table.add_row(*(Text(str(row[c])) for c in columns))
        if not report[key]:
            table.add_row(Text("none yet"), *([""] * (len(columns) - 1)))
        console.print(table)
