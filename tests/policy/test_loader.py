"""Loading policy files: every error with file, line and path; directories; YAML safety."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from scaler.policy.errors import PolicyIssue, PolicyLoadError, PolicyPathError
from scaler.policy.loader import load_policy_set, parse_policy_sources
from scaler.policy.model import DesiredState
from scaler.policy.policy_set import BUILTIN_PRICES

VALID = """\
version: 1
policies:
  - name: office
    match: {names: ["llama-*"]}
    timezone: Europe/Berlin
    default: stopped
    windows:
      - name: day
        between: "Mon-Fri 08:00-18:00"
        state: {min_replicas: 1, max_replicas: 2}
"""


def issues(*files: tuple[str, str]) -> list[PolicyIssue]:
    """Return the issues found in ``files`` given as ``(name, text)``; fail if they are valid."""
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy_sources([(name, textwrap.dedent(text).encode()) for name, text in files])
    return caught.value.issues


def only_issue(text: str, file: str = "p.yaml") -> PolicyIssue:
    found = issues((file, text))
    assert 1 == len(found), "\n".join(str(issue) for issue in found)
    return found[0]


# --------------------------------------------------------------------------- distinct invalid inputs

INVALID = [
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - cron: "0 9 * * *"
                duration: 1h
                lead: 15m
                state: running
        """,
        8, "policies[0].windows[0].lead", "unknown key 'lead'; did you mean lead_time?",
        id="unknown-key-with-suggestion",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - cron: "61 9 * * 1-5"
                duration: 8h
                state: running
        """,
        6, "policies[0].windows[0].cron", "minute 61 is out of range; minute takes 0-59",
        id="cron-out-of-range",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - between: "Mon-Fry 20:00-08:00"
                state: stopped
        """,
        6, "policies[0].windows[0].between", "'Fry' in 'Mon-Fry' is not a day",
        id="between-bad-day",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - between: "20:00-25:00"
                state: stopped
        """,
        6, "policies[0].windows[0].between", "25:00 in '20:00-25:00' is not a time of day",
        id="between-bad-time",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - cron: "0 9 * * *"
                duration: 8 hours
                state: stopped
        """,
        7, "policies[0].windows[0].duration", "'8 hours' is not a duration; expected a duration such as 30s",
        id="bad-duration",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            timezone: Europe/Berln
        """,
        5, "policies[0].timezone", "unknown time zone 'Europe/Berln'; did you mean Europe/Berlin?",
        id="unknown-zone",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: Office_Hours
            match: {names: [a]}
        """,
        3, "policies[0].name", "'Office_Hours' is not a valid name",
        id="bad-name",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - from: "2026-12-27T00:00"
                until: "2026-12-24T00:00"
                state: stopped
        """,
        7, "policies[0].windows[0].until", "until (2026-12-24T00:00) must be after from (2026-12-27T00:00)",
        id="until-before-from",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            default: {min_replicas: 3, max_replicas: 2}
        """,
        5, "policies[0].default", "min_replicas (3) must not exceed max_replicas (2)",
        id="min-above-max",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            default:
              min_replicas: -1
              max_replicas: 2
        """,
        6, "policies[0].default.min_replicas", "must be at least 0, got -1",
        id="negative-min",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - cron: "0 9 * * *"
                between: "20:00-08:00"
                state: stopped
        """,
        6, "policies[0].windows[0]", "a window has exactly one timing form, found cron and between",
        id="two-timing-forms",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - state: stopped
        """,
        6, "policies[0].windows[0]", "a window needs exactly one timing",
        id="no-timing",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - cron: "0 9 * * *"
                state: stopped
        """,
        6, "policies[0].windows[0]", "a cron window needs a duration",
        id="cron-without-duration",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            default: stopped
            health:
              - name: r
                status: Unhealthy
                for: 5m
                state: stopped
                action: restart
        """,
        7, "policies[0].health[0]", "a health rule has exactly one of state or action: restart (found both)",
        id="state-and-action",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            health:
              - status: Broken
                for: 5m
                action: restart
        """,
        6, "policies[0].health[0].status", "unknown health status 'Broken'; expected one of Progressing",
        id="unknown-health-status",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - between: "09:00-17:00"
                state: {min_replicas: 2, max_replicas: 4}
        """,
        7, "policies[0].windows[0].state", "add a default such as {min_replicas: 1, max_replicas: 2}",
        id="bounds-without-restorable-default",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            skip_dates: ["2026-12-25", "2027-02-29"]
        """,
        5, "policies[0].skip_dates[1]", "'2027-02-29' is not a date of the calendar",
        id="bad-skip-date",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            skip_dates: ["2026-12-31..2026-12-24"]
        """,
        5, "policies[0].skip_dates[0]", "range '2026-12-31..2026-12-24' ends before it starts",
        id="backwards-skip-range",
    ),
    pytest.param(
        """\
        version: 2
        policies: []
        """,
        1, "version", "unsupported version 2; this scaler reads version: 1",
        id="unsupported-version",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            priority: high
        """,
        5, "policies[0].priority", "expected a whole number, got 'high'",
        id="wrong-type",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            timezone: UTC
        """,
        3, "policies[0].match", "required key 'match' is missing",
        id="missing-match",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {exclude_names: ["*-canary"]}
        """,
        4, "policies[0].match", "match selects nothing",
        id="match-selects-nothing",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            default: stopped
            windows:
              - name: night
                between: "22:00-06:00"
                state: stopped
              - name: night
                between: "23:00-05:00"
                state: stopped
        """,
        10, "policies[0].windows[1].name", "window name 'night' is already used by windows[0]",
        id="duplicate-window-name",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            default: stopped
            health:
              - name: shrink
                status: Degraded
                for: 5m
                state: stopped
                max_per_day: 2
        """,
        11, "policies[0].health[0].max_per_day", "max_per_day applies to restart rules only",
        id="restart-key-on-state-rule",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            default: stoped
        """,
        5, "policies[0].default", "'stoped' is not a state; expected stopped, running or {min_replicas: N, max_replicas: M}",
        id="misspelt-state",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a], ids: [not-a-uuid]}
        """,
        4, "policies[0].match.ids[0]", "'not-a-uuid' is not a UUID",
        id="bad-uuid",
    ),
    pytest.param(
        """\
        version: 1
        pricing:
          nvidia-h100: cheap
        """,
        3, "pricing.nvidia-h100", "expected a number, got 'cheap'",
        id="bad-price",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            windows:
              - cron: "0 9 * * *"
                duration: 1h
                lead_time: 8d
                state: stopped
        """,
        8, "policies[0].windows[0].lead_time", "must be at most 7d, got 8d",
        id="lead-time-too-long",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            grace_period: 8d
        """,
        5, "policies[0].grace_period", "must be at most 7d, got 8d",
        id="grace-period-too-long",
    ),
    pytest.param(
        """\
        version: 1
        policies:
          - name: p
            match: {names: [a]}
            grace_period: 900
        """,
        5, "policies[0].grace_period", "expected a duration such as 30s",
        id="grace-period-not-a-duration",
    ),
]


