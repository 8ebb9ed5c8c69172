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

PLATFORM.add("0002_users_and_credentials", """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    is_superadmin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);
CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'shop_manager')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX memberships_tenant ON memberships(tenant_id);
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(key, at);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_user_id INTEGER,
    tenant_id INTEGER,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    address TEXT
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, at)
""")

TENANT.add("0002_catalog", """
CREATE TABLE catalog_products (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    image TEXT,
    categories TEXT NOT NULL DEFAULT '[]',
    featured INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE catalog_variants (
    sku TEXT PRIMARY KEY,
    product_slug TEXT NOT NULL REFERENCES catalog_products(slug) ON DELETE CASCADE,
    title TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    price INTEGER NOT NULL CHECK (price >= 0),
    compare_price INTEGER,
    currency TEXT NOT NULL,
    track_stock INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX catalog_variants_product ON catalog_variants(product_slug)
""")

TENANT.add("0003_deploys", """
CREATE TABLE deploys (
    id INTEGER PRIMARY KEY,
    commit_sha TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    manifest_hash TEXT NOT NULL,
    actor TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    files INTEGER NOT NULL DEFAULT 0,
    uploaded INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    seconds REAL,
    status TEXT NOT NULL CHECK (status IN ('running', 'live', 'failed', 'superseded')),
    message TEXT NOT NULL DEFAULT '',
    rollback_of INTEGER
)
""")

TENANT.add("0004_commerce", """
CREATE TABLE stock (
    sku TEXT PRIMARY KEY,
    on_hand INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at TEXT NOT NULL,
    CHECK (reserved <= on_hand)
);
CREATE TABLE carts (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    catalog_version TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ordered_at TEXT
);
CREATE TABLE cart_lines (
    cart_id INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    seen_price INTEGER,
    added_at TEXT NOT NULL,
    PRIMARY KEY (cart_id, sku)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    number INTEGER NOT NULL UNIQUE,
    token_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_ref TEXT,
    currency TEXT NOT NULL,
    subtotal INTEGER NOT NULL,
    shipping INTEGER NOT NULL,
    tax INTEGER NOT NULL,
    tax_inclusive INTEGER NOT NULL,
    total INTEGER NOT NULL,
    shipping_method TEXT NOT NULL,
    shipping_address TEXT NOT NULL,
    billing_address TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    tracking_number TEXT,
    notes TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX orders_status ON orders(status, payment_status);
CREATE TABLE order_lines (
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price INTEGER NOT NULL,
    line_total INTEGER NOT NULL,
    track_stock INTEGER NOT NULL,
    PRIMARY KEY (order_id, sku)
);
CREATE TABLE order_history (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    response TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE TABLE payment_events (
    event_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    order_number INTEGER,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    processed_at TEXT,
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE VIRTUAL TABLE catalog_search USING fts5(slug UNINDEXED, name, description, skus)
""")

PLATFORM.add("0003_jobs", """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    actor TEXT NOT NULL,
    run_after TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    log TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_queue ON jobs(status, run_after)
""")

PLATFORM.add("0004_invitations_and_handoffs", """
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    invited_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    accepted_at TEXT,
    revoked_at TEXT
);
CREATE INDEX invitations_tenant ON invitations(tenant_id, email);
CREATE TABLE handoffs (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL UNIQUE,
    expires_at TEXT NOT NULL,
    used_at TEXT
)
""")

PLATFORM.add("0005_password_resets", """
CREATE TABLE password_resets (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX password_resets_user ON password_resets(user_id, created_at)
""")

TENANT.add("0005_order_payment", """
ALTER TABLE orders ADD COLUMN payment TEXT
""")

PLATFORM.add("0006_login_known_addresses", """
CREATE TABLE login_known (
    account TEXT NOT NULL,
    address TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (account, address)
)
""")

TENANT.add("0006_outbox", """
ALTER TABLE orders ADD COLUMN carrier TEXT NOT NULL DEFAULT '';
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expanded_at TEXT
);
CREATE INDEX events_new ON events(id) WHERE expanded_at IS NULL;
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient TEXT NOT NULL,
    template TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'held', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    claimed_at TEXT,
    sent_at TEXT,
    UNIQUE (event_id, channel, recipient, template)
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id);
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE form_submissions (
    id INTEGER PRIMARY KEY,
    form TEXT NOT NULL,
    page TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    fields TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'read', 'archived')),
    created_at TEXT NOT NULL
);
CREATE INDEX form_submissions_inbox ON form_submissions(status, id)
""")

