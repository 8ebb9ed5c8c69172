"""Editing through the admin as people expect of a product: the commit message is optional with a
sensible default, and a save rewrites only what changed (a one-word edit is a one-line diff)."""

from __future__ import annotations

import re

from tests.admin.conftest import status


def _form(session, path: str) -> dict[str, str]:
    """The editor's fields as the browser would send them back unchanged."""
    html = session.get(f"/pages/edit?path={path}").text
    fields = {m.group(1): m.group(2) for m in re.finditer(r'<input id="f-[a-z_]+" name="([a-z_]+)" value="([^"]*)"', html)}
    fields["body"] = re.search(r'<textarea id="f-body" name="body">(.*?)</textarea>', html, re.S).group(1)
    fields["base"] = re.search(r'name="base" value="([^"]*)"', html).group(1)
    import html as html_

    return {k: html_.unescape(v) for k, v in fields.items()} | {"path": path, "status": "published"}


def test_a_one_word_title_edit_is_a_one_line_diff(admin):
    owner = admin()
    form = _form(owner, "pages/about.md")
    assert form["title"] == "About the bakery"
    saved = owner.post("/pages/save", {**form, "title": "About the shop", "message": "Rename"})
    assert saved.status_code == 303, saved.text
    diff = owner.repo().git("diff", "--no-color", "-U0", "HEAD~1", "HEAD").stdout.decode()
    assert diff.split("@@", 1)[1] == (" -2 +2 @@\n"
                                      "-title: About the bakery\n"
                                      "+title: About the shop\n")


def test_the_commit_message_defaults_to_what_was_done(admin):
    owner = admin()
    repo = owner.repo()
    form = _form(owner, "pages/delivery.md")
    saved = owner.post("/pages/save", {**form, "body": form["body"] + "\nMore.", "message": ""})
    assert saved.status_code == 303 and "Saved" in status(owner.get(saved.headers["location"]))
    assert repo.history(limit=1)[0].message == f"Update {form['title']}"
    created = owner.post("/pages/save", {"path": "", "kind": "post", "title": "Winter hours", "body": "Closed.",
                                         "message": ""})
    assert created.status_code == 303 and repo.history(limit=1)[0].message == "Create Winter hours"
    removed = owner.post("/pages/remove", {"path": "posts/winter-hours.md"})
    assert removed.status_code == 303 and repo.history(limit=1)[0].message == "Remove Winter hours"
    editor = owner.get("/pages/edit?path=pages/delivery.md").text
    field = re.search(r'<input id="f-message"[^>]*>', editor).group(0)
    assert "required" not in field and f'placeholder="Update {form["title"]}"' in field