@pytest.mark.parametrize(("text", "line", "path", "message"), INVALID)
def test_invalid_input_names_file_line_and_path(text: str, line: int, path: str, message: str):
    """Each mistake is reported once as FILE:LINE: PATH: message, with what is expected."""
    issue = only_issue(text)
    assert f"p.yaml:{line}: {path}: " == str(issue)[: len(f"p.yaml:{line}: {path}: ")], str(issue)
    assert message in issue.message, str(issue)


def test_issues_on_one_line_follow_the_order_of_their_indexes():
    """Twelve bad policies written on one line are reported policies[0] to policies[11], not [0], [1], [10], [11], [2]."""
    policies = ", ".join("{name: P%d, match: {names: [a]}}" % index for index in range(12))
    found = issues(("p.yaml", f"version: 1\npolicies: [{policies}]\n"))
    assert [f"policies[{index}].name" for index in range(12)] == [issue.path for issue in found]


def test_duplicate_policy_name_across_files_names_the_second_file():
    """A policy name used in two files is reported at the second, pointing at the first."""
    found = issues(("a.yaml", VALID), ("b.yaml", VALID))
    assert ["b.yaml:3: policies[0].name: policy name 'office' is already used at a.yaml:3; names are unique across all files"] == [
        str(issue) for issue in found
    ]


def test_second_pricing_block_is_an_error():
    """pricing may appear in one file only; the second block is reported where it is."""
    found = issues(("a.yaml", "version: 1\npricing: {nvidia-l4: 1.0}\n"), ("b.yaml", "version: 1\n\npricing: {nvidia-l4: 2.0}\n"))
    assert ["b.yaml:3: pricing: a second pricing block (the first is at a.yaml:2); pricing may appear in one file only"] == [
        str(issue) for issue in found
    ]


