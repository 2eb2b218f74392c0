"""Logging: secrets are scrubbed from every rendered line, JSON and console alike."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from scaler.logs import REDACTED, configure_logging, redact, register_secret

SECRET = "eyJhbGciOi-logs-test-secret-7731"
#: A secret as long as a real JWT, longer than any value a renderer shows in full.
LONG_SECRET = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + "c2NhbGVyLWxvZ3MtbG9uZy1zZWNyZXQ" * 6 + ".sig-7f3a9c21e5d84b6a"


def carries_part_of(text: str, secret: str, width: int = 12) -> bool:
    """Whether ``text`` holds any ``width`` consecutive characters of ``secret``."""
    return any(secret[start : start + width] in text for start in range(len(secret) - width + 1))


@pytest.fixture(autouse=True)
def _restore_structlog():
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_registered_secret_is_redacted_from_text() -> None:
    """redact() replaces a registered secret wherever it appears."""
    register_secret(SECRET)
    assert f"Bearer {REDACTED} rejected" == redact(f"Bearer {SECRET} rejected")


def test_a_short_registered_secret_is_redacted_only_as_a_whole_word() -> None:
    """A registered password of a few letters is replaced where it stands alone, never inside a word."""
    register_secret("cept")
    assert "accepting connections; password *** rejected" == redact("accepting connections; password cept rejected")


def test_a_secret_cut_short_is_still_redacted() -> None:
    """A secret shortened for display (its start, then an ellipsis or a count) loses what is left of it."""
    register_secret(LONG_SECRET)
    shown = redact(f"token={LONG_SECRET[:80]}…+150 and headers {{'Authorization': 'Bearer {LONG_SECRET[:40]}'}}")
    assert f"token={REDACTED}…+150 and headers {{'Authorization': 'Bearer {REDACTED}'}}" == shown


def test_secrets_sharing_their_start_are_each_redacted_whole() -> None:
    """Two tokens with a long common start (a rotation) are both replaced whole, in either order."""
    first, second = "rotation-secret-common-start-one", "rotation-secret-common-start-second"
    register_secret(first)
    register_secret(second)
    assert f"{REDACTED} {REDACTED}" == redact(f"{first} {second}")
    assert f"{REDACTED} {REDACTED}" == redact(f"{second} {first}")


def _fail_with_secret_in_a_local() -> None:
    headers = {"Authorization": f"Bearer {LONG_SECRET}"}  # what an HTTP client's frames hold
    raise RuntimeError(f"request failed ({len(headers)} headers)")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_traceback_shows_no_frame_locals_and_no_part_of_a_secret(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tracebacks leave frames' local variables out: a long secret held there cannot leak cut short or wrapped."""
    register_secret(LONG_SECRET)
    configure_logging(log_format=log_format, log_level="info")
    try:
        _fail_with_secret_in_a_local()
    except RuntimeError:
        structlog.get_logger().exception("request_failed")
    err = capsys.readouterr().err
    assert "request failed (1 headers)" in err and "_fail_with_secret_in_a_local" in err
    assert (False, False) == ("Authorization" in err, carries_part_of(err, LONG_SECRET))


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
