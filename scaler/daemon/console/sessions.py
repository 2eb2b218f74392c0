"""Console sessions: a control API key exchanged for a random session id, with a CSRF token, expiring.

Sessions live in the memory of the process that made them (a restart signs everyone out;
with several replicas each has its own). A session holds the key's SHA-256, never the key,
and is checked against the keys file on every request, so removing a key from the file ends
its sessions at once. The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Secure`` when the
console is served over TLS, and expires with the session.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from scaler.daemon.api.keys import Caller, KeyRing, hash_key

#: The session cookie's name.
SESSION_COOKIE = "scaler_session"
#: The sign-in form's CSRF cookie (double submit: the form carries the same value).
SIGN_IN_COOKIE = "scaler_sign_in"
#: How long a session lasts, in seconds: a working day, then sign in again.
SESSION_SECONDS = 8 * 3600
#: Sessions kept at most (the oldest go first): bounded memory whatever happens.
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    """One signed-in browser: who, the key's digest, its CSRF token, when it ends (monotonic seconds)."""

    id: str
    caller: Caller
    key_sha256: str
    csrf: str
    expires: float


class Sessions:
    """The sessions of this process (see the module's docstring); ``monotonic`` injectable for tests."""

    def __init__(self, keys: KeyRing, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.keys = keys
        self._monotonic = monotonic
        self._sessions: dict[str, Session] = {}

    def sign_in(self, key: str) -> Session | None:
        """Return a new session for ``key``, or ``None`` when the keys file has no such key."""
        caller = self.keys.identify(key)
        if caller is None:
            return None
        session = Session(
            id=secrets.token_urlsafe(32),
            caller=caller,
            key_sha256=hash_key(key),
            csrf=secrets.token_urlsafe(32),
            expires=self._monotonic() + SESSION_SECONDS,
        )
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.pop(next(iter(self._sessions)))
        return session

    def find(self, session_id: str | None) -> Session | None:
        """Return the live session ``session_id`` whose key is still in the keys file, else ``None``
        (an expired or orphaned session is forgotten)."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        entry = next(
            (e for e in self.keys.entries() if hmac.compare_digest(e.sha256, session.key_sha256)), None
        )
        if self._monotonic() >= session.expires or entry is None:
            self._sessions.pop(session_id, None)
            return None
        if entry.name != session.caller.name or entry.role != session.caller.role:
            session = Session(session.id, Caller(entry.name, entry.role), session.key_sha256, session.csrf, session.expires)
            self._sessions[session.id] = session
        return session

    def sign_out(self, session_id: str | None) -> None:
        """Forget the session ``session_id`` (nothing when there is none)."""
        if session_id:
            self._sessions.pop(session_id, None)


def same_token(expected: str, given: str | None) -> bool:
    """Whether the CSRF token ``given`` is ``expected`` (compared in constant time)."""
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())