def test_every_error_is_reported_not_only_the_first():
    """Errors in several policies and fields of one file are all listed, in line order."""
    text = """\
    version: 1
    policies:
      - name: a
        match: {names: [a]}
        timezone: Mars/Olympus
      - name: b
        match: {names: [b]}
        windows:
          - cron: "0 25 * * *"
            duration: 1h
            state: stopped
      - name: c
        match: {names: [c]}
        priority: "1"
    """
    assert [(5, "policies[0].timezone"), (9, "policies[1].windows[0].cron"), (14, "policies[2].priority")] == [
        (issue.line, issue.path) for issue in issues(("p.yaml", text))
    ]


# --------------------------------------------------------------------------- YAML safety


def test_yaml_syntax_error_has_a_line():
    """A YAML syntax error names its line."""
    issue = only_issue("version: 1\npolicies:\n  - name: [unclosed\n")
    assert 4 == issue.line or 3 == issue.line
    assert issue.message.startswith("YAML syntax error")


def test_tab_indentation_gets_a_clear_error():
    """A tab used for indentation is explained as such."""
    issue = only_issue("version: 1\npolicies:\n\t- name: p\n")
    assert (3, "tab character used for indentation; YAML indents with spaces only") == (issue.line, issue.message)


def test_non_utf8_bytes_get_a_clear_error():
    """Bytes that are not UTF-8 are reported with their line."""
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy_sources([("p.yaml", b"version: 1\n# caf\xe9\n")])
    assert "p.yaml:2: not valid UTF-8 (byte 0xe9 at column 6); save the file as UTF-8" == str(caught.value.issues[0])


def test_duplicate_keys_are_an_error():
    """A key written twice in one mapping is an error at the second, naming the first."""
    issue = only_issue("version: 1\npolicies:\n  - name: p\n    match: {names: [a]}\n    name: q\n")
    assert "p.yaml:5: policies[0].name: duplicate key 'name' (first written at line 3); each key may appear once" == str(issue)


