"""Settings: environment parsing, defaults, one clear line per bad variable, secrets hidden."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

import pytest

from scaler.settings import DEFAULT_API_URL, Settings, SettingsError, load_settings, setting_variables
from tests.doc_pages import marked_section

ROOT = Path(__file__).parents[2]

TOKEN = "tok-3f9a1c77-very-recognisable"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("SCALER_"):
            monkeypatch.delenv(name)


def test_defaults_need_no_environment() -> None:
    """With nothing set, every setting has its documented default."""
    settings = load_settings()
    assert DEFAULT_API_URL == settings.api_url
    assert settings.api_token is None
    assert Path("./policies") == settings.policy_path
    assert "sqlite:///./scaler-state.db" == settings.state_url
    assert (60.0, 30.0, 20) == (
        settings.reconcile_interval_seconds,
        settings.health_interval_seconds,
        settings.max_actions_per_cycle,
    )
    assert ("127.0.0.1", 9464) == (settings.http_host, settings.http_port)
    assert (False, False) == (settings.dry_run, settings.allow_delete)


def test_environment_variables_are_read_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCALER_-prefixed variables set the matching fields, with type conversion."""
    monkeypatch.setenv("SCALER_ORG_ID", "54360212-2263-44c6-afaf-1333544854f7")
    monkeypatch.setenv("SCALER_MAX_CONCURRENCY", "50")
    monkeypatch.setenv("SCALER_DRY_RUN", "true")
    monkeypatch.setenv("SCALER_API_URL", "http://127.0.0.1:8600/")
    settings = load_settings()
    assert UUID("54360212-2263-44c6-afaf-1333544854f7") == settings.org_id
    assert 50 == settings.max_concurrency
    assert settings.dry_run is True
    assert "http://127.0.0.1:8600" == settings.api_url


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCALER_ORG_ID", "not-a-uuid"),
        ("SCALER_MAX_CONCURRENCY", "0"),
        ("SCALER_HTTP_PORT", "70000"),
        ("SCALER_LOG_FORMAT", "xml"),
        ("SCALER_API_URL", "ftp://example.com"),
        ("SCALER_RECONCILE_INTERVAL_SECONDS", "soon"),
    ],
)
def test_malformed_variable_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A malformed variable fails with a line that starts with the variable's name."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert 1 == len(lines)
    assert lines[0].startswith(f"{variable}: ")


def test_an_unknown_variable_is_refused_naming_the_closest_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in a variable's name is an error, not a setting silently left at its default."""
    monkeypatch.setenv("SCALER_DRYRUN", "true")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert ["SCALER_DRYRUN is not a setting; did you mean SCALER_DRY_RUN?"] == str(caught.value).splitlines()


def test_every_unknown_variable_has_its_line_beside_the_malformed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each unknown variable gets one line (a hint only when a setting is close), before the malformed ones."""
    monkeypatch.setenv("SCALER_REQUIRE_INTEGRATION", "1")
    monkeypatch.setenv("scaler_api_tokn", "x")
    monkeypatch.setenv("SCALER_HTTP_PORT", "70000")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert [
        "SCALER_REQUIRE_INTEGRATION is not a setting; no setting has a similar name",
        "scaler_api_tokn is not a setting; did you mean SCALER_API_TOKEN?",
    ] == lines[:2]
    assert lines[2].startswith("SCALER_HTTP_PORT: ")


def test_a_known_variable_in_lower_case_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names are read without regard to case (as pydantic-settings does), so scaler_dry_run is no unknown."""
    monkeypatch.setenv("scaler_dry_run", "true")
    assert load_settings().dry_run is True


