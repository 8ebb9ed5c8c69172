"""History as people read it: fields with their old and new values, the text with words marked."""

from __future__ import annotations

from commerce_api.admin.changes import describe, words

OLD = b"---\ntitle: About us\ntags: [a, b]\n---\nWe bake bread every day.\n"
NEW = b"---\ntitle: About the shop\ntags: [a, b]\nexcerpt: Hi\n---\nWe bake rye bread every day.\n"


def test_fields_and_words_that_changed():
    change = describe(OLD, NEW, "pages/about.md")
    assert change.kind == "edited" and change.readable
    assert change.fields == [("title", "About us", "About the shop"), ("excerpt", "", "Hi")]
    assert ("ins", "rye ") in change.text or ("ins", " rye") in change.text
    assert "".join(t for k, t in change.text if k != "del") == "We bake rye bread every day."


def test_created_removed_and_settings_files():
    assert describe(None, NEW, "pages/about.md").kind == "created"
    assert describe(OLD, None, "pages/about.md").kind == "removed"
    change = describe(b"name: Shop\ncurrency: EUR\n", b"name: Shop\ncurrency: GBP\n", "site.yaml")
    assert change.fields == [("currency", "EUR", "GBP")] and change.text == []
    assert not describe(b"---\n[oops\n---\nx", NEW, "pages/a.md").readable


def test_long_unchanged_text_is_elided_around_the_change():
    old = "word " * 200 + "end"
    runs = words(old, old.replace("end", "finish"))
    assert ("gap", "…") in runs and sum(len(t) for k, t in runs if k == "same") < 200
    assert ("del", "end") in runs and ("ins", "finish") in runs
