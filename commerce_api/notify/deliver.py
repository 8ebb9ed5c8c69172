"""The notify job: expand a tenant's new events into deliveries and send what is due.

It runs in the job queue (kind ``notify``), never on a shopper's request: a request that writes an
event only queues the job (see ``TenantDatabases``'s ``on_events``). After a run, a retry that is
still due later queues the job again for that moment.
"""

from __future__ import annotations

import email.policy
import hashlib
import hmac
import json
import logging
import sqlite3
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Callable

import yaml

from content.gitrepo import Repository
from content.migrations import connect, platform_location
from content.registry import FEATURES
from content.schema import PLATFORM, TENANT

from ..mail import MailError, send_message
from ..shop import giftcards
from ..shop.pricing import Rules
from . import outbox, recipients
from .emails import OVERRIDES, EmailTemplateError, Emails, Rendered

log = logging.getLogger("tessera.notify")
THEMES = Path(__file__).resolve().parents[2] / "themes"
RUN_SECONDS = 30  # one site's notify run; the rest waits for its next turn
# Long header lines are folded at spaces, never turned into encoded words: a List-Unsubscribe URL
# must reach mail clients as <https://...> to work (RFC 8058).
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)

# Where staff emails point in the admin, by template (after /sites/<slug>).
ADMIN_PAGES = {"staff_low_stock": "/products", "staff_publish_failed": "/deploys", "staff_form": "/inbox",
               "staff_webhook_disabled": "/webhooks"}


