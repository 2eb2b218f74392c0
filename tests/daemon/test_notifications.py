"""Webhook notices against a real HTTP receiver: when they leave, once, retried, never in the way, never
leaking the URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from structlog.testing import capture_logs

from scaler.daemon.notify import Delivery
from scaler.store import ExceptionRecord, new_exception_id
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc, no_sleep
from tests.daemon.policies import OFFICE_BERLIN, document
from tests.webhook_receiver import Receiver

#: The token part of the webhook's URL: it must never show in a log.
SECRET = "T0KEN-abcdef-0123456789-s3cret"
CONSOLE = "https://scaler.example.com"
#: llama-3-8b-chat stops at 19:00 Berlin (18:00 UTC) on Monday.
STOP = at_utc(MONDAY, "18:00")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def notifying(make_harness: Callable[..., Harness], receiver: Receiver, **settings: Any) -> Harness:
    """A harness whose daemon posts to ``receiver`` (the URL carrying :data:`SECRET`), at 17:30 UTC."""
    options: dict[str, Any] = {
        "start": at_utc(MONDAY, "17:30"),
        "notify_webhook_urls": receiver.url(f"/hooks/{SECRET}"),
        "console_url": CONSOLE,
        **settings,
    }
    return make_harness(document(OFFICE_BERLIN), **options)


async def test_the_upcoming_stop_is_notified_ahead_of_the_boundary(
    make_harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """Nothing a second before 17:45 (900 s ahead of the 18:00 stop); at 17:45 one notice with the
    time in the policy's zone, the command that keeps the deployment up and the console link."""
    harness = notifying(make_harness, receiver)
    await harness.cycle()
    harness.at(STOP - timedelta(seconds=901))
    assert 0 == await harness.daemon.notifier.check()
    harness.at(STOP - timedelta(seconds=900))
    assert 1 == await harness.daemon.notifier.check()
    await harness.daemon.notifier.delivery.join()
    (post,) = receiver.wait_for(1)
    assert f"/hooks/{SECRET}" == post.path
    assert {
        "event": "transition_upcoming",
        "deployment": "llama-3-8b-chat",
        "deployment_id": LLAMA_8B,
        "at": "2026-03-02T18:00:00Z",
        "state": "stopped",
        "text": "llama-3-8b-chat stops at 19:00 CET (in 15 min). Keep it up: scaler override llama-3-8b-chat "
        "--running --for 2h --reason 'needed tonight'",
        "url": f"{CONSOLE}/deployments/{LLAMA_8B}",
    } == post.body
    assert 1.0 == harness.sample("scaler_notifications_total", event="transition_upcoming", result="delivered")


