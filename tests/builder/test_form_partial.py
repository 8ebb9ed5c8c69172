"""A page's form: placed by the {{< form >}} shortcode or after the body, rendered by the theme's
partial with every value escaped, listed for the API in the build's metadata."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from builder.errors import BuildErrors
from tests.conftest import write_site

BASE = {"site.yaml": "name: Forms\n", "pages/about.md": "---\ntitle: About\n---\nHello.\n"}

CONTACT = """\
---
title: Contact
form:
  name: contact
  title: Write <to> us
  submit: Send "now"
  fields:
    - {name: company, label: "Company <b>&</b>"}
    - {name: day, label: Day, type: select, options: ["<Mon>", Tue], required: true}
    - {name: news, label: Newsletter, type: checkbox}
  success: Thanks <script>alert(1)</script>
---
Before the form.

{{< form >}}

After the form.
"""


def built(tmp_path, build_site, files: dict, theme: str | None = None) -> str:
    site = write_site(tmp_path / "site", {**BASE, **files})
    if theme:
        (site / "site.yaml").write_text(f"name: Forms\ntheme: {theme}\n")
    build_site(site, shop=False)
    return (tmp_path / "out" / "contact" / "index.html").read_text()


def main(page: str) -> str:
    """The page's own content: the header holds the site's search form on every page."""
    return page.split('<main id="main"', 1)[1]


@pytest.mark.parametrize("theme", ["folio", "storefront"])
def test_the_shortcode_places_the_theme_form(tmp_path, build_site, theme):
    page = main(built(tmp_path, build_site, {"pages/contact.md": CONTACT}, theme))
    assert page.index("Before the form.") < page.index("<form") < page.index("After the form.")
    assert "{{&lt; form" not in page and page.count("<form") == 1
    form = re.search(r"<form[^>]*>", page).group(0)
    assert 'method="post"' in form and 'action="/api/forms/contact"' in form
    # Every label belongs to its input; required fields say so.
    for name in ("name", "email", "message", "company", "day", "news"):
        assert f'for="contact-{name}"' in page and f'id="contact-{name}"' in page
    assert re.search(r'<input[^>]*id="contact-email"[^>]*type="email"[^>]*required', page)
    assert re.search(r'<select[^>]*id="contact-day"[^>]*required', page)
    assert '<textarea' in page and 'name="message"' in page
    # The honeypot: out of sight, out of the tab order, hidden from screen readers.
    trap = re.search(r'<div class="form-trap" aria-hidden="true">.*?</div>', page, re.S).group(0)
    assert 'name="website"' in trap and 'tabindex="-1"' in trap and 'autocomplete="off"' in trap
    assert '<input type="hidden" name="_form" value="contact">' in page
    # The no-JavaScript success: the API redirects to #contact-sent, which :target shows.
    assert 'id="contact-sent"' in page


def test_every_value_is_escaped(tmp_path, build_site):
    page = built(tmp_path, build_site, {"pages/contact.md": CONTACT})
    assert "<script>alert" not in page and "Thanks &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Company &lt;b&gt;&amp;&lt;/b&gt;" in page
    assert "<b>&</b>" not in page
    assert 'value="&lt;Mon&gt;"' in page
    assert "Write &lt;to&gt; us" in page and ("Send &#34;now&#34;" in page or "Send &quot;now&quot;" in page)


def test_without_the_shortcode_the_form_follows_the_body(tmp_path, build_site):
    text = CONTACT.replace("{{< form >}}\n", "")
    page = main(built(tmp_path, build_site, {"pages/contact.md": text}))
    assert page.index("After the form.") < page.index("<form")


def test_the_shortcode_in_code_is_only_text(tmp_path, build_site):
    text = CONTACT.replace("{{< form >}}", "```\n{{< form >}}\n```\n\nAnd `{{< form >}}` inline.")
    page = main(built(tmp_path, build_site, {"pages/contact.md": text}))
    assert page.count("<form") == 1 and page.count("{{&lt; form &gt;}}") == 2
    assert page.index("After the form.") < page.index("<form")


def test_a_shortcode_without_a_form_is_an_error_with_its_line(tmp_path, build_site):
    site = write_site(tmp_path / "site", {**BASE, "pages/about.md": "---\ntitle: About\n---\nHi.\n\n{{< form >}}\n"})
    with pytest.raises(BuildErrors) as caught:
        build_site(site, shop=False)
    assert any(str(e).startswith("pages/about.md:6: ") and "form:" in str(e) for e in caught.value.errors)


def test_raw_html_cannot_forge_a_form(tmp_path, build_site):
    files = {"pages/about.md": "---\ntitle: About\n---\n<form action='https://evil.example'><input name=x></form>\n"}
    site = write_site(tmp_path / "site", {**BASE, **files})
    build_site(site, shop=False)
    assert "<form" not in main((tmp_path / "out" / "about" / "index.html").read_text())


def test_the_build_lists_live_forms_for_the_api(tmp_path, build_site):
    draft = "---\ntitle: Later\nstatus: draft\nform: {name: later}\n---\n"
    built(tmp_path, build_site, {"pages/contact.md": CONTACT, "pages/later.md": draft})
    catalog = json.loads((tmp_path / "out" / "_tessera" / "catalog.json").read_text())
    assert list(catalog["forms"]) == ["contact"]
    form = catalog["forms"]["contact"]
    assert form["page"] == "/contact/" and form["title"] == "Write <to> us"
    assert [f["name"] for f in form["fields"]] == ["name", "email", "message", "company", "day", "news"]
    assert form["fields"][4] == {"name": "day", "label": "Day", "type": "select", "required": True,
                                 "options": ["<Mon>", "Tue"]}


def test_the_form_script_is_fingerprinted_and_listed(tmp_path, build_site):
    page = built(tmp_path, build_site, {"pages/contact.md": CONTACT})
    build = json.loads((tmp_path / "out" / "_tessera" / "build.json").read_text())
    (script,) = [s for s in build["scripts"] if "/forms." in s]
    assert f'<script defer src="{script}"></script>' in page
    assert len(gzip.compress((tmp_path / "out" / script.lstrip("/")).read_bytes())) < 1000  # on the wire
    about = (tmp_path / "out" / "about" / "index.html").read_text()
    assert "forms." not in about  # only pages with a form load it