def test_alias_bomb_is_refused_quickly():
    """A document whose aliases expand exponentially ("billion laughs") is refused, fast."""
    lines = ["version: 1", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    started = time.perf_counter()
    found = issues(("p.yaml", "\n".join(lines) + "\n"))
    elapsed = time.perf_counter() - started
    assert "expands to more than" in found[0].message
    assert elapsed < 10, "refusing an alias bomb must not take long"


def test_very_long_string_is_an_error():
    """A string longer than the limit is reported at its line."""
    issue = only_issue(f"version: 1\npolicies:\n  - name: p\n    match: {{names: [a]}}\n    description: {'x' * 5000}\n")
    assert (5, "policies[0].description") == (issue.line, issue.path)
    assert "string of 5000 characters; at most 4096 are allowed" == issue.message


def test_deep_nesting_is_an_error():
    """Nesting deeper than the limit is refused."""
    found = issues(("p.yaml", "version: 1\nx: " + "[" * 100 + "]" * 100 + "\n"))
    assert "nesting is too deep; policy files nest at most 64 levels" == found[0].message


def test_nesting_too_deep_for_the_parser_is_an_error_not_a_crash():
    """Nesting deep enough to exhaust the YAML parser's recursion is refused rather than crashing."""
    found = issues(("p.yaml", "version: 1\nx: " + "[" * 1500 + "]" * 1500 + "\n"))
    assert "nesting is too deep" in found[0].message


@pytest.mark.parametrize(
    ("field", "line", "path"),
    [
        ("baseline_replicas: 10001", 4, "policies[0].baseline_replicas"),
        ("default: {min_replicas: 1, max_replicas: 10001}", 4, "policies[0].default.max_replicas"),
        ("default: {min_replicas: 10001, max_replicas: 2}", 4, "policies[0].default.min_replicas"),
    ],
)
def test_replica_counts_above_ten_thousand_are_refused(field: str, line: int, path: str):
    """Replicas beyond 10,000 are a typo (and would overflow GPU-hour arithmetic): refused at the field."""
    found = issues(("p.yaml", f"version: 1\npolicies:\n  - name: p\n    {field}\n    match: {{names: [a]}}\n"))
    assert (line, path) == (found[0].line, found[0].path)
    assert found[0].message.startswith("must be at most 10000")


@pytest.mark.parametrize("price", [".inf", ".nan", "-.inf"])
def test_a_price_must_be_a_finite_number(price: str):
    """An infinite or not-a-number price would make every cost meaningless: refused."""
    issue = only_issue(f"version: 1\npricing:\n  nvidia-l4: {price}\n")
    assert (3, "pricing.nvidia-l4") == (issue.line, issue.path)
    assert issue.message.startswith("expected a finite number")


def test_a_key_that_is_not_a_plain_name_is_quoted_and_escaped_in_the_path():
    """A key holding a newline and a terminal escape cannot break the one-line FILE:LINE: path: message form."""
    issue = only_issue('version: 1\n"a\\nb\\e[31m": 1\n')
    assert '["a\\nb\\u001b[31m"]' == issue.path
    assert str(issue).isprintable()


def test_invisible_characters_in_a_key_are_shown_escaped():
    """A BOM or a bidi override inside a key is shown as an escape, so the key that is wrong can be seen."""
    found = issues(("p.yaml", "version: 1\npolicies:\n  - name: p\n    match: {names: [a]}\n    \ufeffpriority: 1\n"))
    assert ['policies[0]["\\ufeffpriority"]'] == [issue.path for issue in found]
    assert all(str(issue).isprintable() for issue in found)


def test_a_very_long_unknown_key_is_cut_in_the_path_and_the_message():
    """A 1,000-character key is shown cut, so one issue stays one readable line."""
    issue = only_issue("version: 1\n? " + "k" * 1000 + "\n: 1\n")
    assert ('["' + "k" * 37 + '..."]', "unknown key '" + "k" * 57 + "...'") == (issue.path, issue.message.split(";")[0])


def test_a_character_yaml_forbids_is_one_line_naming_its_line():
    """A control character in the file is refused on one line, with its line, code point and column."""
    issue = only_issue("version: 1\npolicies: []\n# a \x1b[31m comment\n")
    expected = (
        "character U+001B (column 5) is not allowed in a YAML file; "
        "write it as an escape inside double quotes (\\x1b) or remove it"
    )
    assert (3, "", expected) == (issue.line, issue.path, issue.message)


def test_the_escape_suggested_for_a_forbidden_character_is_its_own():
    """DEL (U+007F) is suggested as \\x7f, not as another character's escape."""
    issue = only_issue("version: 1\n\x7f\n")
    assert "character U+007F (column 1) is not allowed in a YAML file; write it as an escape inside double quotes (\\x7f) or remove it" == issue.message


@pytest.mark.parametrize(
    ("zone", "opens", "closes"),
    [
        ("America/Adak", "9999-12-31T00:00", "9999-12-31T23:59"),  # ten hours west of UTC: year 10000
        ("UTC", "0001-01-01T00:00+14:00", "0001-01-02T00:00+14:00"),  # fourteen hours east: year 0
    ],
)
def test_instants_beyond_what_a_clock_can_hold_are_refused(zone: str, opens: str, closes: str):
    """from/until at the ends of the calendar would overflow once put in UTC; they are refused, naming the range."""
    found = issues(
        (
            "p.yaml",
            f"""\
            version: 1
            policies:
              - name: p
                match: {{names: [a]}}
                timezone: {zone}
                windows:
                  - from: "{opens}"
                    until: "{closes}"
                    state: stopped
            """,
        )
    )
    assert [(7, "policies[0].windows[0].from"), (8, "policies[0].windows[0].until")] == [(i.line, i.path) for i in found]
    assert found[0].message.endswith("is out of range; dates and times from 1970-01-01 to 9999-12-30 are accepted")


def test_a_duration_longer_than_any_clock_is_an_error_not_a_crash():
    """A duration of 10^20 days would overflow timedelta; it is refused as far too long."""
    issue = only_issue(
        "version: 1\npolicies:\n  - name: p\n    match: {names: [a]}\n    windows:\n"
        '      - cron: "0 9 * * *"\n        duration: 99999999999999999999d\n        state: running\n'
    )
    assert (7, "policies[0].windows[0].duration") == (issue.line, issue.path)
    assert issue.message.startswith("'99999999999999999999d' is far too long a duration")


def test_a_number_with_thousands_of_digits_is_an_error_not_a_crash():
    """Python refuses to read integers of more than 4,300 digits; the reader refuses long numbers first."""
    issue = only_issue("version: 1\npolicies:\n  - name: p\n    priority: " + "9" * 5000 + "\n    match: {names: [a]}\n")
    assert (4, "policies[0].priority", "number of 5000 characters; at most 100 are allowed") == (
        issue.line,
        issue.path,
        issue.message,
    )


def test_an_escaped_lone_surrogate_is_an_error_at_its_value():
    """An escaped \\ud800 in double quotes makes half a UTF-16 pair, which no output can print: refused where it is."""
    issue = only_issue('version: 1\npolicies:\n  - name: p\n    match: {names: [a]}\n    timezone: "\\ud800"\n')
    assert (5, "policies[0].timezone", "text holds \\ud800, half of a UTF-16 pair, which is not a character") == (
        issue.line,
        issue.path,
        issue.message,
    )


def test_an_escaped_lone_surrogate_in_a_key_is_an_error_at_the_key():
    """A key holding half a UTF-16 pair is refused (not validated), with a printable path."""
    issue = only_issue('version: 1\n"a\\udfffb": 1\n')
    assert (2, '["a?b"]', "key holds \\udfff, half of a UTF-16 pair, which is not a character") == (
        issue.line,
        issue.path,
        issue.message,
    )


def test_a_mapping_merged_into_itself_is_an_error_not_a_crash():
    """`<<: *a` inside the mapping anchored `&a` would recurse forever; it is refused at the merge."""
    issue = only_issue("version: 1\npolicies:\n  - &a\n    name: p\n    <<: *a\n")
    assert (5, "policies[0]", "a merge key (<<) merges a mapping into itself (through an alias)") == (
        issue.line,
        issue.path,
        issue.message,
    )


def test_unsupported_tags_are_refused():
    """Python object tags and other custom tags are refused."""
    issue = only_issue("version: 1\npolicies: !!python/object:os.system ls\n")
    assert "unsupported YAML tag" in issue.message


def test_several_documents_in_one_file_are_refused():
    """One document per file."""
    issue = only_issue("version: 1\n---\nversion: 1\n")
    assert "more than one YAML document" in issue.message


def test_empty_file_is_an_error():
    """An empty file says what it should contain."""
    assert "file is empty; expected a mapping with version: 1 and policies" == only_issue("").message


def test_merge_keys_share_settings():
    """YAML merge keys work, explicit keys winning, so policies can share a block."""
    text = """\
    version: 1
    policies:
      - &base
        name: a
        match: {names: [a]}
        timezone: Europe/Berlin
        default: stopped
      - <<: *base
        name: b
        match: {names: [b]}
    """
    policies = parse_policy_sources([("p.yaml", textwrap.dedent(text).encode())]).policies
    assert [("a", "Europe/Berlin", DesiredState.stopped()), ("b", "Europe/Berlin", DesiredState.stopped())] == [
        (p.name, p.timezone, p.default) for p in policies
    ]


def test_dates_written_without_quotes_stay_dates_of_the_language():
    """Unquoted YAML dates and timestamps are read as written, not converted by YAML."""
    text = """\
    version: 1
    policies:
      - name: p
        match: {names: [a]}
        skip_dates: [2026-12-25]
        windows:
          - from: 2026-12-24 00:00:00
            until: 2026-12-27T00:00:00
            state: stopped
    """
    policy = parse_policy_sources([("p.yaml", textwrap.dedent(text).encode())]).policies[0]
    assert "2026-12-25" == str(policy.skip_dates[0])
    assert policy.windows[0].from_.tzinfo is None


# --------------------------------------------------------------------------- paths and the set


def test_directory_is_read_in_name_order_without_subdirectories(tmp_path: Path):
    """A directory's own .yaml/.yml files are read in name order; subdirectories and other files are not."""
    (tmp_path / "b.yml").write_text(VALID.replace("office", "second"))
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "notes.txt").write_text("not a policy")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "c.yaml").write_text("not: [valid")
    policy_set = load_policy_set([tmp_path])
    assert ["office", "second"] == [policy.name for policy in policy_set.policies]
    assert [tmp_path / "a.yaml", tmp_path / "b.yml"] == [source.path for source in policy_set.sources]


