"""Login rate limiting: per account and per address, with delays that grow with each failure.

The first few failures are free; after that each further attempt must wait twice as long as the
last (1 s, 2 s, 4 s ... capped at 15 minutes). Failures older than an hour are forgotten, and a
successful login clears the account's count. Kept in ``platform.db`` so that every API process
sees the same counts.
"""

from __future__ import annotations

import time

from ..errors import TooManyRequests
from ..platform import PlatformDB

FREE_ATTEMPTS = 5
MAX_DELAY = 15 * 60
WINDOW = 60 * 60


class LoginLimiter:
    def __init__(self, db: PlatformDB, clock=time.time) -> None:
        self.db = db
        self.clock = clock

    def check(self, email: str, address: str) -> None:
        """Raise ``TooManyRequests`` if either key must still wait."""
        now = self.clock()
        for key in self._keys(email, address):
            rows = self.db.conn.execute("SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at",
                                        (key, now - WINDOW)).fetchall()
            failures = len(rows)
            if failures >= FREE_ATTEMPTS:
                delay = min(MAX_DELAY, 2 ** (failures - FREE_ATTEMPTS))
                wait = rows[-1]["at"] + delay - now
                if wait > 0:
                    raise TooManyRequests(f"too many failed logins; try again in {int(wait) + 1} s",
                                          retry_after=int(wait) + 1)

    def failed(self, email: str, address: str) -> None:
        now = self.clock()
        with self.db.conn as conn:
            conn.executemany("INSERT INTO login_failures (key, at) VALUES (?, ?)",
                             [(key, now) for key in self._keys(email, address)])
            conn.execute("DELETE FROM login_failures WHERE at < ?", (now - WINDOW,))

    def succeeded(self, email: str) -> None:
        with self.db.conn as conn:
            conn.execute("DELETE FROM login_failures WHERE key = ?", (f"account:{email.strip().lower()}",))

    @staticmethod
    def _keys(email: str, address: str) -> list[str]:
        return [f"account:{(email or '').strip().lower()}", f"address:{address}"]