PLATFORM.add("0007_notification_optouts", """
CREATE TABLE notification_optouts (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    PRIMARY KEY (user_id, tenant_id, topic)
)
""")

TENANT.add("0007_promotions", """
CREATE TABLE discounts (
    id INTEGER PRIMARY KEY,
    code TEXT UNIQUE COLLATE NOCASE,
    title TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('percent', 'amount', 'free_shipping')),
    value INTEGER NOT NULL DEFAULT 0,
    target TEXT NOT NULL DEFAULT 'order' CHECK (target IN ('order', 'products', 'shipping')),
    products TEXT NOT NULL DEFAULT '[]',
    categories TEXT NOT NULL DEFAULT '[]',
    min_subtotal INTEGER NOT NULL DEFAULT 0,
    min_quantity INTEGER NOT NULL DEFAULT 0,
    starts_at TEXT,
    ends_at TEXT,
    usage_limit INTEGER,
    per_email_limit INTEGER,
    combines INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    uses INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE discount_uses (
    discount_id INTEGER NOT NULL REFERENCES discounts(id) ON DELETE CASCADE,
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    email TEXT NOT NULL COLLATE NOCASE,
    amount INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (discount_id, order_id)
);
CREATE INDEX discount_uses_email ON discount_uses(discount_id, email);
CREATE TABLE cart_discounts (
    cart_id INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    code TEXT NOT NULL COLLATE NOCASE,
    added_at TEXT NOT NULL,
    PRIMARY KEY (cart_id, code)
);
CREATE TABLE code_attempts (
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX code_attempts_key ON code_attempts(key, at);
CREATE TABLE order_discounts (
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    discount_id INTEGER REFERENCES discounts(id) ON DELETE SET NULL,
    code TEXT,
    title TEXT NOT NULL,
    amount INTEGER NOT NULL,
    shipping INTEGER NOT NULL DEFAULT 0,
    lines TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX order_discounts_order ON order_discounts(order_id);
ALTER TABLE order_lines ADD COLUMN discount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN discount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN gift_card INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0;
CREATE TABLE gift_cards (
    id INTEGER PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    code_sealed TEXT NOT NULL,
    last4 TEXT NOT NULL,
    currency TEXT NOT NULL,
    initial INTEGER NOT NULL CHECK (initial > 0),
    balance INTEGER NOT NULL CHECK (balance >= 0),
    expires_at TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    order_id INTEGER REFERENCES orders(id) ON DELETE SET NULL,
    sku TEXT,
    recipient TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    issued_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX gift_cards_order ON gift_cards(order_id);
CREATE TABLE gift_card_ledger (
    id INTEGER PRIMARY KEY,
    card_id INTEGER NOT NULL REFERENCES gift_cards(id) ON DELETE CASCADE,
    order_id INTEGER REFERENCES orders(id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('issue', 'redeem', 'refund', 'adjust')),
    amount INTEGER NOT NULL,
    balance INTEGER NOT NULL,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX gift_card_ledger_card ON gift_card_ledger(card_id, id);
CREATE TABLE cart_gift_cards (
    cart_id INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    card_id INTEGER NOT NULL REFERENCES gift_cards(id) ON DELETE CASCADE,
    added_at TEXT NOT NULL,
    PRIMARY KEY (cart_id, card_id)
);
CREATE TABLE refunds (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    amount INTEGER NOT NULL CHECK (amount > 0),
    provider_amount INTEGER NOT NULL DEFAULT 0,
    gift_card_amount INTEGER NOT NULL DEFAULT 0,
    lines TEXT NOT NULL DEFAULT '[]',
    shipping INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    provider_ref TEXT,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX refunds_order ON refunds(order_id)
""")

TENANT.add("0008_shown_once", """
CREATE TABLE shown_once (
    token TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    expires_at REAL NOT NULL
)
""")

TENANT.add("0009_orders_expiry_index", """
CREATE INDEX orders_expiry ON orders(status, payment_status, expires_at)
""")

