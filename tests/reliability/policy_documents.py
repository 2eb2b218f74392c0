"""Hypothesis strategies for policy documents: valid ones, and valid ones damaged in every way we know.

A :class:`Document` is the bytes of one policy file with what was done to it. Valid
documents are built as data (every feature of the language: the three window forms,
lead times, skip dates, health rules with states and restarts, expiry, pricing, shared
parts written as YAML anchors and aliases) and written in a random YAML style; the
example files of ``policies/examples/`` are valid seeds too. Mutations then damage them:

- as data: a value of the wrong type (huge and negative numbers, infinities, NaN,
  booleans, nothing, odd Unicode, very long strings, lists and mappings where scalars
  belong, and the reverse), a key dropped, an unknown key, a misspelt key, an entry
  duplicated, a value buried under deep nesting;
- as text: duplicate keys, tabs, bytes that are not UTF-8, truncation, stray YAML
  syntax, unsupported tags, several documents, numbers with thousands of digits,
  escapes of lone surrogates and control characters, odd Unicode, CR/CRLF/NEL line
  breaks, a BOM, padding up to and beyond the size limit;
- or replace the document: billion-laughs alias bombs of every size, nesting from a
  few levels to a hundred thousand, aliases to nothing and to themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "policies" / "examples"

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]
CRONS = ["0 9 * * 1-5", "30 1 * * *", "*/15 * * * *", "0 0 1 * *", "0 22 * * fri", "5-10 8 * jan-jun sat,sun", "@daily", "@hourly", "0 12 13 * 5"]
BETWEENS = ["Mon-Fri 08:00-19:00", "22:00-06:00", "Sat,Sun 00:00-24:00", "Fri-Mon 20:00-08:00", "wednesday 02:30-03:30"]
DURATIONS = ["1m", "15m", "1h", "90m", "8h", "1h30m", "1d", "7d", "366d"]
HOLDS = ["0s", "30s", "5m", "1h", "7d"]
EXPIRES = ["1m", "30d", "3660d"]
HEALTH = ["Progressing", "Initializing", "Degraded", "Unhealthy", "Unknown", "SCALED_DOWN", "Missing"]
ACCELERATORS = ["nvidia-tesla-t4", "nvidia-l4", "nvidia-a10g", "nvidia-a100", "nvidia-h100", "cpu", "tpu-v5e"]
GLOBS = ["*", "llama-*", "whisper-v3", "*-canary", "sdxl-?-gen", "[a-c]*"]
UUIDS = ["1e99a854-26de-4c19-b6b6-68c7e03c39c3", "0caac439-5518-4569-a3db-a2d505a189f2"]

#: Characters that make parsers, terminals and error messages stumble.
ODD_CHARACTERS = (
    "\u200b\u200d\u2060\ufeff"  # zero-width space, joiner, word joiner, BOM in the middle
    "\u202e\u202d\u2066"  # bidi overrides and isolates
    "\u0301\u0308"  # combining accents
    "\U0001f525\U0001f680"  # emoji (outside the BMP)
    "\u00a0\u3000"  # no-break and ideographic spaces
    "\x85\u2028\u2029"  # NEL, line and paragraph separators (YAML line breaks)
    "\x1b\x07\x7f"  # escape, bell, delete
    "éßøΩЖ中文"  # ordinary non-ASCII
    ":-[]{}#&*!|>'\"%@`,?"  # YAML indicators
)


@dataclass
class Document:
    """One policy file: its bytes, whether it must load, and what was done to it."""

    raw: bytes
    valid: bool
    origin: str
    mutations: list[str] = field(default_factory=list)

    @property
    def text_or_none(self) -> str | None:
        """The bytes as UTF-8 text, or ``None`` when they are not UTF-8."""
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def describe(self) -> str:
        """One line saying where the document came from and what was done to it."""
        return f"{self.origin} + [{', '.join(self.mutations)}] ({len(self.raw)} bytes)"


# --------------------------------------------------------------------------- valid documents

_names = st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True)
_instants = st.builds(
    datetime,
    st.integers(2026, 2030),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
)
_dates = st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def _bounds(draw: st.DrawFn) -> dict[str, int]:
    low = draw(st.integers(0, 20))
    return {"min_replicas": low, "max_replicas": draw(st.integers(max(low, 1), 40))}


@st.composite
def _window(draw: st.DrawFn, name: str | None, states: st.SearchStrategy[Any]) -> dict[str, Any]:
    window: dict[str, Any] = {} if name is None else {"name": name}
    form = draw(st.sampled_from(["cron", "between", "absolute"]))
    if form == "cron":
        window["cron"] = draw(st.sampled_from(CRONS))
        window["duration"] = draw(st.sampled_from(DURATIONS))
    elif form == "between":
        window["between"] = draw(st.sampled_from(BETWEENS))
    else:
        opens = draw(_instants)
        closes = opens + timedelta(hours=draw(st.integers(3, 2000)))
        offset = draw(st.sampled_from(["", "Z", "+05:30", "-08:00"]))
        window["from"] = f"{opens:%Y-%m-%dT%H:%M}{offset}"
        window["until"] = f"{closes:%Y-%m-%dT%H:%M}{offset}"
    if draw(st.booleans()):
        window["lead_time"] = draw(st.sampled_from(["0s", "10m", "2h", "7d"]))
    window["state"] = draw(states)
    return window


@st.composite
def _health_rule(draw: st.DrawFn, name: str | None, states: st.SearchStrategy[Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {} if name is None else {"name": name}
    rule["status"] = draw(st.sampled_from(HEALTH))
    rule["for"] = draw(st.sampled_from(HOLDS))
    if draw(st.booleans()):
        rule["action"] = "restart"
        if draw(st.booleans()):
            rule["max_per_day"] = draw(st.integers(1, 100))
    else:
        rule["state"] = draw(states)
        if draw(st.booleans()):
            rule["recover_for"] = draw(st.sampled_from(HOLDS))
    if draw(st.booleans()):
        rule["cooldown"] = draw(st.sampled_from(HOLDS))
    return rule


def _named(draw: st.DrawFn, prefix: str, count: int) -> list[str | None]:
    """Unique names (or ``None``: named by position) for ``count`` windows or rules."""
    return [draw(st.one_of(st.none(), st.just(f"{prefix}{index}"))) for index in range(count)]


@st.composite
def _policy(draw: st.DrawFn, name: str, shared: dict[str, Any]) -> dict[str, Any]:
    policy: dict[str, Any] = {"name": name}
    if draw(st.booleans()):
        policy["description"] = draw(st.text(max_size=80))
    if draw(st.booleans()) and "match" in shared:
        policy["match"] = shared["match"]  # the same object twice: written as an anchor and an alias
    else:
        match: dict[str, Any] = {"names": draw(st.lists(st.sampled_from(GLOBS), min_size=1, max_size=3))}
        if draw(st.booleans()):
            match["ids"] = draw(st.lists(st.sampled_from(UUIDS), max_size=2))
        if draw(st.booleans()):
            match["accelerator_types"] = draw(st.lists(st.sampled_from(ACCELERATORS), max_size=3))
        if draw(st.booleans()):
            match["exclude_names"] = draw(st.lists(st.sampled_from(GLOBS), max_size=2))
        shared.setdefault("match", match)
        policy["match"] = match
    if draw(st.booleans()):
        policy["timezone"] = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        policy["priority"] = draw(st.integers(-1000, 1000))
    if draw(st.booleans()):
        policy["enforce"] = draw(st.booleans())
    if draw(st.booleans()):
        policy["baseline_replicas"] = draw(st.integers(0, 50))
    default = draw(st.sampled_from([None, "stopped", "running", "bounds"]))
    if default is not None:
        policy["default"] = draw(_bounds()) if default == "bounds" else default
    # Bounds in a window or rule need a default they can be restored to (stopped or bounds).
    restorable = default in ("stopped", "bounds")
    states = st.one_of(st.just("stopped"), st.just("running"), *([_bounds()] if restorable else []))
    window_count = draw(st.integers(0, 3))
    windows = [draw(_window(name, states)) for name in _named(draw, "w", window_count)]
    if windows:
        policy["windows"] = windows
    if draw(st.booleans()):
        ranges = []
        for first in draw(st.lists(_dates, max_size=4)):
            last = first + timedelta(days=draw(st.integers(0, 10)))
            ranges.append(first.isoformat() if last == first else f"{first}..{last}")
        policy["skip_dates"] = ranges
    rule_count = draw(st.integers(0, 2))
    rules = [draw(_health_rule(name, states)) for name in _named(draw, "h", rule_count)]
    if rules:
        policy["health"] = rules
    if draw(st.integers(0, 4)) == 0:
        policy["expire"] = {"after": draw(st.sampled_from(EXPIRES))}
    return policy


@st.composite
def valid_data(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy file as data (names are unique within it)."""
    data: dict[str, Any] = {"version": 1}
    if draw(st.integers(0, 3)) == 0:
        data["pricing"] = draw(
            st.dictionaries(
                st.sampled_from(ACCELERATORS), st.floats(0, 100, allow_nan=False, allow_infinity=False), max_size=3
            )
        )
    names = draw(st.lists(_names, max_size=4, unique=True))
    shared: dict[str, Any] = {}
    data["policies"] = [draw(_policy(name, shared)) for name in names]
    return data


