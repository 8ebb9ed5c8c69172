"""Settings: the site (name, theme, colours, logo, payment instructions: a commit to site.yaml),
domains (the DNS record to create, verify, primary) and payments (Stripe keys are write-only).
Shipping and tax have pages of their own (shipping.py, tax.py): this form never writes them."""

from __future__ import annotations

import re
from typing import Any

import yaml
from litestar import Request, Response, get, post

from content.colours import problems as colour_problems
from content.errors import RegistryError
from content.plans import LimitReached
from publish.domains import DomainError, add_domain, challenge, remove_domain, resolver_for, verify

from ..security import services_of
from ..shop.payments import StripeKeys, mask, seal_payments, stripe_keys
from .common import Form, Rejected, back, commit, media_names, page, repo_of, text, who

COLOURS = ("primary", "accent", "background", "text")
UNSET_COLOUR = "#000000"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _site(request: Request) -> dict[str, Any]:
    data = repo_of(request).read("site.yaml")
    return (yaml.safe_load(data) if data else None) or {}


def _themes(request: Request) -> list[str]:
    root = services_of(request).config.themes_dir
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "base") if root else []


def _shown(payments: dict, secret_key: str) -> dict:
    """What the page may show of the payment settings: the provider and masked keys, never the keys."""
    keys = stripe_keys(payments, secret_key)
    masked = payments.get("masked") or ({"secret": mask(keys.secret_key), "webhook": mask(keys.webhook_secret)}
                                        if keys else {})
    return {"provider": payments.get("provider", "manual"), "secret": masked.get("secret", ""),
            "webhook": masked.get("webhook", ""), "unreadable": payments.get("provider") == "stripe" and keys is None}


@get("/admin/settings", opt={"action": "settings:read"}, sync_to_thread=True, include_in_schema=False)
def settings_page(request: Request) -> Response:
    member = who(request)
    services = services_of(request)
    site = _site(request)
    media = media_names(request)
    theme_settings = site.get("theme_settings") or {}
    payments = (member.tenant.settings or {}).get("payments") or {}
    domains = [{"name": d.name, "primary": d.is_primary, "verified": bool(d.verified_at), "record": challenge(d)}
               for d in services.db.registry.domains(member.tenant.slug)] if member.can("domains:read") else []
    return page(request, "settings.html", title="Settings", section="settings", sub="site", site=site,
                themes=_themes(request), colours={c: (theme_settings.get("colors") or {}).get(c, "") for c in COLOURS},
                logo=theme_settings.get("logo", ""), media=media, domains=domains,
                payments=_shown(payments, services.config.secret_key),
                subdomain=f"{member.tenant.slug}.{services.config.base_domain}",
                can_write=member.can("settings:write"), can_domains=member.can("domains:write"))


@post("/admin/settings/site", opt={"action": "settings:write"}, sync_to_thread=True, include_in_schema=False)
def save_site(request: Request, data: Form) -> Response:
    site = _site(request)
    for key in ("name", "tagline", "description", "payment_instructions"):
        if value := text(data, key):
            site[key] = value
        else:
            site.pop(key, None)
    theme = text(data, "theme")
    if theme and theme not in _themes(request):
        return back(request, "/settings", error=f"There is no theme called {theme}.")
    site["theme"] = theme or site.get("theme", "storefront")
    theme_settings = site.setdefault("theme_settings", {})
    colours = theme_settings.setdefault("colors", {})
    for name in COLOURS:
        value = text(data, f"colour_{name}")
        if value and not _HEX.match(value):
            return back(request, "/settings", error=f"The {name} colour must look like #7a3e12.")
        # An unset colour shows as black in the picker; sending it back unchanged keeps the theme's own.
        if value and not (value.lower() == UNSET_COLOUR and name not in colours):
            colours[name] = value
    unreadable = colour_problems(colours)
    if unreadable:
        return back(request, "/settings", error="Not saved: " + "; ".join(unreadable) + ".")
    if logo := text(data, "logo"):
        theme_settings["logo"] = logo
    else:
        theme_settings.pop("logo", None)
    new = yaml.safe_dump(site, sort_keys=False, allow_unicode=True, width=100).encode()
    try:
        commit(request, {"site.yaml": new}, text(data, "message") or "Update site settings")
    except Rejected as exc:
        return back(request, "/settings", error="Not saved: " + "; ".join(exc.errors or ["someone saved at the same moment"]))
    return back(request, "/settings", saved="Site settings saved. Publish to put them live.")


