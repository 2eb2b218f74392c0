"""`scaler suspend`, `override`, `resume`, `exceptions`, `keys new` and `status` against a daemon's control API."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from scaler.daemon.api.keys import hash_key, parse_keys
from scaler.daemon.http import create_http_app
from tests.cli.test_daemon_commands import invoke
from tests.client.serving import LoopbackServer
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import OFFICE, document

pytestmark = pytest.mark.usefixtures("restore_logging")

KEY = "operator-key-for-the-cli-tests"


@pytest.fixture
async def harness(make_harness: Callable[..., Harness], tmp_path: Path) -> Harness:  # noqa: F811
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"- {{name: alice, role: operator, sha256: {hash_key(KEY)}}}\n")
    built = make_harness(document(OFFICE), start=at_utc(MONDAY, "06:00"), api_keys_file=keys)
    await built.cycle()
    return built


def test_override_prints_the_exception_and_status_shows_it(harness: Harness, tmp_path: Path) -> None:
    """One command keeps a stopped deployment up: the exception is printed (id, target, deployments,
    until in local time and UTC, by), and `scaler status` shows who did it and why."""
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    with LoopbackServer(create_http_app(harness.daemon, harness.metrics)) as server:
        made = invoke(
            "override", "llama-3-8b-chat", "--running", "--for", "3h", "--reason", "eval tonight",
            "--url", server.url, SCALER_CONTROL_KEY_FILE=str(key_file),
        )  # fmt: skip
        listed = invoke("exceptions", "--url", server.url, "-o", "json", SCALER_CONTROL_KEY_FILE=str(key_file))
    assert 0 == made.exit_code, made.stderr
    lines = made.stdout.splitlines()
    assert re.fullmatch(rf"exception [0-9a-f]{{12}}: override to running of llama-3-8b-chat \({LLAMA_8B}\)", lines[0])
    assert f"  deployments: llama-3-8b-chat ({LLAMA_8B})" == lines[1]
    assert lines[2].startswith("  until: ") and lines[2].endswith("Z)")
    assert "  by: alice: eval tonight" == lines[3]
    assert ["eval tonight"] == [item["reason"] for item in json.loads(listed.stdout)["exceptions"]]


def test_without_a_key_the_daemon_refuses_and_says_which_setting(harness: Harness) -> None:
    """No key: exit 1 naming SCALER_CONTROL_KEY_FILE; nothing stored."""
    with LoopbackServer(create_http_app(harness.daemon, harness.metrics)) as server:
        result = invoke("suspend", "--all", "--for", "30m", "--reason", "incident 4711", "--url", server.url)
    assert 1 == result.exit_code
    assert "HTTP 401" in result.stderr and "SCALER_CONTROL_KEY_FILE" in result.stderr
    assert [] == harness.store.all_exceptions()


def test_suspend_all_then_resume_all(harness: Harness) -> None:
    """An on-call pauses everything with one command and ends it with another."""
    with LoopbackServer(create_http_app(harness.daemon, harness.metrics)) as server:
        paused = invoke("suspend", "--all", "--for", "30m", "--reason", "incident 4711", "--url", server.url,
                        SCALER_CONTROL_KEY=KEY)  # fmt: skip
        resumed = invoke("resume", "--all", "--url", server.url, SCALER_CONTROL_KEY=KEY)
    assert (0, 0) == (paused.exit_code, resumed.exit_code), paused.stderr + resumed.stderr
    assert "suspension of all deployments" in paused.stdout and "ended: " in resumed.stdout
    assert [] == harness.store.active_exceptions(harness.now())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--running", "--for", "1h", "--reason", "x"), "name exactly one target"),
        (("llama-3-8b-chat", "--for", "1h", "--reason", "x"), "give one of --running, --stopped, or --min with --max"),
        (("llama-3-8b-chat", "--min", "2", "--for", "1h", "--reason", "x"), "--min and --max go together"),
        (("llama-3-8b-chat", "--running", "--for", "31d", "--reason", "x"), "at most 30 days"),
    ],
)
def test_override_usage_mistakes_exit_2(args: tuple[str, ...], message: str) -> None:
    """A missing or doubled target, no state, half a range, too long: exit 2 before anything is sent."""
    result = invoke("override", *args, "--url", "http://127.0.0.1:9")
    assert 2 == result.exit_code
    assert message in result.stderr


def test_override_through_the_store_when_the_daemon_is_down(harness: Harness) -> None:
    """--state-url records the override in the store as $USER."""
    result = invoke(
        "override", "llama-3-8b-chat", "--min", "2", "--max", "4", "--for", "1h", "--reason", "launch",
        "--state-url", harness.settings.state_url, USER="carol",
    )  # fmt: skip
    assert 0 == result.exit_code, result.stderr
    (exception,) = harness.store.all_exceptions()
    assert ("override", "min=2 max=4", "carol") == (exception.kind, exception.state, exception.created_by)


def test_keys_new_prints_a_key_once_and_its_line() -> None:
    """The key and a keys-file line that holds only its hash (and parses as the daemon reads it)."""
    result = invoke("keys", "new", "alice", "--role", "operator")
    assert 0 == result.exit_code, result.stderr
    key = result.stdout.splitlines()[0].rsplit(" ", 1)[1]
    line = result.stdout.splitlines()[-1]
    (entry,) = parse_keys(line, "keys.yaml")
    assert ("alice", "operator", hash_key(key)) == (entry.name, entry.role, entry.sha256)
    assert key not in line
