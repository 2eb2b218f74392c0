"""The control API's keys: the keys file (``SCALER_API_KEYS_FILE``), re-read when it changes, and the
check of a presented key.

The file is YAML (JSON is YAML too): a list of entries ``{name, role, sha256}``, ``role``
``viewer`` (may read) or ``operator`` (may also write), ``sha256`` the hex SHA-256 of the key,
so the file reveals no key. A presented key is hashed and compared with every entry in
constant time (:func:`hmac.compare_digest`). A file that becomes unreadable or invalid
keeps the last good keys in force, and says so in the log (never a key, never a hash).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = structlog.get_logger()

Role = Literal["viewer", "operator"]
#: What each role may do, by the least role a request needs.
ROLE_RANK: dict[str, int] = {"viewer": 1, "operator": 2}


class KeysFileError(ValueError):
    """The keys file cannot be read or is invalid; the message names the file, the entry and the field."""


class KeyEntry(BaseModel):
    """One key of the keys file: who holds it, what it may do, the SHA-256 of the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def hash_key(key: str) -> str:
    """Return the hex SHA-256 of ``key``, as the keys file stores it."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """Return a new random key: 32 bytes, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


def key_file_line(name: str, role: Role, key: str) -> str:
    """The keys file's entry for ``key`` (one YAML line): what ``scaler keys new`` prints."""
    return f"- {{name: {name}, role: {role}, sha256: {hash_key(key)}}}"


def parse_keys(text: str, source: str) -> tuple[KeyEntry, ...]:
    """Return the entries of a keys file's ``text``; raise :class:`KeysFileError` naming ``source``,
    the entry (by position) and the field for anything wrong (unique names required)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise KeysFileError(f"{source}{where}: not YAML or JSON: {getattr(error, 'problem', error)}") from None
    if document is None:
        document = []
    if not isinstance(document, list):
        raise KeysFileError(f"{source}: expected a list of entries {{name, role, sha256}}")
    entries = []
    for index, item in enumerate(document):
        try:
            entries.append(KeyEntry.model_validate(item))
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or "entry"
            raise KeysFileError(f"{source}: entry {index + 1}: {field}: {first['msg']}") from None
    names = [entry.name for entry in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise KeysFileError(f"{source}: key names must be unique: {', '.join(duplicates)}")
    return tuple(entries)


@dataclass(frozen=True)
class Caller:
    """Who made a request: the key's name and role."""

    name: str
    role: Role


class KeyRing:
    """The keys of ``SCALER_API_KEYS_FILE``, re-read whenever the file's size, time or inode changes."""

    def __init__(self, path: Path | None) -> None:
        """Read ``path`` (``None``: no keys are configured). Raises :class:`KeysFileError` when the
        file cannot be read or is invalid at start."""
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._entries: tuple[KeyEntry, ...] = ()
        if path is not None:
            self._stamp, self._entries = self._read(path)

    @property
    def configured(self) -> bool:
        """Whether a keys file is set (with keys, reads need a key and writes an operator key)."""
        return self.path is not None

    def entries(self) -> tuple[KeyEntry, ...]:
        """The keys in force, after re-reading the file if it changed."""
        self._refresh()
        return self._entries

    def identify(self, key: str) -> Caller | None:
        """Return who holds ``key``, or ``None`` when no entry matches (every entry is compared)."""
        digest = hash_key(key)
        found: KeyEntry | None = None
        for entry in self.entries():
            if hmac.compare_digest(digest, entry.sha256):
                found = entry
        return Caller(found.name, found.role) if found is not None else None

    def _refresh(self) -> None:
        path = self.path
        if path is None:
            return
        try:
            info = os.stat(path)
        except OSError as error:
            log.error("api_keys_unreadable", path=str(path), error=error.strerror, effect="the last keys stay in force")
            return
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                self._stamp, self._entries = self._read(path)
            except KeysFileError as error:
                self._stamp = stamp
                log.error("api_keys_invalid", error=str(error), effect="the last keys stay in force")
                return
        log.info("api_keys_reloaded", path=str(path), keys=len(self._entries))

    @staticmethod
    def _read(path: Path) -> tuple[tuple[int, int, int], tuple[KeyEntry, ...]]:
        try:
            info = os.stat(path)
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise KeysFileError(f"{path}: cannot be read: {getattr(error, 'strerror', None) or error}") from None
        return (info.st_mtime_ns, info.st_size, info.st_ino), parse_keys(text, str(path))
