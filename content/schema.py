"""The schemas of ``platform.db`` and every ``tenant.db``, as ordered migrations.

Append new steps at the end; never edit or reorder a step that has shipped.
"""

from __future__ import annotations

from .migrations import Migrations

PLATFORM = Migrations("platform.db")
TENANT = Migrations("tenant.db")

PLATFORM.add("0001_tenants_and_domains", """
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'trial', 'suspended')),
    plan TEXT NOT NULL DEFAULT 'starter',
    features TEXT NOT NULL DEFAULT '["cms"]',
    settings TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE domains (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL UNIQUE,
    is_primary INTEGER NOT NULL DEFAULT 0,
    verification_token TEXT NOT NULL,
    verified_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX domains_tenant ON domains(tenant_id);
CREATE UNIQUE INDEX domains_one_primary ON domains(tenant_id) WHERE is_primary = 1
""")

TENANT.add("0001_meta", """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
""")
