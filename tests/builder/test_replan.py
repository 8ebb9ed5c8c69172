"""A long-lived builder makes the next plan from its last one when an edit changed only what pages
show; the plan it makes is the whole plan's, job for job, and anything that moves pages makes a
whole plan again."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from builder.build import BuildConfig, build
from builder.plan import make_plan
from builder.replan import Replanner
from content.model import Form
from content.parse import parse_site
from content.source import DirSource
from tests.builder.conftest import NOW, THEMES, files
from tests.conftest import write_site

SITE = {
    "site.yaml": "name: Replan\nposts_per_page: 2\ntax:\n  rate: 7\n",
    "pages/index.md": "---\ntitle: Home\n---\nWelcome.\n",
    "pages/about.md": "---\ntitle: About\n---\nAbout us.\n",
    "posts/a.md": "---\ntitle: A\npublished_at: 2026-01-01\ntags: [bread]\n---\nBody A\n",
    "posts/b.md": "---\ntitle: B\npublished_at: 2026-01-02\ntags: [bread, rye]\n---\nBody B\n",
    "posts/c.md": "---\ntitle: C\npublished_at: 2026-01-03\ntags: [rye]\n---\nBody C\n",
    "products/loaf.md": "---\nname: Loaf\nsku: LF\nprice: \"3.00\"\ndimensions: {length: 10}\n---\nA loaf.\n",
}


@pytest.fixture(name="content")
def fx_content(tmp_path):
    return parse_site(DirSource(write_site(tmp_path / "site", SITE)))


def with_post(content, index, **changes):
    posts = list(content.posts)
    posts[index] = replace(posts[index], **changes)
    return replace(content, posts=tuple(posts))


def described(plan):
    """A plan as plain values: each job's URL, template, kind and inputs (entries by their fields)."""
    return [(j.url, j.template, j.kind, repr(j.inputs)) for j in plan.jobs], plan.live, plan.redirects, \
        plan.catalog, plan.catalog_version, plan.next_scheduled, plan.errors


@pytest.mark.parametrize("changes", [
    {"title": "A new title"}, {"body": "Another body"}, {"excerpt": "Short"}, {"image": "media/x.jpg"},
    {"updated_at": "2026-03-04T05:06:07+00:00"}, {"meta_description": "Meta"}, {"author": "Ann"},
])
def test_an_edit_of_what_pages_show_is_planned_from_the_last_plan(content, changes):
    first = make_plan(content, now=NOW, shop=True)
    planner = Replanner(content, first, NOW, True, None)
    edited = with_post(content, 1, **changes)
    replanned = planner.next(edited, NOW, True, None)
    assert replanned is not None
    assert described(replanned) == described(make_plan(edited, now=NOW, shop=True))
    # The jobs that do not hold the edited post are the last plan's own objects (the sitemap is made
    # again when the post's date of change moved).
    post = edited.posts[1]
    untouched = [(a, b) for a, b in zip(first.jobs, replanned.jobs)
                 if post not in _entries(b.inputs) and not (b.kind == "sitemap" and "updated_at" in changes)]
    assert untouched and all(a is b for a, b in untouched)
    assert len(untouched) < len(first.jobs)


def _entries(inputs):
    for item in inputs:
        if isinstance(item, tuple):
            yield from _entries(item)
        else:
            yield item


def test_edits_one_after_another_each_match_the_whole_plan(content):
    planner = Replanner(content, make_plan(content, now=NOW, shop=True), NOW, True, None)
    for n in range(4):
        content = with_post(content, n % 3, title=f"Title {n}", body=f"Body {n}")
        assert described(planner.next(content, NOW, True, None)) == described(make_plan(content, now=NOW, shop=True))


@pytest.mark.parametrize("edit", [
    lambda c: with_post(c, 0, slug="renamed"),
    lambda c: with_post(c, 0, tags=("spelt",)),
    lambda c: with_post(c, 0, published_at=datetime(2026, 2, 1, tzinfo=timezone.utc)),
    lambda c: with_post(c, 0, status="draft"),
    lambda c: with_post(c, 0, aliases=("/old/",)),
    lambda c: with_post(c, 0, form=Form("ask", "Ask", "Send", "Thanks", ())),
    lambda c: replace(c, posts=c.posts[:2]),
    lambda c: replace(c, posts=c.posts[::-1]),
    lambda c: replace(c, site=replace(c.site, name="Other")),
    # Equal values written otherwise: the catalog's version and the sitemap print them.
    lambda c: replace(c, site=replace(c.site, tax=replace(c.site.tax, rate=Decimal("7.0")))),
    lambda c: with_post(c, 0, published_at=c.posts[0].published_at.astimezone(timezone(timedelta(hours=1)))),
    lambda c: replace(c, products=tuple(replace(p, dimensions=(("length", Decimal("10.0")),)) for p in c.products)),
    lambda c: replace(c, products=tuple(replace(p, name="Bun") for p in c.products)),
])
def test_an_edit_that_moves_pages_makes_a_whole_plan(content, edit):
    planner = Replanner(content, make_plan(content, now=NOW, shop=True), NOW, True, None)
    assert planner.next(edit(content), NOW, True, None) is None


def test_a_scheduled_post_coming_due_or_other_settings_make_a_whole_plan(content):
    later = NOW + timedelta(days=3)
    scheduled = with_post(content, 2, published_at=NOW + timedelta(days=1))
    plan = make_plan(scheduled, now=NOW, shop=True)
    planner = Replanner(scheduled, plan, NOW, True, None)
    assert planner.next(scheduled, NOW + timedelta(hours=1), True, None) is not None  # not due yet
    assert planner.next(scheduled, later, True, None) is None  # due: it joins the listings
    assert planner.next(scheduled, NOW, False, None) is None  # the shop turned off
    assert planner.next(scheduled, NOW, True, {"posts/a.md": ["old-a"]}) is None  # a rename's redirect


def test_a_long_lived_builder_writes_what_a_clean_build_writes_after_each_edit(tmp_path):
    site = write_site(tmp_path / "site", SITE)
    memory: dict = {}

    def run(out, mem, cache):
        return build(BuildConfig(DirSource(site), out, THEMES, base_url="https://r.example", shop=True,
                                 cache_dir=cache, now=NOW, workers=1, memory=mem))

    run(tmp_path / "warm", memory, tmp_path / "cache")
    for n, (path, old, new) in enumerate([("posts/b.md", "title: B", "title: Bee"),
                                          ("posts/a.md", "Body A", "Body A, longer"),
                                          ("pages/index.md", "Welcome.", "Welcome back."),
                                          ("posts/c.md", "tags: [rye]", "tags: [rye, spelt]")]):
        file = site / path
        file.write_text(file.read_text().replace(old, new))
        result = run(tmp_path / "warm", memory, tmp_path / "cache")
        clean = tmp_path / f"clean{n}"
        run(clean, None, None)
        assert files(tmp_path / "warm") == files(clean), path
        assert result.rendered < result.files
