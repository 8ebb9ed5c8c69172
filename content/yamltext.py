"""YAML and front matter that remember where each key was written.

Mappings load as ``Mapping`` (a dict with ``line_of(key)``) so that a message about a field can
name its line. Floats load as ``Decimal`` from their source text, so ``price: 12.50`` is exact.
Duplicate keys are an error rather than a silent "last one wins".
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import yaml

from .errors import ContentError


class Mapping(dict):
    """A dict that knows the 1-based line of each key and of itself."""

    line: int = 1
    lines: dict

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


class _Loader(_Base):  # type: ignore[misc,valid-type]
    line_offset = 0

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)
        self.flatten_mapping(node)
        result = Mapping()
        result.line = node.start_mark.line + 1 + self.line_offset
        result.lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be plain text", key_node.start_mark)
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            result[key] = self.construct_object(value_node, deep=True)
            result.lines[key] = key_node.start_mark.line + 1 + self.line_offset
        return result

    def construct_yaml_float(self, node):  # type: ignore[override]
        text = self.construct_scalar(node).replace("_", "")
        try:
            return Decimal(text)
        except InvalidOperation:
            return super().construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


def load_yaml(text: str, path: str, line_offset: int = 0) -> object:
    """Parse YAML; a syntax error becomes a ``ContentError`` with file and line."""
    loader = _Loader(text)
    loader.line_offset = line_offset
    try:
        data = loader.get_single_data()
        _refuse_aliases(data, path)
        return data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ContentError(path, line, f"invalid YAML: {problem}").as_exception() from None
    except yaml.YAMLError as exc:  # pragma: no cover - reader errors without marks
        raise ContentError(path, None, f"invalid YAML: {exc}").as_exception() from None
    finally:
        loader.dispose()


def _refuse_aliases(data: object, path: str) -> None:
    """A YAML alias (``*name``) repeats a value without writing it out again: ten nested aliases in a
    short file stand for billions of items, and every reader after this one (checks, messages,
    the builder) would expand them. Content never needs them, so a repeated list, mapping or long
    text is refused where it is used again."""
    seen: set[int] = set()
    stack: list[tuple[object, int | None]] = [(data, getattr(data, "line", None))]
    while stack:
        value, line = stack.pop()
        if isinstance(value, (dict, list)) or (isinstance(value, str) and len(value) > 64):
            if id(value) in seen:
                raise ContentError(path, line, "repeats a value with a YAML alias (*name): write the value out "
                                               "where it is needed instead").as_exception()
            seen.add(id(value))
        if isinstance(value, Mapping):
            stack.extend((v, value.line_of(k)) for k, v in value.items())
        elif isinstance(value, dict):
            stack.extend((v, line) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, line) for v in value)


def decode(data: bytes, path: str) -> str:
    """Decode UTF-8 (with or without a BOM), naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ContentError(path, line, "is not valid UTF-8 text; save the file as UTF-8").as_exception() from None


def split_front_matter(text: str, path: str) -> tuple[Mapping, str, int]:
    """Split ``---`` front matter from a Markdown body.

    Returns the front matter mapping, the body and the 1-based line on which the body starts.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        raise ContentError(path, 1, "must start with front matter between '---' lines").as_exception()
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
            break
    else:
        raise ContentError(path, 1, "front matter is not closed with a '---' line").as_exception()
    data = load_yaml("".join(lines[1:index]), path, line_offset=1)
    if data is None:
        data = Mapping()
        data.line, data.lines = 2, {}
    if not isinstance(data, Mapping):
        raise ContentError(path, 2, "front matter must be a mapping of fields (key: value)").as_exception()
    return data, "".join(lines[index + 1:]), index + 2
