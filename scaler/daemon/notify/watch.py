"""When a notice is due: the :class:`Notifier` reads what the daemon knows once a second and hands
each new notice to the :class:`~scaler.daemon.notify.delivery.Delivery`.

- ``transition_upcoming``: a deployment's next change (on the board) is a stop or a scale-down
  at most ``ahead`` away; one notice per deployment and boundary instant.
- ``action_failed``: an action the last cycles finished with an error (after the client's retries).
- ``exception_created`` / ``exception_ended``: a person's exception created, or ended (by a person,
  or because its time ran out), within the last :data:`RECENT_SECONDS`.
- ``wallet_blocked`` / ``wallet_unblocked``, ``auth_failing`` / ``auth_ok``: the organization's
  state changed; the ``_ok`` events only after a notice of the trouble.

Only the instance that may act (the leader) notifies, and each notice is claimed in the store
first (:meth:`~scaler.store.Store.claim_notification`): a restart or a standby that takes over
sends none twice. A notice whose moment passed while no instance could send it is not sent late,
beyond :data:`RECENT_SECONDS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from scaler.daemon.clock import Clock, iso
from scaler.daemon.execution import always
from scaler.daemon.notify.delivery import Delivery
from scaler.daemon.notify.notice import Notice, reduction, upcoming_text
from scaler.daemon.organization import OrganizationState
from scaler.daemon.board import Board, CycleSummary
from scaler.store import ExceptionRecord, Store, StoreError
from scaler.vocabulary import NotifyEvent

log = structlog.get_logger()

#: Seconds between checks (the ``notify`` job): a notice leaves at most this late.
CHECK_SECONDS = 1.0
#: How long after the fact an exception's creation or end, or a failed action, is still notified.
RECENT_SECONDS = 3600.0
#: Seconds between prunings of the notices remembered (in memory and in the store).
PRUNE_SECONDS = 3600.0
#: How long the store remembers a one-time notice (well beyond any notice's moment).
REMEMBER_DAYS = 7
#: The conditions whose last notice the store keeps: their keys, and the event of each state.
CONDITIONS = {"auth": ("auth_failing", "auth_ok"), "wallet": ("wallet_blocked", "wallet_unblocked")}


class Notifier:
    """Finds the notices due and hands each new one to the delivery (see the module)."""

    def __init__(
        self,
        *,
        delivery: Delivery,
        store: Store,
        board: Board,
        organization: OrganizationState,
        clock: Clock,
        events: Iterable[NotifyEvent],
        ahead: timedelta,
        console_url: str,
        may_act: Callable[[], bool] = always,
        zone_of: Callable[[str | None], str | None] = lambda _policy: None,
    ) -> None:
        """``zone_of`` returns a policy's time zone (for the times in the texts)."""
        self.delivery = delivery
        self._store = store
        self._board = board
        self._organization = organization
        self._clock = clock
        self.events = frozenset(events)
        self.ahead = ahead
        self._console_url = console_url
        self._may_act = may_act
        self._zone_of = zone_of
        self._noted: dict[str, datetime] = {}
        """Keys claimed or found claimed by this process, with their moment (not claimed again)."""
        self._failed: list[Notice] = []
        self._conditions: dict[str, str] = {}
        self._exceptions: list[ExceptionRecord] = []
        self._exceptions_revision: tuple[int, int] | None = None
        self._pruned_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        """Whether any webhook is configured and any event selected."""
        return self.delivery.enabled and bool(self.events)

    # --- Hooks -----------------------------------------------------------------------

    def note_cycle(self, summary: CycleSummary) -> None:
        """Keep the actions a cycle finished with an error, for the next check (the reconciler's hook)."""
        if not self.enabled or "action_failed" not in self.events or not summary.acting:
            return
        for report in summary.reports:
            if report.result != "error" or not report.new:
                continue
            key = f"action_failed:{report.action_id}" if report.action_id is not None else (
                f"action_failed:{report.deployment_id}:{report.action}:{iso(report.at)}"
            )
            detail = f": {report.message}" if report.message else ""
            self._failed.append(
                Notice(
                    event="action_failed",
                    key=key,
                    at=report.at,
                    text=f"{report.deployment_name}: {report.action} failed{detail} ({report.reason})",
                    state=report.action,
                    deployment=report.deployment_name,
                    deployment_id=report.deployment_id,
                    url=self._deployment_link(report.deployment_id),
                )
            )

    # --- The job -----------------------------------------------------------------------

    async def check(self) -> int:
        """Hand every new notice due now to the delivery; return how many. Only where this instance may act."""
        if not self.enabled:
            return 0
        if not self._may_act():
            self._failed.clear()
            return 0
        self.delivery.start()
        now = self._clock()
        due = [*self._upcoming(now), *self._take_failed(now), *await self._exception_notices(now)]
        sent = 0
        for notice in due:
            if await self._claim(notice):
                self.delivery.offer(notice)
                sent += 1
        sent += await self._condition_notices(now)
        await self._prune(now)
        return sent

    async def _claim(self, notice: Notice) -> bool:
        if notice.key in self._noted:
            return False
        try:
            claimed = await asyncio.to_thread(self._store.claim_notification, notice.key, notice.event, self._clock())
        except StoreError as error:
            log.warning(
                "notification_not_claimed",
                notice=notice.event,
                error=str(error),
                effect="tried again at the next check",
            )
            return False
        self._noted[notice.key] = notice.at
        return claimed

    # --- Upcoming transitions -----------------------------------------------------------

    def _upcoming(self, now: datetime) -> Iterator[Notice]:
        if "transition_upcoming" not in self.events:
            return
        board = self._board
        for deployment_id, change in list(board.next_changes.items()):
            if not now < change <= now + self.ahead:
                continue
            key = f"transition_upcoming:{deployment_id}:{iso(change)}"
            if key in self._noted:
                continue
            view = board.views.get(deployment_id)
            if view is None or view.resolution is None or view.resolution.desired is None:
                continue
            if view.resolution.suspended or view.next_change != change:
                continue
            following = board.next_state(view)
            if following is None or following.desired is None or following.suspended:
                continue
            before, after = view.resolution.desired, following.desired
            kind = reduction(before, after)
            if kind is None:
                continue
            name = view.deployment.deployment_name
            yield Notice(
                event="transition_upcoming",
                key=key,
                at=change,
                text=upcoming_text(name, kind, before, after, change, now, self._zone_of(view.resolution.policy)),
                state=after.describe(),
                deployment=name,
                deployment_id=deployment_id,
                url=self._deployment_link(deployment_id),
            )

    def _take_failed(self, now: datetime) -> list[Notice]:
        failed, self._failed = self._failed, []
        recent = now - timedelta(seconds=RECENT_SECONDS)
        return [notice for notice in failed if notice.at >= recent]

    # --- People's exceptions -------------------------------------------------------------

    async def _exception_notices(self, now: datetime) -> list[Notice]:
        wanted = self.events & {"exception_created", "exception_ended"}
        if not wanted:
            return []
        try:
            revision = await asyncio.to_thread(self._store.exceptions_revision)
            if revision != self._exceptions_revision:
                self._exceptions = await asyncio.to_thread(self._store.all_exceptions)
                self._exceptions_revision = revision
        except StoreError as error:
            log.warning("notification_exceptions_unreadable", error=str(error))
            return []
        recent = now - timedelta(seconds=RECENT_SECONDS)
        notices = []
        for record in self._exceptions:
            if "exception_created" in wanted and recent <= record.created_at <= now:
                notices.append(self._exception_notice(record, "exception_created", record.created_at))
            ended_at = record.ended_at or (record.until if record.until <= now else None)
            if "exception_ended" in wanted and ended_at is not None and recent <= ended_at <= now:
                notices.append(self._exception_notice(record, "exception_ended", ended_at))
        return [notice for notice in notices if notice.key not in self._noted]

    def _exception_notice(self, record: ExceptionRecord, event: NotifyEvent, at: datetime) -> Notice:
        target = {"deployment": record.target_name or record.target, "policy": f"policy {record.target}"}.get(
            record.target_kind, "every deployment"
        )
        what = "hands off (suspended)" if record.kind == "suspend" else f"kept {record.state}"
        if event == "exception_created":
            text = f"{target}: {what} until {iso(record.until)} by {record.created_by}: {record.reason}"
        elif record.ended_by is not None:
            text = f"{target}: the exception ({what}) was ended by {record.ended_by}; the policy applies again"
        else:
            text = f"{target}: the exception ({what}) ran out; the policy applies again"
        single = record.target_kind == "deployment" and len(record.deployment_ids) == 1
        deployment_id = record.deployment_ids[0] if single else None
        return Notice(
            event=event,
            key=f"{event}:{record.id}",
            at=at,
            text=text,
            state=record.state if record.kind == "override" else "suspended",
            deployment=record.target_name if single else None,
            deployment_id=deployment_id,
            url=self._deployment_link(deployment_id) if deployment_id is not None else self._console_link("exceptions"),
        )

    # --- The organization --------------------------------------------------------------------

    async def _condition_notices(self, now: datetime) -> int:
        organization = self._organization
        states = {
            "auth": None if organization.auth_ok is None else organization.auth_ok,
            "wallet": not organization.wallet_blocked if organization.wallet_known else None,
        }
        sent = 0
        for key, ok in states.items():
            if ok is None:
                continue
            trouble, cleared = CONDITIONS[key]
            event: NotifyEvent = cleared if ok else trouble  # type: ignore[assignment]
            if self._conditions.get(key) == event:
                continue
            try:
                changed, previous = await asyncio.to_thread(self._store.switch_notification, key, event, now)
            except StoreError as error:
                log.warning(
                    "notification_not_claimed", notice=event, error=str(error), effect="tried again at the next check"
                )
                continue
            self._conditions[key] = event
            if not changed or event not in self.events or (ok and previous != trouble):
                continue
            text = self._condition_text(event)
            self.delivery.offer(Notice(event=event, key=key, at=now, text=text, state=event, url=self._console_link()))
            sent += 1
        return sent

    def _condition_text(self, event: NotifyEvent) -> str:
        organization = self._organization
        return {
            "auth_failing": f"The platform refuses the scaler's token ({organization.auth_message}): "
            "nothing is started or stopped until a valid token is in place",
            "auth_ok": "The platform accepts the scaler's token again: schedules apply again",
            "wallet_blocked": f"The platform refuses starts and scale-ups: the wallet is blocked "
            f"({organization.wallet_message}); stops and scale-downs still go out",
            "wallet_unblocked": "The wallet is unblocked: starts and scale-ups go out again",
        }[event]

    # --- Links and memory --------------------------------------------------------------------

    def _console_link(self, page: str = "") -> str | None:
        """The console's page ``page`` (its overview by default), or ``None`` without a console URL."""
        return f"{self._console_url}/{page}" if self._console_url else None

    def _deployment_link(self, deployment_id: UUID) -> str | None:
        return f"{self._console_url}/deployments/{deployment_id}" if self._console_url else None

    async def _prune(self, now: datetime) -> None:
        """Once an hour: forget in memory the notices whose moment is long past, and in the store those
        older than :data:`REMEMBER_DAYS`."""
        if self._pruned_at is not None and now - self._pruned_at < timedelta(seconds=PRUNE_SECONDS):
            return
        self._pruned_at = now
        horizon = now - timedelta(seconds=RECENT_SECONDS) - self.ahead
        self._noted = {key: at for key, at in self._noted.items() if at >= horizon}
        try:
            await asyncio.to_thread(self._store.prune_notifications, now - timedelta(days=REMEMBER_DAYS), CONDITIONS)
        except StoreError as error:
            log.warning("notifications_not_pruned", error=str(error))
