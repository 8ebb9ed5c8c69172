"""Settings → Shipping: shipping.yaml edited as text beside a summary of what it offers, saved as a
commit after the content check; for a shop still on site.yaml's flat rate, those fields and a button
that writes the same rules out as a shipping.yaml (and drops the flat rate from site.yaml, in one
commit). A refused save shows its errors by line and keeps every character the person typed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from litestar import Request, Response, get, post

from . import shipping_summary
from .common import Form, Rejected, back, commit, page, repo_of, save_base, text, who

SHOP = {"feature": "ecommerce"}
PATH = shipping_summary.PATH


def _site(request: Request) -> dict[str, Any]:
    data = repo_of(request).read("site.yaml")
    loaded = yaml.safe_load(data) if data else None
    return loaded if isinstance(loaded, dict) else {}


def _page(request: Request, http_status: int = 200, *, yaml_text: str | None = None, errors: list[str] | None = None,
          conflict: dict | None = None, base: str = "", message: str = "", legacy_form: dict | None = None) -> Response:
    """The page. ``yaml_text`` is what the text box holds: the saved file, or what was sent."""
    repo = repo_of(request)
    site = _site(request)
    saved = repo.read(PATH)
    currency = str(site.get("currency") or "EUR").upper()
    saved_text = saved.decode(errors="replace") if saved is not None else None
    data = shipping_summary.load(saved_text) if saved_text is not None else None
    shown = yaml_text if yaml_text is not None else (saved_text or "")
    legacy = site.get("shipping") if isinstance(site.get("shipping"), Mapping) else {}
    return page(request, "settings_shipping.html", http_status, title="Shipping", section="settings", sub="shipping",
                has_file=saved is not None or yaml_text is not None, yaml_text=shown,
                summary=shipping_summary.summary(data, currency) if data is not None else None,
                unreadable=saved_text is not None and data is None,
                errors=shipping_summary.readable_errors(errors or [], shown), conflict=conflict,
                base=base or repo.head() or "", message=message or f"Update {PATH}", currency=currency,
                legacy=legacy_form or {"flat_rate": _text(legacy.get("flat_rate")),
                                       "free_over": _text(legacy.get("free_over")),
                                       "countries": ", ".join(map(str, legacy.get("countries") or []))},
                can_write=who(request).can("settings:write"))


@get("/admin/settings/shipping", opt={"action": "settings:read", **SHOP}, sync_to_thread=True, include_in_schema=False)
def shipping_page(request: Request) -> Response:
    return _page(request)


@post("/admin/settings/shipping/save", opt={"action": "settings:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def save_shipping(request: Request, data: Form) -> Response:
    """Save the text box as shipping.yaml. Whatever is refused comes back in the text box as sent."""
    sent = str(data.get("yaml", "")).replace("\r\n", "\n")
    message = text(data, "message") or f"Update {PATH}"
    if not sent.strip():
        return _page(request, 422, yaml_text=sent, base=text(data, "base"), message=message,
                     errors=[f"{PATH}: is empty: write at least one zone (see the format), or keep the file as it is"])
    if problems := shipping_summary.syntax_errors(sent):
        return _page(request, 422, yaml_text=sent, errors=problems, base=text(data, "base"), message=message)
    body = sent if sent.endswith("\n") else sent + "\n"
    changes: dict[str, bytes | None] = {PATH: body.encode()}
    site = _site(request)
    if "shipping" in site:  # both is an error: the file replaces the flat rate
        changes["site.yaml"] = _without_shipping(request)
    try:
        commit(request, changes, message, save_base(data))
    except Rejected as exc:
        return _page(request, exc.status, yaml_text=sent, errors=exc.errors, conflict=exc.conflict,
                     base=text(data, "base"), message=message)
    return back(request, "/settings/shipping", saved="Shipping saved. Publish to put it live.")


@post("/admin/settings/shipping/flat-rate", opt={"action": "settings:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def save_flat_rate(request: Request, data: Form) -> Response:
    """The legacy fields (a shop without shipping.yaml): flat rate, free over, countries, in site.yaml."""
    form = {"flat_rate": text(data, "flat_rate"), "free_over": text(data, "free_over"),
            "countries": text(data, "countries")}
    site = _site(request)
    site["shipping"] = {k: v for k, v in {
        "flat_rate": form["flat_rate"], "free_over": form["free_over"],
        "countries": [c.strip().upper() for c in form["countries"].split(",") if c.strip()]}.items() if v}
    new = yaml.safe_dump(site, sort_keys=False, allow_unicode=True, width=100).encode()
    try:
        commit(request, {"site.yaml": new}, text(data, "message") or "Update the flat shipping rate")
    except Rejected as exc:
        return _page(request, exc.status, legacy_form=form,
                     errors=exc.errors or ["Someone saved the settings at the same moment: check them and save again."])
    return back(request, "/settings/shipping", saved="Flat rate saved. Publish to put it live.")


@post("/admin/settings/shipping/start", opt={"action": "settings:write", **SHOP}, sync_to_thread=True,
      include_in_schema=False)
def start_zones(request: Request, data: Form) -> Response:
    """Write the flat rate out as shipping.yaml and drop it from site.yaml, in one commit. Should the
    check refuse it, the proposed file waits in the text box, unsaved, with the errors."""
    repo = repo_of(request)
    if repo.read(PATH) is not None:
        return back(request, "/settings/shipping", error=f"{PATH} exists already: edit it here.")
    site = _site(request)
    new = shipping_summary.from_legacy(site, country=_home_country(site))
    try:
        commit(request, {PATH: new, "site.yaml": _without_shipping(request)},
               "Start shipping zones from the flat rate", text(data, "base") or None)
    except Rejected as exc:
        return _page(request, exc.status, yaml_text=new.decode(), conflict=exc.conflict, base=text(data, "base"),
                     errors=exc.errors or ["Someone saved the settings at the same moment: press the button again."])
    return back(request, "/settings/shipping", saved=f"Zones started in {PATH} with the flat rate. Collection from "
                                                     "the shop is off until you give it an address and opening hours "
                                                     "(an example is in the file). Publish to put it live.")


def _home_country(site: dict[str, Any]) -> str | None:
    """Where a collection from the shop is taxed: the tax origin, else the one country shipped to."""
    tax = site.get("tax") if isinstance(site.get("tax"), dict) else {}
    if isinstance(tax.get("origin"), str) and tax["origin"].strip():
        return tax["origin"].strip().upper()
    shipping = site.get("shipping") if isinstance(site.get("shipping"), dict) else {}
    countries = [str(c).upper() for c in shipping.get("countries") or [] if str(c) != "*"]
    return countries[0] if len(countries) == 1 else None


def _without_shipping(request: Request) -> bytes:
    """site.yaml without its ``shipping:`` block, every other key as it was."""
    site = _site(request)
    site.pop("shipping", None)
    return yaml.safe_dump(site, sort_keys=False, allow_unicode=True, width=100).encode()


def _text(value: object) -> str:
    return "" if value is None else str(value)


ROUTES = [shipping_page, save_shipping, save_flat_rate, start_zones]