def test_upper_case_suffixes_are_read(tmp_path: Path):
    """office.YAML and night.Yml are policy files too: read, never skipped in silence."""
    (tmp_path / "office.YAML").write_text(VALID)
    (tmp_path / "night.Yml").write_text(VALID.replace("office", "night"))
    policy_set = load_policy_set([tmp_path])
    assert ["night", "office"] == [policy.name for policy in policy_set.policies]


def test_a_zone_after_the_times_of_between_is_located(tmp_path: Path):
    """The form other downscalers use is refused at its file, line and path, with the way to write it."""
    issue = only_issue(VALID.replace('"Mon-Fri 08:00-18:00"', '"Mon-Fri 07:30-20:30 Europe/Berlin"'))
    assert (9, "policies[0].windows[0].between") == (issue.line, issue.path)
    assert "write timezone: Europe/Berlin in the policy" in issue.message


def test_missing_path_is_a_path_error(tmp_path: Path):
    """A path that does not exist raises PolicyPathError naming it."""
    with pytest.raises(PolicyPathError) as caught:
        load_policy_set([tmp_path / "nope"])
    assert f"{tmp_path / 'nope'}: no such directory" == str(caught.value)


def test_content_hash_changes_only_when_content_changes(tmp_path: Path):
    """Reloading unchanged files gives the same hash; an edit changes it."""
    file = tmp_path / "a.yaml"
    file.write_text(VALID)
    first = load_policy_set([tmp_path]).content_hash
    assert first == load_policy_set([tmp_path]).content_hash
    file.write_text(VALID + "\n# edited\n")
    assert first != load_policy_set([tmp_path]).content_hash


