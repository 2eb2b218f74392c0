"""Schedules end to end against the simulator: the calls leave at the right instants, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.daemon.harness import MONDAY, Harness, at_utc

OFFICE_AND_NIGHT = """
version: 1
policies:
  - name: office
    match: {names: [llama-3-8b-chat]}
    timezone: Europe/Berlin
    default: stopped
    windows:
      - name: office
        between: "Mon-Fri 08:00-19:00"
        state: {min_replicas: 1, max_replicas: 3}
  - name: night
    match: {names: [whisper-v3]}
    default: running
    windows:
      - name: night
        between: "22:00-06:00"
        state: stopped
"""


async def test_a_day_of_office_hours_and_a_night_stop(make_harness: Callable[..., Harness]) -> None:
    """Over a Monday the simulator receives exactly the calls of the two schedules, each at its boundary."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    await harness.cycle()
    await harness.run_until(MONDAY + timedelta(days=1, hours=3))
    assert [
        "Mon 03:00:00 llama-3-8b-chat stop -> 200",
        "Mon 03:00:00 whisper-v3 stop -> 200",
        "Mon 06:00:00 whisper-v3 start -> 200",
        "Mon 07:00:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 07:00:00 llama-3-8b-chat start -> 200",
        "Mon 18:00:00 llama-3-8b-chat stop -> 200",
        "Mon 22:00:00 whisper-v3 stop -> 200",
    ] == [str(call) for call in harness.calls()]
