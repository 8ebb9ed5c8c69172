"""The admin UI: server-rendered pages at /admin on each tenant's host, on the same sessions,
CSRF tokens and permissions as the API. Forms work without JavaScript; a little script adds live
preview, drag and drop and live publish progress."""

from . import ui  # noqa: F401 (registers the templates' status_tone filter and asset_url)
from . import (account, assets, activity, console, content, discounts, giftcards, inbox, media, notifications, operator,
               people, plans, publishing, reports, sales_report, session, settings, shipping, shop, tax, tenants, traffic, usage, webhooks)

ROUTES = [*assets.ROUTES, *session.ROUTES, *content.ROUTES, *shop.ROUTES, *media.ROUTES, *people.ROUTES, *settings.ROUTES,
          *shipping.ROUTES, *tax.ROUTES, *reports.ROUTES, *traffic.ROUTES, *sales_report.ROUTES, *publishing.ROUTES,
          *tenants.ROUTES, *account.ROUTES, *inbox.ROUTES, *notifications.ROUTES, *webhooks.ROUTES, *discounts.ROUTES, *giftcards.ROUTES,
          *plans.ROUTES, *usage.ROUTES, *console.ROUTES,
          *operator.ROUTES, *activity.ROUTES]
