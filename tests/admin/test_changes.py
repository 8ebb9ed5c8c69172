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


def test_a_rewritten_long_page_is_shown_removed_and_added_whole_and_quickly():
    """Word matching is quadratic: a changed stretch past a few thousand words is shown whole."""
    import random
    import time

    rng = random.Random(7)
    old = " ".join(rng.choice(["rye", "loaf", "crust", "oven"]) for _ in range(8000))
    new = " ".join(rng.choice(["rye", "loaf", "crust", "oven"]) for _ in range(8000))
    began = time.perf_counter()
    change = describe(f"---\ntitle: A\n---\n{old}\n".encode(), f"---\ntitle: A\n---\n{new}\n".encode(), "pages/a.md")
    assert time.perf_counter() - began < 2
    assert [k for k, _ in change.text] == ["del", "ins"]


def test_only_the_changed_lines_are_compared_word_by_word():
    old = "".join(f"Paragraph {n} about bread.\n\n" for n in range(2000))
    new = old.replace("Paragraph 1000 about bread.", "Paragraph 1000 about rye bread.")
    runs = words(old, new)
    assert [t for k, t in runs if k in ("ins", "del")] == ["rye "]
    assert "".join(t for k, t in runs if k == "same").count("Paragraph") < 10  # 80 characters either side; the rest elided