def test_variables_that_only_look_alike_are_not_settings_business(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCALERTEST_* (the test suite's) and other prefixes are left alone: only SCALER_ is the settings' prefix."""
    monkeypatch.setenv("SCALERTEST_REQUIRE_INTEGRATION", "1")
    monkeypatch.setenv("MY_SCALER_THING", "1")
    assert load_settings().dry_run is False


def test_bad_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error names the variable but does not repeat the rejected value."""
    monkeypatch.setenv("SCALER_HTTP_TIMEOUT_SECONDS", TOKEN)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert TOKEN not in str(caught.value)


def test_token_is_hidden_in_repr_str_and_public_view(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API token never shows in repr, str or the start-up view of the settings."""
    monkeypatch.setenv("SCALER_API_TOKEN", TOKEN)
    settings = load_settings()
    assert TOKEN == settings.api_token.get_secret_value()
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert TOKEN not in str(settings.public_view())
    assert "***" == settings.public_view()["api_token"]


def test_the_database_password_is_hidden_in_repr_and_str(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password in SCALER_STATE_URL shows as *** in repr and str, as in public_view; the URL itself keeps it."""
    monkeypatch.setenv("SCALER_STATE_URL", "postgresql://scaler:db-pass-4711@db.example/scaler")
    settings = load_settings()
    assert "db-pass-4711" not in repr(settings) + str(settings) + f"{settings}"
    assert "state_url='postgresql://scaler:***@db.example/scaler'" in repr(settings)
    assert "postgresql://scaler:db-pass-4711@db.example/scaler" == settings.state_url


def test_the_state_url_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SCALER_STATE_URL_FILE (a mounted secret) holds the URL with its password; surrounding whitespace is dropped."""
    secret = tmp_path / "state-url"
    secret.write_text("  postgresql://scaler:db-pass-4711@db.example/scaler\n")
    monkeypatch.setenv("SCALER_STATE_URL_FILE", str(secret))
    settings = load_settings()
    assert "postgresql://scaler:db-pass-4711@db.example/scaler" == settings.state_url
    assert secret == settings.state_url_file
    assert "postgresql://scaler:***@db.example/scaler" == settings.public_view()["state_url"]
    assert "db-pass-4711" not in repr(settings) + str(settings.public_view())


def test_state_url_and_its_file_are_exclusive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Both set is a mistake (which one would win?): one line naming both."""
    (tmp_path / "state-url").write_text("sqlite:///a.db")
    monkeypatch.setenv("SCALER_STATE_URL_FILE", str(tmp_path / "state-url"))
    monkeypatch.setenv("SCALER_STATE_URL", "sqlite:///b.db")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert ["SCALER_STATE_URL and SCALER_STATE_URL_FILE are both set; set only one"] == str(caught.value).splitlines()


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot be read (No such file or directory)"), ("\n  \n", "is empty"), (b"\xff\xfe", "is not UTF-8 text")],
)
def test_an_unusable_state_url_file_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | bytes | None, problem: str
) -> None:
    """A missing, empty or binary file: one line naming the variable, the file and the problem."""
    path = tmp_path / "state-url"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    monkeypatch.setenv("SCALER_STATE_URL_FILE", str(path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert [f"SCALER_STATE_URL_FILE: {path} {problem}"] == str(caught.value).splitlines()


def test_every_setting_is_documented() -> None:
    """Each field appears in the configuration page's section as its SCALER_ variable."""
    section = marked_section("configuration.md", "configuration")
    missing = [name for name in Settings.model_fields if f"SCALER_{name.upper()}" not in section]
    assert [] == missing


def test_every_setting_has_a_description() -> None:
    """Every field documents itself (the configuration page's table and the chart draw on it)."""
    assert [] == [name for name, field in Settings.model_fields.items() if not field.description]


def test_the_repository_sets_and_reads_no_scaler_variable_that_is_no_setting() -> None:
    """CI, the Makefile, the image, the chart and the code (tests and benchmarks included) name
    only settings with the SCALER_ prefix, so no command they run meets an unknown variable."""
    tool_files = [ROOT / ".ci" / "run", ROOT / "Makefile", ROOT / "Dockerfile"]
    tool_files += [path for folder in ("docker", "helm") for path in (ROOT / folder).rglob("*") if path.is_file()]
    named = {(path, match) for path in tool_files for match in re.findall(r"\bSCALER_[A-Z0-9_]*[A-Z0-9]\b(?![_*])", path.read_text())}
    read = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["'](SCALER_\w+)["']""")
    python_files = [path for folder in ("scaler", "tests", "bench") for path in (ROOT / folder).rglob("*.py")]
    named |= {(path, match) for path in python_files for match in read.findall(path.read_text())}
    known = set(setting_variables())
    assert [] == sorted(f"{path.relative_to(ROOT)}: {name}" for path, name in named if name not in known)


def test_webhook_urls_come_from_the_variable_or_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Comma-separated in SCALER_NOTIFY_WEBHOOK_URLS; one a line in the file, blank lines and comments
    skipped; hidden in repr and the public view."""
    monkeypatch.setenv("SCALER_NOTIFY_WEBHOOK_URLS", "https://hooks.example/T1/abc-secret-1, http://mm.local/hooks/x")
    settings = load_settings()
    assert ("https://hooks.example/T1/abc-secret-1", "http://mm.local/hooks/x") == settings.webhook_urls
    assert "abc-secret-1" not in repr(settings) + str(settings.public_view())
    monkeypatch.delenv("SCALER_NOTIFY_WEBHOOK_URLS")
    (tmp_path / "hooks").write_text("# the team\n\nhttps://hooks.example/T2/def-secret-2\n")
    monkeypatch.setenv("SCALER_NOTIFY_WEBHOOK_URLS_FILE", str(tmp_path / "hooks"))
    assert ("https://hooks.example/T2/def-secret-2",) == load_settings().webhook_urls


def test_a_bad_webhook_url_is_named_by_position_not_by_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error says which entry is wrong without repeating it (it may hold a token)."""
    monkeypatch.setenv("SCALER_NOTIFY_WEBHOOK_URLS", "https://ok.example/a,hooks.example/tok-3141592653")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert ["SCALER_NOTIFY_WEBHOOK_URLS: entry 2 is not an http:// or https:// URL"] == str(caught.value).splitlines()


def test_webhook_urls_and_their_file_are_exclusive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Both set: one line naming both."""
    (tmp_path / "hooks").write_text("https://a.example/x\n")
    monkeypatch.setenv("SCALER_NOTIFY_WEBHOOK_URLS_FILE", str(tmp_path / "hooks"))
    monkeypatch.setenv("SCALER_NOTIFY_WEBHOOK_URLS", "https://b.example/y")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert [
        "SCALER_NOTIFY_WEBHOOK_URLS and SCALER_NOTIFY_WEBHOOK_URLS_FILE are both set; set only one"
    ] == str(caught.value).splitlines()


def test_notify_events_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCALER_NOTIFY_EVENTS selects events by name (all by default); an unknown name is refused, naming it."""
    assert "transition_upcoming" in load_settings().notified_events
    monkeypatch.setenv("SCALER_NOTIFY_EVENTS", "action_failed, auth_failing")
    assert frozenset({"action_failed", "auth_failing"}) == load_settings().notified_events
    monkeypatch.setenv("SCALER_NOTIFY_EVENTS", "action_failed,stop_soon")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("SCALER_NOTIFY_EVENTS: Value error, unknown event stop_soon;")
