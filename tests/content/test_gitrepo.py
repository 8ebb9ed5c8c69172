from __future__ import annotations

import subprocess
import threading

import pytest

from content.errors import ConflictError, PathError, RepositoryError
from content.gitrepo import Author, Repository
from tests.conftest import write_site

ALICE = Author("Alice", "alice@example.test")
BOB = Author("Bob", "bob@example.test")


@pytest.fixture(name="repo")
def fx_repo(tmp_path):
    starter = write_site(tmp_path / "starter", {"site.yaml": "name: S\n", "pages/about.md": "---\ntitle: A\n---\nv1\n"})
    return Repository.create(tmp_path / "repo.git", starter, ALICE)


def fsck(repo: Repository) -> None:
    result = repo.git("fsck", "--strict", "--no-progress", check=False)
    assert result.returncode == 0, result.stderr


def test_create_holds_starter_files(repo):
    assert repo.read("pages/about.md") == b"---\ntitle: A\n---\nv1\n"
    assert repo.source().paths() == ["pages/about.md", "site.yaml"]
    assert repo.history()[0].author == "Alice"


def test_write_is_one_commit_by_the_author(repo):
    first = repo.head()
    sha = repo.write({"pages/about.md": b"v2", "posts/new.md": b"new"}, BOB, "Edit about, add post")
    assert repo.head() == sha != first
    (latest, *_rest) = repo.history()
    assert (latest.author, latest.email, latest.message) == ("Bob", "bob@example.test", "Edit about, add post")
    assert repo.read("pages/about.md") == b"v2"
    assert repo.read("pages/about.md", first) == b"---\ntitle: A\n---\nv1\n"
    assert repo.read("posts/new.md", first) is None


def test_delete_and_no_empty_commits(repo):
    head = repo.write({"pages/about.md": None}, BOB, "Remove about")
    assert repo.read("pages/about.md") is None
    assert repo.write({"pages/about.md": None}, BOB, "Again") == head


def test_history_of_a_file_carries_diffs(repo):
    repo.write({"pages/about.md": b"---\ntitle: A\n---\nv2\n"}, BOB, "Second")
    repo.write({"site.yaml": b"name: T\n"}, BOB, "Unrelated")
    history = repo.history("pages/about.md")
    assert [c.message for c in history] == ["Second", "Create site"]
    assert "-v1" in history[0].diff and "+v2" in history[0].diff


def test_stale_write_to_the_same_file_is_a_conflict_with_both_versions(repo):
    base = repo.head()
    repo.write({"pages/about.md": b"theirs"}, BOB, "Bob's edit")
    with pytest.raises(ConflictError) as info:
        repo.write({"pages/about.md": b"mine"}, ALICE, "Alice's edit", base=base)
    assert info.value.theirs == b"theirs" and info.value.yours == b"mine"
    assert info.value.path == "pages/about.md"
    assert repo.read("pages/about.md") == b"theirs"  # nothing overwritten


def test_stale_write_to_another_file_keeps_both(repo):
    base = repo.head()
    repo.write({"site.yaml": b"name: Bob\n"}, BOB, "Bob")
    repo.write({"pages/about.md": b"alice"}, ALICE, "Alice", base=base)
    assert repo.read("site.yaml") == b"name: Bob\n"
    assert repo.read("pages/about.md") == b"alice"


def test_revert_undoes_one_commit(repo):
    bad = repo.write({"pages/about.md": b"oops"}, BOB, "Oops")
    repo.write({"site.yaml": b"name: Later\n"}, BOB, "Later edit")
    repo.revert(bad, ALICE)
    assert repo.read("pages/about.md") == b"---\ntitle: A\n---\nv1\n"
    assert repo.read("site.yaml") == b"name: Later\n"
    assert repo.history()[0].author == "Alice"
    fsck(repo)


def test_revert_that_clashes_is_a_conflict_and_changes_nothing(repo):
    change = repo.write({"pages/about.md": b"line\nB\n"}, BOB, "B")
    repo.write({"pages/about.md": b"line\nC\n"}, BOB, "C")
    head = repo.head()
    with pytest.raises(ConflictError):
        repo.revert(change, ALICE)
    assert repo.head() == head
    assert repo.git("worktree", "list").stdout.decode().count("\n") == 1  # temp worktree removed


def test_first_commit_cannot_be_reverted(repo):
    with pytest.raises(RepositoryError):
        repo.revert(repo.history()[-1].sha, ALICE)


@pytest.mark.parametrize("path", ["../etc/passwd", "/abs", "a/../../b", ".git/config", "a\\b", "", "x/./y",
                                  "pages/.GIT/hooks"])
def test_path_traversal_is_refused(repo, path):
    with pytest.raises(PathError):
        repo.write({path: b"x"}, ALICE, "evil")


