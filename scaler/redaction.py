"""Hiding secrets in text: one marker (``***``), and only whole values replaced.

A secret must never show, and hiding it must not damage the rest of a message: a
one-letter database password once turned ``port 1 failed ... accepting`` into
``***ort 1 failed ... acce***ting``. So a secret is replaced where it is a whole value:

- the password of a URL (``scheme://user:PASSWORD@``) or of a connection string
  (``password=PASSWORD`` in a query or a libpq keyword list) always, whatever its length;
- elsewhere, a secret of :data:`UNAMBIGUOUS_LENGTH` characters or more wherever it
  appears (that long, it cannot occur by chance, and glued to other text it is still
  caught), and a shorter one where no letter, digit or underscore touches it;
- a secret shorter than :data:`MIN_FREE_LENGTH` only in URLs and connection strings:
  standing alone it cannot be told from a letter, a number or a syllable of the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

#: What a hidden secret is replaced with, everywhere.
MARKER = "***"
#: Length from which a secret is replaced wherever it appears, even inside other text.
UNAMBIGUOUS_LENGTH = 12
#: Length below which a secret is replaced only inside URLs and connection strings.
MIN_FREE_LENGTH = 4

_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s'\"]*:)(?P<password>[^/?#\s'\"]*)(?=@)")
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>(?:(?<=[?&\s(])|^)password\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|[^&#\s'\")]+)", re.IGNORECASE
)


def redact_url_passwords(text: str) -> str:
    """Return ``text`` with the password of every URL and connection string in it replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MARKER, text)
    return _KEYWORD_PASSWORD.sub(lambda m: m["head"] + MARKER, text)


def url_passwords(url: str) -> list[str]:
    """Return the passwords written in ``url`` (as written and percent-decoded), to be hidden elsewhere."""
    found = [m["password"] for m in (*_URL_PASSWORD.finditer(url), *_KEYWORD_PASSWORD.finditer(url))]
    return [text for password in found if password for text in dict.fromkeys((password, unquote(password)))]


def redact_secret(text: str, secret: str) -> str:
    """Return ``text`` with ``secret`` replaced by ``***`` where it is a whole value (see the module)."""
    if len(secret) < MIN_FREE_LENGTH or secret not in text:
        return text
    if len(secret) >= UNAMBIGUOUS_LENGTH:
        return text.replace(secret, MARKER)
    return re.sub(rf"(?<![A-Za-z0-9_]){re.escape(secret)}(?![A-Za-z0-9_])", MARKER, text)


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with URL and connection-string passwords, then each of ``secrets`` (longest
    first), replaced by ``***`` where they are whole values."""
    text = redact_url_passwords(text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = redact_secret(text, secret)
    return text


def url_origin(url: str) -> str:
    """Return what of ``url`` may be shown: its scheme, host and port, with ``/***`` when a path or query
    followed (a webhook's path or query is often its token); never a user or password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return MARKER
    hidden = f"/{MARKER}" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{host}{port}{hidden}" if host else MARKER
