"""Where the API token comes from: a fixed value, or a file re-read whenever it changes.

Tokens expire and are rotated by replacing a mounted secret, so a file source checks the
file's identity (inode, size, modification time) before every request and re-reads it
when it changed: a rotated token is used from the next request on, without a restart.
Every token value read is registered with :func:`scaler.logs.register_secret`, so it is
scrubbed from every log line, and the source never shows it in its ``repr``.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import structlog

from scaler.logs import register_secret
from scaler.settings import Settings
from scaler.simplismart.errors import ConfigurationError

log = structlog.get_logger()

_FileKey = tuple[int, int, int, int]  # device, inode, size, mtime in ns


def _clean(raw: str) -> str:
    """Strip whitespace and a pasted ``Bearer `` prefix from a token value."""
    token = raw.strip()
    if token[:7].casefold() == "bearer ":
        token = token[7:].strip()
    return token


def file_readable_by_others(info: os.stat_result) -> bool:
    """Whether a file with this status can be read by users outside this process's groups."""
    if info.st_mode & stat.S_IROTH:
        return True
    own_groups = {os.getegid(), *os.getgroups()}
    return bool(info.st_mode & stat.S_IRGRP) and info.st_gid not in own_groups


class TokenSource:
    """The bearer token: static, or read from a file and re-read when the file changes.

    Build it with :meth:`static`, :meth:`from_file` or :meth:`from_settings`. A file
    source that cannot be read, or holds only whitespace, keeps serving the last good
    token (with a warning) while it has one, so a rotation caught half-written does not
    fail requests; without one it raises :class:`ConfigurationError`.
    """

    def __init__(self, *, token: str | None = None, path: Path | str | None = None) -> None:
        """Use ``token`` as is, or the content of the file at ``path`` (exactly one of them).

        Raises :class:`ConfigurationError` naming SCALER_API_TOKEN / SCALER_API_TOKEN_FILE
        when neither is given or the static token is empty.
        """
        if (token is None) == (path is None):
            raise ConfigurationError(
                "no API token: set SCALER_API_TOKEN or SCALER_API_TOKEN_FILE",
                reason="auth",
            )
        self._path = Path(path) if path is not None else None
        self._token = ""
        self._key: _FileKey | None = None
        self._warned_permissions = False
        self._problem = ""
        self._lock = threading.Lock()
        if token is not None:
            cleaned = _clean(token)
            if not cleaned:
                raise ConfigurationError("SCALER_API_TOKEN is empty", reason="auth")
            register_secret(cleaned)
            self._token = cleaned

    @classmethod
    def static(cls, token: str) -> TokenSource:
        """Return a source that always gives ``token``."""
        return cls(token=token)

    @classmethod
    def from_file(cls, path: Path | str) -> TokenSource:
        """Return a source reading ``path``, checked now: raises :class:`ConfigurationError`
        when the file is missing, unreadable or empty."""
        source = cls(path=path)
        source.get()
        return source

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenSource:
        """Return the source the settings name: SCALER_API_TOKEN_FILE wins over SCALER_API_TOKEN.

        Raises :class:`ConfigurationError` naming the variable when neither is set, the
        token is empty, or the file cannot be read.
        """
        if settings.api_token_file is not None:
            return cls.from_file(settings.api_token_file)
        if settings.api_token is not None:
            return cls.static(settings.api_token.get_secret_value())
        return cls()

    @property
    def path(self) -> Path | None:
        """The token file, or ``None`` for a static token."""
        return self._path

    def get(self) -> str:
        """Return the current token, re-reading the file first if it changed.

        Raises :class:`ConfigurationError` (naming SCALER_API_TOKEN_FILE and the path)
        when the file cannot be read or is empty and no earlier token is known.
        """
        if self._path is None:
            return self._token
        with self._lock:
            return self._current_from_file(self._path)

    def _current_from_file(self, path: Path) -> str:
        try:
            info = os.stat(path)
        except OSError as exc:
            return self._unusable(path, f"cannot be read ({exc.strerror or type(exc).__name__})")
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if key == self._key:
            return self._token
        try:
            cleaned = _clean(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            return self._unusable(path, f"cannot be read ({reason})")
        if not cleaned:
            return self._unusable(path, "is empty")
        register_secret(cleaned)
        self._warn_if_exposed(path, info)
        if self._token and cleaned != self._token:
            log.info("api_token_reloaded", path=str(path))
        self._token = cleaned
        self._key = key
        self._problem = ""
        return cleaned

    def _unusable(self, path: Path, problem: str) -> str:
        """Keep the last good token through a failed read, or raise when there is none."""
        if self._token:
            if problem != self._problem:
                log.warning("api_token_file_unusable", path=str(path), problem=problem, using="previous token")
                self._problem = problem
            return self._token
        raise ConfigurationError(f"SCALER_API_TOKEN_FILE {path} {problem}", reason="auth")

    def _warn_if_exposed(self, path: Path, info: os.stat_result) -> None:
        """Warn once when users other than this process's own can read the token file.

        Readable by others is always a warning. Readable by its group is one only when
        that group is not one of this process's groups: Kubernetes mounts a secret with
        the pod's ``fsGroup`` and group read, which exposes it to no other user.
        """
        if self._warned_permissions or not file_readable_by_others(info):
            return
        self._warned_permissions = True
        log.warning(
            "api_token_file_readable_by_others",
            path=str(path),
            mode=oct(stat.S_IMODE(info.st_mode)),
            advice="make it readable by its owner only (chmod 600, or defaultMode 0400 for a Kubernetes secret)",
        )

    def __repr__(self) -> str:
        if self._path is not None:
            return f"TokenSource(file={str(self._path)!r})"
        return "TokenSource(static)"

    __str__ = __repr__
