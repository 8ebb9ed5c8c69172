"""Every cache a build keeps gives the output a clean build gives: the parse cache on disk (entries
without bodies, bodies in a file of their own), the same in a long-lived builder's memory, and the
Markdown cache; whatever changed in between."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from builder import parsecache
from builder.build import VERSION, BuildConfig, build
from content.model import Entry
from content.source import DirSource
from tests.builder.conftest import NOW, THEMES, files
from tests.conftest import write_site

SITE = {
    "site.yaml": "name: Caches\nposts_per_page: 2\ntheme_settings:\n  colors: {primary: '#123456'}\n",
    "pages/about.md": "---\ntitle: About\n---\nSee [the first post](post:p0).\n",
    **{f"posts/p{n}.md": f"---\ntitle: Post {n}\npublished_at: 2026-01-{n + 1:02d}\ntags: [t{n % 3}]\n---\n"
                         f"Body of post {n}, with *emphasis*.\n\n## More\n\nA second paragraph {n}.\n"
       for n in range(8)},
}


def change_file(site: Path) -> None:
    (site / "posts" / "p3.md").write_text("---\ntitle: Post 3 again\npublished_at: 2026-01-04\ntags: [t0]\n---\n"
                                          "A new body.\n")


def change_template(site: Path) -> None:
    path = site / "theme" / "templates" / "post.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{% extends "theme:post.html" %}{% block main %}<p>changed</p>{{ super() }}{% endblock %}')


def change_theme_setting(site: Path) -> None:
    text = (site / "site.yaml").read_text().replace("#123456", "#654321")
    (site / "site.yaml").write_text(text)


def delete_file(site: Path) -> None:
    (site / "posts" / "p5.md").unlink()


def rename_file(site: Path) -> None:
    (site / "posts" / "p6.md").rename(site / "posts" / "p6-renamed.md")


def same_body_elsewhere(site: Path) -> None:
    # Another file with a body the bodies file already holds: each entry keeps its own.
    (site / "posts" / "p9.md").write_text((site / "posts" / "p2.md").read_text().replace("Post 2", "Post 9"))


EDITS = [change_file, change_template, change_theme_setting, delete_file, rename_file, same_body_elsewhere]


def run(site: Path, out: Path, cache: Path | None, memory: dict | None = None):
    # Every build with a cache shares one Markdown cache beside it, as an installation's builds do.
    shared = cache.parent / "markdown-shared" if cache is not None else None
    return build(BuildConfig(DirSource(site), out, THEMES, base_url="https://c.example", shop=False,
                             cache_dir=cache, now=NOW, workers=1, memory=memory, markdown_cache=shared))


def settle(site: Path) -> None:
    """Age the files written just now past the racy window, so that the caches are trusted rather
    than re-read; the others keep their times, and so their stat keys."""
    now = time.time()
    for path in site.rglob("*"):
        if path.stat().st_mtime > now - 600:
            os.utime(path, (now - 3600, now - 3600))


def clean(site: Path, root: Path) -> dict[str, bytes]:
    shutil.rmtree(root / "clean", ignore_errors=True)
    run(site, root / "clean", None)
    return files(root / "clean")


@pytest.mark.parametrize("edit", EDITS)
def test_a_fresh_process_with_the_caches_on_disk_builds_what_a_clean_build_does(edit, tmp_path):
    site = write_site(tmp_path / "site", SITE)
    settle(site)
    run(site, tmp_path / "out", tmp_path / "cache")
    edit(site)
    settle(site)  # a changed file must be seen by its stat key alone, not only as "racy"
    result = run(site, tmp_path / "out", tmp_path / "cache")
    assert not result.up_to_date
    assert files(tmp_path / "out") == clean(site, tmp_path)


@pytest.mark.parametrize("edit", EDITS)
def test_a_long_lived_builder_builds_what_a_clean_build_does(edit, tmp_path):
    site = write_site(tmp_path / "site", SITE)
    settle(site)
    memory: dict = {}
    run(site, tmp_path / "out", tmp_path / "cache", memory)
    edit(site)
    settle(site)
    run(site, tmp_path / "out", tmp_path / "cache", memory)
    assert files(tmp_path / "out") == clean(site, tmp_path)
    memory.pop("saving").join()
    # and what it saved serves a fresh process just as well
    change_file(site)
    run(site, tmp_path / "out", tmp_path / "cache")
    assert files(tmp_path / "out") == clean(site, tmp_path)


def test_a_long_lived_builder_trusts_nothing_of_its_memory_after_another_process_built(tmp_path):
    # A worker keeps a site's state in memory; a git push's check builds the same folder in a
    # process of its own; then the worker builds a version equal to what it last built itself.
    site = write_site(tmp_path / "site", SITE)
    settle(site)
    memory: dict = {}
    run(site, tmp_path / "out", tmp_path / "cache", memory)
    original = (site / "posts" / "p3.md").read_bytes()
    change_file(site)
    settle(site)
    run(site, tmp_path / "out", tmp_path / "cache")  # the other process, with the caches on disk
    assert b"A new body" in files(tmp_path / "out")["blog/p3/index.html"]
    (site / "posts" / "p3.md").write_bytes(original)
    settle(site)
    result = run(site, tmp_path / "out", tmp_path / "cache", memory)
    assert not result.up_to_date
    assert files(tmp_path / "out") == clean(site, tmp_path)


def test_a_long_lived_builder_holds_the_folder_until_its_caches_are_saved(tmp_path, monkeypatch):
    import threading

    from builder import build as build_module
    from builder.output import locked

    site = write_site(tmp_path / "site", SITE)
    saving, release = threading.Event(), threading.Event()
    real = parsecache.save

    def slow_save(*args, **kwargs):
        saving.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(parsecache, "save", slow_save)
    memory: dict = {}
    run(site, tmp_path / "out", tmp_path / "cache", memory)
    assert saving.wait(10)
    got = threading.Event()

    def other_build() -> None:
        with locked((tmp_path / "out").resolve()):
            got.set()

    other = threading.Thread(target=other_build)
    other.start()
    assert not got.wait(0.3)  # the saver still holds the folder
    release.set()
    assert got.wait(10)
    other.join()
    memory.pop("saving").join()
    assert build_module._generation(tmp_path / "cache") == memory["state"]["began"]


def test_a_rebuild_reads_the_bodies_of_the_pages_it_renders_only(tmp_path):
    site = write_site(tmp_path / "site", SITE)
    settle(site)
    run(site, tmp_path / "out", tmp_path / "cache")
    (site / "pages" / "about.md").write_text("---\ntitle: About us\n---\nSee [the first post](post:p0).\n")
    memory: dict = {}  # empty: the build loads the caches from disk, and keeps them here to look at
    result = run(site, tmp_path / "out", tmp_path / "cache", memory)
    assert result.rendered == 1
    entries = [value[1] for value in memory["parse"].values() if type(value[1]) is Entry]
    assert sum(not e.body_loaded for e in entries) == len(entries) - 1  # the page itself was parsed again
    memory.pop("saving").join()


def test_the_bodies_file_is_rewritten_when_it_is_mostly_bodies_nobody_points_at(tmp_path):
    site = write_site(tmp_path / "site", {
        **SITE, "posts/big.md": "---\ntitle: Big\npublished_at: 2026-02-01\n---\n" + "word " * 300_000})
    cache = tmp_path / "cache"
    run(site, tmp_path / "out", cache)
    first = list(cache.glob("bodies.*.dat"))
    assert len(first) == 1 and first[0].stat().st_size > 1_500_000
    for n in range(3):  # each edit appends the big body again
        settle(site)
        (site / "posts" / "big.md").write_text("---\ntitle: Big\npublished_at: 2026-02-01\n---\n" + f"w{n} " * 400_000)
        run(site, tmp_path / "out", cache)
    (bodies,) = cache.glob("bodies.*.dat")
    assert bodies != first[0] and bodies.stat().st_size < 2 * 1_700_000 + (1 << 20)
    loaded = parsecache.load(cache, VERSION)
    assert loaded["posts/big.md"][1].body == "w2 " * 400_000
    assert loaded["posts/p1.md"][1].body.startswith("Body of post 1")


def test_a_missing_bodies_file_means_parsing_again_not_wrong_bodies(tmp_path):
    site = write_site(tmp_path / "site", SITE)
    run(site, tmp_path / "out", tmp_path / "cache")
    for bodies in (tmp_path / "cache").glob("bodies.*.dat"):
        bodies.unlink()
    assert parsecache.load(tmp_path / "cache", VERSION) == {}
    settle(site)
    change_file(site)
    run(site, tmp_path / "out", tmp_path / "cache")
    assert files(tmp_path / "out") == clean(site, tmp_path)


def test_the_shared_markdown_cache_serves_other_output_folders_and_sites(tmp_path, monkeypatch):
    from builder import markdown

    site = write_site(tmp_path / "site", SITE)
    run(site, tmp_path / "out", tmp_path / "cache")
    rendered: list[str] = []
    real = markdown.render
    monkeypatch.setattr(markdown, "render", lambda body, line=1: rendered.append(body) or real(body, line))
    # another output folder of the same site (a dev or preview folder), with build state of its own
    run(site, tmp_path / "dev", tmp_path / "dev-cache")
    assert rendered == []
    # another site, which shares one body and changes another
    other = write_site(tmp_path / "other", {**SITE, "posts/p1.md": SITE["posts/p1.md"].replace("emphasis", "stress")})
    run(other, tmp_path / "other-out", tmp_path / "other-cache")
    assert len(rendered) == 1 and "stress" in rendered[0]
    assert files(tmp_path / "other-out") == clean(other, tmp_path)


def test_compiled_templates_are_compiled_again_when_a_theme_template_changes(tmp_path):
    themes = tmp_path / "themes"
    shutil.copytree(THEMES, themes)
    site = write_site(tmp_path / "site", SITE)

    def build_with(out: Path, cache: Path | None):
        return build(BuildConfig(DirSource(site), out, themes, base_url="https://c.example", shop=False,
                                 cache_dir=cache, now=NOW, workers=1))

    build_with(tmp_path / "out", tmp_path / "cache")
    assert list((tmp_path / "cache" / "templates").iterdir())  # compiled templates are kept
    post = themes / "base" / "templates" / "post.html"
    post.write_text(post.read_text().replace("<h1>{{ entry.title }}</h1>", "<h1 class=t>{{ entry.title }}</h1>"))
    build_with(tmp_path / "out", tmp_path / "cache")
    build_with(tmp_path / "clean", None)
    assert files(tmp_path / "out") == files(tmp_path / "clean")
    assert b"<h1 class=t>Post 1</h1>" in (tmp_path / "out" / "blog" / "p1" / "index.html").read_bytes()


def test_a_parse_cache_saved_when_entries_had_other_fields_is_not_used(tmp_path, monkeypatch):
    site = write_site(tmp_path / "site", SITE)
    run(site, tmp_path / "out", tmp_path / "cache")
    assert parsecache.load(tmp_path / "cache", VERSION)
    monkeypatch.setattr(parsecache, "_FIELDS", (*parsecache._FIELDS, "a_new_field"))
    assert parsecache.load(tmp_path / "cache", VERSION) == {}


def test_a_long_lived_builder_pauses_the_garbage_collector_for_its_bookkeeping_only(tmp_path, monkeypatch):
    """A long-lived builder's build runs with the cyclic collector paused while it works out what
    changed, resumes it before rendering many pages (so pool workers and the pages' garbage are
    collected as usual), and always leaves it running, even when the build fails."""
    import gc

    from builder.render import Renderer
    from content.errors import ContentErrors

    seen: list[bool] = []
    render = Renderer.render
    monkeypatch.setattr(Renderer, "render", lambda self, job: (seen.append(gc.isenabled()), render(self, job))[1])
    many = {**SITE, **{f"posts/q{n}.md": f"---\ntitle: Q {n}\npublished_at: 2026-02-01\n---\nQ {n}\n" for n in range(70)}}
    site = write_site(tmp_path / "site", many)
    settle(site)
    memory: dict = {}
    run(site, tmp_path / "out", tmp_path / "cache", memory)
    assert len(seen) > 64 and all(seen) and gc.isenabled()  # a first build renders every page: collected
    seen.clear()
    change_file(site)
    run(site, tmp_path / "out", tmp_path / "cache", memory)
    assert seen and not any(seen) and gc.isenabled()  # an edit's few pages: paused, then running again
    (site / "posts" / "p4.md").write_text("---\ntitle: [unclosed\n---\n")
    with pytest.raises(ContentErrors):
        run(site, tmp_path / "out", tmp_path / "cache", memory)
    assert gc.isenabled()
    (site / "posts" / "p4.md").unlink()
    seen.clear()
    run(site, tmp_path / "elsewhere", None)  # a one-off build (the CLI) never pauses it
    assert seen and all(seen)


def test_a_long_lived_builder_saves_its_state_every_build_and_its_parse_cache_now_and_then(tmp_path, monkeypatch):
    """The state on disk always says what the folder holds; the parse cache, which only spares a
    fresh process some parsing, is saved at most every PARSE_SAVE_EVERY seconds."""
    from builder import build as builder

    site = write_site(tmp_path / "site", SITE)
    settle(site)
    memory: dict = {}
    cache = tmp_path / "cache"
    run(site, tmp_path / "out", cache, memory)
    memory.pop("saving").join()
    parsed = (cache / "parse.pickle").stat().st_mtime_ns
    change_file(site)
    run(site, tmp_path / "out", cache, memory)
    memory.pop("saving").join()
    assert (cache / "parse.pickle").stat().st_mtime_ns == parsed
    assert (cache / "state.generation").read_text() == str(memory["state"]["began"])
    monkeypatch.setattr(builder, "PARSE_SAVE_EVERY", 0.0)
    rename_file(site)
    run(site, tmp_path / "out", cache, memory)
    memory.pop("saving").join()
    assert (cache / "parse.pickle").stat().st_mtime_ns != parsed
    assert "posts/p6-renamed.md" in parsecache.load(cache, VERSION)