@st.composite
def _render(draw: st.DrawFn, data: Any) -> bytes:
    """Write ``data`` as YAML in a random (valid) style: flow or block, indentation, width, line breaks, BOM."""
    text = yaml.safe_dump(
        data,
        sort_keys=False,
        allow_unicode=draw(st.booleans()),
        default_flow_style=draw(st.sampled_from([False, None, True])),
        indent=draw(st.integers(2, 6)),
        width=draw(st.sampled_from([40, 80, 1000])),
        explicit_start=draw(st.booleans()),
    )
    if draw(st.booleans()):
        text = "# yaml-language-server: $schema=../schema.json\n# generated\n" + text + "# end\n"
    if draw(st.integers(0, 4)) == 0:
        text = text.replace("\n", "\r\n")
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        raw = b"\xef\xbb\xbf" + raw
    return raw


def _example_files() -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(EXAMPLES_DIR.glob("*.yaml"))]


@st.composite
def valid_documents(draw: st.DrawFn) -> Document:
    """A document that must load: generated, or one of the examples."""
    examples = _example_files()
    if examples and draw(st.integers(0, 5)) == 0:
        name, raw = draw(st.sampled_from(examples))
        return Document(raw, valid=True, origin=f"example {name}")
    data = draw(valid_data())
    return Document(draw(_render(data)), valid=True, origin=f"generated ({len(data['policies'])} policies)")


