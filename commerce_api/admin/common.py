"""What every admin page shares: the template environment, the page response, the signed-in
member, the tenant's repository, and committing files after checking the would-be site parses."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jinja2
from litestar import Request, Response
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect
from typing_extensions import Annotated

from content import plans
from content.errors import ConflictError, ContentErrors, RepositoryError
from content.gitrepo import Author, Repository
from content.parse import parse_site
from content.prices import errors_at, read_cache
from content.registry import now_iso

from ..errors import BadRequest
from ..security import Principal, admin_base, principal_of, require_tenant, services_of, tenant_of
from . import report_common

ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                         autoescape=True, undefined=jinja2.StrictUndefined)


def when(value: str | None) -> str:
    """An ISO timestamp as people read it: 26 Nov 2026, 23:48 UTC."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%-d %b %Y, %H:%M") + (" UTC" if moment.tzinfo is not None else "")


ENV.filters["when"] = when
ENV.globals["now_iso"] = now_iso
ENV.globals["limit_amount"] = plans.amount  # "50 products", "200 MB of media", "unlimited"
ENV.globals["reports_for"] = report_common.visible  # the "Reports" menu entry opens the first one
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def admin_html(html: str, status: int, nonce: str) -> Response:
    """An admin page: never cached, never framed, and only its own inline scripts run (a nonce per
    page). The preview frame is written with srcdoc, so the tenant's page inherits this policy too."""
    policy = (f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
              "img-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; "
              "base-uri 'none'; object-src 'none'")
    return Response(html, status_code=status, media_type="text/html",
                    headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Security-Policy": policy})


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def page(request: Request, template: str, http_status: int = 200, **context: Any) -> Response:
    principal = principal_of(request)
    context.setdefault("section", "")
    vouched = message_is_ours(request)  # a link from elsewhere cannot put words in the admin's mouth
    context.setdefault("flash", request.query_params.get("saved") if vouched else None)
    context.setdefault("error", request.query_params.get("error") if vouched else None)
    # A read-only support view may not switch sites: it is offered no switcher it would refuse.
    tenants = _switchable(request, principal) if principal and not principal.read_only else []
    context.setdefault("inbox_unread", lambda: _unread(request))  # called only where the menu shows the inbox
    context.setdefault("billing_notice", _billing_notice(request))
    context.setdefault("unpublished", lambda: _unpublished(request))  # called only for those who may publish
    nonce = new_nonce()
    html = ENV.get_template(template).render(tenant=require_tenant(request), principal=principal,
                                             switch_to=tenants, root=admin_base(request), nonce=nonce, **context)
    return admin_html(html, http_status, nonce)


def admin_error_page(request: Request, status: int, message: str) -> Response:
    """A readable page for a refused or failed admin request, in the admin's own layout."""
    titles = {400: "That request was not understood", 403: "Not allowed", 404: "Not found", 409: "Conflict",
              413: "Too large", 401: "Sign in again"}
    nonce = new_nonce()
    html = ENV.get_template("error.html").render(tenant=tenant_of(request), root=admin_base(request), nonce=nonce,
                                                 principal=principal_of(request), switch_to=[], section="",
                                                 flash=None, error=None, title=titles.get(status, "Something went wrong"),
                                                 message=message, status=status)
    return admin_html(html, status, nonce)


def _billing_notice(request: Request) -> str | None:
    from .billing import notice

    return notice(request, tenant_of(request))


def _unpublished(request: Request) -> int:
    from .ui import unpublished

    return unpublished(request)


def _unread(request: Request) -> int:
    from ..forms import Submissions

    with services_of(request).databases.connection(require_tenant(request).slug) as conn:
        return Submissions(conn).count("new")


def _switchable(request: Request, principal: Principal) -> list[tuple[str, str]]:
    """(slug, name) of the other tenants this account may switch to."""
    services = services_of(request)
    if principal.user.is_superadmin:
        tenants = services.db.registry.all()
    else:
        ids = {tenant_id for tenant_id, _ in services.users.memberships(principal.user.id)}
        tenants = [t for t in services.db.registry.all() if t.id in ids]
    return [(t.slug, t.name) for t in tenants if t.id != principal.tenant.id]


def who(request: Request) -> Principal:
    return principal_of(request)  # type: ignore[return-value]


def author(request: Request) -> Author:
    user = who(request).user
    return Author(user.name or user.email, user.email)


def repo_of(request: Request) -> Repository:
    return Repository(services_of(request).config.data_dir / "tenants" / require_tenant(request).slug / "repo.git")


def parse(request: Request, source):
    """The site parsed, reusing what this process parsed before for files that did not change."""
    services, slug = services_of(request), require_tenant(request).slug
    with services.parse_lock(slug):
        _with_history(source, services.git_history(slug))
        return parse_site(source, cache=services.parse_cache(slug))


def _with_history(source, history: dict) -> None:
    """Let a repository's source (or the one an overlay is on) keep what it reads of the history
    in the tenant's record."""
    base = getattr(source, "base", source)
    if getattr(base, "history", False) is None:
        base.history = history


def warm_parse_cache(services, slug: str) -> None:
    """Parse a tenant's site in the background when someone signs in, so that their first list or
    save does not wait for a cold parse of a large site (seconds for thousands of pages)."""
    import threading

    def work() -> None:
        source = Repository(services.config.data_dir / "tenants" / slug / "repo.git").source()
        try:
            with services.parse_lock(slug):
                _with_history(source, services.git_history(slug))
                parse_site(source, cache=services.parse_cache(slug))
        except Exception:  # noqa: BLE001 (a broken site shows its errors when a page asks, not here)
            pass
        finally:
            source.close()

    threading.Thread(target=work, name=f"warm-{slug}", daemon=True).start()


def media_names(request: Request) -> list[str]:
    """The files in the tenant's media library (not their .yaml descriptions), by name."""
    source = repo_of(request).source()
    try:
        return sorted(p.removeprefix("media/") for p in source.paths()
                      if p.startswith("media/") and not p.endswith((".yaml", ".yml")))
    finally:
        source.close()


def back(request: Request, url: str, *, saved: str = "", error: str = "") -> Response:
    """303 to the admin page ``url`` (``/media``: a path within this tenant's admin) with a message the
    next page shows (role=status, or role=alert for errors). The query is signed: the admin shows
    messages it wrote itself, never words someone put in a link."""
    url, hash_, fragment = (admin_base(request) + url).partition("#")
    sep = "&" if "?" in url else "?"
    if saved:
        url += f"{sep}saved={quote(saved)}"
    elif error:
        url += f"{sep}error={quote(error)}"
    query = urlsplit(url).query
    if query:
        url += f"&sig={_signature(request, parse_qsl(query, keep_blank_values=True))}"
    return Redirect(url + hash_ + fragment, status_code=303)


def _signature(request: Request, pairs: list[tuple[str, str]]) -> str:
    key = services_of(request).config.secret_key.encode()
    text = "\0".join(f"{k}={v}" for k, v in sorted(pairs) if k != "sig")
    return hmac.new(key, b"admin-message\0" + text.encode(), hashlib.sha256).hexdigest()[:32]


def message_is_ours(request: Request) -> bool:
    """Whether this page's query (its message, an invitation link) came from ``back``."""
    pairs = [(k, v) for k, v in request.query_params.multi_items()]
    sent = request.query_params.get("sig") or ""
    return bool(sent) and hmac.compare_digest(sent, _signature(request, pairs))


def text(form: dict[str, Any], name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()


PER_PAGE = 100


def paged(items: list, n: int, per_page: int = PER_PAGE) -> tuple[list, dict]:
    """One page of a long list, and what the template needs to link to the others."""
    count = max(1, -(-len(items) // per_page))
    n = min(max(n, 1), count)
    return items[(n - 1) * per_page:n * per_page], {"total": len(items), "n": n, "pages_count": count,
                                                     "per_page": per_page}


def number(form: dict[str, Any], name: str, *, label: str | None = None) -> int:
    """A whole number from a form field, 0 up to SQLite's largest integer; anything else is a 400
    naming the field, never a crash. Only ASCII digits: ``str.isdigit`` also accepts "²" and other
    digits that ``int`` refuses, and a number past 64 bits would overflow in the database."""
    value = text(form, name)
    if not (value.isascii() and value.isdigit()) or int(value) > 2**63 - 1:
        raise BadRequest(f"{label or name} must be a whole number from 0 to {2**63 - 1}", field=name)
    return int(value)


def values(form: dict[str, Any], name: str) -> list[str]:
    """Every value of a repeated field (checkboxes, multi-selects)."""
    value = form.get(name)
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


class Rejected(Exception):
    """A save that did not happen: the site would not parse (422) or someone saved first (409)."""

    def __init__(self, status: int, errors: list[str], conflict: dict | None = None, head: str = "") -> None:
        super().__init__("; ".join(errors) or "conflict")
        self.status, self.errors, self.conflict, self.head = status, errors, conflict, head


def commit(request: Request, changes: dict[str, bytes | None], message: str, base: str | None = None) -> str:
    """Commit ``changes`` (path → bytes, None deletes) as the signed-in member, after checking that the
    site with these changes still parses. Errors in the changed files reject the save; errors that were
    already elsewhere do not block it. A save that would add past a limit of the site's plan (products,
    pages and posts), or change a file that is read-only because the site is over such a limit, is
    refused (403) and nothing is written: checked first for a quick answer, then again under the
    repository's lock against the version the save lands on. Returns the new commit."""
    repo = repo_of(request)
    source = Overlay(repo.source(), changes)
    check = plan_check(request, changes)
    try:
        try:
            check(source.base.paths(), source.paths())
        except plans.LimitReached as exc:
            raise Rejected(403, [str(exc)]) from None
        content = parse(request, source)
        prior_price_errors(request, repo, source.base.commit, content, changes)
    except ContentErrors as exc:
        mine = [str(e) for e in exc.errors if e.path in changes or _describes(e.path, changes)]
        mine += _broken_by(request, repo, exc.errors, changes)
        if mine:
            raise Rejected(422, mine) from None
    finally:
        source.base.close()
    try:
        return repo.write(changes, author(request), message, base=base or None, check=check)
    except plans.LimitReached as exc:  # someone else's save landed first and took the last place
        raise Rejected(403, [str(exc)]) from None
    except ConflictError as exc:
        first = next(iter(changes))
        raise Rejected(409, [], {"theirs": (exc.theirs or b"(deleted)").decode(errors="replace"),
                                 "yours": (changes[first] or b"(deleted)").decode(errors="replace"),
                                 "head": exc.head}, exc.head) from None
    except RepositoryError as exc:
        raise BadRequest(str(exc)) from None


def read_only(request: Request) -> dict[str, str]:
    """path → limit of the site's files that are read-only because it is over that limit (usually none)."""
    return plans.read_only_paths(services_of(request).db.registry, require_tenant(request), repo_of(request))


def read_only_note(request: Request, path: str) -> str:
    """Why this file can be read and removed but not changed, in the plan's words; "" when it can be."""
    registry, tenant, repo = services_of(request).db.registry, require_tenant(request), repo_of(request)
    head = repo.head()
    if head is None:
        return ""
    locked = plans.read_only_paths(registry, tenant, repo)
    if path not in locked:
        return ""
    key = locked[path]
    return str(plans.read_only_error(registry, tenant, path, key, plans.counts(repo.paths(head))[key]))


def plan_check(request: Request, changes: dict[str, bytes | None]):
    """The plan's say on a change, as ``Repository.write`` calls it under its lock (``gitrepo.Check``):
    no addition past a counted limit or the media storage, no change to a file that is read-only over one."""
    registry, tenant, repo = services_of(request).db.registry, require_tenant(request), repo_of(request)

    added_media = plans.media_paths(path for path, data in changes.items() if data is not None)

    def check(before: list[str], after: list[str]) -> None:
        plans.check_paths(registry, tenant, before, after)
        if added_media:  # media storage, against the version the save lands on (two uploads at once)
            source = repo.source()
            try:
                sizes = {path: source.size(path) for path in plans.media_paths(source.paths())}
            finally:
                source.close()
            after_bytes = sum(len(changes[p]) if changes.get(p) is not None else sizes.get(p, 0)
                              for p in plans.media_paths(after))
            plans.check(registry, tenant, "media_bytes", sum(sizes.get(p, 0) for p in plans.media_paths(before)),
                        after_bytes)
        present = set(before)
        edited = [path for path, data in changes.items()
                  if data is not None and path in present and plans.counted(path)]
        if edited:
            plans.check_read_only(registry, tenant, repo, edited, after)

    return check


# Files that name other files' contents: deleting a product, or a category, can break them.
_DEPENDENT = ("shipping.yaml",)


def _broken_by(request: Request, repo: Repository, errors, changes: dict) -> list[str]:
    """Errors the change causes in files it does not touch (shipping.yaml excluding a product that
    the change deletes): new ones reject the save, ones that were there before do not."""
    found = [e for e in errors if e.path in _DEPENDENT and e.path not in changes]
    if not found:
        return []
    base = repo.source()
    try:
        parse(request, base)
        before: set[str] = set()
    except ContentErrors as exc:
        before = {str(e) for e in exc.errors}
    finally:
        base.close()
    return [f"{e} (this change would break {e.path}: change it there first)" for e in found if str(e) not in before]


def prior_price_errors(request: Request, repo: Repository, head: str, content, changes: dict) -> None:
    """The prior price rule (``content.prices``) on the would-be site: the save counts from now. A change
    to site.yaml (turning the rule on) answers for every product; other saves for their own files."""
    tenant = require_tenant(request)
    if not tenant.has("ecommerce"):
        return
    folder = services_of(request).config.data_dir / "tenants" / tenant.slug
    errors = errors_at(repo, head, content, datetime.now(timezone.utc), cache=read_cache(folder), pending_content=True)
    if "site.yaml" in changes and errors:
        raise Rejected(422, [str(e) for e in errors])
    if errors:
        raise ContentErrors(errors)


def save_base(form: dict[str, Any]) -> str:
    """The commit a save builds on. After a conflict the form still holds the user's own base, so
    saving again conflicts again; only when they tick that they merged the other version does the
    save build on the commit they were shown (and a newer save by anyone conflicts once more)."""
    if text(form, "merged") == "yes" and text(form, "theirs"):
        return text(form, "theirs")
    return text(form, "base")


def _describes(path: str, changes: dict[str, bytes | None]) -> bool:
    return any(path == f"{changed}.yaml" or changed == f"{path}.yaml" for changed in changes)


class Overlay:
    """The repository's latest files with some replaced or removed: what a save would commit."""

    def __init__(self, base, changes: dict[str, bytes | None]) -> None:
        self.base, self.changes = base, changes

    def paths(self) -> list[str]:
        present = set(self.base.paths()) | {p for p, data in self.changes.items() if data is not None}
        return sorted(p for p in present if self.changes.get(p, b"") is not None)

    def read(self, path: str) -> bytes:
        data = self.changes.get(path, b"")
        return data if path in self.changes and data is not None else self.base.read(path)

    def size(self, path: str) -> int:
        return len(self.read(path)) if path in self.changes else self.base.size(path)

    def fingerprint(self, path: str) -> str:
        if path in self.changes:  # unsaved text: its own fingerprint, so a parse cache never mixes two drafts
            return "edited:" + hashlib.sha256(self.changes[path] or b"").hexdigest()
        return self.base.fingerprint(path)

    def info(self) -> dict:
        return self.base.info()
