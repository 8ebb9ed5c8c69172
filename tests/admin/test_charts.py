"""The reports' SVG charts: one image with a title and a description, shapes that do not rely on
colour, deploy days marked, and text that cannot break out of the SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from commerce_api.admin.charts import Series, daily

SVG = "{http://www.w3.org/2000/svg}"
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]


def _svg(markup: str) -> ET.Element:
    figure = ET.fromstring(re.sub(r"<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', markup))
    return figure.find(f"{SVG}svg")


def test_a_chart_is_one_named_image_with_bars_a_dotted_line_and_marked_days():
    markup = str(daily("c", DAYS, Series("Views", [3, 0, 5, 1]), line=Series("Visitors", [2, 0, 4, 1]),
                       marks={"2026-11-03": "3 Nov — published 1a2b3c4"}, title="Views per day", summary="9 views."))
    svg = _svg(markup)
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c-t c-d"
    assert svg.find(f"{SVG}title").text == "Views per day" and svg.find(f"{SVG}desc").text == "9 views."
    assert len(svg.findall(f"{SVG}rect")) == 3  # a day with nothing has no bar, not a stub
    assert len(svg.findall(f"{SVG}circle")) == 4  # visitors: a dot on every day, zeros included
    dashed = [line for line in svg.findall(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 1  # one deploy day, drawn as a dashed rule: a shape, not only a colour
    x = float(dashed[0].get("x1"))
    third = float(svg.findall(f"{SVG}circle")[2].get("cx"))
    assert x == third  # on the day it happened
    assert "(bars)" in markup and "(line with dots)" in markup and "dashed rule" in markup


def test_a_chart_without_a_line_or_marks_has_no_legend_for_them():
    markup = str(daily("c", DAYS, Series("Revenue", [100, 0, 0, 0]), title="Revenue", summary="1.00 GBP",
                       label=lambda v: f"{v / 100:.2f}"))
    assert "line with dots" not in markup and "deploy" not in markup
    assert ">1.00<" in markup and ">0.00<" in markup  # the axis speaks the value's unit


def test_words_in_a_chart_are_escaped():
    markup = str(daily("c", DAYS, Series("<b>", [1, 1, 1, 1]), title="</title><script>x()</script>",
                       summary="a & b"))
    assert "<script>" not in markup and "&lt;/title&gt;" in markup and "a &amp; b" in markup
    _svg(markup)  # still well-formed
