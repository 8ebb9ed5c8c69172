"""Who may do what: the single table of roles × actions. Guards and the admin UI read it.

Documented for people in docs/roles.md; a test checks the two agree.
"""

from __future__ import annotations

ROLES = ("owner", "admin", "editor", "shop_manager")

ACTIONS = (
    "pages:read", "pages:write", "media:read", "media:write", "products:read", "products:write",
    "inventory:read", "inventory:write", "orders:read", "orders:write", "users:read", "users:write",
    "settings:read", "settings:write", "domains:read", "domains:write", "publish",
)

_ALL = frozenset(ACTIONS)
PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": _ALL,
    "admin": _ALL,
    "editor": frozenset({"pages:read", "pages:write", "media:read", "media:write", "products:read",
                         "settings:read", "domains:read", "publish"}),
    "shop_manager": frozenset({"pages:read", "media:read", "media:write", "products:read", "products:write",
                               "inventory:read", "inventory:write", "orders:read", "orders:write",
                               "settings:read", "publish"}),
}

# Actions that concern the shop; a tenant without the ecommerce feature has none of them.
SHOP_ACTIONS = frozenset({"products:read", "products:write", "inventory:read", "inventory:write",
                          "orders:read", "orders:write"})


def allowed(role: str | None, action: str, *, superadmin: bool = False) -> bool:
    if action not in _ALL:
        raise ValueError(f"unknown action {action!r}")
    return superadmin or (role is not None and action in PERMISSIONS.get(role, frozenset()))
