"""Bad input never reaches a page, and a failed build never touches the previous output."""

from __future__ import annotations

import pytest

from builder.errors import BuildErrors, ThemeNotFound
from tests.builder.conftest import files
from tests.conftest import write_site

BASE = {
    "site.yaml": "name: Safe\n",
    "pages/about.md": "---\ntitle: About\n---\nHello.\n",
}


def site_with(tmp_path, extra: dict):
    return write_site(tmp_path / "site", {**BASE, **extra})


@pytest.mark.parametrize("markdown,forbidden", [
    ("<script>alert(1)</script>", "<script>alert"),
    ('<img src="x.png" onerror="alert(1)">', "onerror"),
    ('<a href="javascript:alert(1)">x</a>', "javascript:"),
    ("[x](javascript:alert(1))", 'href="javascript'),
    ('<iframe src="https://evil.example"></iframe>', "<iframe"),
    ('<div style="background:url(javascript:alert(1))">x</div>', "javascript"),
    ("<svg><script>alert(1)</script></svg>", "alert(1)"),
])
def test_raw_html_is_sanitised(tmp_path, build_site, markdown, forbidden):
    site = site_with(tmp_path, {"pages/about.md": f"---\ntitle: About\n---\n{markdown}\n"})
    build_site(site, shop=False)
    page = (tmp_path / "out" / "about" / "index.html").read_text()
    body = page.split('<div class="prose">', 1)[1]
    assert forbidden not in body


def test_markdown_features(tmp_path, build_site):
    text = ("## Section one\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n~~gone~~ and a note[^n].\n\n"
            "[^n]: The note.\n")
    build_site(site_with(tmp_path, {"pages/about.md": f"---\ntitle: About\n---\n{text}"}), shop=False)
    page = (tmp_path / "out" / "about" / "index.html").read_text()
    assert '<h2 id="section-one">Section one</h2>' in page
    assert "<table>" in page and '<td style="text-align:right">2</td>' in page
    assert "<s>gone</s>" in page
    assert 'class="footnotes"' in page and 'href="#fn1"' in page


def test_missing_reference_is_an_error_with_file_and_line(tmp_path, build_site):
    site = site_with(tmp_path, {"pages/about.md": "---\ntitle: About\n---\nfirst line\n\nsee [x](page:nope)\n"})
    with pytest.raises(BuildErrors) as info:
        build_site(site, shop=False)
    assert str(info.value.errors[0]) == "pages/about.md:6: links to page:nope, which does not exist or is not published"


def test_missing_inline_image_is_an_error(tmp_path, build_site):
    site = site_with(tmp_path, {"pages/about.md": "---\ntitle: About\n---\n![x](media/none.jpg)\n"})
    with pytest.raises(BuildErrors, match=r"pages/about.md:4: shows media/none.jpg"):
        build_site(site, shop=False)


def test_template_typo_fails_naming_template_and_line(tmp_path, build_site):
    site = site_with(tmp_path, {"theme/templates/page.html":
                                '{% extends "theme:page.html" %}\n{% block main %}\n{{ entry.titel }}\n{% endblock %}\n'})
    with pytest.raises(BuildErrors) as info:
        build_site(site, shop=False)
    (error,) = info.value.errors
    assert (error.path, error.line) == ("theme/templates/page.html", 3)
    assert "titel" in error.message


def test_template_syntax_error_names_template_and_line(tmp_path, build_site):
    site = site_with(tmp_path, {"theme/templates/page.html": "{% extends 'layout.html' %}\n{% block main %}\n{% if %}\n"})
    with pytest.raises(BuildErrors) as info:
        build_site(site, shop=False)
    assert (info.value.errors[0].path, info.value.errors[0].line) == ("theme/templates/page.html", 3)


def test_tenant_override_extends_the_theme_version(tmp_path, build_site):
    site = site_with(tmp_path, {"theme/templates/page.html":
                                '{% extends "theme:page.html" %}\n{% block main %}<p class="mine">Custom</p>{{ super() }}{% endblock %}\n',
                                "theme/assets/custom.css": ".mine { color: red; }\n"})
    build_site(site, shop=False)
    out = tmp_path / "out"
    page = (out / "about" / "index.html").read_text()
    assert '<p class="mine">Custom</p>' in page and "<h1>About</h1>" in page
    (css,) = (out / "assets").glob("site.*.css")
    assert ".mine{color:red}" in css.read_text()