TENANT.add("0010_shipping_tax", """
ALTER TABLE catalog_variants ADD COLUMN weight INTEGER;
ALTER TABLE catalog_variants ADD COLUMN tax_category TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE orders ADD COLUMN shipping_option TEXT;
ALTER TABLE orders ADD COLUMN shipping_name TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN shipping_estimate TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN pickup TEXT;
ALTER TABLE orders ADD COLUMN vat_number TEXT;
ALTER TABLE orders ADD COLUMN tax_note TEXT NOT NULL DEFAULT '';
CREATE TABLE order_tax_lines (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    jurisdiction TEXT NOT NULL,
    category TEXT NOT NULL,
    rate TEXT NOT NULL,
    base INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_tax_lines_order ON order_tax_lines(order_id);
CREATE TABLE pickup_bookings (
    order_id INTEGER PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    location TEXT NOT NULL,
    slot_start TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX pickup_bookings_slot ON pickup_bookings(location, slot_start)
""")

# Page views counted at the edge (publish.analytics), as daily rollups: nothing here names a person.
# analytics_visitors holds the day's keyed visitor hashes ('' path: the whole site) only so that a
# visitor counts once a day; the key (a random daily salt) is never written anywhere, and the rows
# of a day are deleted once it is over.
TENANT.add("0011_analytics", """
CREATE TABLE analytics_days (
    day TEXT PRIMARY KEY,
    views INTEGER NOT NULL,
    visitors INTEGER NOT NULL
);
CREATE TABLE analytics_pages (
    day TEXT NOT NULL,
    path TEXT NOT NULL,
    views INTEGER NOT NULL,
    visitors INTEGER NOT NULL,
    PRIMARY KEY (day, path)
) WITHOUT ROWID;
CREATE TABLE analytics_referrers (
    day TEXT NOT NULL,
    host TEXT NOT NULL,
    views INTEGER NOT NULL,
    PRIMARY KEY (day, host)
) WITHOUT ROWID;
CREATE TABLE analytics_devices (
    day TEXT NOT NULL,
    device TEXT NOT NULL,
    browser TEXT NOT NULL,
    views INTEGER NOT NULL,
    PRIMARY KEY (day, device, browser)
) WITHOUT ROWID;
CREATE TABLE analytics_countries (
    day TEXT NOT NULL,
    country TEXT NOT NULL,
    views INTEGER NOT NULL,
    PRIMARY KEY (day, country)
) WITHOUT ROWID;
CREATE TABLE analytics_visitors (
    day TEXT NOT NULL,
    path TEXT NOT NULL,
    visitor BLOB NOT NULL,
    PRIMARY KEY (day, path, visitor)
) WITHOUT ROWID
""")


# Plans as data: what each plan includes and allows (limits as JSON, null = unlimited), seeded from the
# three plans that were constants until now, and every change of a tenant's plan with who made it and why.
# The seed is written here, not read from content.plans: a shipped step must never change its output.
_MB, _GB = 2**20, 2**30
_SEED_FEATURES = ["analytics", "cms", "custom_domains", "ecommerce", "forms", "git", "webhooks"]
_SEED_PLANS = [
    ("starter", "Starter", 1, {
        "products": 50, "pages_and_posts": 100, "media_bytes": 200 * _MB, "upload_bytes": 5 * _MB,
        "staff_seats": 3, "custom_domains": 1, "orders_per_month": 500, "publishes_per_day": 50,
        "api_requests_per_minute": 600}),
    ("business", "Business", 2, {
        "products": 500, "pages_and_posts": 1000, "media_bytes": 2 * _GB, "upload_bytes": 20 * _MB,
        "staff_seats": 10, "custom_domains": 5, "orders_per_month": 5000, "publishes_per_day": 200,
        "api_requests_per_minute": 3000}),
    ("agency", "Agency", 3, {
        "products": None, "pages_and_posts": None, "media_bytes": 10 * _GB, "upload_bytes": 50 * _MB,
        "staff_seats": 50, "custom_domains": 25, "orders_per_month": None, "publishes_per_day": 1000,
        "api_requests_per_minute": 12000}),
]


