"""Saving a form rewrites only the front-matter lines whose value changed: untouched lines keep their
quoting, wrapping, order and comments, so a one-word edit is a one-line diff."""

from __future__ import annotations

import datetime

import pytest
import yaml

from content.frontmatter import render, same, update

ABOUT = """\
---
# shown in the menu
title: About us
excerpt: "Who we are: two bakers, one oven."
published_at: 2024-05-01
tags: [bakery, team]
image: team.jpg
description: >-
  A long description that the author wrapped
  by hand over two lines.
---

We bake.
"""


def test_an_unchanged_form_writes_the_same_bytes():
    data = yaml.safe_load(ABOUT.split("---")[1])
    form = {**data, "published_at": "2024-05-01"}  # forms send text
    assert update(ABOUT, form, "We bake.") == ABOUT


def test_a_one_word_title_edit_changes_one_line():
    data = yaml.safe_load(ABOUT.split("---")[1])
    new = update(ABOUT, {**data, "title": "About the bakery"}, "We bake.\n")
    assert new == ABOUT.replace("title: About us", "title: About the bakery")


@pytest.mark.parametrize("key, value, line", [
    ("excerpt", "Who we are: three bakers.", 'excerpt: "Who we are: three bakers."'),
    ("published_at", "2024-06-02", "published_at: 2024-06-02"),
    ("tags", ["bakery", "people"], "tags: [bakery, people]"),
])
def test_a_changed_value_keeps_its_style(key, value, line):
    data = yaml.safe_load(ABOUT.split("---")[1])
    new = update(ABOUT, {**data, key: value}, "We bake.")
    changed = [l for l in new.splitlines() if l not in ABOUT.splitlines()]
    assert changed == [line]
    assert yaml.safe_load(new.split("---")[1])[key] == (datetime.date(2024, 6, 2) if key == "published_at" else value)


def test_keys_removed_and_added_touch_only_their_lines():
    data = yaml.safe_load(ABOUT.split("---")[1])
    del data["image"]
    new = update(ABOUT, {**data, "meta_title": "Our story"}, "We bake.")
    assert "image: team.jpg\n" not in new
    assert new.replace("meta_title: Our story\n", "") == ABOUT.replace("image: team.jpg\n", "")
    assert new.index("meta_title") < new.index("\n---\n")


def test_a_changed_body_keeps_the_front_matter_and_its_separator():
    data = yaml.safe_load(ABOUT.split("---")[1])
    new = update(ABOUT, {**data, "published_at": datetime.date(2024, 5, 1)}, "We bake bread.\r\n")
    assert new == ABOUT.replace("We bake.", "We bake bread.")


def test_a_file_without_front_matter_gets_one():
    assert update("Just text\n", {"title": "Hi"}, "Just text") == "---\ntitle: Hi\n---\nJust text\n"
    assert render({}, "x") == "---\n---\nx\n"


def test_values_the_form_sends_as_text_are_the_same():
    assert same(datetime.date(2024, 5, 1), "2024-05-01") and same(250, "250") and same(True, True)
    assert not same("a", "b") and not same(None, "") and not same(["a"], ["a", "b"])
