"""Pickup slots: when an order can be collected, and how many orders each slot still takes.

Slots come from a location's opening hours in the shop's time zone, from the first one that
starts after the preparation time (and not on the same day once the cut-off has passed) up to
``days_ahead`` days, skipping closed dates. A slot's capacity is reserved in the checkout
transaction, like stock: the count and the booking happen under SQLite's one write lock, so the
last place in a slot cannot be taken twice. A cancelled order gives its place back.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from content.registry import now_iso

from ..errors import BadRequest, Conflict

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SLOTS = 400  # per location and listing; checkout looks as far as the slot chosen, no further


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime
    label: str
    left: int | None  # places left; None: no limit

    @property
    def key(self) -> str:
        return self.start.isoformat()

    def public(self) -> dict:
        return {"start": self.key, "end": self.end.isoformat(), "label": self.label, "left": self.left}


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _label(start: datetime, end: datetime) -> str:
    return f"{start:%a} {start.day} {start:%b}, {start:%H:%M}–{end:%H:%M}"


def booked(conn: sqlite3.Connection, location: str, since: datetime) -> dict[str, int]:
    """Orders booked in each of ``location``'s slots from ``since`` on."""
    return {row[0]: row[1] for row in conn.execute(
        "SELECT slot_start, COUNT(*) FROM pickup_bookings WHERE location = ? AND slot_start >= ? GROUP BY slot_start",
        (location, since.astimezone(timezone.utc).isoformat()))}


def slots(location: dict, zone: str, now: datetime, taken: dict[str, int] | None = None, *,
          include_full: bool = False, limit: int = 0) -> list[Slot]:
    """The slots a shopper may choose at ``now``, full ones left out unless ``include_full``; at
    most ``limit`` (``MAX_SLOTS`` by default: a list nobody could scroll is of no use)."""
    limit = limit or MAX_SLOTS
    hours = location.get("hours") or {}
    if not hours:
        return []
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    earliest = now + timedelta(minutes=int(location.get("preparation_minutes") or 0))
    step = timedelta(minutes=int(location.get("slot_minutes") or 60))
    closed = set(location.get("closed") or ())
    cutoff = _clock(location["cutoff"]) if location.get("cutoff") else None
    capacity = location.get("capacity")
    taken = taken or {}
    found: list[Slot] = []
    for offset in range(int(location.get("days_ahead") or 7) + 1):
        day: date = local_now.date() + timedelta(days=offset)
        if day.isoformat() in closed:
            continue
        if offset == 0 and cutoff is not None and local_now.time() >= cutoff:
            continue
        for opens, closes in hours.get(DAYS[day.weekday()], ()):
            # Step in absolute time: on the nights clocks change, wall-clock steps would make an
            # hour that does not exist, or one that happens twice.
            start = datetime.combine(day, _clock(opens), tz).astimezone(timezone.utc)
            last = datetime.combine(day, _clock(closes), tz).astimezone(timezone.utc)
            while start + step <= last:
                end = start + step
                if start >= earliest:
                    key = start.isoformat()
                    left = None if capacity is None else max(int(capacity) - taken.get(key, 0), 0)
                    if include_full or left is None or left > 0:
                        found.append(Slot(start, end, _label(start.astimezone(tz), end.astimezone(tz)), left))
                        if len(found) >= limit:
                            return found
                start = end
    return found


def book(conn: sqlite3.Connection, location: dict, chosen: str | None, zone: str, order_id: int,
         now: datetime | None = None) -> dict | None:
    """Take a place in ``chosen`` (a slot's start as listed) for the order, inside the caller's
    checkout transaction. Returns what the order keeps of its pickup."""
    now = now or datetime.now(timezone.utc)
    base = {"location": location["id"], "name": location["name"], "address": location.get("address", "")}
    if not location.get("hours"):  # a pickup point without a timetable: collected whenever it is open
        return {**base, "start": None, "end": None, "label": ""}
    if not chosen:
        raise BadRequest(f"choose a time to collect from {location['name']}", field="pickup_slot",
                         code="invalid_slot")
    try:
        wanted = datetime.fromisoformat(chosen).astimezone(timezone.utc).isoformat()
    except (TypeError, ValueError):
        raise BadRequest("pickup_slot must be one of the slots listed for the location", field="pickup_slot",
                         code="invalid_slot") from None
    every = slots(location, zone, now, booked(conn, location["id"], now), include_full=True, limit=20_000)
    slot = next((s for s in every if s.key == wanted), None)
    if slot is None:
        raise BadRequest("that collection time is not available (past, closed, or outside the opening hours); "
                         "choose another", field="pickup_slot", code="invalid_slot")
    if slot.left is not None and slot.left <= 0:
        raise Conflict(f"{slot.label} is fully booked; choose another time", field="pickup_slot", code="slot_full")
    conn.execute("INSERT INTO pickup_bookings (order_id, location, slot_start, created_at) VALUES (?, ?, ?, ?)",
                 (order_id, location["id"], slot.key, now_iso()))
    return {**base, "start": slot.key, "end": slot.end.isoformat(), "label": slot.label}


def release(conn: sqlite3.Connection, order_id: int) -> None:
    """A cancelled order's place goes back to its slot."""
    conn.execute("DELETE FROM pickup_bookings WHERE order_id = ?", (order_id,))
