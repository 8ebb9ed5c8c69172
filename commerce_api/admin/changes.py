"""A change to a file as people read it: which fields changed from what to what, and the text with
words added and removed marked. Pure functions over two versions of a file; the raw diff stays git's."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from content import frontmatter

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_WORDS_AT_MOST = 4000  # words (and spaces) in a changed stretch compared word by word
_KEEP = 80  # characters of unchanged text kept either side of a change; the rest is elided


@dataclass
class Change:
    """fields: (name, before, after) for each key that changed; text: (kind, words) with kind one of
    "same", "ins", "del", "gap" (unchanged text left out); kind of the whole: created, removed, edited."""

    kind: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)
    text: list[tuple[str, str]] = field(default_factory=list)
    readable: bool = True


def describe(before: bytes | None, after: bytes | None, path: str) -> Change:
    kind = "created" if before is None else "removed" if after is None else "edited"
    try:
        old_fields, old_body = _split(before, path)
        new_fields, new_body = _split(after, path)
    except (yaml.YAMLError, ValueError):
        return Change(kind, readable=False)
    names = list(dict.fromkeys([*old_fields, *new_fields]))
    fields = [(n, _show(old_fields.get(n)), _show(new_fields.get(n))) for n in names
              if old_fields.get(n) != new_fields.get(n)]
    return Change(kind, fields, words(old_body, new_body) if old_body != new_body else [])


def _split(data: bytes | None, path: str) -> tuple[dict[str, Any], str]:
    if data is None:
        return {}, ""
    text = data.decode(errors="replace").replace("\r\n", "\n")
    if path.endswith((".yaml", ".yml")):
        loaded = yaml.safe_load(text) or {}
        if not isinstance(loaded, dict):
            raise ValueError("not a mapping")
        return loaded, ""
    parts = frontmatter.split(text)
    if parts is None:
        return {}, text
    loaded = yaml.safe_load(parts[0]) or {}
    if not isinstance(loaded, dict):
        raise ValueError("not a mapping")
    return loaded, parts[2]


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).strip()
    return str(value)


def words(old: str, new: str) -> list[tuple[str, str]]:
    """The new text against the old, word by word: runs of (same | ins | del | gap, text).

    Lines are matched first; only a changed stretch of lines is compared word by word, and one longer
    than ``_WORDS_AT_MOST`` words is shown removed and added whole: word matching is quadratic, and a
    rewritten long page must not hold a worker for seconds."""
    a, b = old.rstrip().splitlines(keepends=True), new.rstrip().splitlines(keepends=True)
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes():
        if tag == "equal":
            out.append(("same", "".join(a[i1:i2])))
        else:
            out += _word_runs("".join(a[i1:i2]), "".join(b[j1:j2]))
    merged: list[tuple[str, str]] = []
    for kind, text in out:
        if not text:
            continue
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return _elide(merged)


def _word_runs(old: str, new: str) -> list[tuple[str, str]]:
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(a) + len(b) > _WORDS_AT_MOST:
        return [("del", old), ("ins", new)]
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("same", "".join(a[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            out.append(("del", "".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            out.append(("ins", "".join(b[j1:j2])))
    return out


def _elide(runs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Long unchanged stretches keep a little context either side of the changes around them."""
    out: list[tuple[str, str]] = []
    for n, (kind, text) in enumerate(runs):
        if kind != "same" or len(text) <= 2 * _KEEP + 20:
            out.append((kind, text))
            continue
        head = text[:_KEEP] if n > 0 else ""
        tail = text[-_KEEP:] if n < len(runs) - 1 else ""
        out += [r for r in (("same", head), ("gap", "…"), ("same", tail)) if r[1]]
    return out