def test_unknown_version_is_refused(repo):
    with pytest.raises(RepositoryError):
        repo.read("site.yaml", "--output=/tmp/x")
    with pytest.raises(RepositoryError):
        repo.read("site.yaml", "deadbeef")


def test_concurrent_writers_both_land_or_conflict(repo):
    """Many threads save from the same base: each either lands or gets a conflict, none is lost."""
    base = repo.head()
    outcomes: dict[int, str] = {}

    def save(n: int) -> None:
        path = "pages/about.md" if n % 2 else f"posts/p{n}.md"
        try:
            repo.write({path: f"writer {n}".encode()}, Author(f"W{n}", f"w{n}@x.test"), f"writer {n}", base=base)
            outcomes[n] = "landed"
        except ConflictError:
            outcomes[n] = "conflict"

    threads = [threading.Thread(target=save, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    landed = {n for n, o in outcomes.items() if o == "landed"}
    assert len(outcomes) == 12
    assert {n for n in range(12) if n % 2 == 0} <= landed  # different files: all land
    assert len([n for n in landed if n % 2]) == 1  # same file from one base: exactly one lands
    messages = {c.message for c in repo.history(limit=100)}
    assert all(f"writer {n}" in messages for n in landed)
    fsck(repo)


def test_concurrent_processes_keep_the_repository_whole(repo, tmp_path):
    """Separate processes saving at once (the admin UI and a CLI script) never corrupt the repo."""
    script = (
        "import sys; from content.gitrepo import Repository, Author; "
        "r = Repository(sys.argv[1]); "
        "[r.write({f'posts/{sys.argv[2]}-{i}.md': b'x'}, Author('P', 'p@x.test'), f'{sys.argv[2]} {i}') "
        "for i in range(10)]"
    )
    procs = [subprocess.Popen(["python", "-c", script, str(repo.path), name]) for name in ("a", "b", "c")]
    assert [p.wait() for p in procs] == [0, 0, 0]
    assert len([p for p in repo.source().paths() if p.startswith("posts/")]) == 30
    fsck(repo)


def test_plain_git_clone_and_push_work(repo, tmp_path):
    work = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(work)], check=True)
    (work / "pages" / "about.md").write_text("---\ntitle: From git\n---\n")
    env = {"GIT_AUTHOR_NAME": "Gita", "GIT_AUTHOR_EMAIL": "g@x.test", "GIT_COMMITTER_NAME": "Gita",
           "GIT_COMMITTER_EMAIL": "g@x.test", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(work), "commit", "-qam", "Edit with git"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "main"], check=True, env=env)
    assert repo.read("pages/about.md") == b"---\ntitle: From git\n---\n"
    info = repo.source().info()["pages/about.md"]
    assert (info.created_by, info.updated_by) == ("Alice", "Gita")


def test_a_check_under_the_lock_sees_the_real_latest_files_and_can_refuse(repo):
    """Twelve saves at once, each allowed only while the site has fewer than three pages: the check
    runs under the lock against what the save lands on, so exactly the room there was is taken."""
    class Full(Exception):
        pass

    def at_most_three_pages(before: list[str], after: list[str]) -> None:
        if sum(p.startswith("pages/") for p in after) > 3:
            raise Full(after)

    answers = []

    def save(n: int) -> None:
        try:
            answers.append(repo.write({f"pages/p{n}.md": b"x\n"}, ALICE, f"p{n}", check=at_most_three_pages))
        except Full:
            answers.append(None)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a is not None for a in answers) == 2  # about.md and two more
    assert sum(p.startswith("pages/") for p in repo.source().paths()) == 3
    seen = []
    head = repo.head()
    with pytest.raises(Full):
        repo.write({"pages/one-more.md": b"x\n", "pages/about.md": None, "pages/p99.md": b"y\n"}, ALICE, "more",
                   check=lambda before, after: seen.append((before, after)) or at_most_three_pages(before, after))
    assert repo.head() == head  # nothing written
    before, after = seen[0]
    assert "pages/about.md" in before and "pages/about.md" not in after and "pages/one-more.md" in after


@pytest.mark.parametrize("path", ["posts/a.md", "a", "media/x y.jpg", "A_b/C-d.e", "/".join("a" * 16),
                                  "/".join("a" * 17), "../x", "a/../b", ".git/config", "a/.GITMODULES", "a//b",
                                  "/a", "a/", "a\\b", "a\x00b", ".hidden", "a/.b", "é/x", "a/./b"])
def test_the_fast_check_of_a_trees_paths_passes_only_what_the_full_check_passes(path):
    """GitSource checks a tree's paths with one regular expression first; whatever it passes, the
    full check passes unchanged (what it does not pass goes to the full check)."""
    from content.gitrepo import _ORDINARY, safe_path

    if _ORDINARY.match(path):
        assert safe_path(path) == path