def test_pricing_overrides_and_adds_to_builtin_prices():
    """A pricing block overrides built-in prices and adds new accelerators; the rest stay."""
    policy_set = parse_policy_sources([("p.yaml", b"version: 1\npricing: {nvidia-h100: 3.5, tpu-v5: 2.2}\n")])
    assert 3.5 == policy_set.pricing["nvidia-h100"]
    assert 2.2 == policy_set.pricing["tpu-v5"]
    assert BUILTIN_PRICES["nvidia-l4"] == policy_set.pricing["nvidia-l4"]


def test_summary_counts_policies_windows_rules_and_files():
    """The one-line summary counts what was loaded."""
    policy_set = parse_policy_sources([("p.yaml", VALID.encode())])
    assert "1 policy, 1 window, 0 health rules in 1 file" == policy_set.summary()


def test_unnamed_windows_and_rules_are_named_by_position():
    """A window or rule without a name is named by its position from 0."""
    text = VALID + "      - between: \"Sat 10:00-12:00\"\n        state: running\n"
    policy = parse_policy_sources([("p.yaml", text.encode())]).policies[0]
    assert ["day", "1"] == [window.label for window in policy.windows]


# --------------------------------------------------------------------------- relational checks beside other errors


def test_until_before_from_is_reported_beside_a_sibling_error_in_the_same_window() -> None:
    """A window whose state is misspelt still has its until-before-from reported: every problem at once."""
    found = issues(
        (
            "p.yaml",
            """\
            version: 1
            policies:
              - name: p
                match: {names: [a]}
                default: running
                windows:
                  - from: "2026-12-27T00:00"
                    until: "2026-12-24T00:00"
                    state: stoped
            """,
        )
    )
    assert [
        (8, "policies[0].windows[0].until", "until (2026-12-24T00:00) must be after from (2026-12-27T00:00)"),
        (9, "policies[0].windows[0].state", "'stoped' is not a state; expected stopped, running or {min_replicas: N, max_replicas: M}"),
    ] == [(issue.line, issue.path, issue.message) for issue in found]


def test_relational_checks_run_when_other_parts_of_the_policy_are_invalid() -> None:
    """An invalid cron in one window does not hide an empty match, an until before from in another
    window, or bounds that the policy's default cannot restore."""
    found = issues(
        (
            "p.yaml",
            """\
            version: 1
            policies:
              - name: p
                match: {exclude_names: [a]}
                timezone: Europe/Berlin
                windows:
                  - cron: "0 25 * * *"
                    duration: 1h
                    state: running
                  - from: "2026-12-27T00:00"
                    until: "2026-12-27T00:00"
                    state: stopped
                  - between: "08:00-18:00"
                    state: {min_replicas: 1, max_replicas: 2}
            """,
        )
    )
    paths = [issue.path for issue in found]
    assert [
        "policies[0].match",
        "policies[0].windows[0].cron",
        "policies[0].windows[1].until",
        "policies[0].windows[2].state",
    ] == paths, "\n".join(str(issue) for issue in found)


def test_a_relation_whose_parts_are_invalid_is_not_reported_twice() -> None:
    """An unreadable from is reported once, as unreadable; no comparison is made with it."""
    found = issues(
        (
            "p.yaml",
            """\
            version: 1
            policies:
              - name: p
                match: {names: [a]}
                windows:
                  - from: "soon"
                    until: "2026-12-24T00:00"
                    state: stopped
            """,
        )
    )
    assert ["policies[0].windows[0].from"] == [issue.path for issue in found]
