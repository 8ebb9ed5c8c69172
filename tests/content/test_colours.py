"""The contrast of a site's colours, as WCAG 2.2 computes it."""

from __future__ import annotations

import pytest

from content.colours import problems, ratio


@pytest.mark.parametrize("a,b,expected", [("#000000", "#ffffff", 21.0), ("#fff", "#fff", 1.0),
                                          ("#777777", "#ffffff", 4.478), ("#1b1b1b", "#ffffff", 17.22)])
def test_ratio(a, b, expected):
    assert ratio(a, b) == pytest.approx(expected, abs=0.005)
    assert ratio(b, a) == ratio(a, b)


def test_names_and_transparency_are_not_judged():
    assert ratio("rebeccapurple", "#ffffff") is None and ratio("#ffffff80", "#000") is None
    assert problems({"text": "rebeccapurple"}) == []


def test_each_unreadable_pair_is_named_with_its_ratio():
    found = problems({"primary": "#ffcc00"})
    assert found == [
        "primary #ffcc00 on background #ffffff has a contrast of 1.51:1; links need at least 4.5:1 (WCAG AA) to be "
        "read easily: choose a darker or lighter colour",
        "white on primary #ffcc00 has a contrast of 1.51:1; button labels need at least 4.5:1 (WCAG AA) to be read "
        "easily: choose a darker or lighter colour"]
    assert problems({"text": "#777777"})[0].startswith("text #777777 on background #ffffff has a contrast of 4.47:1")
    assert problems({"text": "#767676"}) == []  # 4.54:1
    assert problems({}) == []
