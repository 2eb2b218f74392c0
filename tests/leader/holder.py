"""A process that takes the leader lock and keeps it, for the failover tests.

Run as ``python -m tests.leader.holder STATE_URL IDENTITY [H L C D]``: starts an elector
with the default timing (or these heartbeat, lease, campaign and takeover delay seconds),
takes the lock at its first campaign (no one else holds it), prints ``leader``, then
heartbeats until killed. Exits 1 when the lock is taken already.
"""

from __future__ import annotations

import asyncio
import sys

from scaler.logs import configure_logging
from scaler.store.leader import LeaderTiming, PostgresElector, open_elector


async def hold(url: str, identity: str, timing: LeaderTiming) -> None:
    """Take the lock, say so, and keep it forever."""
    elector = open_elector(url, identity=identity, timing=timing)
    assert isinstance(elector, PostgresElector)
    await elector.start()
    if not elector.holds_lock:
        sys.exit("the leader lock is held by another instance")
    print("leader", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    configure_logging(log_format="json", log_level="warning")
    periods = [float(arg) for arg in sys.argv[3:7]]
    asyncio.run(hold(sys.argv[1], sys.argv[2], LeaderTiming(*periods)))