# --------------------------------------------------------------------------- data mutations

_long_text = st.integers(4_000, 20_000).map(lambda size: "x" * size)
_odd_text = st.text(alphabet=st.sampled_from(ODD_CHARACTERS) | st.characters(), min_size=1, max_size=40)
bad_values = st.one_of(
    st.integers(),
    st.sampled_from([-1, 0, 2**31, 2**63, 10**30, -(10**30), 2**1000]),
    st.floats(),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 0.5]),
    st.booleans(),
    st.none(),
    _odd_text,
    _long_text,
    st.sampled_from(["", " ", "stopped", "running", "Degraded", "restart", "1h", "0 9 * * *", "2026-12-24"]),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["min_replicas", "max_replicas", "name", "x"]), st.integers(-2, 3), max_size=3),
    st.binary(max_size=8),  # written with the !!binary tag
    st.dates(),  # written as an unquoted timestamp
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _copy(node: Any) -> Any:
    """A deep copy that keeps shared objects shared (so anchors stay anchors)."""
    memo: dict[int, Any] = {}

    def copy(value: Any) -> Any:
        if id(value) in memo:
            return memo[id(value)]
        if isinstance(value, dict):
            result: Any = {}
            memo[id(value)] = result
            result.update({key: copy(item) for key, item in value.items()})
            return result
        if isinstance(value, list):
            result = []
            memo[id(value)] = result
            result.extend(copy(item) for item in value)
            return result
        return value

    return copy(node)


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    node = data
    for part in path[:-1]:
        node = node[part]
    return node


def _typo(key: str, position: int) -> str:
    if not key:
        return "x"
    position %= len(key)
    return key[:position] + key[position + 1 :] if len(key) > 1 else key + key


@st.composite
def _mutate_data(draw: st.DrawFn, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    data = _copy(data)
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths[1:] or paths))
        operation = draw(st.sampled_from(["retype", "retype", "drop", "unknown_key", "typo_key", "duplicate", "bury"]))
        if not path:
            operation = "unknown_key"
        parent = _parent(data, path) if path else None
        if operation == "retype":
            parent[path[-1]] = draw(bad_values)
        elif operation == "drop":
            del parent[path[-1]]
        elif operation == "unknown_key":
            target = _parent(data, (*path, None))
            if not isinstance(target, dict):
                target = data
            target[draw(st.one_of(_odd_text, st.sampled_from(["lead", "window", "polices", "max_replica", "<<"])))] = draw(bad_values)
        elif operation == "typo_key":
            if isinstance(parent, dict) and isinstance(path[-1], str):
                parent[_typo(path[-1], draw(st.integers(0, 30)))] = parent.pop(path[-1])
        elif operation == "duplicate":
            if isinstance(parent, list):
                parent.append(parent[path[-1]])
            elif isinstance(parent, dict):
                parent[path[-1]] = [parent[path[-1]], parent[path[-1]]]
        else:  # bury the value under deep nesting
            value: Any = parent[path[-1]]
            for _ in range(draw(st.sampled_from([1, 2, 10, 63, 64, 65, 200]))):
                value = [value] if draw(st.booleans()) else {"x": value}
            parent[path[-1]] = value
        done.append(f"{operation} at {'.'.join(str(part) for part in path)[:60]}")
    return data, done


