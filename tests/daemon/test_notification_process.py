"""`scaler run` as a real process notifies a real webhook receiver in real time, ahead of a stop."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scaler.daemon.clock import iso
from tests.daemon.policies import document
from tests.processes import SimProcess, daemon_environment, scaler_command, start_logged
from tests.webhook_receiver import Receiver

SECRET = "B0T-9f8e7d6c5b4a-hook-secret"


@pytest.mark.integration
def test_the_upcoming_stop_is_posted_ahead_of_it_in_real_time(tmp_path: Path) -> None:
    """With the stop one to two minutes away and ``ahead`` ten seconds short of it, the notice arrives
    ten seconds after the start (within the one-second check), before the stop; the URL, read from a
    file, never shows in the daemon's log."""
    now = datetime.now(UTC)
    boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    ahead = (boundary - now).total_seconds() - 10.0
    started = time.monotonic()
    due = started + (boundary - now).total_seconds() - ahead
    window = f"{boundary:%H:%M}-{boundary + timedelta(hours=1):%H:%M}"
    policy = f"""
  - name: evening
    match: {{names: [llama-3-8b-chat]}}
    default: running
    windows:
      - name: evening
        between: "{window}"
        state: stopped
"""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(document(policy))
    with Receiver() as receiver, SimProcess() as simulator:
        urls = tmp_path / "webhooks"
        urls.write_text(f"# the team's channel\n{receiver.url(f'/hooks/{SECRET}')}\n")
        env = daemon_environment(
            simulator.url,
            policies=tmp_path / "policies",
            state_url=f"sqlite:///{tmp_path / 'state.db'}",
            SCALER_NOTIFY_WEBHOOK_URLS_FILE=str(urls),
            SCALER_NOTIFY_AHEAD_SECONDS=f"{ahead:.3f}",
            SCALER_CONSOLE_URL="http://scaler.test:9464",
        )
        daemon = start_logged("daemon", scaler_command("run"), env)
        try:
            (post,) = receiver.wait_for(1, timeout=60)
            daemon.wait_for("notification_delivered", timeout=10)
            daemon.process.send_signal(signal.SIGTERM)
            daemon.process.wait(timeout=40)
            daemon.read_to_end()
        finally:
            daemon.stop()
    assert ("transition_upcoming", "llama-3-8b-chat", iso(boundary), "stopped") == (
        post.body["event"], post.body["deployment"], post.body["at"], post.body["state"]
    )
    assert post.body["url"].startswith("http://scaler.test:9464/deployments/")
    # The check runs every second: the notice leaves within about a second of its moment, long before the stop.
    assert due - 0.5 <= post.at <= due + 3.0, (post.at - started, due - started)
    log = json.dumps([event.fields for event in daemon.events]) + "".join(daemon.rest)
    assert "notification_delivered" in log
    assert SECRET not in log
