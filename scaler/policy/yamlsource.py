"""Reading one YAML policy file safely, keeping the line of every key and value.

The file is composed into a node tree with PyYAML's safe loader and turned into plain
data here, so that every value's line is known (for error messages) and so that the
dangerous or confusing parts of YAML get clear errors instead of surprises:
non-UTF-8 bytes, tabs used for indentation, duplicate keys, tags other than the
standard scalars, very long strings and numbers, text that is not Unicode (an escaped
lone surrogate), characters YAML forbids, very deep nesting, merge keys that include
themselves and documents that aliases expand explosively ("billion laughs"). Timestamps are kept as the text that was
written (the policy language parses its own dates), and mapping keys are always text
(so ``on:`` or ``no:`` stay keys instead of becoming booleans). Merge keys (``<<``) work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Largest policy file read, in bytes.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: Most values a document may expand to through aliases (a large real file has tens of thousands).
MAX_NODES = 200_000
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 64
#: Longest single string.
MAX_STRING = 4096
#: Longest number as written (digits, sign, base prefix, point and exponent). Far beyond any
#: real value, and short enough that no number is slow to read (Python refuses to read
#: decimal integers of more than 4,300 digits at all).
MAX_NUMBER_CHARS = 100

Path_ = tuple[str | int, ...]

_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class YamlSourceError(Exception):
    """The file is not a YAML document this reader accepts; ``line`` is 1-based."""

    def __init__(self, line: int, message: str, path: Path_ = ()) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.path = path


@dataclass
class YamlDocument:
    """Plain data of one document and the lines of its parts (1-based).

    ``value_lines[path]`` is where the value at ``path`` starts, ``key_lines[path]``
    where its key is written (for mapping entries).
    """

    data: Any
    value_lines: dict[Path_, int] = field(default_factory=dict)
    key_lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[YamlSourceError] = field(default_factory=list)

    def line_of(self, path: Path_, *, key: bool = False) -> int:
        """Return the line of ``path``: its key's line when ``key``, else its value's; else its nearest ancestor's."""
        if key and path in self.key_lines:
            return self.key_lines[path]
        probe = path
        while probe:
            if probe in self.value_lines:
                return self.value_lines[probe]
            probe = probe[:-1]
        return self.value_lines.get((), 1)


def read_yaml(raw: bytes) -> YamlDocument:
    """Return the document in ``raw``; duplicate keys and over-long strings are in ``problems``.

    Raises :class:`YamlSourceError` when the bytes cannot be read as one YAML document.
    """
    if len(raw) > MAX_FILE_BYTES:
        raise YamlSourceError(1, f"file is {len(raw)} bytes; policy files may be at most {MAX_FILE_BYTES} bytes")
    text = _decode(raw)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text) from None
    except yaml.reader.ReaderError as exc:
        raise _forbidden_character(exc, text) from None
    except yaml.YAMLError as exc:
        raise YamlSourceError(1, f"YAML error: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise YamlSourceError(1, f"nesting is too deep; policy files nest at most {MAX_DEPTH} levels") from None
    if root is None:
        return YamlDocument(data=None, value_lines={(): 1})
    builder = _Builder()
    data = builder.build(root, (), 0)
    return YamlDocument(data=data, value_lines=builder.value_lines, key_lines=builder.key_lines, problems=builder.problems)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlSourceError(
            line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column}); save the file as UTF-8"
        ) from None


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> YamlSourceError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    problem = exc.problem or "invalid YAML"
    if "'\\t'" in problem or "\\t" in problem:
        return YamlSourceError(line, "tab character used for indentation; YAML indents with spaces only")
    if "expected a single document" in str(exc):
        return YamlSourceError(line, "more than one YAML document ('---'); put one document in each file")
    context = f" {exc.context}" if exc.context else ""
    where = f" (column {mark.column + 1})" if mark is not None else ""
    return YamlSourceError(line, f"YAML syntax error{where}: {problem}{context}")


_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _forbidden_character(exc: yaml.reader.ReaderError, text: str) -> YamlSourceError:
    """The error for a character YAML does not allow in a document (a control character, say)."""
    before = text[: exc.position]
    breaks = list(_LINE_BREAKS.finditer(before))
    line = len(breaks) + 1
    column = exc.position - (breaks[-1].end() if breaks else 0) + 1
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
    escape = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return YamlSourceError(
        line,
        f"character U+{code:04X} (column {column}) is not allowed in a YAML file; "
        f"write it as an escape inside double quotes ({escape}) or remove it",
    )


