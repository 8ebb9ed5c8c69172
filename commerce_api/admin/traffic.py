"""Reports → Traffic: views and visitors per day with the days a deploy went live marked, top pages,
products viewed, referrers, devices, browsers and countries, on a page and as CSV per table.

The numbers are ``publish.analytics.traffic``'s, the same as the API's and ``tessera report``'s."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get

from publish.analytics import traffic

from ..security import services_of
from . import traffic_queries
from .charts import Series, daily, short_day
from .common import page, repo_of, who
from .report_common import Span, csv_response, span_of, table_of, visible
from .tax import NAMES

TRAFFIC = {"action": "analytics:read", "feature": "analytics"}
TOP = 20  # rows of each table on the page
CSV_ROWS = 1000  # rows of each table in a download
TABLES = ("days", "pages", "products", "referrers", "devices", "browsers", "countries", "deploys")
EMPTY = "No visits recorded yet — views appear within a few seconds of someone opening the site."


def _load(request: Request, span: Span, limit: int) -> dict[str, Any]:
    tenant = who(request).tenant
    with services_of(request).databases.connection(tenant.slug) as conn:
        report = traffic(conn, span.since, span.until, limit=limit)
        report["products"] = (traffic_queries.products_viewed(conn, span.since, span.until, limit=limit)
                              if tenant.has("ecommerce") else [])
        shipped = traffic_queries.deploys(conn, span.since, span.until)
    subjects = traffic_queries.commit_messages(repo_of(request), [d["commit_sha"] for d in shipped])
    for deploy in shipped:
        deploy["short"] = deploy["commit_sha"][:7]
        deploy["message"] = subjects.get(deploy["commit_sha"], "")
    report["deploys"] = shipped
    return report


def deploy_words(deploy: dict[str, Any]) -> str:
    """3 Nov — published 1a2b3c4: New home page (or "rolled back to" for a rollback)."""
    what = "rolled back to" if deploy["rollback_of"] else "published"
    message = f": {deploy['message']}" if deploy["message"] else ""
    return f"{short_day(deploy['day'])} — {what} {deploy['short']}{message}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def country_name(code: str) -> str:
    return f"{NAMES[code]} ({code})" if code in NAMES else code


@get("/admin/reports/traffic", opt=TRAFFIC, sync_to_thread=True, include_in_schema=False)
def traffic_report(request: Request) -> Response:
    span = span_of(request)
    report = _load(request, span, TOP)
    chart = None
    marks: dict[str, str] = {}
    for deploy in report["deploys"]:
        marks.setdefault(deploy["day"], deploy_words(deploy))
    if report["totals"]["views"]:
        busiest = max(report["days"], key=lambda d: d["views"])
        totals = report["totals"]
        summary = (f"{plural(totals['views'], 'view')} by {plural(totals['visitors'], 'visitor')} over {span.words()}; "
                   f"the busiest day was {date.fromisoformat(busiest['day']):%-d %b} with "
                   f"{plural(busiest['views'], 'view')}"
                   + (f"; {plural(len(report['deploys']), 'deploy')} went live." if report["deploys"] else "."))
        chart = daily("traffic-chart", span.days, Series("Views", [d["views"] for d in report["days"]]),
                      line=Series("Visitors", [d["visitors"] for d in report["days"]]), marks=marks,
                      title=f"Views and visitors per day, {span.words()}", summary=summary)
    else:
        summary = EMPTY
    return page(request, "traffic_report.html", title="Traffic", section="reports", sub="traffic",
                reports=visible(who(request)), span=span, report=report, chart=chart, summary=summary, empty=EMPTY,
                marks=marks, deploy_words=deploy_words, short_day=short_day,
                tables=_tables(report, shop=who(request).tenant.has("ecommerce")))


def _tables(report: dict[str, Any], *, shop: bool) -> list[tuple[str, str, list[tuple[str, bool]], list[tuple]]]:
    """(id, heading, columns as (label, numeric), rows) of the tables under the chart; each id is
    also the CSV's ``table``."""
    views = [("Views", True)]
    tables = [("pages", "Top pages", [("Page", False), *views, ("Visitors", True)],
               [(r["path"], r["views"], r["visitors"]) for r in report["pages"]])]
    if shop:
        tables.append(("products", "Products viewed", [("Product", False), *views, ("Visitors", True)],
                       [(r["name"], r["views"], r["visitors"]) for r in report["products"]]))
    tables += [
        ("referrers", "Referrers", [("Came from", False), *views], [(r["host"], r["views"]) for r in report["referrers"]]),
        ("devices", "Devices", [("Device", False), *views], [(r["device"], r["views"]) for r in report["devices"]]),
        ("browsers", "Browsers", [("Browser", False), *views], [(r["browser"], r["views"]) for r in report["browsers"]]),
        ("countries", "Countries", [("Country", False), *views],
         [(country_name(r["country"]), r["views"]) for r in report["countries"]]),
    ]
    return tables


@get("/admin/reports/traffic.csv", opt=TRAFFIC, sync_to_thread=True, include_in_schema=False)
def traffic_csv(request: Request) -> Response:
    table = table_of(request, TABLES)
    span = span_of(request)
    report = _load(request, span, CSV_ROWS)
    marks = {d["day"] for d in report["deploys"]}
    header, rows = {
        "days": (["day", "views", "visitors", "deploy"],
                 [(d["day"], d["views"], d["visitors"], "yes" if d["day"] in marks else "") for d in report["days"]]),
        "pages": (["path", "views", "visitors"], [(r["path"], r["views"], r["visitors"]) for r in report["pages"]]),
        "products": (["product", "name", "views", "visitors"],
                     [(r["product"], r["name"], r["views"], r["visitors"]) for r in report["products"]]),
        "referrers": (["referrer", "views"], [(r["host"], r["views"]) for r in report["referrers"]]),
        "devices": (["device", "views"], [(r["device"], r["views"]) for r in report["devices"]]),
        "browsers": (["browser", "views"], [(r["browser"], r["views"]) for r in report["browsers"]]),
        "countries": (["country", "views"], [(r["country"], r["views"]) for r in report["countries"]]),
        "deploys": (["day", "finished_at", "deploy", "commit", "message", "rollback_of"],
                    [(d["day"], d["finished_at"], d["id"], d["commit_sha"], d["message"], d["rollback_of"] or "")
                     for d in report["deploys"]]),
    }[table]
    return csv_response(f"traffic-{table}-{span.since}-{span.until}.csv", header, rows)


ROUTES = [traffic_report, traffic_csv]