@post("/admin/settings/domains", opt={"action": "domains:write"}, sync_to_thread=True, include_in_schema=False)
def domains(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    registry = services.db.registry
    action, name = text(data, "action"), text(data, "domain").lower()
    try:
        if action == "add":
            added = add_domain(registry, member.tenant.slug, name, services.config.base_domain,
                               admin_host=services.config.admin_host)
            message = f"Added {added.name}. Create the TXT record shown, then press Verify."
        elif action == "verify":
            checked = verify(registry, member.tenant.slug, name, resolver_for(services.config.dns_resolver))
            message = f"{name} is verified: point it at {member.tenant.slug}.{services.config.base_domain} (CNAME)."
            if checked.is_primary:
                message += _republish(services, member)
        elif action == "primary":
            registry.set_primary(member.tenant.slug, name)
            message = f"{name} is now the primary domain." + _republish(services, member)
        elif action == "remove":
            removed = remove_domain(registry, member.tenant.slug, name)
            message = f"Removed {name}."
            if removed.is_primary and removed.verified_at:  # the subdomain is the site's address again
                message += _republish(services, member)
        else:
            return back(request, "/settings", error="Unknown domain action.")
    except (RegistryError, DomainError, LimitReached) as exc:
        return back(request, "/settings#domains", error=str(exc))
    services.audit.record(f"domain.{action}", actor=member.user.id, tenant_id=member.tenant.id, domain=name)
    return back(request, "/settings#domains", saved=message)


def _republish(services, member) -> str:
    """Canonical URLs, the sitemap and feeds name the primary domain: publish again to follow it."""
    job = services.queue.enqueue(member.tenant.slug, actor=member.user.email)
    return f" Republishing with it as the site's address (job {job.id})."


@post("/admin/settings/payments", opt={"action": "settings:write", "feature": "ecommerce"}, sync_to_thread=True,
      include_in_schema=False)
def payments(request: Request, data: Form) -> Response:
    member = who(request)
    services = services_of(request)
    current = (member.tenant.settings or {}).get("payments") or {}
    provider = text(data, "provider")
    if provider not in ("manual", "stripe"):
        return back(request, "/settings#payments", error="Choose manual or Stripe payments.")
    keys = None
    if provider == "stripe":
        # Blank fields keep the keys already saved: they are never sent back to the browser.
        saved = stripe_keys(current, services.config.secret_key)
        secret = text(data, "stripe_secret_key") or (saved.secret_key if saved else "")
        webhook = text(data, "stripe_webhook_secret") or (saved.webhook_secret if saved else "")
        if not secret.startswith(("sk_", "rk_")) or not webhook.startswith("whsec_"):
            return back(request, "/settings#payments", error="Stripe needs a secret key starting sk_ (or rk_) and a "
                                                          "webhook signing secret starting whsec_.")
        keys = StripeKeys(secret, webhook)
    services.db.registry.update(member.tenant.slug,
                                settings={"payments": seal_payments(services.config.secret_key, provider, keys)})
    services.audit.record("payments.changed", actor=member.user.id, tenant_id=member.tenant.id, provider=provider)
    return back(request, "/settings#payments", saved=f"Payments: {'Stripe' if provider == 'stripe' else 'manual'}.")


ROUTES = [settings_page, save_site, domains, payments]
