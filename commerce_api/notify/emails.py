"""Emails rendered from the theme's ``emails/`` templates, which a site overrides in git.

Each email is ``emails/<name>.txt`` (its first line ``Subject: ...``, then a blank line, then the
plain-text body) and ``emails/<name>.html`` (extending ``_layout.html``). A site's own
``theme/emails/<name>.*`` wins over the theme's, which wins over ``base``. The HTML's ``<style>``
is inlined, since many mail clients drop style sheets, and no image is fetched from elsewhere.

Templates people write run sandboxed (they cannot reach Python's internals), within bounds (a
string or list made by ``*`` is at most ``MAX_REPEAT`` long; a site's own template has
``RENDER_SECONDS`` to render), and nothing in them is fetched: style sheets they link to are never
loaded, from the network or the disk. A site's override that fails to render falls back to the
theme's own template: a typo in a template never costs a shopper their confirmation.
"""

from __future__ import annotations

import operator
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import css_inline
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from content.money import Money, display

OVERRIDES = "theme/emails/"
MAX_REPEAT = 100_000  # the longest string or list a template may make with * or **
RENDER_SECONDS = 2.0  # a site's own email template that takes longer is stopped (and the theme's sent)
# Inline <style> only: never load a <link>ed style sheet (over the network or from the server's disk).
INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)

# name: what it is, as the admin lists it
TEMPLATES: dict[str, str] = {
    "order_confirmation": "Order confirmation, to the shopper",
    "order_paid": "Payment received (manual payments), to the shopper",
    "order_shipped": "Order shipped, with tracking, to the shopper",
    "order_cancelled": "Order cancelled, to the shopper",
    "order_refunded": "Order refunded, to the shopper",
    "staff_new_order": "New order, to staff",
    "staff_low_stock": "Low stock, to staff",
    "staff_publish_failed": "Publish failed, to staff",
    "staff_form": "Form message, to staff",
    "staff_webhook_disabled": "Webhook endpoint turned off, to the owner",
}


class EmailTemplateError(Exception):
    """No usable template for an email: the message names the template and the problem."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    note: str = ""  # why a site's own template was not used, if it was not


def money(amount: int | None, currency: str) -> str:
    if amount is None or isinstance(amount, jinja2.Undefined) or isinstance(amount, bool):
        return ""
    try:
        return display(Money(int(amount), str(currency)))
    except (TypeError, ValueError):
        return ""


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, and ``*`` / ``**`` that cannot make a string, list or number big enough to eat
    the server's memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator_name, left, right):
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("an exponent above 64 is not allowed in templates")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_REPEAT:
                raise SecurityError(f"templates may not make a string or list longer than {MAX_REPEAT:,}")
        return operator.mul(left, right)


def _environment(loaders: list[jinja2.BaseLoader]) -> jinja2.Environment:
    env = BoundedEnvironment(
        loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.ChainableUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters["money"] = money
    return env


class RenderTooLong(SecurityError):
    pass


class _Deadline:
    """Stops a render that runs past its time: a trace on the template's own frames only (the
    compiled template's code), checked every few hundred lines, so the cost stays small."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds
        self.lines = 0

    def __enter__(self) -> None:
        self.previous = sys.gettrace()
        sys.settrace(self._call)

    def __exit__(self, *exc) -> None:
        sys.settrace(self.previous)

    def _call(self, frame, event, arg):
        return self._line if frame.f_code.co_filename.startswith(("<template>", OVERRIDES)) or \
            frame.f_globals.get("__name__", "").startswith("jinja2") else None

    def _line(self, frame, event, arg):
        self.lines += 1
        if self.lines % 256 == 0 and time.monotonic() > self.until:
            raise RenderTooLong(f"the template took longer than {RENDER_SECONDS:g} s to render")
        return self._line


class Emails:
    def __init__(self, themes_dir: Path, theme: str, overrides: dict[str, str] | None = None) -> None:
        folders = [themes_dir / theme / "emails", themes_dir / "base" / "emails"]
        theirs = [jinja2.FileSystemLoader([str(f) for f in folders if f.is_dir()])]
        self.overrides = overrides or {}
        self.theme_env = _environment(theirs)
        self.site_env = _environment([jinja2.DictLoader(self.overrides), *theirs]) if self.overrides else None

    def render(self, name: str, context: dict) -> Rendered:
        if name not in TEMPLATES:
            raise EmailTemplateError(f"there is no email called {name!r}")
        if self.site_env is not None and any(k in self.overrides for k in (f"{name}.txt", f"{name}.html",
                                                                            "_layout.html")):
            try:
                with _Deadline(RENDER_SECONDS):
                    return self._render(self.site_env, name, context)
            except (jinja2.TemplateError, EmailTemplateError, ArithmeticError, MemoryError, RecursionError) as exc:
                fallback = self._render(self.theme_env, name, context)
                return Rendered(fallback.subject, fallback.text, fallback.html,
                                note=f"the site's own template theme/emails/{name} could not be used "
                                     f"({_describe(exc)}), so the theme's was sent")
        try:
            return self._render(self.theme_env, name, context)
        except jinja2.TemplateError as exc:
            raise EmailTemplateError(f"the theme's email template {name} failed: {_describe(exc)}") from None

    @staticmethod
    def _render(env: jinja2.Environment, name: str, context: dict) -> Rendered:
        text = env.get_template(f"{name}.txt").render(context)
        head, _, body = text.lstrip().partition("\n")
        if not head.lower().startswith("subject:"):
            raise EmailTemplateError(f"emails/{name}.txt must start with a line 'Subject: ...'")
        subject = " ".join(head.partition(":")[2].split())[:200]  # one line: no header injection
        try:
            html = env.get_template(f"{name}.html").render(context)
        except jinja2.TemplateNotFound:
            html = None
        if html is not None:
            html = INLINER.inline(html)
        return Rendered(subject, body.strip() + "\n", html)


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.name or 'template'} line {exc.lineno}: {exc.message}"
    return str(exc) or type(exc).__name__