@dataclass
class Report:
    sent: int = 0
    failed: int = 0
    held: int = 0
    retry_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

    def log(self) -> str:
        parts = [f"{self.sent} sent"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.held:
            parts.append(f"{self.held} held: no mail server")
        if self.retry_at:
            parts.append(f"next retry at {self.retry_at.isoformat(timespec='seconds')}")
        return "notifications: " + ", ".join(parts) + "".join(f"; {n}" for n in self.notes)


@dataclass(frozen=True)
class Notifier:
    data_dir: Path
    themes_dir: Path
    secret_key: str
    admin_origin: str
    site_url: Callable[[str], str]  # a tenant's public address
    smtp_url: str | None = None
    mail_from: str = "Tessera <no-reply@localhost>"
    webhook_allow: tuple[str, ...] = ()  # networks an endpoint may resolve to despite being private

    @classmethod
    def from_config(cls, config, db) -> Notifier:
        """From the API's settings (``ApiConfig``) and ``platform.db`` (for sites' addresses)."""
        from ..services import public_origin

        return cls(data_dir=config.data_dir, themes_dir=config.themes_dir or THEMES, secret_key=config.secret_key,
                   admin_origin=config.admin_origin, site_url=lambda slug: public_origin(config, db.registry, slug),
                   smtp_url=config.smtp_url, mail_from=config.mail_from, webhook_allow=config.webhook_allow)

    # -- the job ------------------------------------------------------------------------------

    def run(self, slug: str, *, now: datetime | None = None) -> Report:
        """One run for one site, within ``RUN_SECONDS``: what is left is picked up by the next run,
        queued behind other sites' work, so one busy site cannot hold the lane."""
        report = Report()
        conn = connect(self.data_dir / "tenants" / slug / "tenant.db", TENANT)
        platform = connect(platform_location(self.data_dir), PLATFORM)
        started = time.monotonic()
        failing: set[int] = set()  # endpoints that failed in this run: their other deliveries wait
        try:
            outbox.recover(conn, now=now)
            site = None
            for _ in range(3):  # a delivery may raise an event (an endpoint turned off): expand it too
                shop, webhooks_on = self._has(platform, slug, "ecommerce"), self._has(platform, slug, "webhooks")
                for event in outbox.new_events(conn):
                    planned = recipients.plan(conn, platform, slug, event, shop=shop)
                    if not webhooks_on:  # the plan's webhooks are off: endpoints are kept, nothing is sent
                        planned = [p for p in planned if p.channel != "webhook"]
                    outbox.expand(conn, event, planned, held=set() if self.smtp_url else {"email"}, now=now)
                due = outbox.due(conn, now=now, mail=bool(self.smtp_url))
                if not due:
                    break
                site = site or self.site(conn, slug)
                for delivery in due:
                    if time.monotonic() - started > RUN_SECONDS:
                        report.notes.append(f"stopped after {RUN_SECONDS} s; the rest follows")
                        break
                    if delivery.endpoint_id in failing:
                        outbox.defer(conn, delivery, outbox.BACKOFF[0], now=now)
                        continue
                    attempt = self._deliver(conn, slug, site, delivery, report, now)
                    if delivery.channel == "webhook" and attempt is not None and not attempt.ok:
                        failing.add(delivery.endpoint_id)  # type: ignore[arg-type]
                if time.monotonic() - started > RUN_SECONDS:
                    break
            report.held = outbox.counts(conn).get("held", 0)
            report.retry_at = outbox.next_due(conn)
        finally:
            conn.close()
            platform.close()
        return report

    def _deliver(self, conn: sqlite3.Connection, slug: str, site: dict, delivery: outbox.Delivery,
                 report: Report, now: datetime | None) -> outbox.Attempt | None:
        if delivery.channel == "email" and not self.smtp_url:
            outbox.hold(conn, delivery)
            return None
        if not outbox.claim(conn, delivery, now=now):
            return None  # another run took it
        started = time.monotonic()
        if delivery.channel == "email":
            attempt = self._email(conn, slug, site, delivery, started, report)
        else:
            from . import webhooks

            attempt = webhooks.deliver(conn, slug, delivery, secret_key=self.secret_key, allow=self.webhook_allow,
                                       now=now)
        state = outbox.finish(conn, delivery, attempt, now=now)
        if state == "sent":
            report.sent += 1
        elif state == "failed":
            report.failed += 1
        if delivery.channel == "webhook":
            from . import webhooks

            webhooks.after_attempt(conn, delivery, attempt, final=state == "failed", now=now)
        return attempt

    def _email(self, conn: sqlite3.Connection, slug: str, site: dict, delivery: outbox.Delivery, started: float,
               report: Report) -> outbox.Attempt:
        try:
            rendered = self.render(conn, slug, site, delivery.template, delivery.event, delivery.recipient)
            send_message(self.smtp_url, self.message(slug, site, delivery, rendered))  # type: ignore[arg-type]
        except (MailError, EmailTemplateError) as exc:
            return outbox.Attempt(False, _ms(started), str(exc))
        except Exception as exc:  # a bug must not stop the other deliveries; the log has the traceback
            log.exception("email delivery %s of %s failed", delivery.id, slug)
            return outbox.Attempt(False, _ms(started), f"a problem on the server ({type(exc).__name__})")
        return outbox.Attempt(True, _ms(started), rendered.note)  # sent; the note says if an override failed

    # -- composing ------------------------------------------------------------------------------

    def render(self, conn: sqlite3.Connection, slug: str, site: dict, template: str, event: outbox.Event,
               recipient: str) -> Rendered:
        emails = Emails(self.themes_dir, site["theme"], site["overrides"])
        return emails.render(template, self.context(conn, slug, site, template, event, recipient))

    def context(self, conn: sqlite3.Connection, slug: str, site: dict, template: str, event: outbox.Event,
                recipient: str) -> dict:
        data = dict(event.data)
        public_site = {k: site[k] for k in ("name", "url", "email", "locale")}
        context = {"site": public_site, "event": event.kind, **data}
        if "order" in data:
            order = data["order"]
            rules = Rules.load(conn)
            paid = order.get("payment_status") == "paid"
            context.update(paid=paid, payment_instructions=rules.payment_instructions,
                           updated=data.get("from_status") == "shipped",
                           gift_cards=self._gift_cards(conn, order, recipient) if paid else [])
        if template.startswith("staff_"):
            page = ADMIN_PAGES.get(template) or (f"/orders/{data['order']['number']}" if "order" in data else "/")
            context.update(admin_url=f"{self.admin_origin}/sites/{slug}{page}",
                           unsubscribe_url=self.unsubscribe_url(recipient, slug, recipients.topic_of(template) or ""))
        return context

    def _gift_cards(self, conn: sqlite3.Connection, order: dict, recipient: str) -> list[dict]:
        """The live gift cards the order bought, read now (their codes are never in the event, which
        webhooks also carry); whole codes only in the buyer's own email, the last four elsewhere."""
        cards = giftcards.bought_by(conn, order["number"], self.secret_key)
        buyer = recipient.lower() == str(order.get("email") or "").lower()
        return [{**card, "code": card["code"] if buyer and card["code"] else f"…{card['last4']}"}
                for card in cards]

    def message(self, slug: str, site: dict, delivery: outbox.Delivery, rendered: Rendered) -> EmailMessage:
        _, sender = parseaddr(self.mail_from)
        domain = sender.rpartition("@")[2] or "localhost"
        message = EmailMessage(policy=MAIL_POLICY)
        message["From"] = formataddr((site["name"], sender))
        message["To"] = delivery.recipient
        reply_to = site["email"]
        if delivery.template == "staff_form":
            reply_to = delivery.event.data.get("submission", {}).get("email") or reply_to
        if reply_to:
            message["Reply-To"] = reply_to
        message["Subject"] = rendered.subject
        message["Date"] = formatdate()
        # The same on every retry of this delivery, so a mail client can tell a repeat from a new email.
        message["Message-ID"] = f"<{slug}.{delivery.event.id}.{delivery.id}@{domain}>"
        if topic := recipients.topic_of(delivery.template):
            message["Auto-Submitted"] = "auto-generated"
            message["List-Unsubscribe"] = f"<{self.unsubscribe_url(delivery.recipient, slug, topic)}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(rendered.text)
        if rendered.html:
            message.add_alternative(rendered.html, subtype="html")
        return message

    # -- the site, as emails show it ------------------------------------------------------------

    def site(self, conn: sqlite3.Connection, slug: str) -> dict:
        """The site's name, theme, reply address and email template overrides, from its saved content."""
        settings: dict = {}
        overrides: dict[str, str] = {}
        repo = self.data_dir / "tenants" / slug / "repo.git"
        if repo.exists():
            source = Repository(repo).source()
            try:
                paths = source.paths()
                if "site.yaml" in paths:
                    try:
                        loaded = yaml.safe_load(source.read("site.yaml"))
                        settings = loaded if isinstance(loaded, dict) else {}
                    except yaml.YAMLError:
                        settings = {}
                for path in paths:
                    if path.startswith(OVERRIDES):
                        overrides[path[len(OVERRIDES):]] = source.read(path).decode("utf-8", errors="replace")
            finally:
                source.close()
        rules = Rules.load(conn)
        name = " ".join(str(settings.get("name") or slug).split())[:200]
        theme = str(settings.get("theme") or "storefront")
        if not (self.themes_dir / theme / "templates").is_dir():
            theme = "base"
        email = rules.email or str(settings.get("email") or "")
        return {"name": name, "theme": theme, "email": email if "@" in email and "\n" not in email else "",
                "locale": str(settings.get("locale") or "en"), "url": self.site_url(slug), "overrides": overrides}

    @staticmethod
    def _has(platform: sqlite3.Connection, slug: str, feature: str) -> bool:
        """``Tenant.has`` for a site of this run (the feature on for the site and its plan)."""
        row = platform.execute("SELECT tenants.features, plans.features AS plan_features FROM tenants "
                               "LEFT JOIN plans ON plans.name = tenants.plan WHERE slug = ?", (slug,)).fetchone()
        if row is None:
            return False
        plan = row["plan_features"]
        return (plan is None or feature in json.loads(plan)) and (feature in json.loads(row["features"])
                                                                 or feature not in FEATURES)

    # -- unsubscribing --------------------------------------------------------------------------

    def unsubscribe_url(self, email: str, slug: str, topic: str) -> str:
        return f"{self.admin_origin}/unsubscribe?t={unsubscribe_token(self.secret_key, email, slug, topic)}"


def unsubscribe_token(secret_key: str, email: str, slug: str, topic: str) -> str:
    payload = urlsafe_b64encode(json.dumps([email.lower(), slug, topic]).encode()).decode().rstrip("=")
    return f"{payload}.{_mac(secret_key, payload)}"


def read_unsubscribe_token(secret_key: str, token: str) -> tuple[str, str, str] | None:
    """(email, site, topic) from a token this installation signed; None for anything else."""
    payload, _, mac = token.partition(".")
    if not payload or not hmac.compare_digest(mac, _mac(secret_key, payload)):
        return None
    try:
        email, slug, topic = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return None
    return (email, slug, topic) if topic in recipients.TOPICS else None


def _mac(secret_key: str, payload: str) -> str:
    return hmac.new(secret_key.encode(), b"unsubscribe\0" + payload.encode(), hashlib.sha256).hexdigest()[:32]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
