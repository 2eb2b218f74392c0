"""The policy set in force, and reloading it when the files change.

At start the set must load (an invalid set stops the daemon with every problem listed), and
hold a policy unless an empty set is allowed.
Afterwards :meth:`PolicyKeeper.check` runs every few seconds: it reads the files' bytes
(and those of the calendar files the policies name) and reloads only when they changed.
Kubernetes updates a mounted ConfigMap by swapping a ``..data`` symlink atomically, which
file-event watchers often miss, so the check compares content, not events. SIGHUP forces
a reload.

A reload that fails (a syntax error, an invalid field, an unreadable path, or no policy
at all unless ``SCALER_ALLOW_EMPTY_POLICIES`` says that is meant) is rejected whole: the previous set stays in force, every problem is logged once per distinct
content, and ``scaler_policy_reloads_total{result="error"}`` and
``scaler_policy_last_reload_successful`` say so. A valid set with the same content hash
changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import structlog

from scaler.daemon.clock import iso
from scaler.metrics import Metrics
from scaler.policy import PolicyError, PolicyLoadError, PolicySet, load_policy_set, require_policies
from scaler.policy.loader import read_policy_sources
from scaler.policy.schedule import next_skipped_opening

log = structlog.get_logger()

#: Seconds between two checks of the policy files for a change.
POLICY_CHECK_SECONDS = 5.0
#: Problems of a rejected set shown in its log line at most (the count says how many there were).
MAX_ISSUES_LOGGED = 50

Loader = Callable[[Sequence[Path]], PolicySet]


def files_fingerprint(paths: Sequence[Path], calendars: Sequence[Path] = ()) -> str:
    """Return a digest of the policy files' and ``calendars``' names and bytes, or ``error:...`` when
    the policy files cannot be read (a calendar that cannot be read counts as its error)."""
    try:
        sources = read_policy_sources(paths)
    except PolicyError as error:
        return f"error:{error}"
    digest = hashlib.sha256()
    for name, raw in sources:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(raw).digest())
    for calendar in calendars:
        digest.update(f"calendar:{calendar}\0".encode())
        try:
            digest.update(hashlib.sha256(calendar.read_bytes()).digest())
        except OSError as error:
            digest.update(f"error:{error.strerror}".encode())
    return digest.hexdigest()


class PolicyKeeper:
    """Holds the policy set in force and reloads it (see the module's docstring)."""

    def __init__(
        self, paths: Sequence[Path], *, metrics: Metrics, loader: Loader = load_policy_set, allow_empty: bool = False
    ) -> None:
        """Keep the set read from ``paths`` by ``loader``; a set with no policy is refused unless ``allow_empty``."""
        self.paths = tuple(paths)
        self._metrics = metrics
        self._loader = loader
        self._allow_empty = allow_empty
        self.current: PolicySet | None = None
        self.loaded_at: datetime | None = None
        self.last_result: str | None = None
        self.last_attempt_at: datetime | None = None
        self.last_error: list[str] = []
        self._fingerprint: str | None = None
        #: The calendar files named by the last set read (or rejected), watched with the policy files.
        self._calendars: tuple[Path, ...] = ()

    def load(self, now: datetime) -> PolicySet:
        """Load the set at start; return it.

        Raises :class:`~scaler.policy.PolicyError` (every problem listed) when it is
        invalid or unreadable, or :class:`~scaler.policy.PolicySetEmpty` when it holds no
        policy and that is not allowed: a daemon without a valid set does not start.
        """
        try:
            policy_set = self._read()
        except PolicyError as error:
            self._rejected(error, now)
            raise
        self._accepted(policy_set, now)
        return policy_set

    def check(self, now: datetime, *, force: bool = False) -> bool:
        """Reload when the files changed (always when ``force``); return whether a new set came into force.

        Never raises for bad policy files: a rejected set leaves the current one in force.
        """
        fingerprint = files_fingerprint(self.paths, self._calendars)
        if fingerprint == self._fingerprint and not force:
            return False
        try:
            policy_set = self._read()
        except PolicyError as error:
            self._rejected(error, now)
            return False
        previous = self.current
        self._accepted(policy_set, now)
        changed = previous is None or previous.content_hash != policy_set.content_hash
        log.info(
            "policies_reloaded" if changed else "policies_unchanged",
            policies=len(policy_set.policies),
            content_hash=policy_set.content_hash,
            summary=policy_set.summary(),
            forced=force,
        )
        return changed

    def _read(self) -> PolicySet:
        """Load the set; raises :class:`~scaler.policy.PolicyError`, also for a set with no policy unless allowed.

        Remembers the fingerprint of what was read, calendars named by the files included.
        """
        self._fingerprint = files_fingerprint(self.paths, self._calendars)
        try:
            policy_set = self._loader(self.paths)
        except PolicyLoadError as error:
            self._watch(error.calendar_paths)
            raise
        except PolicyError:
            self._watch(self._calendars)
            raise
        self._watch(tuple(source.path for source in policy_set.calendars))
        if not self._allow_empty:
            require_policies(policy_set, self.paths)
        return policy_set

    def _watch(self, calendars: Sequence[Path]) -> None:
        """Watch ``calendars`` from now on; the fingerprint is taken before reading, so a change made
        during a read is seen by the next check (taken again only when the list of calendars changed)."""
        if tuple(calendars) != self._calendars:
            self._calendars = tuple(calendars)
            self._fingerprint = files_fingerprint(self.paths, self._calendars)

    def _accepted(self, policy_set: PolicySet, now: datetime) -> None:
        self.current = policy_set
        self.loaded_at = now
        self.last_result = "success"
        self.last_attempt_at = now
        self.last_error = []
        m = self._metrics
        m.policy_reloads.labels(result="success").inc()
        m.policy_last_reload_successful.set(1)
        m.policies_loaded.set(len(policy_set.policies))
        for policy in policy_set.policies:
            m.initialise_policy(policy.name)

    def _rejected(self, error: PolicyError, now: datetime) -> None:
        issues = [str(issue) for issue in error.issues] if isinstance(error, PolicyLoadError) else [str(error)]
        self.last_result = "error"
        self.last_attempt_at = now
        self.last_error = issues
        self._metrics.policy_reloads.labels(result="error").inc()
        self._metrics.policy_last_reload_successful.set(0)
        log.error(
            "policies_rejected",
            problems=len(issues),
            issues=issues[:MAX_ISSUES_LOGGED],
            in_force=self.current.content_hash if self.current is not None else None,
            effect="the previous policy set stays in force" if self.current is not None else "no policy set",
        )

    def view(self, now: datetime | None = None) -> dict[str, object]:
        """Return the set in force and the last reload as plain data for /status; with ``now``, also
        each policy's next date on which a skip date, holiday or calendar keeps a window closed."""
        current = self.current
        return {
            "paths": [str(path) for path in self.paths],
            "content_hash": current.content_hash if current else None,
            "policies": [policy.name for policy in current.policies] if current else [],
            "files": [str(source.path) for source in current.sources] if current else [],
            "calendars": [str(source.path) for source in current.calendars] if current else [],
            "next_skipped": _next_skipped(current, now) if current and now else {},
            "loaded_at": iso(self.loaded_at),
            "last_reload": {"result": self.last_result, "at": iso(self.last_attempt_at), "errors": self.last_error},
        }


def _next_skipped(policy_set: PolicySet, now: datetime) -> dict[str, dict[str, object] | None]:
    """Each policy's next skipped opening from ``now`` (``None``: none within the engine's horizon)."""
    found: dict[str, dict[str, object] | None] = {}
    for policy in policy_set.policies:
        skipped = next_skipped_opening(policy, now)
        found[policy.name] = (
            None
            if skipped is None
            else {"date": skipped[0].isoformat(), "windows": list(skipped[1]), "names": list(policy.skip.names(skipped[0]))}
        )
    return found