async def test_the_notice_is_sent_once_across_checks_and_a_restart(
    make_harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """Later checks, and a restarted daemon on the same store, do not send the transition's notice again;
    the next day's stop has a notice of its own."""
    harness = notifying(make_harness, receiver)
    await harness.cycle()
    harness.at(STOP - timedelta(minutes=10))
    assert 1 == await harness.daemon.notifier.check()
    harness.advance(seconds=1)
    assert 0 == await harness.daemon.notifier.check()
    await harness.daemon.notifier.delivery.join()
    await harness.daemon.notifier.delivery.aclose()
    harness.restart()
    await harness.cycle()
    harness.advance(seconds=1)
    assert 0 == await harness.daemon.notifier.check()
    harness.at(STOP + timedelta(days=1, minutes=-10))
    await harness.cycle()
    assert 1 == await harness.daemon.notifier.check()
    await harness.daemon.notifier.delivery.join()
    assert ["2026-03-02T18:00:00Z", "2026-03-03T18:00:00Z"] == [post.body["at"] for post in receiver.wait_for(2)]


async def test_a_standby_sends_nothing(make_harness: Callable[..., Harness], receiver: Receiver) -> None:
    """An instance that may not act finds the notice due but leaves it to the leader."""
    harness = notifying(make_harness, receiver)
    await harness.cycle()
    standby, _registry = harness.replica(may_act=lambda: False)
    await standby.inventory_cycle()
    harness.at(STOP - timedelta(minutes=10))
    assert 0 == await standby.notifier.check()
    assert 1 == await harness.daemon.notifier.check()


async def test_a_receiver_answering_500_then_200_gets_the_notice_once(make_harness: Callable[..., Harness]) -> None:
    """A 5xx is retried; the notice is delivered with the first 2xx, and no more is posted."""
    with Receiver(statuses=[500, 503]) as receiver:
        harness = notifying(make_harness, receiver)
        daemon = harness.daemon
        daemon.notifier.delivery = Delivery(harness.settings.webhook_urls, metrics=harness.metrics, sleep=no_sleep)
        await harness.cycle()
        harness.at(STOP - timedelta(minutes=15))
        await daemon.notifier.check()
        await daemon.notifier.delivery.join()
        assert 3 == len(receiver.wait_for(3))
        assert 1 == len({post.body["at"] for post in receiver.received})
    assert 1.0 == harness.sample("scaler_notifications_total", event="transition_upcoming", result="delivered")
    assert 0.0 == harness.sample("scaler_notifications_total", event="transition_upcoming", result="failed")


async def test_a_4xx_is_not_retried(make_harness: Callable[..., Harness]) -> None:
    """A receiver answering 404 gets the notice once: it is rejected, not retried."""
    with Receiver(statuses=[404, 404]) as receiver:
        harness = notifying(make_harness, receiver)
        harness.daemon.notifier.delivery = Delivery(
            harness.settings.webhook_urls, metrics=harness.metrics, sleep=no_sleep
        )
        await harness.cycle()
        harness.at(STOP - timedelta(minutes=15))
        await harness.daemon.notifier.check()
        await harness.daemon.notifier.delivery.join()
        assert 1 == len(receiver.received)
    assert 1.0 == harness.sample("scaler_notifications_total", event="transition_upcoming", result="rejected")


async def test_a_hanging_receiver_delays_no_boundary(make_harness: Callable[..., Harness]) -> None:
    """While the receiver holds the notice's post unanswered, the 18:00 stop leaves at 18:00."""
    with Receiver(hang=True) as receiver:
        harness = notifying(make_harness, receiver)
        await harness.cycle()
        harness.at(STOP - timedelta(minutes=15))
        await harness.daemon.notifier.check()
        await asyncio.to_thread(receiver.wait_for, 1)
        harness.at(STOP)
        await asyncio.wait_for(harness.daemon.wake_up(), timeout=5)
        assert ["Mon 18:00:00 llama-3-8b-chat stop -> 200"] == [
            str(call) for call in harness.calls() if call.at == STOP
        ]
        assert 1 == len(receiver.received)
        await harness.daemon.notifier.delivery.aclose()


async def test_a_full_queue_drops_the_oldest_and_counts_it(make_harness: Callable[..., Harness]) -> None:
    """With room for one notice and the first post hanging, a third notice pushes out the second."""
    with Receiver(hang=True) as receiver:
        harness = notifying(make_harness, receiver, notify_events="exception_created")
        delivery = Delivery(harness.settings.webhook_urls, metrics=harness.metrics, capacity=1)
        harness.daemon.notifier.delivery = delivery
        await harness.cycle()
        for reason in ("first", "second", "third"):
            harness.store.create_exception(
                ExceptionRecord(
                    id=new_exception_id(),
                    kind="override",
                    target_kind="deployment",
                    target=LLAMA_8B,
                    target_name="llama-3-8b-chat",
                    deployment_ids=(UUID(LLAMA_8B),),
                    state="running",
                    created_at=harness.now(),
                    until=harness.now() + timedelta(hours=2),
                    reason=reason,
                    created_by="alice",
                )
            )
            await harness.daemon.notifier.check()
            if reason == "first":
                await asyncio.to_thread(receiver.wait_for, 1)
        receiver.release()
        await delivery.join()
        assert [True, False, True] == [
            any(reason in post.body["text"] for post in receiver.received) for reason in ("first", "second", "third")
        ]
    assert 1.0 == harness.sample("scaler_notifications_total", event="exception_created", result="dropped")
    assert 2.0 == harness.sample("scaler_notifications_total", event="exception_created", result="delivered")


def _refusing_connections() -> Receiver:
    """A receiver never started: its port refuses connections."""
    closed = Receiver()
    closed.server.server_close()
    return closed


async def _logs_of_the_upcoming_stop(harness: Harness) -> list[dict[str, Any]]:
    """The log entries of notifying the upcoming stop to every webhook, retries given up after 0.5 s."""
    harness.daemon.notifier.delivery = Delivery(
        harness.settings.webhook_urls, metrics=harness.metrics, sleep=no_sleep, give_up_seconds=0.5
    )
    with capture_logs() as logs:
        await harness.cycle()
        harness.at(STOP - timedelta(minutes=15))
        await harness.daemon.notifier.check()
        await harness.daemon.notifier.delivery.join()
    return logs


async def test_the_secret_of_the_url_never_shows_in_logs(make_harness: Callable[..., Harness]) -> None:
    """Through a 500, a 404 and a refused connection, the log names the webhook by its origin alone."""
    with Receiver(statuses=[500, 404]) as receiver:
        closed = _refusing_connections()
        urls = f"{receiver.url(f'/hooks/{SECRET}')},{closed.url(f'/hooks/{SECRET}?token={SECRET}')}"
        harness = notifying(make_harness, receiver, notify_webhook_urls=urls)
        logs = await _logs_of_the_upcoming_stop(harness)
    names = {entry["event"] for entry in logs}
    assert {"notification_retrying", "notification_rejected", "notification_failed"} <= names
    assert [] == [entry for entry in logs if SECRET in repr(entry)]
    assert {f"{receiver.origin}/***", f"{closed.origin}/***"} == {
        entry["webhook"] for entry in logs if entry["event"].startswith("notification_")
    }
    assert SECRET not in repr(harness.settings) + repr(harness.settings.public_view())
    assert SECRET not in harness.metrics.exposition().decode()


async def test_each_settled_notice_is_logged_with_its_webhook_event_deployment_and_effect(
    make_harness: Callable[..., Harness],
) -> None:
    """A rejected notice and one given up are logged as warnings naming the webhook, the event, the
    deployment, the error and what follows; a delivered one at info with the first three alone."""
    with Receiver(statuses=[404]) as refusing, Receiver() as accepting:
        closed = _refusing_connections()
        urls = f"{refusing.url('/hooks/a')},{closed.url('/hooks/b')},{accepting.url('/hooks/c')}"
        harness = notifying(make_harness, refusing, notify_webhook_urls=urls)
        logs = await _logs_of_the_upcoming_stop(harness)
    settled = {
        entry["event"]: entry
        for entry in logs
        if entry["event"] in ("notification_rejected", "notification_failed", "notification_delivered")
    }
    assert {"notification_rejected", "notification_failed", "notification_delivered"} == set(settled)
    for entry in settled.values():
        assert "transition_upcoming" == entry["notice"]
        assert entry["deployment"]
    rejected, failed = settled["notification_rejected"], settled["notification_failed"]
    assert ("warning", f"{refusing.origin}/***") == (rejected["log_level"], rejected["webhook"])
    assert rejected["error"].startswith("answered 404")
    assert "not retried: check the webhook URL and what the receiver expects" == rejected["effect"]
    assert ("warning", f"{closed.origin}/***") == (failed["log_level"], failed["webhook"])
    assert "given up after 0.5 s of retries" == failed["effect"]
    delivered = settled["notification_delivered"]
    assert ("info", f"{accepting.origin}/***") == (delivered["log_level"], delivered["webhook"])
    assert {"event", "log_level", "webhook", "notice", "deployment"} == set(delivered)


async def test_a_failed_action_is_notified(make_harness: Callable[..., Harness], receiver: Receiver) -> None:
    """A stop the platform refuses (after the client's retries) is announced as action_failed."""
    harness = notifying(make_harness, receiver, notify_events="action_failed")
    await harness.cycle()
    await harness.control("POST", "faults/fail-next", {"endpoint": "startstop", "status": 400, "count": 10})
    harness.at(STOP)
    await harness.daemon.wake_up()
    assert 1 == await harness.daemon.notifier.check()
    await harness.daemon.notifier.delivery.join()
    (post,) = receiver.wait_for(1)
    assert ("action_failed", "llama-3-8b-chat", "stop") == (
        post.body["event"], post.body["deployment"], post.body["state"]
    )


async def test_a_refused_token_is_notified_once_and_its_end_once(
    make_harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """auth_failing when the platform refuses the token (not again at each probe, nor after a restart),
    auth_ok when it accepts it again; the first acceptance ever is no news."""
    harness = notifying(make_harness, receiver, notify_events="auth_failing,auth_ok")
    await harness.cycle()
    assert 0 == await harness.daemon.notifier.check()
    harness.sim.token = "rotated-token"
    harness.advance(minutes=1)
    await harness.cycle()
    assert 1 == await harness.daemon.notifier.check()
    harness.advance(minutes=1)
    await harness.daemon.probe()
    assert 0 == await harness.daemon.notifier.check()
    await harness.daemon.notifier.delivery.join()
    await harness.daemon.notifier.delivery.aclose()
    harness.restart()
    harness.advance(minutes=1)
    await harness.cycle()
    assert 0 == await harness.daemon.notifier.check()
    harness.sim.token = "sim-token"
    harness.advance(minutes=1)
    await harness.daemon.probe()
    assert 1 == await harness.daemon.notifier.check()
    await harness.daemon.notifier.delivery.join()
    assert ["auth_failing", "auth_ok"] == [post.body["event"] for post in receiver.wait_for(2)]
    assert (None, None, f"{CONSOLE}/") == (
        receiver.received[0].body["deployment"], receiver.received[0].body["deployment_id"],
        receiver.received[0].body["url"],
    )


async def test_an_exception_is_notified_when_created_and_when_it_runs_out(
    make_harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """A person's override is announced when created (who, until, why) and when its time runs out."""
    harness = notifying(make_harness, receiver, notify_events="exception_created,exception_ended")
    await harness.cycle()
    until = harness.now() + timedelta(hours=1)
    harness.store.create_exception(
        ExceptionRecord(
            id=new_exception_id(), kind="override", target_kind="deployment", target=LLAMA_8B,
            target_name="llama-3-8b-chat", deployment_ids=(UUID(LLAMA_8B),), state="running",
            created_at=harness.now(), until=until, reason="eval tonight", created_by="alice",
        )
    )
    assert 1 == await harness.daemon.notifier.check()
    harness.at(until - timedelta(seconds=1))
    assert 0 == await harness.daemon.notifier.check()
    harness.at(until)
    assert 1 == await harness.daemon.notifier.check()
    await harness.daemon.notifier.delivery.join()
    created, ended = (post.body for post in receiver.wait_for(2))
    assert ("exception_created", "llama-3-8b-chat: kept running until 2026-03-02T18:30:00Z by alice: eval tonight",
            "running", f"{CONSOLE}/deployments/{LLAMA_8B}") == (
        created["event"], created["text"], created["state"], created["url"]
    )
    assert ("exception_ended", "llama-3-8b-chat: the exception (kept running) ran out; the policy applies again") == (
        ended["event"], ended["text"]
    )


async def test_a_blocked_wallet_is_notified_and_its_end(
    make_harness: Callable[..., Harness], receiver: Receiver
) -> None:
    """The 07:00 start answered 402 makes wallet_blocked; the probe's start going through makes wallet_unblocked."""
    harness = notifying(
        make_harness, receiver, start=at_utc(MONDAY, "06:30"), notify_events="wallet_blocked,wallet_unblocked"
    )
    await harness.cycle()
    assert 0 == await harness.daemon.notifier.check()
    await harness.control("PUT", "wallet", {"blocked": True})
    await harness.run_until(at_utc(MONDAY, "07:01"), interval=timedelta(minutes=30))
    assert 1 == await harness.daemon.notifier.check()
    await harness.control("PUT", "wallet", {"blocked": False})
    await harness.run_until(at_utc(MONDAY, "07:20"), interval=timedelta(minutes=30))
    assert 1 == await harness.daemon.notifier.check()
    await harness.daemon.notifier.delivery.join()
    assert ["wallet_blocked", "wallet_unblocked"] == [post.body["event"] for post in receiver.wait_for(2)]
