"""What the admin's templates share beyond common.py: status words to badge tones, the stylesheet's
and sprite's fingerprinted URLs, and the count of changes saved but not yet published."""

from __future__ import annotations

import sqlite3

from litestar import Request

from content.gitrepo import REF

from ..security import Principal, principal_of, require_tenant, services_of
from .assets import asset_url
from . import report_common
from .common import ENV, repo_of

# One place for what each status word means at a glance. Tones: ok (done, healthy), warn (needs
# someone soon), bad (failed, off), info (under way), muted (over, inactive).
TONES: dict[str, dict[str, str]] = {
    "order": {"pending": "warn", "processing": "info", "shipped": "ok", "delivered": "ok", "cancelled": "muted",
              "refunded": "muted"},
    "payment": {"pending": "warn", "paid": "ok", "failed": "bad", "partially_refunded": "info", "refunded": "muted"},
    "deploy": {"running": "info", "live": "ok", "failed": "bad", "superseded": "muted"},
    "job": {"queued": "muted", "running": "info", "done": "ok", "failed": "bad"},
    "discount": {"active": "ok", "paused": "muted"},
    "giftcard": {"active": "ok", "disabled": "muted", "expired": "muted", "used": "muted"},
    "page": {"published": "ok", "scheduled": "info", "draft": "warn", "archived": "muted"},
    "message": {"new": "info", "read": "muted", "archived": "muted"},
    "webhook": {"on": "ok", "off": "bad"},
    "tenant": {"active": "ok", "trial": "info", "suspended": "bad"},
}


# The sidebar: (group, [(permission, path, section key, label, icon)]). An empty permission: everyone
# signed in; "reports": whoever may open at least one report (the entry opens the first of them).
MENU: list[tuple[str, list[tuple[str, str, str, str, str]]]] = [
    ("", [("", "/", "dashboard", "Dashboard", "layout-dashboard")]),
    ("Content", [("pages:read", "/pages", "pages", "Pages and posts", "file-text"),
                 ("media:read", "/media", "media", "Media", "image"),
                 ("forms:read", "/inbox", "inbox", "Inbox", "inbox")]),
    ("Shop", [("products:read", "/products", "products", "Products", "package"),
              ("orders:read", "/orders", "orders", "Orders", "shopping-cart"),
              ("discounts:read", "/discounts", "discounts", "Discounts", "percent"),
              ("orders:read", "/gift-cards", "gift-cards", "Gift cards", "gift"),
              ("reports", "", "reports", "Reports", "chart-column")]),
    ("Settings", [("publish", "/deploys", "deploys", "Deploys", "rocket"),
                  ("notifications:read", "/notifications", "notifications", "Notifications", "bell"),
                  ("users:read", "/users", "users", "Users", "users"),
                  ("webhooks:read", "/webhooks", "webhooks", "Webhooks", "webhook"),
                  ("settings:read", "/settings", "settings", "Settings", "settings")]),
    ("", [("", "/tokens", "tokens", "Your account", "user"), ("superadmin", "/tenants", "tenants", "Tenants", "building-2")]),
]


def menu(principal: Principal | None) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """The groups of the sidebar this person sees, each with (path, key, label, icon); empty groups left out.
    Paths are within the site's admin (the template puts ``root`` before them)."""
    if principal is None:
        return []
    reports = report_common.visible(principal)
    groups = []
    for group, entries in MENU:
        shown = []
        for action, path, key, label, glyph in entries:
            if action == "reports":
                if not reports:
                    continue
                path = reports[0][2]
            elif action == "superadmin":
                if not principal.user.is_superadmin:
                    continue
            elif action and not principal.can(action):
                continue
            shown.append((path, key, label, glyph))
        if shown:
            groups.append((group, shown))
    return groups


def status_tone(word: str | None, kind: str) -> str:
    """The badge tone of a status word of ``kind`` ("order", "payment", "deploy", ...); muted if unknown."""
    return TONES.get(kind, {}).get(word or "", "muted")


def unpublished(request: Request) -> int:
    """Commits on the site's main branch since the live deploy's commit (all of them before the first
    publish); 0 for people who may not publish, who are shown nothing."""
    principal = principal_of(request)
    if principal is None or not principal.can("publish"):
        return 0
    try:
        with services_of(request).databases.connection(require_tenant(request).slug) as conn:
            row = conn.execute("SELECT commit_sha FROM deploys WHERE status = 'live' ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return 0
    repo = repo_of(request)
    spec = f"{row['commit_sha']}..{REF}" if row else REF
    out = repo.git("rev-list", "--count", spec, check=False).stdout.decode().strip()  # an unknown commit: 0
    return int(out) if out.isdigit() else 0


ENV.filters["status_tone"] = status_tone
ENV.globals["asset_url"] = asset_url
ENV.globals["admin_menu"] = menu