# --------------------------------------------------------------------------- text mutations


def _line_starts(raw: bytes) -> list[int]:
    return [0, *(index + 1 for index, byte in enumerate(raw) if byte == 0x0A and index + 1 < len(raw))]


@st.composite
def _mutate_text(draw: st.DrawFn, raw: bytes, large: bool) -> tuple[bytes, str]:
    kind = draw(
        st.sampled_from(
            [
                "duplicate_key_line",
                "tab_indent",
                "non_utf8",
                "truncate",
                "stray_syntax",
                "tag",
                "second_document",
                "huge_number",
                "escape",
                "odd_unicode",
                "line_breaks",
                "long_line",
                "undefined_alias",
            ]
        )
    )
    starts = _line_starts(raw)
    position = draw(st.integers(0, len(raw)))
    line_start = draw(st.sampled_from(starts))
    line_end = raw.find(b"\n", line_start)
    line = raw[line_start : (len(raw) if line_end < 0 else line_end + 1)]
    if kind == "duplicate_key_line":
        if not line.endswith(b"\n"):
            line += b"\n"
        raw = raw[:line_start] + line + line + raw[line_start + len(line) :]
    elif kind == "tab_indent":
        stripped = line.lstrip(b" ")
        raw = raw[:line_start] + b"\t" * max(1, (len(line) - len(stripped)) // 2) + stripped + raw[line_start + len(line) :]
    elif kind == "non_utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe9t\xe9", b"\x80\x80", b"\xf8\x88\x80\x80\x80"]))
        raw = raw[:position] + junk + raw[position:]
    elif kind == "truncate":
        raw = raw[:position]
    elif kind == "stray_syntax":
        junk = draw(st.sampled_from([b":", b"- ", b"[", b"{", b"}", b"]", b"&", b"*", b"!", b"%YAML 1.1\n", b"@", b"`", b"|", b">", b"? ", b"'", b'"', b"#", b",", b"\n  - x\n", b": :"]))
        raw = raw[:position] + junk + raw[position:]
    elif kind == "tag":
        tag = draw(st.sampled_from([b"!!python/object/apply:os.system ['true'] ", b"!!binary ", b"!custom ", b"!!set ", b"!!omap ", b"!<tag:evil.example,2026:x> ", b"!!float ", b"!!str "]))
        colon = line.find(b": ")
        where = line_start + colon + 2 if colon >= 0 else line_start
        raw = raw[:where] + tag + raw[where:]
    elif kind == "second_document":
        raw = raw + b"\n---\nversion: 1\n"
    elif kind == "huge_number":
        number = draw(st.sampled_from([b"9" * 5000, b"-" + b"9" * 4400, b"0x" + b"f" * 3000, b"0b" + b"1" * 20000, b"1e400", b"1." + b"1" * 5000, b"190:20:30", b"0o777777777777777777777", b".NaN", b"-.inf"]))
        colon = line.find(b": ")
        if colon >= 0:
            raw = raw[:line_start] + line[: colon + 2] + number + b"\n" + raw[line_start + len(line) :]
        else:
            raw = raw + b"\nversion: " + number + b"\n"
    elif kind == "escape":
        escape = draw(st.sampled_from([b"\\ud800", b"\\udfff", b"\\x00", b"\\x1b[31m", b"\\u202e", b"\\U0001F525", b"\\N", b"\\_", b"\\L", b"\\P", b"\\e"]))
        colon = line.find(b": ")
        head = line[: colon + 2] if colon >= 0 else b"x: "
        raw = raw[:line_start] + head + b'"a' + escape + b'b"\n' + raw[line_start + len(line) :]
    elif kind == "odd_unicode":
        text = draw(st.text(alphabet=st.sampled_from(ODD_CHARACTERS), min_size=1, max_size=8))
        raw = raw[:position] + text.encode("utf-8") + raw[position:]
    elif kind == "line_breaks":
        raw = raw.replace(b"\n", draw(st.sampled_from([b"\r", b"\r\n", "\x85".encode(), "\u2028".encode(), b"\n\n"])))
    elif kind == "long_line":
        size = draw(st.sampled_from([1025, 5000, 100_000, 1_000_000] if large else [1025, 5000, 20_000]))
        raw = raw[:position] + b"a" * size + raw[position:]
    else:  # undefined_alias
        raw = raw[:position] + draw(st.sampled_from([b" *nowhere ", b"&a *a", b" <<: *m\n"])) + raw[position:]
    return raw, kind


