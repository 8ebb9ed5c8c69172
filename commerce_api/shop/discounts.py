"""Discounts: codes a shopper enters and automatic ones, worked out on the server from priced lines.

A discount takes a percentage or a fixed amount off the whole order, some products or categories,
or shipping (``free_shipping`` makes it free). It may need a minimum subtotal or quantity, a time
window (in the shop's time zone), and be limited in total uses and uses per email address. By
default the best single discount wins; discounts marked ``combines`` stack with one another, and
win together when their sum beats every single one.

Amounts are exact: a discount's total is rounded once to minor units, then spread over its lines
by largest remainder (ties to the earlier line), so the lines always sum to the total.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from content.money import Money, display

from ..errors import BadRequest, Conflict, NotFound

KINDS = ("percent", "amount", "free_shipping")
TARGETS = ("order", "products", "shipping")
PERCENT_SCALE = 100  # percent values are stored in hundredths: 1250 is 12.5 %


@dataclass(frozen=True)
class Discount:
    id: int
    code: str | None
    title: str
    kind: str
    value: int  # hundredths of a percent, or minor units
    target: str
    products: frozenset[str]
    categories: frozenset[str]
    min_subtotal: int
    min_quantity: int
    starts_at: str | None
    ends_at: str | None
    usage_limit: int | None
    per_email_limit: int | None
    combines: bool
    status: str
    uses: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Discount:
        return cls(row["id"], row["code"], row["title"], row["kind"], row["value"], row["target"],
                   frozenset(json.loads(row["products"])), frozenset(json.loads(row["categories"])),
                   row["min_subtotal"], row["min_quantity"], row["starts_at"], row["ends_at"], row["usage_limit"],
                   row["per_email_limit"], bool(row["combines"]), row["status"], row["uses"])

    @property
    def label(self) -> str:
        return self.code or self.title or f"discount {self.id}"

    @property
    def on_shipping(self) -> bool:
        return self.kind == "free_shipping" or self.target == "shipping"


@dataclass(frozen=True)
class Item:
    """A priced line as discounts see it."""
    sku: str
    product: str  # the product's slug
    categories: frozenset[str]
    quantity: int
    total: int


@dataclass(frozen=True)
class Applied:
    discount: Discount
    lines: dict[str, int]  # sku → amount off that line
    shipping: int  # amount off shipping

    @property
    def amount(self) -> int:
        return sum(self.lines.values()) + self.shipping

    def public(self) -> dict:
        d = self.discount
        return {"code": d.code, "title": d.title or d.label, "kind": d.kind, "amount": self.amount,
                "lines": dict(self.lines), "shipping": self.shipping, "automatic": d.code is None}


@dataclass(frozen=True)
class Outcome:
    applied: tuple[Applied, ...] = ()
    codes: tuple[dict, ...] = ()  # each code in the cart: {"code", "applied", "reason"}

    @property
    def lines(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for a in self.applied:
            for sku, amount in a.lines.items():
                total[sku] = total.get(sku, 0) + amount
        return total

    @property
    def shipping(self) -> int:
        return sum(a.shipping for a in self.applied)


def load(conn: sqlite3.Connection, codes: list[str]) -> tuple[list[Discount], dict[str, Discount | None]]:
    """Automatic discounts, and each code the cart holds (None: no such code)."""
    rows = conn.execute(f"SELECT * FROM discounts WHERE code IS NULL OR code IN ({', '.join('?' * len(codes))}) "
                        "ORDER BY id", list(codes)).fetchall()  # one statement: every price quote loads them
    automatic = [Discount.from_row(r) for r in rows if r["code"] is None]
    by_code = {r["code"].lower(): r for r in rows if r["code"] is not None}  # the column is NOCASE
    return automatic, {code: Discount.from_row(by_code[code.lower()]) if code.lower() in by_code else None
                       for code in codes}


def evaluate(conn: sqlite3.Connection, items: list[Item], shipping: int, codes: list[str], *, currency: str,
             zone: str = "UTC", email: str | None = None, now: datetime | None = None) -> Outcome:
    moment = now or datetime.now(timezone.utc)
    automatic, by_code = load(conn, codes)
    subtotal = sum(i.total for i in items)
    candidates: list[Discount] = []
    reasons: dict[str, Reason] = {}
    for code, discount in by_code.items():
        if discount is None or discount.status != "active":
            reasons[code] = Reason("is not a valid code", "invalid")
            continue
        why = problem(conn, discount, items, subtotal, currency=currency, zone=zone, email=email, now=moment)
        if why:
            reasons[code] = why
        else:
            candidates.append(discount)
    for discount in automatic:
        if not problem(conn, discount, items, subtotal, currency=currency, zone=zone, email=email, now=moment):
            candidates.append(discount)
    chosen = [a for a in best(candidates, items, shipping) if a.amount]
    for code, discount in by_code.items():
        if discount is None or code in reasons:
            continue
        if not any(a.discount.id == discount.id for a in chosen):
            better = ", ".join(a.discount.label for a in chosen)
            reasons[code] = Reason(f"does not combine with {better}, which saves more" if better
                                   else "takes nothing off this basket", "beaten")
    report = tuple({"code": code, "applied": code not in reasons, "reason": reasons[code].text if code in reasons
                    else None, "blocking": code in reasons and reasons[code].kind in BLOCKING}
                   for code in by_code)
    return Outcome(tuple(chosen), report)


@dataclass(frozen=True)
class Reason:
    text: str
    kind: str  # invalid, time, limit, basket, beaten


# A code the cart showed as applied that stops applying for one of these reasons between the cart
# and the checkout (another order used it up, the clock passed its end) changes the price the
# shopper saw: checkout refuses rather than charge more, unless the shopper accepts the full price.
BLOCKING = frozenset({"invalid", "time", "limit"})


def problem(conn: sqlite3.Connection, d: Discount, items: list[Item], subtotal: int, *, currency: str, zone: str,
            email: str | None, now: datetime) -> Reason | None:
    """Why the discount does not apply to these items now (None: it does)."""
    if d.status != "active":
        return Reason("is not a valid code", "invalid")
    if d.starts_at and now < datetime.fromisoformat(d.starts_at):
        return Reason(f"starts on {local(d.starts_at, zone)}", "time")
    if d.ends_at and now >= datetime.fromisoformat(d.ends_at):
        return Reason(f"expired on {local(d.ends_at, zone)}", "time")
    if d.usage_limit is not None and d.uses >= d.usage_limit:
        return Reason("has been used as many times as it may be", "limit")
    if d.per_email_limit is not None and email:
        used = conn.execute("SELECT COUNT(*) FROM discount_uses WHERE discount_id = ? AND email = ?",
                            (d.id, email)).fetchone()[0]
        if used >= d.per_email_limit:
            return Reason(f"has already been used {'once' if used == 1 else f'{used} times'} with {email}", "limit")
    eligible = [i for i in items if targets(d, i)]
    if d.target == "products" and not eligible:
        return Reason("applies to products that are not in the basket", "basket")
    if d.min_subtotal and subtotal < d.min_subtotal:
        return Reason(f"needs a basket of at least {display(Money(d.min_subtotal, currency))}", "basket")
    if d.min_quantity and sum(i.quantity for i in eligible) < d.min_quantity:
        return Reason(f"needs at least {d.min_quantity} {'item' if d.min_quantity == 1 else 'items'}" + (
            " of the products it is for" if d.target == "products" else ""), "basket")
    return None


def targets(d: Discount, item: Item) -> bool:
    if d.target != "products":
        return True
    return item.product in d.products or bool(item.categories & d.categories)


def best(candidates: list[Discount], items: list[Item], shipping: int) -> list[Applied]:
    """The best single discount, or every combinable one together if that saves more."""
    options: list[list[Applied]] = [[amount_of(d, items, shipping)] for d in candidates if not d.combines]
    stack = [d for d in candidates if d.combines]
    if stack:
        options.append(together(stack, items, shipping))
    if not options:
        return []
    return max(options, key=lambda applied: (sum(a.amount for a in applied),
                                             -min((a.discount.id for a in applied), default=0)))


def together(stack: list[Discount], items: list[Item], shipping: int) -> list[Applied]:
    """Combinable discounts one after another, each on what the earlier ones left (percentages
    before fixed amounts, so the order of entry never changes the price)."""
    applied: list[Applied] = []
    left = {i.sku: i.total for i in items}
    ship_left = shipping
    for d in sorted(stack, key=lambda d: (d.kind != "percent", d.id)):
        current = [Item(i.sku, i.product, i.categories, i.quantity, left[i.sku]) for i in items]
        a = amount_of(d, current, ship_left)
        for sku, off in a.lines.items():
            left[sku] -= off
        ship_left -= a.shipping
        applied.append(a)
    return applied


def amount_of(d: Discount, items: list[Item], shipping: int) -> Applied:
    if d.on_shipping:
        if d.kind == "free_shipping":
            off = shipping
        elif d.kind == "percent":
            off = _round(Decimal(shipping) * d.value / (100 * PERCENT_SCALE))
        else:
            off = d.value
        return Applied(d, {}, min(max(off, 0), shipping))
    eligible = [i for i in items if targets(d, i) and i.total > 0]
    base = sum(i.total for i in eligible)
    if d.kind == "percent":
        total = _round(Decimal(base) * d.value / (100 * PERCENT_SCALE))
    else:
        total = d.value
    total = min(max(total, 0), base)
    return Applied(d, spread(total, [(i.sku, i.total) for i in eligible]), 0)


def spread(total: int, lines: list[tuple[str, int]]) -> dict[str, int]:
    """``total`` shared over lines in proportion to their amounts, in whole minor units: each line
    gets its share rounded down, then the units left go one each to the lines with the largest
    remainders (the earlier line first on a tie). The shares always sum to ``total``."""
    base = sum(amount for _, amount in lines)
    if base <= 0 or total <= 0:
        return {}
    shares = {sku: total * amount // base for sku, amount in lines}
    remainders = sorted(((total * amount % base, -n, sku) for n, (sku, amount) in enumerate(lines)), reverse=True)
    for _, _, sku in remainders[:total - sum(shares.values())]:
        shares[sku] += 1
    return {sku: amount for sku, amount in shares.items() if amount}


def local(moment: str, zone: str) -> str:
    """A stored UTC time as the shop reads it: 31 Mar 2027, 23:59 (Europe/London)."""
    when = datetime.fromisoformat(moment).astimezone(ZoneInfo(zone))
    return f"{when.day} {when.strftime('%b %Y, %H:%M')} ({zone})"


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))



# -- managing discounts (admin, API and CLI share these) --------------------------------------------

FIELDS = ("code", "title", "kind", "value", "target", "products", "categories", "min_subtotal", "min_quantity",
          "starts_at", "ends_at", "usage_limit", "per_email_limit", "combines", "status")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")


def public(d: Discount) -> dict:
    return {"id": d.id, "code": d.code, "title": d.title, "kind": d.kind, "value": d.value, "target": d.target,
            "products": sorted(d.products), "categories": sorted(d.categories), "min_subtotal": d.min_subtotal,
            "min_quantity": d.min_quantity, "starts_at": d.starts_at, "ends_at": d.ends_at,
            "usage_limit": d.usage_limit, "per_email_limit": d.per_email_limit, "combines": d.combines,
            "status": d.status, "uses": d.uses}


def get(conn: sqlite3.Connection, discount_id: int) -> Discount:
    row = conn.execute("SELECT * FROM discounts WHERE id = ?", (discount_id,)).fetchone()
    if row is None:
        raise NotFound(f"there is no discount {discount_id}", field="id", code="discount_not_found")
    return Discount.from_row(row)


def all_discounts(conn: sqlite3.Connection) -> list[Discount]:
    return [Discount.from_row(r) for r in conn.execute("SELECT * FROM discounts ORDER BY status, id DESC")]


def create(conn: sqlite3.Connection, **values) -> Discount:
    """A new discount from checked values (see ``checked``); a code already taken is a 409."""
    clean = checked({**DEFAULTS, **values})
    stamp = _stamp()
    try:
        with conn:
            cursor = conn.execute(
                f"INSERT INTO discounts ({', '.join(FIELDS)}, created_at, updated_at) "
                f"VALUES ({', '.join('?' * len(FIELDS))}, ?, ?)", (*_row(clean), stamp, stamp))
    except sqlite3.IntegrityError:
        raise Conflict(f"the code {clean['code']} is taken by another discount", field="code",
                       code="code_taken") from None
    return get(conn, cursor.lastrowid)  # type: ignore[arg-type]


def update(conn: sqlite3.Connection, discount_id: int, **changes) -> Discount:
    """Change a discount (pause it with ``status="paused"``). Orders already placed keep the discount
    as it was applied to them."""
    current = public(get(conn, discount_id))
    clean = checked({**{k: current[k] for k in FIELDS}, **changes})
    try:
        with conn:
            conn.execute(f"UPDATE discounts SET {', '.join(f'{k} = ?' for k in FIELDS)}, updated_at = ? WHERE id = ?",
                         (*_row(clean), _stamp(), discount_id))
    except sqlite3.IntegrityError:
        raise Conflict(f"the code {clean['code']} is taken by another discount", field="code",
                       code="code_taken") from None
    return get(conn, discount_id)


DEFAULTS = {"code": None, "title": "", "target": "order", "products": (), "categories": (), "min_subtotal": 0,
            "min_quantity": 0, "starts_at": None, "ends_at": None, "usage_limit": None, "per_email_limit": None,
            "combines": False, "status": "active"}


def checked(v: dict) -> dict:
    """Every field checked, each problem a 400 naming the field."""
    code = v.get("code")
    if code is not None:
        if not isinstance(code, str) or not _CODE.match(code.strip()):
            raise BadRequest("code: letters, digits, - and _ only, at most 50 (or none for an automatic discount)",
                             field="code")
        code = code.strip().upper()
    title = v.get("title") or ""
    if not isinstance(title, str) or len(title) > 100:
        raise BadRequest("title: at most 100 characters", field="title")
    if code is None and not title.strip():
        raise BadRequest("title: an automatic discount (no code) needs a title shoppers will see", field="title")
    kind = v.get("kind")
    if kind not in KINDS:
        raise BadRequest(f"kind: one of {', '.join(KINDS)}", field="kind")
    target = "shipping" if kind == "free_shipping" else v.get("target") or "order"
    if target not in TARGETS:
        raise BadRequest(f"target: one of {', '.join(TARGETS)}", field="target")
    value = _whole(v.get("value", 0) if kind != "free_shipping" else 0, "value")
    if kind == "percent" and not 0 < value <= 100 * PERCENT_SCALE:
        raise BadRequest("value: a percentage above 0 and at most 100", field="value")
    if kind == "amount" and value <= 0:
        raise BadRequest("value: an amount above 0", field="value")
    products = _names(v.get("products"), "products")
    categories = _names(v.get("categories"), "categories")
    if target == "products" and not (products or categories):
        raise BadRequest("products: name the products or categories the discount is for", field="products")
    starts, ends = _moment(v.get("starts_at"), "starts_at"), _moment(v.get("ends_at"), "ends_at")
    if starts and ends and ends <= starts:
        raise BadRequest("ends_at: must be after starts_at", field="ends_at")
    status = v.get("status") or "active"
    if status not in ("active", "paused"):
        raise BadRequest("status: active or paused", field="status")
    return {"code": code, "title": title.strip(), "kind": kind, "value": value, "target": target,
            "products": products, "categories": categories,
            "min_subtotal": _whole(v.get("min_subtotal") or 0, "min_subtotal"),
            "min_quantity": _whole(v.get("min_quantity") or 0, "min_quantity"), "starts_at": starts, "ends_at": ends,
            "usage_limit": _limit(v.get("usage_limit"), "usage_limit"),
            "per_email_limit": _limit(v.get("per_email_limit"), "per_email_limit"),
            "combines": bool(v.get("combines")), "status": status}


def _row(clean: dict) -> tuple:
    return tuple(json.dumps(sorted(clean[k])) if k in ("products", "categories") else
                 int(clean[k]) if k == "combines" else clean[k] for k in FIELDS)


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise BadRequest(f"{name}: a whole number of at least 0", field=name)
    return value


def _limit(value: object, name: str) -> int | None:
    if value is None:
        return None
    if _whole(value, name) < 1:
        raise BadRequest(f"{name}: at least 1, or none for no limit", field=name)
    return value  # type: ignore[return-value]


def _names(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [p for p in re.split(r"[,\s]+", value) if p]
    if not isinstance(value, (list, tuple)) or len(value) > 100 or \
            not all(isinstance(p, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,99}", p) for p in value):
        raise BadRequest(f"{name}: a list of slugs (lowercase letters, digits and hyphens)", field=name)
    return sorted(set(value))


def _moment(value: object, name: str) -> str | None:
    """A stored moment: ISO 8601 with an offset (times in the shop's zone go through ``to_utc``)."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(f"{name}: a date and time such as 2027-03-31T23:59:00+01:00", field=name) from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name}: give the time zone (or use the shop's local time in the admin)", field=name)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def to_utc(local_text: str, zone: str) -> str:
    """``2027-03-31 23:59`` (or a date alone: its start) in the shop's zone, as a stored moment."""
    text = local_text.strip().replace(" ", "T")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{local_text!r} is not a date and time such as 2027-03-31 23:59", field="time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def percent(text: object) -> int:
    """``"12.5"`` percent as stored (hundredths): 1250."""
    try:
        value = Decimal(str(text).strip().rstrip("%"))
    except ArithmeticError:
        raise BadRequest("value: a percentage such as 10 or 12.5", field="value") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise BadRequest("value: a percentage with at most two decimals", field="value")
    return int(value * PERCENT_SCALE)


def _stamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
