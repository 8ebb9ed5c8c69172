"""A page's ``form:`` front matter: a contact or enquiry form, checked field by field.

    form:
      name: contact            # unique in the site; the form posts to /api/forms/contact
      title: Contact us
      submit: Send message
      fields:                  # after name, email and message, which every form has
        - {name: budget, label: Budget, type: select, options: [Small, Large]}
      success: Thanks, we reply within a day.
"""

from __future__ import annotations

import re

from .fields import Fields
from .model import FORM_FIELD_TYPES, STANDARD_FORM_FIELDS, Form, FormField
from .yamltext import Mapping

FORM_KEYS = {"name", "title", "submit", "fields", "success"}
FIELD_KEYS = {"name", "label", "type", "required", "options"}
MAX_FIELDS = 20
MAX_OPTIONS = 50
LABEL_LEN = 100
# Names the form itself uses: the standard fields, the honeypot and the hidden bookkeeping fields.
RESERVED = {f.name for f in STANDARD_FORM_FIELDS} | {"website"}
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DEFAULT_SUCCESS = "Thank you, your message was sent."


def parse_form(f: Fields, page_title: str) -> Form | None:
    """The entry's form, or None when it declares none; problems go to ``f.errors``."""
    data = f.mapping("form")
    if data is None:
        return None
    g = Fields(data, f.path, f.errors, FORM_KEYS)
    name = g.text("name", required=True, max_len=60)
    if name:
        name = g.slug("name", name)
    return Form(name=name,
                title=g.text("title", max_len=LABEL_LEN) or page_title,
                submit=g.text("submit", max_len=LABEL_LEN) or "Send",
                success=g.text("success", max_len=500) or DEFAULT_SUCCESS,
                fields=STANDARD_FORM_FIELDS + _fields(g))


def _fields(g: Fields) -> tuple[FormField, ...]:
    items = g.data.get("fields")
    if items is None:
        return ()
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        g.error("fields", "must be a list of fields such as {name: company, label: Company}")
        return ()
    if len(items) > MAX_FIELDS:
        g.error("fields", f"at most {MAX_FIELDS} fields; this form has {len(items)}")
        return ()
    result: list[FormField] = []
    seen: set[str] = set()
    for item in items:
        h = Fields(item, g.path, g.errors, FIELD_KEYS)
        name = h.text("name", required=True, max_len=40)
        if name and not FIELD_NAME.match(name):
            h.error("name", f"{name!r} is not a field name (lowercase letters, digits and _, starting with a letter)")
        elif name in RESERVED:
            h.error("name", f"{name!r} is always part of the form; pick another name")
        elif name in seen:
            h.error("name", f"{name!r} is used by two fields")
        seen.add(name)
        kind = h.choice("type", FORM_FIELD_TYPES, "text")
        options = h.text_list("options")
        if kind == "select" and not options:
            h.error("options", "a select field needs a list of options, e.g. options: [Small, Large]", item.line)
        elif kind != "select" and "options" in item:
            h.error("options", "only select fields have options")
        if len(options) > MAX_OPTIONS or any(len(o) > LABEL_LEN for o in options):
            h.error("options", f"at most {MAX_OPTIONS} options of at most {LABEL_LEN} characters each")
        result.append(FormField(name, h.text("label", required=True, max_len=LABEL_LEN), kind,
                                h.flag("required"), options if kind == "select" else ()))
    return tuple(result)
