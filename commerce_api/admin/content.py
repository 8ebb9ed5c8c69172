"""Pages and posts: list, form editor (every save a commit), live preview, history with diffs, undo."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import yaml
from litestar import Request, Response, get, post
from litestar.params import FromQuery

from content import frontmatter, plans
from content.errors import ConflictError, ContentErrors, PathError, RepositoryError
from content.gitrepo import safe_path
from publish.preview import PreviewError, preview_html

from ..auth.permissions import repository_action
from . import changes
from ..errors import BadRequest, Forbidden, NotFound
from ..security import admin_base, services_of
from .common import (ENV, Form, Overlay, Rejected, author, back, commit, media_names, page, paged, parse, plan_check,
                     read_only, read_only_note, repo_of, save_base, text, when, who)

FIELDS = ("title", "slug", "status", "published_at", "excerpt", "meta_title", "meta_description", "tags")
_NAME = re.compile(r"[^a-z0-9]+")


@get("/admin/pages", opt={"action": "pages:read"}, sync_to_thread=True, include_in_schema=False)
def pages(request: Request, q: FromQuery[str] = "", status: FromQuery[str] = "", n: FromQuery[int] = 1) -> Response:
    now = datetime.now(timezone.utc)
    source = repo_of(request).source()
    problem = ""
    try:
        content = parse(request, source)
        items = (*content.pages, *content.posts)
    except ContentErrors as exc:
        items, problem = (), f"The site has {len(exc.errors)} problem(s): {exc.errors[0]}"
    finally:
        source.close()
    entries, locked = [], read_only(request)
    for entry in items:
        shown = "scheduled" if entry.status == "published" and entry.published_at and entry.published_at > now \
            else entry.status
        if (status and shown != status) or (q and q.lower() not in (entry.title + " " + entry.body).lower()):
            continue
        entries.append({"path": entry.path, "title": entry.title, "kind": entry.kind, "shown_status": shown,
                        "published_at": entry.published_at, "updated_by": entry.updated_by,
                        "read_only": entry.path in locked})
    entries.sort(key=lambda e: (e["kind"], e["title"].lower()))
    shown, paging = paged(entries, n)
    return page(request, "pages.html", title="Pages and posts", section="pages", q=q, status=status,
                can_write=who(request).can("pages:write"), entries=shown, paging=paging,
                more=f"{admin_base(request)}/pages?q={quote(q)}&status={quote(status)}", error=problem or None)


def editable(path: str) -> str:
    try:
        path = safe_path(path)
    except PathError as exc:
        raise BadRequest(str(exc), field="path") from None
    if not (path.startswith(("pages/", "posts/")) and path.endswith(".md") and path.count("/") == 1):
        raise BadRequest("only pages/*.md and posts/*.md can be edited here", field="path")
    return path


class Unreadable(BadRequest):
    """A file whose front matter cannot be read into the form (it came in through git broken)."""

    status = 422


@contextmanager
def readable(path: str, root: str):
    """Name the file and the way out when its front matter cannot be shown in the form."""
    try:
        yield
    except Unreadable as exc:
        raise Unreadable(f"{path} cannot be opened in the form: {exc.message}. Fix it with git, or undo the "
                         f"change that broke it from {root}/history?path={path}") from None


def front_matter(text_: str) -> tuple[dict, str]:
    """The form's fields and the body. The front matter ends at the first line that is only ``---``
    (or ``...``), as the builder reads it: a value that contains three dashes stays in its field."""
    lines = text_.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return {}, text_
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if close is None:
        raise Unreadable("the front matter has no closing '---' line")
    try:
        data = yaml.safe_load("".join(lines[1:close])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise Unreadable(f"the front matter is not valid YAML (line {mark.line + 2 if mark else '?'}: "
                         f"{getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict):
        raise Unreadable("the front matter is not a list of 'name: value' lines")
    return data, "".join(lines[close + 1:]).lstrip("\n")


def render_file(data: dict[str, Any], body: str, original: bytes | None = None) -> bytes:
    """The file a form describes. Over an existing file only the lines of changed keys are rewritten
    (``content.frontmatter``): a one-word edit stays a one-line diff in the history."""
    if original is None:
        return frontmatter.render(data, body).encode()
    return frontmatter.update(original.decode(errors="replace"), data, body).encode()


def _fields(text_: str) -> dict[str, str]:
    data, body = front_matter(text_)
    values = {name: "" for name in FIELDS} | {"status": "published", "body": body}
    for name in FIELDS:
        value = data.get(name)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        values[name] = "" if value is None else str(value)
    return values


def _file(form: dict[str, Any], keep: dict, original: bytes | None = None) -> bytes:
    """The file a form describes; front-matter keys the form does not show (image, aliases) are kept."""
    data = {k: v for k, v in keep.items() if k not in FIELDS}
    for name in FIELDS:
        value = text(form, name)
        if not value or (name == "status" and value == "published"):
            continue
        data[name] = [t.strip() for t in value.split(",") if t.strip()] if name == "tags" else value
    return render_file(data, str(form.get("body", "")), original)


def default_message(verb: str, title: str, path: str) -> str:
    """What a save says in the history when its author wrote nothing: "Update About us"."""
    return f"{verb} {title.strip() or path}"


def _new_path(form: dict[str, Any]) -> str:
    kind = "posts" if text(form, "kind") == "post" else "pages"
    name = _NAME.sub("-", (text(form, "slug") or text(form, "title")).lower()).strip("-")[:80]
    if not name:
        raise BadRequest("give the new page a title", field="title")
    return f"{kind}/{name}.md"


def _editor(request: Request, http_status: int = 200, **context: Any) -> Response:
    context.setdefault("errors", [])
    context.setdefault("conflict", None)
    context.setdefault("message", "")
    context.setdefault("kind", "page")
    context.setdefault("read_only", read_only_note(request, context["path"]) if context.get("exists") else "")
    return page(request, "edit.html", http_status, title="Edit" if context.get("exists") else "New",
                section="pages", media=media_names(request), **context)


# GET and POST on separate paths: Litestar 2.25 fails a sync GET with a required query parameter when a
# POST shares its path.
@get("/admin/pages/edit", opt={"action": "pages:read"}, sync_to_thread=True, include_in_schema=False)
def edit_form(request: Request, path: FromQuery[str] = "", kind: FromQuery[str] = "page") -> Response:
    repo = repo_of(request)
    if not path:
        return _editor(request, path="", base=repo.head(), exists=False, kind=kind, fields=_fields(""))
    path = editable(path)
    current = repo.read(path)
    with readable(path, admin_base(request)):
        fields = _fields(current.decode(errors="replace") if current else "")
    return _editor(request, path=path, base=repo.head(), exists=current is not None, fields=fields)


@post("/admin/pages/save", opt={"action": "pages:write"}, sync_to_thread=True, include_in_schema=False)
def save(request: Request, data: Form) -> Response:
    repo = repo_of(request)
    new_file = not text(data, "path")
    path = _new_path(data) if new_file else editable(text(data, "path"))
    current = repo.read(path)
    if new_file and current is not None:
        return _editor(request, 409, path="", base=text(data, "base"), exists=False, kind=text(data, "kind"),
                       fields=_fields(_file(data, {}).decode()), message=text(data, "message"),
                       errors=[f"{path} already exists: pick another title or slug"])
    keep = front_matter(current.decode())[0] if current else {}
    new = _file(data, keep, current)
    message = text(data, "message") or default_message("Create" if new_file else "Update", text(data, "title"), path)
    try:
        commit(request, {path: new}, message, save_base(data))
    except Rejected as exc:
        return _editor(request, exc.status, path="" if new_file else path, base=text(data, "base"),
                       exists=not new_file, kind=text(data, "kind"), fields=_fields(new.decode()), message=message,
                       errors=exc.errors, conflict=exc.conflict)
    return back(request, f"/pages/edit?path={path}", saved=_schedule(request, path) or "Saved. Publish to put it live.")


@post("/admin/pages/remove", opt={"action": "pages:write"}, sync_to_thread=True, include_in_schema=False)
def remove(request: Request, data: Form) -> Response:
    """Remove a page or post (a commit; the site loses it at the next publish). Always allowed by the
    plan: it is how a site over its limit gets back under it."""
    path = editable(text(data, "path"))
    return remove_file(request, path, "/pages", f"/pages/edit?path={quote(path)}", "title")


def remove_file(request: Request, path: str, listing: str, form: str, title_key: str) -> Response:
    current = repo_of(request).read(path)
    if current is None:
        raise NotFound(f"{path} is not in the site (removed already?)")
    try:
        title = str(front_matter(current.decode(errors="replace"))[0].get(title_key) or "")
    except Unreadable:  # a file broken through git can still be removed; its path names it
        title = ""
    try:
        commit(request, {path: None}, default_message("Remove", title, path))
    except Rejected as exc:
        return back(request, form, error=f"{path} was not removed: {'; '.join(exc.errors) or 'someone saved it meanwhile'}")
    return back(request, listing, saved=f"Removed {path}. Publish to take it off the site.")


def _schedule(request: Request, path: str) -> str | None:
    """A published entry with a future date goes live by itself: a publish is queued for that moment."""
    source = repo_of(request).source()
    try:
        content = parse(request, source)
    except ContentErrors:
        return None
    finally:
        source.close()
    entry = next((e for e in (*content.pages, *content.posts) if e.path == path), None)
    if entry is None or entry.status != "published" or not entry.published_at \
            or entry.published_at <= datetime.now(timezone.utc):
        return None
    member = who(request)
    job = services_of(request).queue.enqueue(member.tenant.slug, actor=member.user.email, run_after=entry.published_at)
    return (f"Saved and scheduled: it goes live on {when(entry.published_at.isoformat())} (job {job.id}). Other "
            "saved changes go live with it, or earlier if you publish.")


@post("/admin/pages/preview", opt={"action": "pages:read"}, sync_to_thread=True, include_in_schema=False)
def preview(request: Request, data: Form) -> Response:
    """The page as the site would show it, rendered by the builder with the tenant's theme."""
    repo = repo_of(request)
    path = _new_path(data) if not text(data, "path") else editable(text(data, "path"))
    current = repo.read(path)
    new = _file(data, front_matter(current.decode())[0] if current else {}, current)
    return _preview(request, path, new)


