"""Policy documents the daemon tests share, written against the simulator's default seed.

Each constant is one policy entry; :func:`document` makes a file of several.
"""

from __future__ import annotations


def document(*policies: str) -> str:
    """Return a policy file holding ``policies`` (entries as below)."""
    return "version: 1\npolicies:\n" + "".join(policies)


#: llama-3-8b-chat runs with 1..3 replicas Monday to Friday 08:00-19:00 UTC, else it is stopped.
OFFICE = """
  - name: office
    match: {names: [llama-3-8b-chat]}
    default: stopped
    windows:
      - name: office
        between: "Mon-Fri 08:00-19:00"
        state: {min_replicas: 1, max_replicas: 3}
"""

#: The same office hours in Berlin (UTC+1 in March: 07:00-18:00 UTC).
OFFICE_BERLIN = OFFICE.replace("    default: stopped\n", "    timezone: Europe/Berlin\n    default: stopped\n")

#: whisper-v3 runs (bounds left alone) except 22:00-06:00 UTC, when it is stopped.
NIGHT = """
  - name: night
    match: {names: [whisper-v3]}
    default: running
    windows:
      - name: night
        between: "22:00-06:00"
        state: stopped
"""

#: reranker-ms-marco is restarted after 5 minutes Unhealthy, at most twice a day, 10 minutes apart.
RESTART = """
  - name: restart
    match: {names: [reranker-ms-marco]}
    health:
      - name: unhealthy-restart
        status: Unhealthy
        for: 5m
        action: restart
        cooldown: 10m
        max_per_day: 2
"""

#: embeddings-bge-large shrinks to 1..1 after 10 minutes Degraded, back to 2..4 after 5 minutes Healthy.
SHRINK = """
  - name: shrink
    match: {names: [embeddings-bge-large]}
    default: {min_replicas: 2, max_replicas: 4}
    health:
      - name: degraded-shrink
        status: Degraded
        for: 10m
        state: {min_replicas: 1, max_replicas: 1}
        recover_for: 5m
        cooldown: 30m
"""

#: tmp-eval-qwen-32b runs, and expires an hour after the scaler first saw it.
EXPIRE = """
  - name: temporary
    match: {names: ["tmp-*"]}
    default: running
    expire: {after: 1h}
"""

#: llama-3-8b-chat is always stopped.
LLAMA_STOPPED = """
  - name: llama
    match: {names: [llama-3-8b-chat]}
    default: stopped
"""