def test_unknown_theme_is_a_clear_error(tmp_path, build_site):
    with pytest.raises(ThemeNotFound, match="'nope', which is not installed; choose one of: folio, storefront"):
        build_site(site_with(tmp_path, {"site.yaml": "name: S\ntheme: nope\n"}), shop=False)


def test_bad_theme_colour_is_refused(tmp_path, build_site):
    site = site_with(tmp_path, {"site.yaml": "name: S\ntheme_settings:\n  colors:\n    primary: 'red;}body{x:y'\n"})
    with pytest.raises(BuildErrors, match="is not a colour"):
        build_site(site, shop=False)


def test_svg_is_refused(tmp_path, build_site):
    site = site_with(tmp_path, {"media/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'})
    with pytest.raises(BuildErrors, match="media/logo.svg: media takes JPEG, PNG and WebP images only"):
        build_site(site, shop=False)


def test_undecodable_image_is_an_error(tmp_path, build_site):
    site = site_with(tmp_path, {"media/photo.jpg": b"not really a jpeg"})
    with pytest.raises(BuildErrors, match="media/photo.jpg: is not an image this site can show"):
        build_site(site, shop=False)


def test_reserved_page_slug_is_an_error(tmp_path, build_site):
    with pytest.raises(BuildErrors, match="pages/blog.md: slug: 'blog' is used by the site itself"):
        build_site(site_with(tmp_path, {"pages/blog.md": "---\ntitle: Blog\n---\n"}), shop=False)


def test_failed_build_leaves_previous_output_untouched(tmp_path, build_site):
    site = site_with(tmp_path, {})
    build_site(site, shop=False)
    before = files(tmp_path / "out")
    (site / "pages" / "about.md").write_text("---\ntitle: About\n---\nChanged [x](page:missing)\n")
    with pytest.raises(BuildErrors):
        build_site(site, shop=False)
    assert files(tmp_path / "out") == before
    # no staging folder or journal left behind; only the output folder's lock file stays
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == [".out.lock"]


def test_killed_build_leaves_previous_output_and_next_build_recovers(tmp_path, build_site, monkeypatch):
    import builder.build as b

    site = site_with(tmp_path, {})
    build_site(site, shop=False)
    before = files(tmp_path / "out")
    (site / "pages" / "about.md").write_text("---\ntitle: About\n---\nNew text\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if killed while writing

    monkeypatch.setattr(b, "_finish", crash)
    with pytest.raises(KeyboardInterrupt):
        build_site(site, shop=False)
    assert files(tmp_path / "out") == before
    monkeypatch.undo()
    build_site(site, shop=False)
    assert b"New text" in (tmp_path / "out" / "about" / "index.html").read_bytes()


def test_crash_during_commit_is_rolled_forward_by_the_next_build(tmp_path, build_site, monkeypatch):
    import builder.output as output

    site = site_with(tmp_path, {"pages/contact.md": "---\ntitle: Contact\n---\nOld.\n"})
    build_site(site, shop=False)
    (site / "pages" / "about.md").write_text("---\ntitle: About\n---\nNew about.\n")
    (site / "pages" / "contact.md").unlink()
    def crash_after_journal(journal, out_dir):
        raise KeyboardInterrupt  # killed right after the commit point, before any file moved

    monkeypatch.setattr(output, "_replay", crash_after_journal)
    with pytest.raises(KeyboardInterrupt):
        build_site(site, shop=False)
    monkeypatch.undo()
    assert (tmp_path / ".out.journal").exists()
    output.recover(tmp_path / "out")  # what the next build does first
    build_site(site, shop=False, out=tmp_path / "clean", cache=False)
    assert files(tmp_path / "out") == files(tmp_path / "clean")
    assert not (tmp_path / ".out.journal").exists()
