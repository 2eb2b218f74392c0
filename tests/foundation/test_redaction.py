"""Secrets in text: one marker, whole values only, nothing else altered."""

from __future__ import annotations

import pytest

from scaler.redaction import MARKER, redact_secrets, redact_url_passwords, url_origin

#: libpq's message for a server that does not listen (what a store error carries).
REFUSED = (
    'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused '
    "Is the server running on that host and accepting TCP/IP connections?"
)


def test_the_marker_is_three_stars() -> None:
    """One marker everywhere: ***."""
    assert "***" == MARKER


@pytest.mark.parametrize("password", ["p", "1", "a", "t", "ep", "ort"])
def test_a_short_password_leaves_ordinary_text_alone(password: str) -> None:
    """A one- to three-letter password cannot be told from a letter, a number or a syllable: the text is kept."""
    assert REFUSED == redact_secrets(REFUSED, [password])


@pytest.mark.parametrize("password", ["p", "1", "ort"])
def test_a_short_password_is_hidden_inside_urls_and_connection_strings(password: str) -> None:
    """Whatever its length, the password of a URL or a key=value connection string is replaced."""
    text = f"cannot read 'postgresql://scaler:{password}@db:5432/scaler' (host=db password={password} port=1)"
    assert "cannot read 'postgresql://scaler:***@db:5432/scaler' (host=db password=*** port=1)" == redact_secrets(
        text, [password]
    )


def test_a_password_inside_words_is_replaced_only_where_it_stands_alone() -> None:
    """'cept' inside 'accepting' is a part of a word; standing alone it is the password."""
    text = f"{REFUSED} (the server said: password cept rejected; 'cept'; cept.)"
    expected = f"{REFUSED} (the server said: password *** rejected; '***'; ***.)"
    assert expected == redact_secrets(text, ["cept"])


def test_a_long_secret_is_replaced_wherever_it_appears() -> None:
    """Twelve characters or more cannot occur by chance: replaced even when glued to other text."""
    secret = "Sup3rSecret-2026"
    assert "x***y and ***" == redact_secrets(f"x{secret}y and {secret}", [secret])


def test_a_percent_encoded_password_in_a_url_is_replaced() -> None:
    """A URL's password is replaced as written, percent-encoded or not, the rest of the URL kept."""
    assert "postgresql://scaler:***@db/scaler?sslmode=require" == redact_url_passwords(
        "postgresql://scaler:s%40cret@db/scaler?sslmode=require"
    )
    assert "see postgres://u:***@h/d and ?password=***&sslmode=require" == redact_url_passwords(
        "see postgres://u:pw@h/d and ?password=pw&sslmode=require"
    )


def test_quoted_connection_string_passwords_are_replaced_whole() -> None:
    """libpq's quoted values (password='a b') are replaced up to their closing quote."""
    assert "host=db password=*** dbname=x" == redact_url_passwords("host=db password='a b\\'c' dbname=x")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/***"),
        ("http://mm.local:8065/hooks/abc?token=XXXXSECRET", "http://mm.local:8065/***"),
        ("https://user:XXXXSECRET@example.com/", "https://example.com"),
        ("https://example.com", "https://example.com"),
        ("not a url XXXXSECRET", "***"),
    ],
)
def test_a_url_is_shown_by_its_origin_alone(url: str, shown: str) -> None:
    """A webhook is named by scheme, host and port; its path, query and user never show."""
    assert shown == url_origin(url)
