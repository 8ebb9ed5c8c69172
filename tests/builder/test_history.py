"""Old URLs from git history: renames and slug changes redirect, and the cached lineage a build
keeps gives exactly what a read of the whole history gives, after one save, several, a rollback
to an earlier commit and a merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.history import renamed_slugs
from content.gitrepo import Author, Repository

ME = Author("Editor", "editor@example.test")


def post(title: str, slug: str | None = None) -> bytes:
    head = f"---\ntitle: {title}\n" + (f"slug: {slug}\n" if slug else "") + "---\n"
    return (head + f"Text of {title}.\n").encode()


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    starter = tmp_path / "starter"
    (starter / "posts").mkdir(parents=True)
    (starter / "posts" / "first.md").write_bytes(post("First"))
    (starter / "posts" / "second.md").write_bytes(post("Second"))
    return Repository.create(tmp_path / "repo.git", starter, ME)


def fresh(repo: Repository, commit: str) -> dict[str, list[str]]:
    return renamed_slugs(repo, commit, {})


def test_a_renamed_file_and_a_changed_slug_keep_their_old_urls(repo):
    repo.write({"posts/first.md": None, "posts/premier.md": post("First")}, ME, "Rename")
    repo.write({"posts/second.md": post("Second", slug="deuxieme")}, ME, "New slug")
    assert fresh(repo, repo.head()) == {"posts/premier.md": ["first"], "posts/second.md": ["second"]}


def test_the_cached_lineage_follows_each_save_as_a_whole_read_would(repo):
    cache: dict = {}
    assert renamed_slugs(repo, repo.head(), cache) == {}
    steps = [
        {"posts/first.md": None, "posts/premier.md": post("First")},
        {"posts/second.md": post("Second", slug="deuxieme")},
        {"posts/third.md": post("Third")},
        {"posts/premier.md": None},
        {"posts/third.md": None, "posts/troisieme.md": post("Third")},
        {"posts/second.md": post("Second", slug="second")},
    ]
    for changes in steps:
        repo.write(changes, ME, "Edit")
        assert renamed_slugs(repo, repo.head(), cache) == fresh(repo, repo.head())
        assert cache["lineage"][0] == repo.head()
    # Two saves at once (a push of several commits) continue the line too.
    repo.write({"posts/fourth.md": post("Fourth")}, ME, "Add")
    repo.write({"posts/fourth.md": None, "posts/quatrieme.md": post("Fourth")}, ME, "Rename")
    assert renamed_slugs(repo, repo.head(), cache) == fresh(repo, repo.head())
    assert renamed_slugs(repo, repo.head(), cache)["posts/quatrieme.md"] == ["fourth"]


def test_a_rollback_to_an_earlier_commit_reads_that_commit(repo):
    cache: dict = {}
    repo.write({"posts/first.md": None, "posts/premier.md": post("First")}, ME, "Rename")
    before = repo.head()
    repo.write({"posts/second.md": None, "posts/deuxieme.md": post("Second")}, ME, "Rename")
    assert "posts/deuxieme.md" in renamed_slugs(repo, repo.head(), cache)
    assert renamed_slugs(repo, before, cache) == fresh(repo, before) == {"posts/premier.md": ["first"]}


def test_a_merge_reads_the_whole_history(repo):
    cache: dict = {}
    base = repo.head()
    renamed_slugs(repo, base, cache)
    ours = repo.write({"posts/first.md": None, "posts/premier.md": post("First")}, ME, "Rename")
    # A side line from the base (as a pushed merge would bring) renames the other post.
    theirs = _commit_on(repo, base, {"posts/second.md": None, "posts/deuxieme.md": post("Second")})
    tree = _tree_of(repo, ours, {"posts/second.md": None, "posts/deuxieme.md": post("Second")})
    merge = repo._out("commit-tree", tree, "-p", ours, "-p", theirs, "-m", "Merge")
    assert renamed_slugs(repo, merge, cache) == fresh(repo, merge)
    assert renamed_slugs(repo, merge, cache) == {"posts/premier.md": ["first"], "posts/deuxieme.md": ["second"]}


def _tree_of(repo: Repository, commit: str, changes: dict[str, bytes | None]) -> str:
    """The tree of ``commit`` with ``changes`` applied, written without moving any branch."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        repo.git("read-tree", commit, env=env)
        lines = []
        for path, data in changes.items():
            if data is None:
                lines.append(f"0 {'0' * 40}\t{path}\n")
            else:
                lines.append(f"100644 {repo._out('hash-object', '-w', '--stdin', input=data)}\t{path}\n")
        repo.git("update-index", "--index-info", input="".join(lines).encode(), env=env)
        return repo._out("write-tree", env=env)


def _commit_on(repo: Repository, parent: str, changes: dict[str, bytes | None]) -> str:
    return repo._out("commit-tree", _tree_of(repo, parent, changes), "-p", parent, "-m", "Side")