def _plans(conn) -> None:
    import json

    conn.execute("""
        CREATE TABLE plans (
            name TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            features TEXT NOT NULL DEFAULT '[]',
            limits TEXT NOT NULL DEFAULT '{}',
            position INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT
        )""")
    conn.execute("""
        CREATE TABLE plan_changes (
            id INTEGER PRIMARY KEY,
            tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            from_plan TEXT,
            to_plan TEXT NOT NULL,
            actor_user_id INTEGER,
            note TEXT NOT NULL DEFAULT ''
        )""")
    conn.execute("CREATE INDEX plan_changes_tenant ON plan_changes(tenant_id, id)")
    for name, title, position, limits in _SEED_PLANS:
        conn.execute("INSERT INTO plans (name, title, features, limits, position) VALUES (?, ?, ?, ?, ?)",
                     (name, title, json.dumps(_SEED_FEATURES), json.dumps(limits), position))


PLATFORM.add("0008_plans", _plans)

# Where a deploy's time went (seconds per stage, and the moment the release went live), as JSON:
# what bench/save_to_live_bench.py reads to split Save-to-live into its stages.
TENANT.add("0012_deploy_timings", """
ALTER TABLE deploys ADD COLUMN timings TEXT NOT NULL DEFAULT '{}'
""")

# Billing the tenants with the operator's Stripe (optional): a paid plan names its Stripe price; each
# billed tenant has one subscription row mirroring Stripe's (re-read from Stripe on every event, so its
# state converges whatever order events come in); every event Stripe sent, stored once by its id.
PLATFORM.add("0009_billing", """
ALTER TABLE plans ADD COLUMN stripe_price TEXT;
CREATE TABLE subscriptions (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    subscription_id TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('trialing', 'active', 'past_due', 'suspended', 'canceled')),
    pending_plan TEXT,
    current_period_end TEXT,
    past_due_since TEXT,
    trial_end TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE billing_events (
    event_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    subscription_id TEXT,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    processed_at TEXT,
    outcome TEXT
)
""")

# Read-only support sessions: an operator looking at a tenant's admin on its people's behalf. The reason is
# shown on every page of the session and kept in the audit log; the session refuses every write.
PLATFORM.add("0010_support", """
ALTER TABLE sessions ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN support_reason TEXT
""")


PLATFORM.add("0011_job_claims", """
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE jobs ADD COLUMN heartbeat_at TEXT
""")


# At most one running job per tenant and lane (notifications, everything else), held by the database
# itself: runners on several machines claim without a shared lock on PostgreSQL (``publish.jobs``).
PLATFORM.add("0012_one_running_job_per_lane", """
UPDATE jobs SET status = 'queued', started_at = NULL, claimed_by = NULL, heartbeat_at = NULL
WHERE status = 'running' AND id NOT IN
    (SELECT min(id) FROM jobs WHERE status = 'running' GROUP BY tenant, kind = 'notify');
CREATE UNIQUE INDEX jobs_one_running ON jobs(tenant, (kind = 'notify')) WHERE status = 'running'
""")


# Tenants placed on nodes (several machines sharing platform state on PostgreSQL): each node holds
# its tenants' tenant.db, repository and builds; a request reaching another node is forwarded to it.
# ``node`` NULL: the installation is one node (every tenant is local everywhere). ``moving_to``: the
# node a move is taking the tenant to; while set, writes to the tenant are paused (``tessera.move``);
# ``move_id`` names that move: the transfer to the target is signed with it and good for it only.
PLATFORM.add("0013_nodes", """
CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
ALTER TABLE tenants ADD COLUMN node TEXT;
ALTER TABLE tenants ADD COLUMN moving_to TEXT;
ALTER TABLE tenants ADD COLUMN move_id TEXT
""")

# A cart's updated_at moves with its lines in the statement that changes them: adding to a cart is one
# statement (commerce_api.shop.carts), and SQLite's write lock is then held for that statement alone.
TENANT.add("0013_cart_touch", """
CREATE TRIGGER cart_lines_touch_cart_insert AFTER INSERT ON cart_lines BEGIN UPDATE carts SET updated_at = NEW.added_at WHERE id = NEW.cart_id; END;
CREATE TRIGGER cart_lines_touch_cart_update AFTER UPDATE OF quantity ON cart_lines BEGIN UPDATE carts SET updated_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now') WHERE id = NEW.cart_id; END
""")


# PostgreSQL only: a NOTIFY when tenants, domains or plans change, for the caches that keep them.
def _notify_changes(conn) -> None:
    from .postgres import notify_changes

    notify_changes(conn)


PLATFORM.add("0014_notify_changes", _notify_changes)
