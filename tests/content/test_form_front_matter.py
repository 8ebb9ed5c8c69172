"""Forms declared in a page's front matter: parsed into the model, every mistake with file and line."""

from __future__ import annotations

import pytest

from content.errors import ContentErrors
from content.parse import parse_site
from content.source import DirSource

CONTACT = """\
---
title: Contact
form:
  name: contact
  title: Write to us
  submit: Send message
  fields:
    - {name: company, label: Company}
    - {name: quantity, label: Weekly loaves, type: number, required: true}
    - {name: day, label: Delivery day, type: select, options: [Mon, Tue]}
  success: Thanks, we reply within a day.
---
Say hello.

{{< form >}}
"""


def test_a_page_declares_its_form(scratch_site):
    page = parse_site(DirSource(scratch_site({"pages/contact.md": CONTACT}))).page("contact")
    form = page.form
    assert (form.name, form.title, form.submit, form.success) == ("contact", "Write to us", "Send message",
                                                                   "Thanks, we reply within a day.")
    assert [f.name for f in form.fields] == ["name", "email", "message", "company", "quantity", "day"]
    quantity, day = form.fields[4], form.fields[5]
    assert (quantity.type, quantity.required, quantity.label) == ("number", True, "Weekly loaves")
    assert (day.type, day.options, day.required) == ("select", ("Mon", "Tue"), False)
    assert all(f.required for f in form.fields[:3])


def test_defaults_come_from_the_page(scratch_site):
    site = scratch_site({"pages/contact.md": "---\ntitle: Contact\nform:\n  name: contact\n---\nHi.\n"})
    form = parse_site(DirSource(site)).page("contact").form
    assert (form.title, form.submit) == ("Contact", "Send")
    assert form.success and [f.name for f in form.fields] == ["name", "email", "message"]
    assert parse_site(DirSource(site)).page("about").form is None


def _errors(scratch_site, files: dict) -> list[str]:
    with pytest.raises(ContentErrors) as caught:
        parse_site(DirSource(scratch_site(files)))
    return [str(e) for e in caught.value.errors]


def _form(lines: str) -> dict:
    return {"pages/contact.md": "---\ntitle: Contact\nform:\n" + lines + "---\nHi.\n"}


MISTAKES = [
    ("no name", "  title: T\n", "pages/contact.md:4: name: is required"),
    ("bad name", "  name: Contact Us\n", "pages/contact.md:4: name: 'Contact Us' is not a valid slug"),
    ("unknown key", "  name: c\n  colour: red\n", "pages/contact.md:5: colour: unknown field"),
    ("unknown type", "  name: c\n  fields:\n    - {name: x, label: X, type: date}\n",
     "pages/contact.md:6: type: 'date' is not one of: text, email, tel, number, textarea, select, checkbox"),
    ("no label", "  name: c\n  fields:\n    - {name: x}\n", "pages/contact.md:6: label: is required"),
    ("long label", "  name: c\n  fields:\n    - {name: x, label: " + "L" * 101 + "}\n",
     "pages/contact.md:6: label: is longer than 100 characters"),
    ("select without options", "  name: c\n  fields:\n    - {name: x, label: X, type: select}\n",
     "pages/contact.md:6: options: a select field needs a list of options"),
    ("options on text", "  name: c\n  fields:\n    - {name: x, label: X, options: [a]}\n",
     "pages/contact.md:6: options: only select fields have options"),
    ("reserved name", "  name: c\n  fields:\n    - {name: email, label: E}\n",
     "pages/contact.md:6: name: 'email' is always part of the form"),
    ("bad field name", "  name: c\n  fields:\n    - {name: Big Name, label: E}\n",
     "pages/contact.md:6: name: 'Big Name' is not a field name"),
    ("same field twice", "  name: c\n  fields:\n    - {name: x, label: X}\n    - {name: x, label: Y}\n",
     "pages/contact.md:7: name: 'x' is used by two fields"),
    ("too many fields", "  name: c\n  fields:\n" + "".join(f"    - {{name: f{i}, label: F}}\n" for i in range(21)),
     "pages/contact.md:5: fields: at most 20 fields"),
    ("not a mapping", "  - contact\n", "pages/contact.md:3: form: must be a mapping of fields"),
]


@pytest.mark.parametrize("lines,expected", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_form_mistakes_name_file_line_and_field(scratch_site, lines, expected):
    errors = _errors(scratch_site, _form(lines))
    assert any(e.startswith(expected) for e in errors), errors


def test_form_names_are_unique_per_site(scratch_site):
    errors = _errors(scratch_site, {"pages/contact.md": "---\ntitle: C\nform: {name: hello}\n---\n",
                                    "pages/other.md": "---\ntitle: O\nform: {name: hello}\n---\n"})
    assert "pages/contact.md: form: 'hello' is also used by pages/other.md" in errors