def _preview(request: Request, path: str, new: bytes) -> Response:
    services = services_of(request)
    config = services.config
    tenant = who(request).tenant
    source = Overlay(repo_of(request).source(), {path: new})
    try:
        with services.parse_lock(tenant.slug):
            html = preview_html(source, path, themes_dir=config.themes_dir,
                                cache_dir=config.data_dir / "tenants" / tenant.slug / "cache",
                                shop=tenant.has("ecommerce"), parse_cache=services.parse_cache(tenant.slug),
                                image_cache=config.data_dir / "cache" / "images")
        status = 200
    except PreviewError as exc:
        html, status = ENV.get_template("preview_error.html").render(problems=exc.problems).encode(), 422
    finally:
        source.base.close()
    # Shown in a sandboxed frame: no script runs, and the page cannot reach the admin.
    return Response(html, status_code=status, media_type="text/html",
                    headers={"Cache-Control": "no-store", "Content-Security-Policy": "sandbox; default-src 'self'; "
                             "img-src 'self' data:; style-src 'self' 'unsafe-inline' data:; script-src 'none'",
                             "X-Frame-Options": "SAMEORIGIN"})


@get("/admin/history", opt={"action": "pages:read"}, sync_to_thread=True, include_in_schema=False)
def history(request: Request, path: FromQuery[str]) -> Response:
    path = safe_path_for_history(path)
    repo = repo_of(request)
    commits = repo.history(path)
    return page(request, "history.html", title="History", section="pages" if path.startswith(("pages/", "posts/"))
                else "products", path=path, commits=commits, changes=_changes(repo, path, commits),
                can_write=who(request).can("pages:write" if path.startswith(("pages/", "posts/")) else "products:write"))


