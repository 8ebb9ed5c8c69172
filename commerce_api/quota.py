"""The plan's ``api_requests_per_minute``: how many API requests a site's people and their scripts,
apps and integrations may make in a minute with a credential (an API token, an access token, or a
signed-in session: a script could sign in to get around the others), counted per site in the
serving process and refused with a 429 past the limit.

Counted after the credential is checked, so nobody without one can use up a site's minute. Shoppers'
anonymous requests (the basket, checkout, the catalog) are not counted, as no storefront API of a
shop platform is: a busy sale must never be turned away by the plan; they have their own limits per
address and email. The admin's pages are not API requests; the scripts on them (the jobs list polls
once a second) are, and take a small part of any plan's minute.

A sliding window over two fixed minutes (the previous minute's count weighted by how much of it is
still inside the last 60 seconds, plus this minute's): smooth at the minute's edge, two integers per
site, no lock held across a request.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

from content import plans
from content.registry import Registry, Tenant

from .errors import TooManyRequests

PLAN_TTL = 5.0  # seconds an operator's plan edit takes to reach a running server
MAX_SITES = 10_000  # counters kept; the oldest go first (a site idle for two minutes has nothing to keep)


class RequestQuota:
    def __init__(self, registry: Callable[[], Registry], clock: Callable[[], float] = time.time) -> None:
        self._registry = registry
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[int, list[int]] = {}  # tenant id -> [minute, this minute's count, previous count]
        # plan -> (read at, its limit, its title, the title of the first plan allowing more, or "")
        self._plans: dict[str, tuple[float, int | None, str, str]] = {}

    def limit(self, tenant: Tenant) -> tuple[int | None, bool]:
        """The site's limit, and whether the operator set it for this site alone."""
        own = plans.overrides(tenant)
        if "api_requests_per_minute" in own:
            return own["api_requests_per_minute"], True
        return self._plan(tenant.plan)[0], False

    def _plan(self, name: str) -> tuple[int | None, str, str]:
        now = self._clock()
        cached = self._plans.get(name)
        if cached is None or now - cached[0] > PLAN_TTL:
            registry = self._registry()
            plan = plans.get_plan(registry, name)
            limit = plan.limits.get("api_requests_per_minute")
            lifts = plans.cheapest_lifting(registry, "api_requests_per_minute", limit + 1) if limit is not None else None
            cached = self._plans[name] = (now, limit, plan.title, lifts.title if lifts else "")
        return cached[1], cached[2], cached[3]

    def take(self, tenant: Tenant) -> None:
        """Count one request of the site, or refuse it (``TooManyRequests``) past the limit."""
        limit, overridden = self.limit(tenant)
        if limit is None:
            return
        now = self._clock()
        minute, into = divmod(now, 60)
        minute = int(minute)
        with self._lock:
            window = self._windows.get(tenant.id)
            if window is None or window[0] < minute - 1:
                window = [minute, 0, 0]
            elif window[0] == minute - 1:
                window = [minute, 0, window[1]]
            else:
                self._windows.pop(tenant.id)  # re-inserted below: most recently used last
            used = window[2] * (60 - into) / 60 + window[1]
            if used + 1 > limit:
                self._windows[tenant.id] = window
                raise self._refusal(tenant, limit, overridden, window, into)
            window[1] += 1
            self._windows[tenant.id] = window
            while len(self._windows) > MAX_SITES:
                self._windows.pop(next(iter(self._windows)))

    def used(self, tenant: Tenant) -> int:
        """Requests counted in the last 60 seconds (rounded), for the usage page."""
        minute, into = divmod(self._clock(), 60)
        with self._lock:
            window = self._windows.get(tenant.id)
            if window is None or window[0] < int(minute) - 1:
                return 0
            if window[0] == int(minute) - 1:
                return round(window[1] * (60 - into) / 60)
            return round(window[2] * (60 - into) / 60 + window[1])

    def _refusal(self, tenant: Tenant, limit: int, overridden: bool, window: list[int], into: float) -> TooManyRequests:
        # The wait until enough of the previous minute has slid out (or the minute turns, when this
        # minute alone is full): a client that honours Retry-After gets through on its next try.
        if window[1] + 1 > limit or not window[2]:
            wait = 60 - into
        else:
            wait = (window[2] * (60 - into) / 60 + window[1] + 1 - limit) * 60 / window[2]
        wait = max(1, math.ceil(wait))
        noun = plans.amount("api_requests_per_minute", limit)
        _, title, lifts = self._plan(tenant.plan)
        if overridden:
            allows, more = f"This site's limit is {noun} (set for it by the platform's operator)", ""
        else:
            allows = f"This site's {title} plan allows {noun}"
            more = f" The {lifts} plan allows more: the platform's operator can move the site to it." if lifts else ""
        error = TooManyRequests(f"{allows}, and they have all been made: try again in {wait} "
                                f"second{'' if wait == 1 else 's'}.{more}", retry_after=wait)
        error.field = "api_requests_per_minute"
        error.code = "rate_limited"
        return error
