"""Forms on a site's pages: the public ``POST /api/forms/{name}`` and the staff's list of messages.

A plain HTML form post (no JavaScript) gets HTML back: a 303 to the page's ``#<form>-sent`` on
success, a small page naming the problems otherwise. Scripts and API clients get JSON.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from litestar import Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import UploadFile
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery

from content.registry import Tenant

from ..auth.ratelimit import Throttle, address_key
from ..errors import ApiError, BadRequest, Forbidden, TooLarge
from ..forms import MAX_BODY, RATE, FormProblems, Submissions, clean, form_of, is_spam
from ..openapi import errors
from ..security import client_address, principal_of, require_tenant, services_of
from ..services import Services
from .params import Int

CMS = {"feature": ("cms", "forms")}
_SENT = "The message was sent."


@post("/api/forms/{name:str}", opt=CMS, status_code=200, tags=["forms"],
      responses={**errors(429, body=True), 303: ResponseSpec(None, description="Sent (a plain HTML form post): "
                                                                                "back to the page's #<form>-sent")},
      summary="Send a message through one of the site's forms",
      description="The body is the form's fields, form-encoded (a plain HTML form post), multipart or a JSON "
                  "object of strings; at most 32 KB. Fields the form does not declare are ignored. Only from "
                  "the site's own pages: a request whose Origin or Referer is another site is refused. At "
                  "most 5 messages per address and site in 10 minutes.")
async def submit(request: Request, name: FromPath[str]) -> Response:
    tenant = require_tenant(request)
    services = services_of(request)
    wants_html = "text/html" in request.headers.get("accept", "") and "json" not in request.headers.get(
        "content-type", "")
    form: dict | None = None
    try:
        _same_site(request, tenant, services)
        values = await _values(request)
        address = client_address(request.scope, services.config.trusted_proxies)
        form = await sync_to_thread(_form, services, tenant.slug, name)
        await sync_to_thread(_receive, services, tenant.slug, name, form, values, address)
    except ApiError as exc:
        if wants_html:
            return _problem_page(exc, form["page"] if form else "/")
        raise
    if wants_html:
        return Response(b"", status_code=303, headers={"Location": f"{form['page']}#{name}-sent",
                                                         "Cache-Control": "no-store"})
    return Response({"ok": True, "message": form["success"] or _SENT}, status_code=200)


def _form(services: Services, slug: str, name: str) -> dict:
    with services.databases.connection(slug) as conn:
        return form_of(conn, name)


def _receive(services: Services, slug: str, name: str, form: dict, values: dict[str, str], address: str) -> None:
    """Keep the message (or quietly drop a robot's), after the checks that need the database."""
    if is_spam(values):
        return  # answered like a success: a robot learns nothing from the answer
    fields = clean(form, values)
    Throttle(services.db, "form", *RATE).hit(f"{slug}|{address_key(address)}", "messages")
    with services.databases.connection(slug) as conn:
        Submissions(conn).add(name, form, fields)


def _same_site(request: Request, tenant: Tenant, services: Services) -> None:
    """A browser says where a post comes from; it must be one of the site's own addresses."""
    origin = request.headers.get("origin")
    if origin is None and (referer := request.headers.get("referer")):
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"
    if origin is not None and origin not in services.resolver.origins(tenant, services.config.port):
        raise Forbidden("this form can only be sent from the site's own pages", code="cross_origin")


async def _values(request: Request) -> dict[str, str]:
    """The posted fields as text, whatever the encoding; the last value of a repeated field counts."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge(f"the message is too long: at most {MAX_BODY // 1024} KB in all", field="body")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TooLarge(f"the message is too long: at most {MAX_BODY // 1024} KB in all", field="body")
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not body:
        return {}
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200))
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("the form data is not valid UTF-8 form encoding", field="body",
                             code="invalid_body") from None
    if kind == "multipart/form-data":
        data = await request.form()
        return {k: v for k, v in data.items() if not isinstance(v, UploadFile) and isinstance(v, str)}
    if kind == "application/json":
        return _json_values(body)
    raise BadRequest("send the form as application/x-www-form-urlencoded, multipart/form-data or a JSON object",
                     field="body", code="invalid_body")


def _json_values(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON", field="body", code="invalid_body") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object of field names and values", field="body",
                         code="invalid_body")
    values = {}
    for key, value in data.items():
        if isinstance(value, bool):
            value = "yes" if value else ""
        elif value is None:
            value = ""
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            raise BadRequest(f"{key} must be text", field=key)
        values[key] = value
    return values


def _problem_page(exc: ApiError, page: str) -> Response:
    """For someone whose browser posted the form: what went wrong, in words, and the way back."""
    problems = exc.problems if isinstance(exc, FormProblems) else [(exc.field, exc.message)]
    items = "".join(f"<li>{html.escape(_sentence(message))}</li>" for _, message in problems)
    body = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>The message was not sent</title><style>body{font:18px/1.5 system-ui,sans-serif;"
            "max-width:36rem;margin:10vh auto;padding:0 1rem;color:#222}</style></head><body><main>"
            f"<h1>The message was not sent</h1><ul>{items}</ul>"
            "<p>Use your browser's Back button to return to the form with what you wrote, or "
            f"<a href='{html.escape(page)}'>open the form again</a>.</p></main></body></html>")
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                                          "base-uri 'none'; form-action 'none'"}
    if getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
    return Response(body, status_code=exc.status, media_type="text/html", headers=headers)


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


@get("/api/admin/forms/submissions", opt={**CMS, "action": "forms:read"}, responses=errors(), sync_to_thread=True,
     tags=["admin: forms"], summary="Messages sent through the site's forms, newest first "
                                    "(status: inbox, all, new, read or archived)")
def submissions(request: Request, status: FromQuery[str] = "inbox", form: FromQuery[str | None] = None,
                limit: Int = 100, offset: Int = 0) -> list[dict[str, Any]]:
    who = principal_of(request)
    with services_of(request).databases.connection(who.tenant.slug) as conn:  # type: ignore[union-attr]
        return Submissions(conn).list(status, form=form, limit=min(max(limit, 1), 500), offset=max(offset, 0))


ROUTES = [submit, submissions]
