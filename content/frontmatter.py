"""Writing a Markdown file's YAML front matter back after a form changed some of its fields.

Only the keys whose value changed are rewritten; every other line (its quoting, wrapping, order,
comments, flow lists) stays byte for byte as the author or ``git`` left it, so a one-word edit of a
title is a one-line diff in the history. Never used for reading: ``content.parse`` reads the files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

# A top-level key line: no indent, not a comment, not a block-sequence item, not a document marker.
_KEY = re.compile(r"""^(?![\s#-])(?:"[^"]*"|'[^']*'|[^:#]+?)\s*:(?:\s|$)""")


@dataclass
class _Block:
    """One top-level key with its value's lines; the blank lines and comments after it stay apart."""

    key: Any
    lines: list[str]
    trailer: list[str] = field(default_factory=list)


def split(text: str) -> tuple[str, str, str] | None:
    """(front matter, separator, body) of a file with front matter; None for a file without one.
    The separator is the closing ``---`` line and any blank lines before the body, kept as they were."""
    if not text.startswith("---\n"):
        return None
    match = re.search(r"^---[ \t]*\n(\n*)|^---[ \t]*\Z", text[4:], re.M)
    if match is None:
        return None
    return text[4:4 + match.start()], match.group(0), text[4 + match.end():]


def render(data: dict[str, Any], body: str) -> str:
    """A new file: the front matter dumped in the order given, then the body."""
    body = body.replace("\r\n", "\n").rstrip()
    return f"---\n{_dump(data)}---\n{body}\n"


def update(original: str, data: dict[str, Any], body: str) -> str:
    """``original`` with its front matter changed to ``data`` and its body to ``body``, touching only
    the lines of keys that changed, were added (at the end, in ``data``'s order) or removed."""
    parts = split(original)
    blocks = _blocks(parts[0]) if parts else None
    if parts is None or blocks is None:  # no front matter, or one we cannot take apart safely
        return render(data, body)
    front, separator, old_body = parts
    preamble, blocks = blocks
    out = list(preamble)
    seen = set()
    for block in blocks:
        seen.add(block.key)
        if block.key in data:
            old = yaml.safe_load("".join(block.lines))[block.key]
            new = data[block.key]
            out += block.lines if same(old, new) else _dump_key(block, old, new)
        out += block.trailer
    for key, value in data.items():
        if key not in seen:
            out.append(_dump({key: value}))
    body = body.replace("\r\n", "\n").rstrip()
    if body == old_body.rstrip():
        return "---\n" + "".join(out) + separator + old_body
    return "---\n" + "".join(out) + separator + body + "\n"


def same(old: Any, new: Any) -> bool:
    """Whether a form's value means what the file says: forms send text, so a date or a number the
    form showed as text and sent back unchanged is the same value."""
    if old == new:
        return True
    if isinstance(new, str) and not isinstance(old, (str, dict, list)) and old is not None:
        return str(old) == new
    if isinstance(new, list) and isinstance(old, list) and len(old) == len(new):
        return all(same(o, n) for o, n in zip(old, new))
    return False


def _blocks(front: str) -> tuple[list[str], list[_Block]] | None:
    lines = front.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    preamble: list[str] = []
    blocks: list[_Block] = []
    for line in lines:
        if _KEY.match(line):
            blocks.append(_Block(None, [line]))
        elif not blocks:
            preamble.append(line)
        elif not line.strip() or line.lstrip().startswith("#") and not line[0].isspace():
            blocks[-1].trailer.append(line)
        else:  # a value's continuation: indented, or a block sequence at column 0
            block = blocks[-1]
            block.lines += block.trailer + [line]
            block.trailer = []
    try:
        for block in blocks:
            parsed = yaml.safe_load("".join(block.lines))
            if not isinstance(parsed, dict) or len(parsed) != 1:
                return None
            block.key = next(iter(parsed))
        whole = yaml.safe_load(front) or {}
    except yaml.YAMLError:
        return None
    if not isinstance(whole, dict) or [b.key for b in blocks] != list(whole):
        return None  # anchors, merge keys or anything else the line view does not see as the parser does
    return preamble, blocks


def _dump_key(block: _Block, old: Any, new: Any) -> list[str]:
    """A changed key, written in the style its old value had where that is safe: a flow list stays a
    flow list, a double-quoted text stays double-quoted, an unquoted date stays unquoted."""
    value_text = block.lines[0].split(":", 1)[1].strip() if not block.lines[0].startswith(('"', "'")) \
        else _KEY.sub("", block.lines[0]).strip()
    key_text = _KEY.match(block.lines[0]).group(0).rstrip()
    single_line = len(block.lines) == 1
    if single_line and isinstance(new, str) and "\n" not in new:
        if value_text.startswith('"'):
            return [f"{key_text} {json.dumps(new, ensure_ascii=False)}\n"]
        if not isinstance(old, str) and old is not None:
            try:
                if type(yaml.safe_load(new)) is type(old) and str(yaml.safe_load(new)) == new:
                    return [f"{key_text} {new}\n"]
            except yaml.YAMLError:
                pass
    if single_line and value_text.startswith("[") and isinstance(new, list) \
            and all(isinstance(v, (str, int, float)) for v in new):
        flow = yaml.safe_dump({block.key: new}, default_flow_style=True, allow_unicode=True, width=10_000,
                              sort_keys=False).strip()
        return [flow.removeprefix("{").removesuffix("}") + "\n"]
    return [_dump({block.key: new})]


def _dump(data: dict[str, Any]) -> str:
    if not data:
        return ""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
