"""Who may do what: the single table of roles × actions. Guards and the admin UI read it.

Documented for people in docs/roles.md; a test checks the two agree.
"""

from __future__ import annotations

ROLES = ("owner", "admin", "editor", "shop_manager")

ACTIONS = (
    "pages:read", "pages:write", "media:read", "media:write", "products:read", "products:write",
    "inventory:read", "inventory:write", "orders:read", "orders:write", "users:read", "users:write",
    "settings:read", "settings:write", "domains:read", "domains:write", "publish", "theme:write",
    "notifications:read", "notifications:write", "webhooks:read", "webhooks:write", "forms:read", "forms:write",
    "discounts:read", "discounts:write", "analytics:read", "plan:read", "audit:read",
)

_ALL = frozenset(ACTIONS)
PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": _ALL,
    "admin": _ALL,
    "editor": frozenset({"pages:read", "pages:write", "media:read", "media:write", "products:read",
                         "settings:read", "domains:read", "publish", "forms:read", "forms:write", "analytics:read"}),
    "shop_manager": frozenset({"pages:read", "media:read", "media:write", "products:read", "products:write",
                               "inventory:read", "inventory:write", "orders:read", "orders:write",
                               "settings:read", "publish", "notifications:read", "notifications:write",
                               "forms:read", "forms:write", "discounts:read", "discounts:write", "analytics:read"}),
}

# Actions that concern the shop; a tenant without the ecommerce feature has none of them.
SHOP_ACTIONS = frozenset({"products:read", "products:write", "inventory:read", "inventory:write",
                          "orders:read", "orders:write", "discounts:read", "discounts:write"})
# Actions on what the site's forms receive; a tenant without the cms feature has none of them.
CMS_ACTIONS = frozenset({"forms:read", "forms:write"})
# Traffic reports; a tenant without the analytics feature has none.
ANALYTICS_ACTIONS = frozenset({"analytics:read"})
# Actions that need a feature of the site's plan (``Tenant.has``): without it they are hidden and refused.
PLAN_FEATURE_ACTIONS = {"webhooks:read": "webhooks", "webhooks:write": "webhooks", "forms:read": "forms",
                        "forms:write": "forms", "domains:write": "custom_domains"}


# What changing a file of the site's repository takes, by where it lives (see ``repository_action``).
# Theme files are templates and styles that run on every page: whoever writes them controls what
# shoppers' browsers run, so only owners and admins may.
REPOSITORY_ACTIONS = {"pages/": "pages:write", "posts/": "pages:write", "media/": "media:write",
                      "products/": "products:write", "theme/": "theme:write"}
REPOSITORY_WRITES = frozenset({*REPOSITORY_ACTIONS.values(), "settings:write"})
WHAT = {"pages:write": "pages and posts", "media:write": "media", "products:write": "products",
        "settings:write": "site settings", "theme:write": "theme files"}


def repository_action(path: str) -> str:
    """The action a change to ``path`` needs. ``site.yaml`` (shipping, tax, payment instructions,
    redirects, navigation) and any file outside the content folders are the site's settings."""
    for prefix, action in REPOSITORY_ACTIONS.items():
        if path.startswith(prefix):
            return action
    return "settings:write"


def permitted(role: str | None, action: str, *, superadmin: bool = False, shop: bool = True) -> bool:
    """``allowed``, and shop actions only where the site's ecommerce feature is on (as the guard does)."""
    return (shop or action not in SHOP_ACTIONS) and allowed(role, action, superadmin=superadmin)


def allowed(role: str | None, action: str, *, superadmin: bool = False) -> bool:
    if action not in _ALL:
        raise ValueError(f"unknown action {action!r}")
    return superadmin or (role is not None and action in PERMISSIONS.get(role, frozenset()))