def _lone_surrogate(text: str) -> str | None:
    """Return the first lone UTF-16 surrogate in ``text`` (an escape such as \\ud800 makes one), or ``None``."""
    for character in text:
        if "\ud800" <= character <= "\udfff":
            return character
    return None


class _Builder:
    def __init__(self) -> None:
        self.count = 0
        self.value_lines: dict[Path_, int] = {}
        self.key_lines: dict[Path_, int] = {}
        self.problems: list[YamlSourceError] = []
        self._constructor = SafeConstructor()
        #: the mappings being built, outermost first: a merge of one of them is a cycle
        self._open: list[MappingNode] = []

    def build(self, node: Node, path: Path_, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlSourceError(
                node.start_mark.line + 1,
                f"the document expands to more than {MAX_NODES} values through aliases "
                "(an alias bomb?); write the values out or use fewer aliases",
            )
        if depth > MAX_DEPTH:
            raise YamlSourceError(node.start_mark.line + 1, f"nesting is too deep; policy files nest at most {MAX_DEPTH} levels")
        self.value_lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        raise YamlSourceError(node.start_mark.line + 1, "unsupported YAML node")  # pragma: no cover

    def _scalar(self, node: ScalarNode, path: Path_) -> Any:
        line = node.start_mark.line + 1
        if node.tag == _STR:
            surrogate = _lone_surrogate(node.value)
            if surrogate is not None:
                self.problems.append(
                    YamlSourceError(
                        line, f"text holds \\u{ord(surrogate):04x}, half of a UTF-16 pair, which is not a character", path
                    )
                )
                return node.value.encode("utf-8", "replace").decode("utf-8")
            if len(node.value) > MAX_STRING:
                self.problems.append(
                    YamlSourceError(line, f"string of {len(node.value)} characters; at most {MAX_STRING} are allowed", path)
                )
                return node.value[:MAX_STRING]
            return node.value
        if node.tag == _TIMESTAMP:
            return node.value
        if node.tag in _SCALAR_TAGS:
            if len(node.value) > MAX_NUMBER_CHARS:
                self.problems.append(
                    YamlSourceError(
                        line, f"number of {len(node.value)} characters; at most {MAX_NUMBER_CHARS} are allowed", path
                    )
                )
                return None
            return self._constructor.yaml_constructors[node.tag](self._constructor, node)
        raise YamlSourceError(line, f"unsupported YAML tag {node.tag!r}; policy files use plain values only", path)

    def _mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise YamlSourceError(node.start_mark.line + 1, f"nesting is too deep; policy files nest at most {MAX_DEPTH} levels")
        self._open.append(node)
        try:
            return self._mapping_entries(node, path, depth)
        finally:
            self._open.pop()

    def _mapping_entries(self, node: MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, int] = {}
        merges: list[tuple[int, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append((key_node.start_mark.line + 1, value_node))
                continue
            if not isinstance(key_node, ScalarNode):
                raise YamlSourceError(key_node.start_mark.line + 1, "mapping keys must be plain names", path)
            key = key_node.value
            line = key_node.start_mark.line + 1
            surrogate = _lone_surrogate(key)
            if surrogate is not None:
                shown = key.encode("utf-8", "replace").decode("utf-8")
                self.problems.append(
                    YamlSourceError(
                        line,
                        f"key holds \\u{ord(surrogate):04x}, half of a UTF-16 pair, which is not a character",
                        (*path, shown),
                    )
                )
                continue
            if key in explicit:
                self.problems.append(
                    YamlSourceError(line, f"duplicate key {key!r} (first written at line {explicit[key]}); each key may appear once", (*path, key))
                )
                continue
            explicit[key] = line
            self.key_lines.setdefault((*path, key), line)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        merged: dict[str, Any] = {}
        for line, value_node in merges:
            self._merge_into(merged, line, value_node, path, depth)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_into(self, merged: dict[str, Any], line: int, value_node: Node, path: Path_, depth: int) -> None:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise YamlSourceError(source.start_mark.line + 1, "a merge key (<<) takes a mapping or a list of mappings", path)
            if any(source is open_mapping for open_mapping in self._open):
                raise YamlSourceError(line, "a merge key (<<) merges a mapping into itself (through an alias)", path)
            values = self._mapping(source, path, depth + 1)
            for key, value in values.items():
                merged.setdefault(key, value)
