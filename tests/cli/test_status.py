"""`scaler status` against a daemon's /status: what a person reads in each row and in the header.

The daemon runs on the harness's manual clock; `scaler status` reads the daemon's time from
the document (``daemon.now``), never the wall clock, so ages and "in 2h" are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import pytest

from scaler.daemon.http import create_http_app
from scaler.store import ExceptionRecord
from tests.cli.test_daemon_commands import invoke
from tests.client.serving import LoopbackServer
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import LLAMA_STOPPED, OFFICE, OFFICE_BERLIN, document

pytestmark = pytest.mark.usefixtures("restore_logging")

HEADER = ("DEPLOYMENT", "STATUS", "HEALTH", "POLICY", "DESIRED (SOURCE)", "NEXT CHANGE", "EXCEPTION", "LAST ACTION")


def status_text(harness: Harness, *args: str) -> str:
    with LoopbackServer(create_http_app(harness.daemon, harness.metrics)) as server:
        result = invoke("status", "--url", server.url, *args)
    assert 0 == result.exit_code, result.stderr
    return result.stdout


def row_of(text: str, name: str = "llama-3-8b-chat") -> dict[str, str]:
    """The deployment's row, cut into its columns at the header's column starts."""
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("DEPLOYMENT "))
    starts = [header.index(title) for title in HEADER]
    (row,) = [line for line in lines if line.startswith(name + " ")]
    ends = [*starts[1:], len(row) + 1]
    return {title: row[start:end].strip() for title, start, end in zip(HEADER, starts, ends, strict=True)}


async def test_last_action_survives_a_restart(make_harness: Callable[..., Harness]) -> None:
    """The stop sent before a restart is still the LAST ACTION after it (read from the audit log)."""
    harness = make_harness(document(LLAMA_STOPPED), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    harness.restart()
    harness.advance(minutes=5)
    await harness.cycle()
    assert "stop success 2026-03-02 06:00Z" == row_of(status_text(harness))["LAST ACTION"]
    entry = next(
        item
        for item in (await harness.daemon.status_document())["deployments"]
        if item["deployment_id"] == LLAMA_8B
    )
    assert ("stop", "success", "2026-03-02T06:00:00Z", "llama") == tuple(
        entry["last_action"][key] for key in ("action", "result", "at", "policy")
    )


async def test_a_scaled_down_deployment_shows_health_scaled_down(make_harness: Callable[..., Harness]) -> None:
    """Stopped at 19:00 after a Healthy poll: HEALTH says SCALED_DOWN at once, not the last running value."""
    harness = make_harness(document(OFFICE), start=at_utc(MONDAY, "09:00"))
    await harness.cycle()
    await harness.poll_health()
    harness.at(at_utc(MONDAY, "19:00"))
    await harness.cycle()
    row = row_of(status_text(harness))
    assert ("SCALED_DOWN", "SCALED_DOWN") == (row["STATUS"], row["HEALTH"])


async def test_a_health_value_shows_its_age(make_harness: Callable[..., Harness]) -> None:
    """Observed at 09:00, shown at 09:05: `Healthy (5m ago)`."""
    harness = make_harness(document(OFFICE), start=at_utc(MONDAY, "09:00"))
    await harness.cycle()
    await harness.poll_health()
    harness.at(at_utc(MONDAY, "09:05"))
    await harness.cycle()
    assert "Healthy (5m ago)" == row_of(status_text(harness))["HEALTH"]


async def test_drift_is_marked_while_enforce_is_off(make_harness: Callable[..., Harness]) -> None:
    """Stopped by the policy, started by a person: DEPLOYED while stopped is wanted, marked as drift."""
    harness = make_harness(document(LLAMA_STOPPED), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "DEPLOYED"})
    harness.advance(minutes=1)
    await harness.cycle()
    assert [] == [call for call in harness.calls() if call.at > at_utc(MONDAY, "06:00")]  # respected, not corrected
    row = row_of(status_text(harness))
    assert "DEPLOYED (drift)" == row["STATUS"]
    entry = next(
        item
        for item in (await harness.daemon.status_document())["deployments"]
        if item["deployment_id"] == LLAMA_8B
    )
    assert entry["drift"] is True


async def test_no_drift_when_the_platform_agrees(make_harness: Callable[..., Harness]) -> None:
    """Stopped as wanted: no drift mark."""
    harness = make_harness(document(LLAMA_STOPPED), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    assert "SCALED_DOWN" == row_of(status_text(harness))["STATUS"]


async def test_times_are_shown_in_the_policys_zone_beside_utc(make_harness: Callable[..., Harness]) -> None:
    """Office hours in Berlin: the next change reads 08:00 CET beside 07:00Z, as `scaler plan` shows it."""
    harness = make_harness(document(OFFICE_BERLIN), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    row = row_of(status_text(harness))
    assert "min=1 max=3 at 2026-03-02 08:00 CET / 07:00Z (in 1h)" == row["NEXT CHANGE"]
    assert "stop success 2026-03-02 07:00 CET / 06:00Z" == row["LAST ACTION"]


async def test_the_header_shows_the_first_line_of_the_last_reload_error(
    make_harness: Callable[..., Harness],
) -> None:
    """A rejected reload: the header says `last reload error:` and the first problem, not just `error`."""
    harness = make_harness(document(LLAMA_STOPPED), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    (harness.policy_path / "policies.yaml").write_text(document(LLAMA_STOPPED).replace("stopped", "stoped"))
    await harness.daemon.check_policies()
    header = status_text(harness).splitlines()[0]
    first = harness.daemon.policies.last_error[0].splitlines()[0]
    assert f"(last reload error: {first})" in header
    assert "'stoped' is not a state" in header


async def test_a_new_deployment_shows_its_grace_period_and_when_it_ends(make_harness: Callable[..., Harness]) -> None:
    """A deployment that appears after the first inventory reads `unchanged (grace)`, its next change being
    the policy's state when the grace period ends, 15 minutes after it was first seen."""
    late = "\n  - name: late\n    match: {names: [late-llm]}\n    default: stopped\n"
    harness = make_harness(document(late), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    harness.advance(minutes=5)
    await harness.control("POST", "deployments", {
        "deployment_id": "6b1f0c2e-0000-4000-8000-0000000000a1", "deployment_name": "late-llm",
        "model_repo_name": "late-llm", "status": "DEPLOYED",
    })
    await harness.cycle()
    row = row_of(status_text(harness), "late-llm")
    assert ("unchanged (grace)", "stopped at 2026-03-02 06:20Z (in 15m)") == (row["DESIRED (SOURCE)"], row["NEXT CHANGE"])


async def test_each_active_exception_shows_its_kind_until_author_and_reason(
    make_harness: Callable[..., Harness],
) -> None:
    """A deployment covered by a suspension and an override shows both in its EXCEPTION column,
    each with its kind (and state), its end, who made it and why; one without shows `-`."""
    harness = make_harness(document(OFFICE), start=at_utc(MONDAY, "06:00"))
    names = {UUID(LLAMA_8B): "llama-3-8b-chat"}
    harness.store.create_exception(exception_of("o1", "override", until=at_utc(MONDAY, "09:00"), state="min=2 max=4"), names)
    harness.store.create_exception(exception_of("s1", "suspend", until=at_utc(MONDAY, "07:30"), by="bob"), names)
    await harness.cycle()
    text = status_text(harness)
    assert (
        "override min=2 max=4 until 2026-03-02 09:00Z (in 3h) by alice: eval tonight; "
        "suspend until 2026-03-02 07:30Z (in 1h30m) by bob: eval tonight"
    ) == row_of(text)["EXCEPTION"]
    assert "-" == row_of(text, "whisper-v3")["EXCEPTION"]


def exception_of(exception_id: str, kind: str, *, until: datetime, state: str | None = None, by: str = "alice") -> ExceptionRecord:
    """An exception of llama-3-8b-chat made at the harness's start (Monday 06:00)."""
    return ExceptionRecord(
        id=exception_id, kind=kind, target_kind="deployment", target=LLAMA_8B, target_name="llama-3-8b-chat",  # type: ignore[arg-type]
        deployment_ids=(UUID(LLAMA_8B),), created_at=at_utc(MONDAY, "06:00"), until=until,
        reason="eval tonight", created_by=by, state=state,
    )  # fmt: skip
