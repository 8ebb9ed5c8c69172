"""Users (platform-wide) and memberships (a role per tenant)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from content import plans
from content.fields import is_email
from content.migrations import immediate
from content.registry import now_iso

from ..errors import BadRequest, Conflict, NotFound
from ..platform import PlatformDB
from . import passwords
from .permissions import ROLES



@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    is_superadmin: bool
    password_changed_at: str

    def public(self) -> dict:
        return {"id": self.id, "email": self.email, "name": self.name, "is_superadmin": self.is_superadmin}


@dataclass(frozen=True)
class Member:
    user: User
    role: str


def _user(row: sqlite3.Row) -> User:
    return User(row["id"], row["email"], row["name"], bool(row["is_superadmin"]), row["password_changed_at"])


def valid_email(email: str) -> str:
    email = (email or "").strip()
    if not is_email(email):
        raise BadRequest(f"{email!r} is not an email address", field="email", code="invalid_email")
    return email


def valid_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest(f"{role!r} is not a role; choose one of {', '.join(ROLES)}", field="role",
                         code="invalid_role")
    return role


class Users:
    def __init__(self, db: PlatformDB) -> None:
        self.db = db

    def create(self, email: str, password: str, *, name: str = "", superadmin: bool = False) -> User:
        email = valid_email(email)
        hashed = passwords.hash_password(password)
        stamp = now_iso()
        try:
            with self.db.conn as conn:
                conn.execute("INSERT INTO users (email, name, password_hash, is_superadmin, created_at, "
                             "password_changed_at) VALUES (?, ?, ?, ?, ?, ?)",
                             (email, name, hashed, int(superadmin), stamp, stamp))
        except sqlite3.IntegrityError:
            raise Conflict(f"a user with the email {email!r} already exists", field="email") from None
        return self.by_email(email)

    def by_email(self, email: str) -> User:
        row = self.db.conn.execute("SELECT * FROM users WHERE email = ?", (email.strip(),)).fetchone()
        if row is None:
            raise NotFound(f"no user with the email {email!r}", field="email")
        return _user(row)

    def find(self, email: str) -> User | None:
        row = self.db.conn.execute("SELECT * FROM users WHERE email = ?", ((email or "").strip(),)).fetchone()
        return _user(row) if row else None

    def get(self, user_id: int) -> User | None:
        row = self.db.conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def all(self) -> list[User]:
        return [_user(r) for r in self.db.conn.execute("SELECT * FROM users ORDER BY email")]

    def check_password(self, email: str, password: str) -> User | None:
        """The user if the password matches; ``None`` otherwise, in the same time either way."""
        row = self.db.conn.execute("SELECT * FROM users WHERE email = ?", ((email or "").strip(),)).fetchone()
        ok = passwords.verify(row["password_hash"] if row else None, password or "")
        if not (row and ok):
            return None
        if passwords.needs_rehash(row["password_hash"]):
            with self.db.conn as conn:
                conn.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                             (passwords.hash_password(password), row["id"]))
        return _user(row)

    def set_password(self, user_id: int, password: str) -> None:
        hashed = passwords.hash_password(password)
        with self.db.conn as conn:
            conn.execute("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                         (hashed, now_iso(), user_id))

    # -- memberships ------------------------------------------------------------------------

    def role(self, user_id: int, tenant_id: int) -> str | None:
        row = self.db.conn.execute("SELECT role FROM memberships WHERE user_id = ? AND tenant_id = ?",
                                   (user_id, tenant_id)).fetchone()
        return row["role"] if row else None

    def grant(self, user_id: int, tenant_id: int, role: str, *, within_plan: bool = True) -> None:
        """Give a role here, or change it. A new member takes a staff seat: past the plan's
        ``staff_seats`` that is refused (``LimitReached``), counted in the same write transaction so
        that two grants at once cannot both take the last seat. ``within_plan=False`` only for
        restoring a site as it was exported."""
        valid_role(role)
        tenant = self.db.registry.by_id(tenant_id) if within_plan else None  # opened before the transaction
        with immediate(self.db.conn) as conn:
            current = conn.execute("SELECT role FROM memberships WHERE user_id = ? AND tenant_id = ?",
                                   (user_id, tenant_id)).fetchone()
            if current is None and tenant is not None:
                plans.check_one_more(self.db.registry, tenant, "staff_seats", self.seats_taken(tenant_id, conn))
            if current and current["role"] == "owner" and role != "owner":
                self._keep_an_owner(conn, tenant_id, user_id)
            conn.execute("INSERT INTO memberships (user_id, tenant_id, role, created_at) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = excluded.role",
                         (user_id, tenant_id, role, now_iso()))

    def seats_taken(self, tenant_id: int, conn: sqlite3.Connection | None = None) -> int:
        return (conn or self.db.conn).execute("SELECT COUNT(*) FROM memberships WHERE tenant_id = ?",
                                              (tenant_id,)).fetchone()[0]

    def check_seat(self, tenant_id: int, *, also: int = 0) -> None:
        """Refuse (``LimitReached``) one more member, with ``also`` seats promised (open invitations)."""
        tenant = self.db.registry.by_id(tenant_id)
        if tenant is not None:
            plans.check_one_more(self.db.registry, tenant, "staff_seats", self.seats_taken(tenant_id) + also)

    def revoke(self, user_id: int, tenant_id: int) -> None:
        with immediate(self.db.conn) as conn:
            current = conn.execute("SELECT role FROM memberships WHERE user_id = ? AND tenant_id = ?",
                                   (user_id, tenant_id)).fetchone()
            if current is None:
                raise NotFound("that user is not a member of this tenant")
            if current["role"] == "owner":
                self._keep_an_owner(conn, tenant_id, user_id)
            conn.execute("DELETE FROM memberships WHERE user_id = ? AND tenant_id = ?", (user_id, tenant_id))

    @staticmethod
    def _keep_an_owner(conn: sqlite3.Connection, tenant_id: int, leaving: int) -> None:
        others = conn.execute("SELECT count(*) FROM memberships WHERE tenant_id = ? AND role = 'owner' "
                              "AND user_id != ?", (tenant_id, leaving)).fetchone()[0]
        if others == 0:
            raise Conflict("a tenant must keep at least one owner; make someone else owner first",
                           code="last_owner")

    def members(self, tenant_id: int) -> list[Member]:
        rows = self.db.conn.execute(
            "SELECT users.*, memberships.role FROM memberships JOIN users ON users.id = memberships.user_id "
            "WHERE memberships.tenant_id = ? ORDER BY users.email", (tenant_id,))
        return [Member(_user(r), r["role"]) for r in rows]

    def memberships(self, user_id: int) -> list[tuple[int, str]]:
        rows = self.db.conn.execute("SELECT tenant_id, role FROM memberships WHERE user_id = ?", (user_id,))
        return [(r["tenant_id"], r["role"]) for r in rows]
