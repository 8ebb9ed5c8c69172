"""Settings → Tax: where the shop sells from, whether prices include tax, the EU one-stop shop, tax on
delivery and the tax's name, written to site.yaml's ``tax:`` (a commit, checked like every save);
and the dated starter VAT table, so that nobody mistakes it for advice.

Keys the form does not show (``rates``, and the legacy ``rate`` once an origin is set) are kept
as the file has them; keys at their default are not added to a file that did not have them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml
from litestar import Request, Response, get, post

from content import eu_vat

from .common import Form, Rejected, back, commit, page, repo_of, text, values, who

SHOP = {"feature": "ecommerce"}
# The countries of the starter table, by name: the origin select offers these and any country the
# site has its own rates for.
NAMES = {"AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany",
         "DK": "Denmark", "EE": "Estonia", "ES": "Spain", "FI": "Finland", "FR": "France", "GR": "Greece",
         "HR": "Croatia", "HU": "Hungary", "IE": "Ireland", "IT": "Italy", "LT": "Lithuania", "LU": "Luxembourg",
         "LV": "Latvia", "MT": "Malta", "NL": "Netherlands", "PL": "Poland", "PT": "Portugal", "RO": "Romania",
         "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia", "GB": "United Kingdom", "NO": "Norway",
         "CH": "Switzerland"}
DEFAULTS = {"oss": False, "shipping": True}
_PERCENT = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,4})?$")


def _site(request: Request) -> dict[str, Any]:
    data = repo_of(request).read("site.yaml")
    loaded = yaml.safe_load(data) if data else None
    return loaded if isinstance(loaded, dict) else {}


def _tax(site: dict[str, Any]) -> dict[str, Any]:
    return dict(site["tax"]) if isinstance(site.get("tax"), dict) else {}


def fields_of(tax: dict[str, Any]) -> dict[str, Any]:
    """The form's values from site.yaml's ``tax:`` (the legacy ``inclusive`` counts as prices include tax)."""
    inclusive = tax.get("prices_include_tax", tax.get("inclusive", True))
    return {"origin": str(tax.get("origin") or "").upper(), "prices_include_tax": inclusive is not False,
            "oss": tax.get("oss") is True, "shipping": tax.get("shipping", True) is not False,
            "label": str(tax.get("label") or "VAT"), "rate": "" if tax.get("rate") is None else str(tax.get("rate"))}


def countries(tax: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, "Germany (EU)") for the origin select: the starter table's countries and the site's own."""
    own = [str(k).upper() for k in (tax.get("rates") or {}) if isinstance(tax.get("rates"), dict) and "-" not in str(k)]
    current = [str(tax["origin"]).upper()] if tax.get("origin") else []
    codes = sorted({*NAMES, *own, *current}, key=lambda c: NAMES.get(c, c))
    return [(c, f"{NAMES.get(c, c)}{' (EU)' if c in eu_vat.EU else ''}") for c in codes]


def as_of() -> str:
    moment = date.fromisoformat(eu_vat.AS_OF)
    return f"{moment.day} {moment:%B %Y}"


def _page(request: Request, http_status: int = 200, *, fields: dict[str, Any] | None = None,
          errors: list[str] | None = None) -> Response:
    tax = _tax(_site(request))
    rates = tax.get("rates") if isinstance(tax.get("rates"), dict) else {}
    return page(request, "settings_tax.html", http_status, title="Tax", section="settings", sub="tax",
                fields=fields or fields_of(tax), countries=countries(tax), errors=errors or [],
                eu=sorted(eu_vat.EU), table=eu_vat.table(), as_of=as_of(), names=NAMES,
                own_rates=[(str(k), v if isinstance(v, dict) else {"standard": v}) for k, v in rates.items()],
                can_write=who(request).can("settings:write"))


@get("/admin/settings/tax", opt={"action": "settings:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def tax_page(request: Request) -> Response:
    return _page(request)


@post("/admin/settings/tax/save", opt={"action": "settings:write", **SHOP}, sync_to_thread=True, include_in_schema=False)
def save_tax(request: Request, data: Form) -> Response:
    site = _site(request)
    tax = _tax(site)
    sent = {"origin": text(data, "origin").upper(), "prices_include_tax": bool(values(data, "prices_include_tax")),
            "oss": bool(values(data, "oss")), "shipping": bool(values(data, "shipping")),
            "label": text(data, "label"), "rate": text(data, "rate")}
    problems = []
    if sent["origin"] and sent["origin"] not in dict(countries(tax)):
        problems.append(f"Origin: choose a country from the list (for {sent['origin']}, add its rates under "
                        "tax.rates in site.yaml first)")
    if sent["rate"] and _number(sent["rate"]) is None:
        problems.append("One rate for everything: a percentage from 0 to 100, such as 20 or 5.5")
    if len(sent["label"]) > 40:
        problems.append("Name of the tax: at most 40 characters, e.g. VAT, GST or Sales tax")
    if problems:
        return _page(request, 422, fields=sent, errors=problems)
    site["tax"] = updated(tax, sent)
    new = yaml.safe_dump(site, sort_keys=False, allow_unicode=True, width=100).encode()
    try:
        commit(request, {"site.yaml": new}, text(data, "message") or "Update tax settings")
    except Rejected as exc:
        return _page(request, exc.status, fields=sent,
                     errors=exc.errors or ["Someone saved the settings at the same moment: check them and save again."])
    return back(request, "/settings/tax", saved="Tax settings saved. Publish to put them live.")


def updated(tax: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """site.yaml's ``tax:`` with the form's values: the key for inclusive prices the file already uses,
    ``oss`` and ``shipping`` only when set away from their default or already written, ``rates`` kept."""
    result = dict(tax)
    result["label"] = sent["label"] or "VAT"
    key = "inclusive" if "inclusive" in tax and "prices_include_tax" not in tax else "prices_include_tax"
    result[key] = sent["prices_include_tax"]
    if sent["origin"]:
        result["origin"] = sent["origin"]
    else:
        result.pop("origin", None)
    for name, default in DEFAULTS.items():
        if sent[name] != default or name in tax:
            result[name] = sent[name]
    if sent["rate"]:
        result["rate"] = _number(sent["rate"])
    else:
        result.pop("rate", None)
    return result


def _number(value: str) -> int | float | None:
    """A percentage as typed ("20", "5.5"), or None for anything else (words, "nan", 120)."""
    if not _PERCENT.match(value) or float(value) > 100:
        return None
    return int(value) if value.isdigit() else float(value)


ROUTES = [tax_page, save_tax]
