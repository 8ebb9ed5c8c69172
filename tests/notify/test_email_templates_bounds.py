"""A site's own email templates run within bounds: nothing they link to is fetched, and a template
that loops for ever or builds a huge string is stopped (the theme's email goes instead)."""

from __future__ import annotations

import http.server
import threading
import time

from commerce_api.notify.emails import Emails
from tessera.settings import ROOT

CONTEXT = {"site": {"name": "Shop"}, "publish": {"message": "posts/a.md line 1: bad"}, "admin_url": "",
           "unsubscribe_url": ""}
HTML = '{% extends "_layout.html" %}{% block content %}LINK<p>hello</p>{% endblock %}'


def render(txt: str = "Subject: Own {{ site.name }}\n\nown text", html: str = HTML):
    return Emails(ROOT / "themes", "storefront", {"staff_publish_failed.txt": txt,
                                                  "staff_publish_failed.html": html}).render("staff_publish_failed",
                                                                                             CONTEXT)


def test_linked_style_sheets_are_never_loaded(tmp_path):
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"p { color: red }")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret.css"
    secret.write_text("p { color: blue }")
    try:
        links = (f'<link rel="stylesheet" href="http://127.0.0.1:{server.server_port}/internal.css">'
                 f'<link rel="stylesheet" href="{secret}"><link rel="stylesheet" href="/dev/zero">')
        rendered = render(html=HTML.replace("LINK", links))
    finally:
        server.shutdown()
    assert hits == []
    assert rendered.subject == "Own Shop" and "blue" not in rendered.html and "red" not in rendered.html


def test_a_template_that_runs_too_long_is_stopped_and_the_themes_is_sent():
    started = time.monotonic()
    rendered = render("Subject: slow\n\n{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
                      "{% endfor %}")
    assert time.monotonic() - started < 10
    assert rendered.subject == "Publishing Shop failed"  # the theme's own
    assert "took longer than 2 s" in rendered.note


def test_huge_strings_and_numbers_are_refused():
    for body in ("{{ 'x' * 4000000000 }}", "{{ ['x'] * 10000000 }}", "{{ 9 ** 99999999 }}"):
        rendered = render(f"Subject: big\n\n{body}")
        assert rendered.subject == "Publishing Shop failed" and "could not be used" in rendered.note, body
    assert render("Subject: fine {{ 'ab' * 3 }}\n\nok").subject == "fine ababab"
