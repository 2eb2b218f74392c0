"""Reading one YAML policy file safely, keeping the line of every key and value.

The file is composed into a node tree with PyYAML's safe loader and turned into plain
data here, so that every value's line is known (for error messages) and so that the
dangerous or confusing parts of YAML get clear errors instead of surprises:
non-UTF-8 bytes, tabs used for indentation, duplicate keys, tags other than the
standard scalars, very long strings, very deep nesting and documents that aliases
expand explosively ("billion laughs"). Timestamps are kept as the text that was
written (the policy language parses its own dates), and mapping keys are always text
(so ``on:`` or ``no:`` stay keys instead of becoming booleans). Merge keys (``<<``) work.
"""

from __future__ import annotations

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
    except yaml.YAMLError as exc:
        raise YamlSourceError(1, f"YAML error: {exc}") from None
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


class _Builder:
    def __init__(self) -> None:
        self.count = 0
        self.value_lines: dict[Path_, int] = {}
        self.key_lines: dict[Path_, int] = {}
        self.problems: list[YamlSourceError] = []
        self._constructor = SafeConstructor()

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
            if len(node.value) > MAX_STRING:
                self.problems.append(
                    YamlSourceError(line, f"string of {len(node.value)} characters; at most {MAX_STRING} are allowed", path)
                )
                return node.value[:MAX_STRING]
            return node.value
        if node.tag == _TIMESTAMP:
            return node.value
        if node.tag in _SCALAR_TAGS:
            return self._constructor.yaml_constructors[node.tag](self._constructor, node)
        raise YamlSourceError(line, f"unsupported YAML tag {node.tag!r}; policy files use plain values only", path)

    def _mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise YamlSourceError(key_node.start_mark.line + 1, "mapping keys must be plain names", path)
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in explicit:
                self.problems.append(
                    YamlSourceError(line, f"duplicate key {key!r} (first written at line {explicit[key]}); each key may appear once", (*path, key))
                )
                continue
            explicit[key] = line
            self.key_lines.setdefault((*path, key), line)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        merged: dict[str, Any] = {}
        for value_node in merges:
            self._merge_into(merged, value_node, path, depth)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_into(self, merged: dict[str, Any], value_node: Node, path: Path_, depth: int) -> None:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise YamlSourceError(source.start_mark.line + 1, "a merge key (<<) takes a mapping or a list of mappings", path)
            values = self._mapping(source, path, depth + 1)
            for key, value in values.items():
                merged.setdefault(key, value)
