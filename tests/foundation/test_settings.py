"""Settings: environment parsing, defaults, one clear line per bad variable, secrets hidden."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from scaler.settings import DEFAULT_API_URL, Settings, SettingsError, load_settings
from tests.doc_pages import marked_section

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
    assert "**********" == settings.public_view()["api_token"]


def test_the_database_password_is_hidden_in_repr_and_str(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password in SCALER_STATE_URL shows as *** in repr and str, as in public_view; the URL itself keeps it."""
    monkeypatch.setenv("SCALER_STATE_URL", "postgresql://scaler:db-pass-4711@db.example/scaler")
    settings = load_settings()
    assert "db-pass-4711" not in repr(settings) + str(settings) + f"{settings}"
    assert "state_url='postgresql://scaler:***@db.example/scaler'" in repr(settings)
    assert "postgresql://scaler:db-pass-4711@db.example/scaler" == settings.state_url


def test_every_setting_is_documented() -> None:
    """Each field appears in the configuration page's section as its SCALER_ variable."""
    section = marked_section("configuration.md", "configuration")
    missing = [name for name in Settings.model_fields if f"SCALER_{name.upper()}" not in section]
    assert [] == missing


def test_every_setting_has_a_description() -> None:
    """Every field documents itself (the configuration page's table and the chart draw on it)."""
    assert [] == [name for name, field in Settings.model_fields.items() if not field.description]
