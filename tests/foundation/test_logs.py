"""Logging: secrets are scrubbed from every rendered line, JSON and console alike."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from scaler.logs import REDACTED, configure_logging, redact, register_secret

SECRET = "eyJhbGciOi-logs-test-secret-7731"


@pytest.fixture(autouse=True)
def _restore_structlog():
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_registered_secret_is_redacted_from_text() -> None:
    """redact() replaces a registered secret wherever it appears."""
    register_secret(SECRET)
    assert f"Bearer {REDACTED} rejected" == redact(f"Bearer {SECRET} rejected")


def test_json_lines_never_carry_a_registered_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """A secret in an event field, a nested field or an exception is scrubbed from JSON output."""
    register_secret(SECRET)
    configure_logging(log_format="json", log_level="info")
    log = structlog.get_logger()
    log.info("token_seen", header=f"Bearer {SECRET}", nested={"items": [SECRET]})
    try:
        raise RuntimeError(f"request failed with {SECRET}")
    except RuntimeError:
        log.exception("request_failed")
    err = capsys.readouterr().err
    assert SECRET not in err
    first = json.loads(err.splitlines()[0])
    assert "token_seen" == first["event"]
    assert f"Bearer {REDACTED}" == first["header"]


def test_standard_library_records_are_rendered_and_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    """Lines from libraries that log through the standard library are JSON and scrubbed too."""
    register_secret(SECRET)
    configure_logging(log_format="json", log_level="info")
    logging.getLogger("uvicorn.error").warning("client sent %s", SECRET)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert f"client sent {REDACTED}" == record["event"]
    assert "warning" == record["level"]


def test_level_filters_lower_events(capsys: pytest.CaptureFixture[str]) -> None:
    """With log level warning, info events are dropped."""
    configure_logging(log_format="json", log_level="warning")
    structlog.get_logger().info("not_shown")
    structlog.get_logger().warning("shown")
    err = capsys.readouterr().err
    assert "not_shown" not in err
    assert "shown" in err