def _changes(repo, path: str, commits: list) -> list[changes.Change]:
    """Each commit's change to the file as fields and words. The file before a commit is the file
    after the next older one in the list: one read a commit, plus one for the oldest's parent."""
    versions = [repo.read(path, c.sha) for c in commits]
    try:
        oldest = repo.read(path, f"{commits[-1].sha}^") if commits else None
    except RepositoryError:  # the first commit of the site has no parent
        oldest = None
    return [changes.describe(before, after, path) for after, before in zip(versions, [*versions[1:], oldest])]


def safe_path_for_history(path: str) -> str:
    try:
        path = safe_path(path)
    except PathError as exc:
        raise BadRequest(str(exc), field="path") from None
    if not path.startswith(("pages/", "posts/", "products/")) and path != "site.yaml":
        raise BadRequest("history is shown for pages, posts, products and site.yaml", field="path")
    return path


@post("/admin/revert", opt={"auth": True}, sync_to_thread=True, include_in_schema=False)
def revert(request: Request, data: Form) -> Response:
    """Undo a whole commit: allowed only when the role may change every file it touched, as for a
    git push (undoing an owner's change to prices or theme files is changing them)."""
    path = safe_path_for_history(text(data, "path"))
    repo, member = repo_of(request), who(request)
    try:
        touched = repo.changed_paths(text(data, "sha"))
    except RepositoryError as exc:
        raise NotFound(str(exc)) from None
    refused = [f"{p} ({repository_action(p)})" for p in touched if not member.can(repository_action(p))]
    if refused:
        raise Forbidden(f"your role ({member.role or 'none'}) may not undo this change: it also changed "
                        f"{', '.join(refused)}", code="forbidden")
    try:
        repo.revert(text(data, "sha"), author(request), check=plan_check(request, _undone(repo, text(data, "sha"))))
    except plans.LimitReached as exc:  # undoing a removal adds the file back; undoing an edit changes it
        return back(request, f"/history?path={path}", error=f"That change cannot be undone: {exc}")
    except ConflictError:
        return back(request, f"/history?path={path}", error="That change cannot be undone automatically: "
                    "later edits touch the same lines.")
    except RepositoryError as exc:
        raise NotFound(str(exc)) from None
    return back(request, f"/history?path={path}", saved="Change undone.")


def _undone(repo, sha: str) -> dict[str, bytes | None]:
    """What undoing a commit changes, in the shape of a save's changes (path → content, None when the
    undo removes the file): its limits are checked as a save's are."""
    sha = repo.resolve(sha)
    out = repo.git("diff-tree", "-r", "-z", "--no-commit-id", "--name-status", "--no-renames", f"{sha}^1", sha,
                   check=False).stdout.decode()
    fields = [f for f in out.split("\0") if f]
    return {path: None if status == "A" else b"" for status, path in zip(fields[0::2], fields[1::2])}


ROUTES = [pages, edit_form, save, remove, preview, history, revert]
