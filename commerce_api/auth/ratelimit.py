"""Login rate limiting that slows down the guesser without locking out the account's owner.

Failures count under three keys, each with its own rule:

    account at one address   5 free, then each attempt waits twice as long as the last
                             (1 s, 2 s, 4 s ... 15 min): the guesser slows down, the owner elsewhere does not
    address, any account     20 free, then the same doubling: one machine trying many accounts
    account, any address     50 free, then one more second per 10 failures, at most a minute: a ceiling for
                             guesses spread over many addresses. It does not apply at an address where
                             the account signed in within the last 30 days, so a guesser rotating
                             addresses cannot keep the owner out from their usual place; from a new
                             address it costs the owner a minute at worst

Checking and counting are one step: ``begin`` records the attempt as a failure in the same
``BEGIN IMMEDIATE`` transaction that checks the counts, and a successful login takes it back. So 40
parallel guesses get 5 password checks, not 10. Failures older than an hour are forgotten. Kept in
``platform.db`` so that every API process sees the same counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from content.migrations import immediate

from ..errors import TooManyRequests
from ..platform import PlatformDB

FREE_ATTEMPTS = 5           # per account and address
ADDRESS_FREE_ATTEMPTS = 20  # per address, whatever the account
ACCOUNT_FREE_ATTEMPTS = 50  # per account, whatever the address
MAX_DELAY = 15 * 60
ACCOUNT_MAX_DELAY = 60
WINDOW = 60 * 60
KNOWN_FOR = 30 * 24 * 3600  # an address where the account signed in counts as the owner's for this long


def _doubling(free: int):
    def delay(failures: int) -> float:
        return 0 if failures < free else min(MAX_DELAY, 2 ** min(failures - free, 20))
    return delay


def _slow(failures: int) -> float:
    if failures < ACCOUNT_FREE_ATTEMPTS:
        return 0
    return min(ACCOUNT_MAX_DELAY, 1 + (failures - ACCOUNT_FREE_ATTEMPTS) // 10)


@dataclass(frozen=True)
class Attempt:
    """One login attempt in progress: counted as a failure unless ``LoginLimiter.succeeded`` says otherwise."""

    email: str
    address: str
    row_ids: tuple[int, ...]


class LoginLimiter:
    def __init__(self, db: PlatformDB, clock=time.time) -> None:
        self.db = db
        self.clock = clock

    def begin(self, email: str, address: str) -> Attempt:
        """Raise ``TooManyRequests`` if this account at this address must still wait; otherwise
        record the attempt (as a failure until it succeeds) and return it."""
        now = self.clock()
        rules = self._rules(email, address)
        with immediate(self.db.conn) as conn:
            known = conn.execute("SELECT 1 FROM login_known WHERE account = ? AND address = ? AND at > ?",
                                 (_account(email), address, now - KNOWN_FOR)).fetchone()
            for key, delay in rules:
                if known and key.startswith("account:"):
                    continue
                failures, last = conn.execute("SELECT COUNT(*), MAX(at) FROM login_failures WHERE key = ? AND at > ?",
                                              (key, now - WINDOW)).fetchone()
                wait = (last or now) + delay(failures) - now if delay(failures) else 0
                if wait > 0:
                    raise TooManyRequests(f"too many failed logins; try again in {int(wait) + 1} s",
                                          retry_after=int(wait) + 1)
            ids = tuple(conn.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, now)).lastrowid
                        for key, _ in rules)
            conn.execute("DELETE FROM login_failures WHERE at < ?", (now - WINDOW,))
        return Attempt(email, address, ids)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this attempt was no failure, and the account's earlier failures at
        this address are forgiven. Failures elsewhere stay: the owner's login does not reset a guesser's count."""
        pair = self._rules(attempt.email, attempt.address)[0][0]
        with self.db.conn as conn:
            conn.executemany("DELETE FROM login_failures WHERE id = ?", [(i,) for i in attempt.row_ids])
            conn.execute("DELETE FROM login_failures WHERE key = ?", (pair,))
            conn.execute("INSERT INTO login_known (account, address, at) VALUES (?, ?, ?) "
                         "ON CONFLICT (account, address) DO UPDATE SET at = excluded.at",
                         (_account(attempt.email), attempt.address, self.clock()))

    @staticmethod
    def _rules(email: str, address: str) -> list[tuple[str, object]]:
        account = _account(email)
        return [(f"pair:{account}|{address}", _doubling(FREE_ATTEMPTS)),
                (f"address:{address}", _doubling(ADDRESS_FREE_ATTEMPTS)),
                (f"account:{account}", _slow)]


def _account(email: str) -> str:
    return (email or "").strip().lower()


class Throttle:
    """At most ``limit`` events per ``window`` seconds under one key (a site's form posts from one
    address). Counted and recorded in one ``BEGIN IMMEDIATE`` step, like logins, so parallel posts
    cannot slip past the count. The rows share the login limiter's table (a key and a time), under
    their own key prefix; the login limiter's hourly sweep forgets them too."""

    def __init__(self, db: PlatformDB, prefix: str, limit: int, window: int, clock=time.time) -> None:
        self.db, self.prefix, self.limit, self.window, self.clock = db, prefix, limit, window, clock

    def hit(self, key: str, what: str = "attempts") -> None:
        """Count one event, or raise ``TooManyRequests`` (counting nothing) if the key is at its limit."""
        hit_all(self.db, [(self, key, what)])


def hit_all(db: PlatformDB, hits: list[tuple[Throttle, str, str]]) -> None:
    """Count one event under each (throttle, key, what) in one write transaction, or raise
    ``TooManyRequests`` for the first at its limit and count none of them (a checkout limited by
    address and by email costs one write, and an order refused by one limit is not counted by the
    other)."""
    with immediate(db.conn) as conn:
        for throttle, key, what in hits:
            now = throttle.clock()
            count, first = conn.execute("SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ? AND at > ?",
                                        (f"{throttle.prefix}:{key}", now - throttle.window)).fetchone()
            if count >= throttle.limit:
                wait = int(first + throttle.window - now) + 1
                raise TooManyRequests(f"too many {what} from your address; please try again in "
                                      f"{_minutes(wait)}", retry_after=wait)
        for throttle, key, _ in hits:
            now, key = throttle.clock(), f"{throttle.prefix}:{key}"
            conn.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, now))
            conn.execute("DELETE FROM login_failures WHERE key = ? AND at <= ?", (key, now - throttle.window))


def address_key(address: str) -> str:
    """The key an address counts under: an IPv6 address by its /64 (one home or one server gets a
    whole /64, so counting single addresses would let it rotate past any limit)."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _minutes(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 90 else f"{-(-seconds // 60)} minutes"
