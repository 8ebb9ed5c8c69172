"""Templates in a site's ``theme/templates/`` are written by the tenant's owners and admins, who are not
trusted with the server: they render sandboxed, and what the sandbox refuses fails the build with the
template's file and line, never running the code."""

from __future__ import annotations

import pytest

from builder.errors import BuildErrors
from tests.builder.conftest import files
from tests.conftest import write_site

BASE = {
    "site.yaml": "name: Safe\n",
    "pages/about.md": "---\ntitle: About\n---\nHello.\n",
}


def override(expression: str) -> str:
    return f'{{% extends "theme:page.html" %}}\n{{% block main %}}\n<p>\n{expression}\n</p>\n{{% endblock %}}\n'


# Each would run code on the server, read its memory, or change data other pages share.
ESCAPES = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals of a builtin global": "{{ cycler.__init__.__globals__.os.makedirs(MARKER) }}",
    "globals of a theme function": "{{ money.__globals__['__builtins__']['__import__']('os').makedirs(MARKER) }}",
    "format string": "{{ '{0.__init__.__globals__[os].environ}'.format(cycler) }}",
    "bound method's object": "{{ link.__self__.settings }}",
    "shared data changed": "{{ site.theme_settings.update({'logo': 'x'}) }}",
    "huge range": "{{ range(10 ** 9) | length }}",
}


@pytest.mark.parametrize("expression", ESCAPES.values(), ids=ESCAPES.keys())
def test_template_escape_fails_the_build_naming_template_and_line(tmp_path, build_site, expression):
    marker = tmp_path / "pwned"
    site = write_site(tmp_path / "site", {**BASE, "theme/templates/page.html":
                                          override(expression.replace("MARKER", repr(str(marker))))})
    out = tmp_path / "out"
    with pytest.raises(BuildErrors) as info:
        build_site(site, out=out, shop=False)
    (error,) = info.value.errors
    assert (error.path, error.line) == ("theme/templates/page.html", 4)
    assert "sandbox" in error.message, error.message
    assert not marker.exists()  # the code never ran
    assert not out.exists() or not files(out)  # and nothing was published


def test_escape_is_refused_in_parallel_workers_too(tmp_path, build_site):
    marker = tmp_path / "pwned"
    pages = {f"pages/p{i}.md": f"---\ntitle: P{i}\n---\nText {i}.\n" for i in range(40)}
    site = write_site(tmp_path / "site", {**BASE, **pages, "theme/templates/page.html": override(
        "{{ cycler.__init__.__globals__.os.makedirs(%r) }}" % str(marker))})
    with pytest.raises(BuildErrors) as info:
        build_site(site, shop=False, workers=2)
    assert {(e.path, e.line) for e in info.value.errors} == {("theme/templates/page.html", 4)}
    assert not marker.exists()


def test_what_themes_legitimately_do_still_works(tmp_path, build_site):
    """Loops, macros, filters, namespaces, string methods and the builder's helpers stay available."""
    template = override(
        "{% set ns = namespace(count=0) %}{% for word in entry.title.split() %}{% set ns.count = ns.count + 1 %}"
        "{% endfor %}[{{ ns.count }}|{{ entry.title.upper() }}|{{ '%s-%s' % ('a', 'b') }}|{{ '{}!'.format('hi') }}"
        "|{{ urls.post('x') }}|{{ site.name | lower }}|{{ range(3) | join(',') }}|{{ {'k': 1}.items() | list }}]")
    site = write_site(tmp_path / "site", {**BASE, "pages/about.md": "---\ntitle: About us\n---\nHello.\n",
                                          "theme/templates/page.html": template})
    build_site(site, shop=False)
    page = (tmp_path / "out" / "about" / "index.html").read_text()
    assert "[2|ABOUT US|a-b|hi!|/blog/x/|safe|0,1,2|[(&#39;k&#39;, 1)]]" in page


def test_a_python_error_in_a_template_is_a_build_error_not_a_crash(tmp_path, build_site):
    site = write_site(tmp_path / "site", {**BASE, "theme/templates/page.html": override("{{ 1 // 0 }}")})
    with pytest.raises(BuildErrors) as info:
        build_site(site, shop=False)
    (error,) = info.value.errors
    assert (error.path, error.line) == ("theme/templates/page.html", 4)
    assert "division" in error.message


@pytest.mark.parametrize("expression", ["{{ urls.re.compile('(a+)+$') }}", "{{ urls.slugify.cache_clear() }}"])
def test_urls_offers_the_url_builders_not_their_module(tmp_path, build_site, expression):
    """``urls`` is the URL builders, not builder/urls.py: its imports (``re``: a pattern that backtracks
    for ever) and the process-wide slug cache are out of a template's reach."""
    site = write_site(tmp_path / "site", {**BASE, "theme/templates/page.html": override(expression)})
    with pytest.raises(BuildErrors) as info:
        build_site(site, shop=False)
    (error,) = info.value.errors
    assert (error.path, error.line) == ("theme/templates/page.html", 4)


@pytest.mark.parametrize("name", ["../../../../../etc/passwd", "theme:../../../pyproject.toml", "base:../theme.yaml"])
def test_templates_include_only_templates(tmp_path, build_site, name):
    site = write_site(tmp_path / "site", {**BASE, "theme/templates/page.html": override(f'{{% include "{name}" %}}')})
    with pytest.raises(BuildErrors) as info:
        build_site(site, shop=False)
    (error,) = info.value.errors
    assert str(error) == (f"theme/templates/page.html:4: there is no template {name!r} in the site's theme/templates/, "
                          "the theme or base")