# --------------------------------------------------------------------------- whole documents


def alias_bomb(levels: int, fan_out: int, *, inside: str) -> bytes:
    """A billion-laughs document: ``levels`` anchors, each a list of ``fan_out`` aliases to the one before.

    ``inside`` places the last anchor: ``top`` (an unknown top-level key), ``names``
    (a policy's match names) or ``description`` (a string field).
    """
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels):
        aliases = ", ".join([f"*a{level - 1}"] * fan_out)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    top = f"*a{levels - 1}"
    policy = "policies:\n  - name: p\n    match: {names: %s}\n" if inside == "names" else "policies:\n  - name: p\n    match: {names: [x]}\n    description: %s\n"
    body = "\n".join(lines) + "\nversion: 1\n"
    if inside != "top":
        body += policy % top
    return body.encode()


def deep_nesting(depth: int, *, style: str) -> bytes:
    """A document whose ``policies`` value nests ``depth`` levels deep (flow lists, flow maps or block maps)."""
    if style == "flow_list":
        value = "[" * depth + "]" * depth
        return f"version: 1\npolicies: {value}\n".encode()
    if style == "flow_map":
        value = "{a: " * depth + "1" + "}" * depth
        return f"version: 1\npolicies: {value}\n".encode()
    lines = ["version: 1", "policies:"]
    lines += [" " * (level + 1) + "a:" for level in range(depth)]
    return ("\n".join(lines) + " 1\n").encode()


@st.composite
def hostile_documents(draw: st.DrawFn, large: bool) -> Document:
    """A document built to hurt a parser: alias bombs, deep nesting, self-reference, padding to the size limit.

    Without ``large``, nesting stops at 1,000 levels and nothing is padded to megabytes
    (the worst cases are loaded once each by their own test).
    """
    kind = draw(st.sampled_from(["alias_bomb", "deep_nesting", "self_alias", *(["padding"] if large else [])]))
    if kind == "alias_bomb":
        levels, fan_out = draw(st.integers(1, 12)), draw(st.integers(2, 10))
        inside = draw(st.sampled_from(["top", "names", "description"]))
        return Document(alias_bomb(levels, fan_out, inside=inside), False, "hostile", [f"alias bomb {fan_out}^{levels} in {inside}"])
    if kind == "deep_nesting":
        depth = draw(st.sampled_from([10, 63, 64, 65, 100, 1_000, *([10_000, 100_000] if large else [])]))
        style = draw(st.sampled_from(["flow_list", "flow_map", "block"]))
        if style == "block":
            depth = min(depth, 2_000)  # indentation grows with depth: 2,000 levels are already 2 MB
        return Document(deep_nesting(depth, style=style), False, "hostile", [f"nesting {depth} ({style})"])
    if kind == "self_alias":
        text = draw(st.sampled_from(["&a [*a]\n", "version: 1\npolicies: &p [*p]\n", "a: &a {b: *a}\nversion: 1\n", "a: &a\n  <<: *a\n"]))
        return Document(text.encode(), False, "hostile", ["self-referencing alias"])
    size = draw(st.sampled_from([5 * 1024 * 1024 - 64, 5 * 1024 * 1024 + 1]))
    head = b"version: 1\npolicies: []\n# "
    return Document(head + b"x" * (size - len(head) - 1) + b"\n", False, "hostile", [f"padded to {size} bytes"])


@st.composite
def policy_documents(draw: st.DrawFn, *, large: bool = False) -> Document:
    """Any document: valid (about a third), damaged as data or as text, or hostile.

    ``large`` adds the documents of megabytes (long lines, padding to the size limit,
    nesting of 100,000 levels) that take a second or more each to refuse.
    """
    choice = draw(st.integers(0, 9))
    if choice <= 2:
        return draw(valid_documents())
    if choice == 9:
        return draw(hostile_documents(large))
    if choice <= 5:
        data = draw(valid_data())
        damaged, done = draw(_mutate_data(data))
        return Document(draw(_render(damaged)), False, "generated", done)
    base = draw(valid_documents())
    raw, done = base.raw, []
    for _ in range(draw(st.integers(1, 3))):
        raw, kind = draw(_mutate_text(raw, large))
        done.append(kind)
    return Document(raw, False, base.origin, done)

