"""Organization-wide states that pause calls: a refused token (401/403), a refused organization id
(SCALER_ORG_ID) and a blocked wallet (402).

:class:`OrganizationState` is the one owner of the gauges ``scaler_api_auth_ok``,
``scaler_org_id_refused`` and ``scaler_wallet_blocked``, and logs one line per change of
state, never one per call.

- **Token refused** (401/403 on any call): readiness turns false and every API call
  pauses, mutating or not, except one probe (a list of the deployments) every
  :data:`AUTH_PROBE_SECONDS`. The first accepted answer ends the pause.
- **Organization id refused** (a startstop answered 400 "org does not match the
  deployment's organization"): a configuration error, not the deployment's. Readiness
  turns false and every start and stop (restarts included) pauses organization-wide;
  other calls go on. After :data:`ORG_PROBE_SECONDS` the most urgent waiting start or
  stop is let through as the probe: a start or stop the platform accepts ends the pause,
  another refusal re-arms it. SCALER_ORG_ID is read once, so a corrected value takes
  effect at a restart (which starts without the pause).
- **Wallet blocked** (402): calls that increase spend (start, restart, scale-up) pause
  organization-wide; stops and scale-downs, which save money, still go out. After
  :data:`WALLET_PROBE_SECONDS` the most urgent waiting call that increases spend is let
  through as the probe: its success lifts the block, another 402 re-arms it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import structlog

from scaler.daemon.admission import Gates, GateState, Passage
from scaler.daemon.clock import iso
from scaler.metrics import Metrics
from scaler.simplismart.errors import SimplismartError

log = structlog.get_logger()

#: Seconds between probes while the platform refuses the token: one list call a minute notices a
#: token the platform accepts again within a minute, at no cost worth counting (a rotated token
#: file is tried at once anyway).
AUTH_PROBE_SECONDS = 60.0
#: Seconds between probes while the wallet is blocked: a probe is a real start, so one every 10
#: minutes notices a topped-up wallet without filling the audit log with refused starts.
WALLET_PROBE_SECONDS = 600.0
#: Seconds between probes while the platform refuses SCALER_ORG_ID: one refused call every
#: 10 minutes keeps the audit log readable, and a fix on the platform's side is picked up
#: within minutes (a wrong setting needs a restart anyway).
ORG_PROBE_SECONDS = 600.0

class OrganizationState:
    """Whether the platform accepts the token and whether the wallet lets spend increase."""

    def __init__(self, *, metrics: Metrics | None = None) -> None:
        self._metrics = metrics
        self.auth_ok: bool | None = None
        """``None`` until the platform first answers, then whether it accepts the token."""
        self.auth_refused_since: datetime | None = None
        self.auth_message = ""
        self.next_auth_probe: datetime | None = None
        self.wallet_blocked = False
        self.wallet_known = False
        """Whether the platform has answered a call that increases spend (the wallet's state is then known)."""
        self.wallet_blocked_since: datetime | None = None
        self.wallet_message = ""
        self.next_wallet_probe: datetime | None = None
        self._wallet_probe_in_flight = False
        self.org_refused = False
        self.org_refused_since: datetime | None = None
        self.org_message = ""
        self.next_org_probe: datetime | None = None
        self._org_probe_in_flight = False
        if metrics is not None:
            metrics.api_auth_ok.set(1)
            metrics.wallet_blocked.set(0)
            metrics.org_id_refused.set(0)

    # --- Token -------------------------------------------------------------

    @property
    def api_paused(self) -> bool:
        """Whether API calls pause because the platform refused the token."""
        return self.auth_ok is False

    def auth_probe_due(self, now: datetime) -> bool:
        """Whether the pause is on and its probe may be sent at ``now``."""
        return self.api_paused and (self.next_auth_probe is None or now >= self.next_auth_probe)

    def auth_refused(self, now: datetime, error: SimplismartError) -> None:
        """Note a 401/403 at ``now``: pause calls (logged once), probe again in a minute."""
        self.next_auth_probe = now + timedelta(seconds=AUTH_PROBE_SECONDS)
        if self.auth_ok is False:
            return
        self.auth_ok = False
        self.auth_refused_since = now
        self.auth_message = error.message
        log.error(
            "api_auth_refused",
            message=error.message,
            request_id=error.request_id,
            status_code=error.status_code,
            effect="API calls pause; a probe retries every 60 s",
            hint=error.hint,
        )
        if self._metrics is not None:
            self._metrics.api_auth_ok.set(0)

    def auth_accepted(self, now: datetime) -> None:
        """Note an accepted call at ``now``: end a pause (logged once)."""
        was_refused = self.auth_ok is False
        self.auth_ok = True
        self.next_auth_probe = None
        if not was_refused:
            return
        paused_for = (now - self.auth_refused_since).total_seconds() if self.auth_refused_since else 0.0
        log.info("api_auth_restored", paused_seconds=round(paused_for, 3))
        self.auth_refused_since = None
        self.auth_message = ""
        if self._metrics is not None:
            self._metrics.api_auth_ok.set(1)

    # --- Organization id ------------------------------------------------------

    def startstop_gate(self, now: datetime) -> GateState:
        """The gate of plans with a start or stop at ``now`` (:class:`~scaler.daemon.admission.Gates`).

        ``open``: SCALER_ORG_ID is not refused. ``probe_due``: refused, but the probe may go (the
        plan that takes it is passed to :meth:`take_probes`; report its outcome with
        :meth:`org_id_refused` or :meth:`org_id_accepted`, or :meth:`org_probe_abandoned`).
        ``closed``: refused, the probe not due or in flight.
        """
        if not self.org_refused:
            return "open"
        if self._org_probe_in_flight or (self.next_org_probe is not None and now < self.next_org_probe):
            return "closed"
        return "probe_due"

    def org_id_refused(self, now: datetime, error: SimplismartError) -> None:
        """Note a startstop refused for its ``org`` at ``now``: pause starts and stops (logged once)."""
        self._org_probe_in_flight = False
        self.next_org_probe = now + timedelta(seconds=ORG_PROBE_SECONDS)
        if self.org_refused:
            return
        self.org_refused = True
        self.org_refused_since = now
        self.org_message = error.message
        log.error(
            "org_id_refused",
            message=error.message,
            request_id=error.request_id,
            deployment_id=error.deployment_id,
            effect="starts and stops pause organization-wide; a probe every 10 minutes",
            hint="check SCALER_ORG_ID; a changed SCALER_ORG_ID takes effect at a restart",
        )
        if self._metrics is not None:
            self._metrics.org_id_refused.set(1)

    def org_id_accepted(self, now: datetime) -> None:
        """Note that the platform accepted a start or stop at ``now``: end a pause (logged once)."""
        self._org_probe_in_flight = False
        if not self.org_refused:
            return
        paused_for = (now - self.org_refused_since).total_seconds() if self.org_refused_since else 0.0
        self.org_refused = False
        self.org_refused_since = None
        self.org_message = ""
        self.next_org_probe = None
        log.info("org_id_accepted", paused_seconds=round(paused_for, 3), effect="starts and stops go out again")
        if self._metrics is not None:
            self._metrics.org_id_refused.set(0)

    def org_probe_abandoned(self) -> None:
        """The probe taken with :meth:`startstop_gate` ended without an answer about the organization id."""
        self._org_probe_in_flight = False

    def next_probe(self) -> datetime | None:
        """When the next probe of a pause that waits for one (wallet, organization id) is due, if any."""
        due = [
            at
            for paused, at in ((self.wallet_blocked, self.next_wallet_probe), (self.org_refused, self.next_org_probe))
            if paused and at is not None
        ]
        return min(due) if due else None

    # --- Wallet --------------------------------------------------------------

    def spend_gate(self, now: datetime) -> GateState:
        """The gate of calls that increase spend at ``now`` (:class:`~scaler.daemon.admission.Gates`).

        ``open``: no block. ``probe_due``: blocked, but the probe may go (the plan that takes it
        is passed to :meth:`take_probes`; report its outcome with :meth:`wallet_refused` or
        :meth:`spend_accepted`, or :meth:`probe_abandoned`). ``closed``: blocked, the probe not
        due or in flight.
        """
        if not self.wallet_blocked:
            return "open"
        if self._wallet_probe_in_flight or (self.next_wallet_probe is not None and now < self.next_wallet_probe):
            return "closed"
        return "probe_due"

    def gates(self, now: datetime) -> Gates:
        """The gates a cycle's plans pass at ``now`` (see :func:`scaler.daemon.admission.admit`)."""
        return Gates(api_paused=self.api_paused, startstop=self.startstop_gate(now), spend=self.spend_gate(now))

    def take_probes(self, passage: Passage) -> None:
        """Note the probes an admitted plan carries as in flight, until their outcome is reported."""
        if passage.spend == "probe":
            self._wallet_probe_in_flight = True
        if passage.org_probe:
            self._org_probe_in_flight = True

    def wallet_refused(self, now: datetime, error: SimplismartError) -> None:
        """Note a 402 at ``now``: block calls that increase spend (logged once), probe in 10 minutes."""
        self._wallet_probe_in_flight = False
        self.wallet_known = True
        self.next_wallet_probe = now + timedelta(seconds=WALLET_PROBE_SECONDS)
        if self.wallet_blocked:
            return
        self.wallet_blocked = True
        self.wallet_blocked_since = now
        self.wallet_message = error.message
        log.error(
            "wallet_blocked",
            message=error.message,
            request_id=error.request_id,
            effect="starts and scale-ups pause; stops and scale-downs still go out; a probe every 10 minutes",
        )
        if self._metrics is not None:
            self._metrics.wallet_blocked.set(1)

    def spend_accepted(self, now: datetime) -> None:
        """Note that a call increasing spend succeeded at ``now``: lift a block (logged once)."""
        self._wallet_probe_in_flight = False
        self.wallet_known = True
        if not self.wallet_blocked:
            return
        blocked_for = (now - self.wallet_blocked_since).total_seconds() if self.wallet_blocked_since else 0.0
        self.wallet_blocked = False
        self.wallet_blocked_since = None
        self.wallet_message = ""
        self.next_wallet_probe = None
        log.info("wallet_unblocked", blocked_seconds=round(blocked_for, 3))
        if self._metrics is not None:
            self._metrics.wallet_blocked.set(0)

    def probe_abandoned(self) -> None:
        """The probe taken with :meth:`spend_gate` ended without an answer about the wallet."""
        self._wallet_probe_in_flight = False

    def view(self) -> dict[str, object]:
        """Return the state as plain data for /status."""
        return {
            "auth": {
                "ok": self.auth_ok,
                "refused_since": iso(self.auth_refused_since),
                "message": self.auth_message or None,
                "next_probe": iso(self.next_auth_probe) if self.api_paused else None,
            },
            "org_id": {
                "refused": self.org_refused,
                "refused_since": iso(self.org_refused_since),
                "message": self.org_message or None,
                "next_probe": iso(self.next_org_probe) if self.org_refused else None,
            },
            "wallet": {
                "blocked": self.wallet_blocked,
                "blocked_since": iso(self.wallet_blocked_since),
                "message": self.wallet_message or None,
                "next_probe": iso(self.next_wallet_probe) if self.wallet_blocked else None,
            },
        }
