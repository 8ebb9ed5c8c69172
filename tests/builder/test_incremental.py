"""An incremental build must write exactly what a clean build writes, after any sequence of edits."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.build import BuildConfig, build
from builder.errors import BuildErrors
from content.source import DirSource
from tests.builder.conftest import NOW, THEMES, files
from tests.conftest import write_site

START = {
    "site.yaml": "name: Prop\nposts_per_page: 2\nnavigation:\n  - {title: Blog, url: /blog/}\n",
    "pages/about.md": "---\ntitle: About\n---\nSee [a post](post:p0).\n",
    "pages/contact.md": "---\ntitle: Contact\n---\nWrite to us.\n",
    "posts/p0.md": "---\ntitle: Post 0\npublished_at: 2026-01-01\ntags: [a]\n---\nBody 0\n",
    "posts/p1.md": "---\ntitle: Post 1\npublished_at: 2026-01-02\ntags: [a, b]\n---\nBody 1\n",
    "products/bread.md": "---\nname: Bread\nsku: BR\nprice: \"3.00\"\ncategories: [loaves]\nfeatured: true\n---\nLoaf.\n",
    "products/bun.md": "---\nname: Bun\nsku: BU\nprice: \"1.00\"\ncategories: [small]\n---\nBun.\n",
}

words = st.sampled_from(["alpha", "beta", "gamma", "delta", "rye", "spelt"])
edits = st.one_of(
    st.tuples(st.just("add_post"), st.integers(2, 6), words, st.integers(1, 28)),
    st.tuples(st.just("edit_post"), st.integers(0, 6), words, st.integers(1, 28)),
    st.tuples(st.just("delete_post"), st.integers(0, 6), words, st.integers(1, 28)),
    st.tuples(st.just("draft_post"), st.integers(0, 6), words, st.integers(1, 28)),
    st.tuples(st.just("rename_page"), st.integers(0, 1), words, st.integers(1, 28)),
    st.tuples(st.just("price"), st.integers(0, 1), words, st.integers(1, 99)),
    st.tuples(st.just("add_product"), st.integers(2, 4), words, st.integers(1, 99)),
    st.tuples(st.just("site"), st.integers(1, 3), words, st.integers(1, 28)),
    st.tuples(st.just("template"), st.integers(0, 1), words, st.integers(1, 28)),
    st.tuples(st.just("future_post"), st.integers(2, 6), words, st.integers(1, 28)),
    st.tuples(st.just("retitle"), st.integers(0, 6), words, st.integers(1, 28)),
)


def apply(site, edit) -> None:
    kind, n, word, day = edit
    posts = site / "posts"
    if kind in ("add_post", "future_post"):
        year = 2027 if kind == "future_post" else 2026
        (posts / f"p{n}.md").write_text(f"---\ntitle: Post {n} {word}\npublished_at: {year}-02-{day:02d}\n"
                                        f"tags: [{word}]\n---\n{word} text\n")
    elif kind == "edit_post" and (posts / f"p{n}.md").exists():
        text = (posts / f"p{n}.md").read_text()
        (posts / f"p{n}.md").write_text(text.replace("---\n", f"---\nexcerpt: {word}\n", 1)
                                        if "excerpt" not in text else text + f"\nmore {word}\n")
    elif kind == "retitle":  # a post's or a page's title: every listing showing it changes, no URL
        path = posts / f"p{n}.md" if n > 1 else site / "pages" / ["about.md", "contact.md"][n]
        if path.exists():
            lines = [f"title: {word.title()} {day}" if l.startswith("title:") else l for l in path.read_text().splitlines()]
            path.write_text("\n".join(lines) + "\n")
    elif kind == "delete_post" and (posts / f"p{n}.md").exists():
        (posts / f"p{n}.md").unlink()
    elif kind == "draft_post" and n > 0 and (posts / f"p{n}.md").exists():
        (posts / f"p{n}.md").write_text((posts / f"p{n}.md").read_text().replace("---\n", "---\nstatus: draft\n", 1)
                                        if "status:" not in (posts / f"p{n}.md").read_text() else
                                        (posts / f"p{n}.md").read_text().replace("status: draft\n", ""))
    elif kind == "rename_page":
        name = ["about", "contact"][n]
        path = site / "pages" / f"{name}.md"
        text = path.read_text()
        if "slug:" in text:
            text = "\n".join(l for l in text.splitlines() if not l.startswith("slug:")) + "\n"
        else:
            text = text.replace("---\n", f"---\nslug: {name}-{word}\n", 1)
        path.write_text(text)
    elif kind == "price":
        path = site / "products" / ["bread.md", "bun.md"][n]
        lines = [f'price: "{day}.50"' if l.startswith("price:") else l for l in path.read_text().splitlines()]
        path.write_text("\n".join(lines) + "\n")
    elif kind == "add_product":
        (site / "products" / f"x{n}.md").write_text(f"---\nname: {word.title()}\nsku: X{n}\nprice: \"{day}.00\"\n"
                                                    f"categories: [{word}]\n---\n{word}\n")
    elif kind == "site":
        (site / "site.yaml").write_text(f"name: Prop {word}\nposts_per_page: {n}\n"
                                        f"navigation:\n  - {{title: {word}, url: /blog/}}\n")
    elif kind == "template":
        path = site / "theme" / "templates" / "post.html"
        if n == 0 and path.exists():
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text('{% extends "theme:post.html" %}{% block main %}<p>' + word + '</p>{{ super() }}{% endblock %}')


def run(site, out, cache, memory=None):
    return build(BuildConfig(DirSource(site), out, THEMES, base_url="https://p.example", shop=True,
                             cache_dir=cache, now=NOW, workers=1, memory=memory))


def outcome(site, out, cache, memory=None):
    """The files written, or the errors reported (deleting p0 breaks the link from about)."""
    try:
        run(site, out, cache, memory)
    except BuildErrors as exc:
        return sorted(str(e) for e in exc.errors)
    return files(out)


@pytest.mark.parametrize("builder", ["fresh process", "long-lived"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(edits, min_size=1, max_size=6))
def test_incremental_build_equals_clean_build(tmp_path_factory, builder, steps):
    """Each build from the caches on disk (a CLI process), or from a long-lived builder's memory (a
    worker: state, parse cache and job fingerprints kept between builds)."""
    root = tmp_path_factory.mktemp("prop")
    site = write_site(root / "site", START)
    memory: dict | None = {} if builder == "long-lived" else None
    run(site, root / "inc", root / "cache", memory)
    for step in steps:
        apply(site, step)
        incremental = outcome(site, root / "inc", root / "cache", memory)
        shutil.rmtree(root / "clean", ignore_errors=True)
        assert incremental == outcome(site, root / "clean", None), f"after {step}"


def test_unchanged_rebuild_renders_nothing_and_one_edit_renders_only_its_pages(tmp_path):
    site = write_site(tmp_path / "site", START)
    first = run(site, tmp_path / "out", tmp_path / "cache")
    again = run(site, tmp_path / "out", tmp_path / "cache")
    assert again.rendered == 0  # files just written are "racy": re-read, but nothing changed
    for path in site.rglob("*"):
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    run(site, tmp_path / "out", tmp_path / "cache")
    settled = run(site, tmp_path / "out", tmp_path / "cache")
    assert settled.up_to_date and settled.rendered == 0
    (site / "pages" / "contact.md").write_text("---\ntitle: Contact\n---\nWrite to us today.\n")
    edited = run(site, tmp_path / "out", tmp_path / "cache")
    assert edited.rendered == 1 and edited.reused == first.rendered - 1
    (site / "posts" / "p1.md").write_text("---\ntitle: Post 1 renamed\npublished_at: 2026-01-02\ntags: [a, b]\n---\nBody 1\n")
    retitled = run(site, tmp_path / "out", tmp_path / "cache")
    # the post, the pages that list it (home, blog page, two tags, feed), nothing else
    assert retitled.rendered == 6


def test_removing_a_linked_post_breaks_the_incremental_build_too(tmp_path):
    site = write_site(tmp_path / "site", START)
    run(site, tmp_path / "out", tmp_path / "cache")
    (site / "posts" / "p0.md").unlink()
    assert outcome(site, tmp_path / "out", tmp_path / "cache") == [
        "pages/about.md:4: links to post:p0, which does not exist or is not published"]
