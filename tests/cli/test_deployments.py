"""`scaler deployments ...` against the simulator served on a loopback port, as a user runs it.

Each test invokes the command line with CliRunner and the environment a user would set,
then checks stdout, the one-line stderr, the exit status, and what reached the platform
(the simulator's request log and its own view of the deployment).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from scaler.cli.main import main
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.sim.state import SimState
from tests.client.serving import LoopbackServer

WHISPER = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"
WHISPER_REPO = "0caac439-5518-4569-a3db-a2d505a189f2"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


class ServedSim:
    """The simulator on a loopback port and a way to drive its control API."""

    def __init__(self, server: LoopbackServer) -> None:
        self.url = server.url
        self.control = httpx.Client(base_url=f"{server.url}/_sim")

    def ctl(self, method: str, path: str, body: Any = None) -> Any:
        response = self.control.request(method, path, json=body)
        assert response.is_success, response.text
        return response.json()

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        return self.ctl("GET", "/requests" + (f"?endpoint={endpoint}" if endpoint else ""))["requests"]

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        return self.ctl("GET", f"/deployments/{deployment_id}")


@pytest.fixture(scope="module")
def served() -> Iterator[ServedSim]:
    state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH), clock=ManualClock())
    with LoopbackServer(create_app(state)) as server:
        sim = ServedSim(server)
        yield sim
        sim.control.close()


@pytest.fixture
def sim(served: ServedSim) -> ServedSim:
    """The served simulator, back at its seed with no faults and an empty request log."""
    served.ctl("POST", "/reset")
    return served


#: The commands configure logging onto CliRunner's streams; undo that after each test.
pytestmark = pytest.mark.usefixtures("restore_logging")


def run(sim: ServedSim | None, *args: str, input: str | None = None, **env: str | None) -> Result:
    """Invoke `scaler deployments ARGS` with the environment pointing at ``sim``."""
    environment: dict[str, str | None] = {
        "SCALER_API_URL": sim.url if sim else None,
        "SCALER_API_TOKEN": DEFAULT_TOKEN,
        "SCALER_API_TOKEN_FILE": None,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
        "SCALER_LOG_FORMAT": "json",
        "SCALER_LOG_LEVEL": None,
        "SCALER_API_RETRY_ATTEMPTS": "1",
    }
    environment.update(env)
    return CliRunner().invoke(main, ["deployments", *args], env=environment, input=input)


def assert_one_line_failure(result: Result, code: int, *fragments: str) -> str:
    """The command failed with ``code``, nothing on stdout, one `error:` line on stderr holding ``fragments``."""
    assert code == result.exit_code, result.output + result.stderr
    lines = result.stderr.splitlines()
    assert 1 == len(lines), result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


# --- list ------------------------------------------------------------------------------


def test_list_prints_an_aligned_table_of_every_deployment(sim: ServedSim) -> None:
    """One header, one row per listed deployment, a count line; nothing on stderr."""
    listed = [item for item in sim.ctl("GET", "/deployments") if item["listed"]]
    result = run(sim, "list")
    assert 0 == result.exit_code, result.stderr
    lines = result.stdout.splitlines()
    assert ["ID", "NAME", "STATUS", "ACCELERATOR", "COUNT", "MODEL", "REPO"] == lines[0].split()
    assert f"{len(listed)} deployments" == lines[-1]
    rows = lines[1:-2]
    assert len(listed) == len(rows)
    assert {item["deployment_id"] for item in listed} == {row.split()[0] for row in rows}
    assert 1 == len({row.index(row.split()[1]) for row in rows})  # the NAME column starts at one place
    assert "" == result.stderr


def test_list_shows_the_status_and_accelerator_of_a_row(sim: ServedSim) -> None:
    """The contract's example deployment appears with its name, status, accelerator and count."""
    result = run(sim, "list")
    (row,) = [line for line in result.stdout.splitlines() if line.startswith(WHISPER)]
    assert [WHISPER, "whisper-v3", "DEPLOYED", "nvidia-tesla-t4", "1", "whisper-v3-arabic-h100"] == row.split()


def test_list_filters_by_model_repo_id(sim: ServedSim) -> None:
    """--model-repo-id lists only that container's deployments and travels as the query parameter."""
    result = run(sim, "list", "--model-repo-id", WHISPER_REPO, "--output", "json")
    items = json.loads(result.stdout)
    assert {WHISPER_REPO} == {item["model_repo_id"] for item in items}
    assert {"model_repo_id": WHISPER_REPO} == sim.requests("list_deployments")[0]["query"]


def test_list_json_is_the_typed_models(sim: ServedSim) -> None:
    """--output json prints a JSON array of deployments with status and raw status."""
    sim.ctl("PUT", f"/deployments/{WHISPER}/status", {"status": "STOPPED"})
    result = run(sim, "list", "-o", "json")
    by_id = {item["deployment_id"]: item for item in json.loads(result.stdout)}
    expected = {
        "deployment_id": WHISPER,
        "deployment_name": "whisper-v3",
        "model_repo_id": WHISPER_REPO,
        "model_repo_name": "whisper-v3-arabic-h100",
        "model_type": "custom",
        "accelerator_type": ["nvidia-tesla-t4"],
        "accelerator_count": 1,
        "status": "SCALED_DOWN",
        "status_raw": "STOPPED",
    }
    assert expected == by_id[WHISPER]


def test_an_unknown_status_is_shown_as_such(sim: ServedSim) -> None:
    """A status the client does not know is shown raw, marked unknown."""
    sim.ctl("PUT", f"/deployments/{WHISPER}/status", {"status": "HIBERNATING"})
    (row,) = [line for line in run(sim, "list").stdout.splitlines() if line.startswith(WHISPER)]
    assert "HIBERNATING (unknown)" in row


# --- health ----------------------------------------------------------------------------


def test_health_prints_value_pods_and_messages(sim: ServedSim) -> None:
    """The health table shows the value, pod counts and each message with its severity."""
    answer = {"data": "Degraded", "pods": {"ready": 1, "not_ready": 2}, "messages": [{"message": "2 pods crash-looping", "severity": "warning"}]}
    sim.ctl("PUT", f"/deployments/{WHISPER}/health", answer)
    result = run(sim, "health", WHISPER)
    assert 0 == result.exit_code, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines()]
    assert [["FIELD", "VALUE"], ["health", "Degraded"], ["pods", "1 ready, 2 not ready"], ["message", "[warning] 2 pods crash-looping"]] == rows


def test_health_json(sim: ServedSim) -> None:
    """--output json prints the health model with the deployment id."""
    result = run(sim, "health", WHISPER, "--output", "json")
    body = json.loads(result.stdout)
    assert (WHISPER, "Healthy", "Healthy") == (body["deployment_id"], body["status"], body["status_raw"])
    assert body["pods"]["ready"] >= 1


def test_health_of_a_scaled_down_deployment_shows_no_pods(sim: ServedSim) -> None:
    """SCALED_DOWN without pods shows '-' for pods."""
    sim.ctl("PUT", f"/deployments/{WHISPER}/health", {"data": "SCALED_DOWN", "pods": None})
    assert ["pods", "-"] == run(sim, "health", WHISPER).stdout.splitlines()[2].split()


def test_health_of_an_unknown_deployment_fails_with_the_platform_message(sim: ServedSim) -> None:
    """404: exit 1, one line with the message and the request id."""
    result = run(sim, "health", UNKNOWN_ID)
    (logged,) = sim.requests("get_health")
    line = assert_one_line_failure(result, 1, "Deployment not found", "HTTP 404", f"request id {logged['request_id']}")
    assert f"error: fetch health of deployment {UNKNOWN_ID} failed: Deployment not found" in line


# --- scale -----------------------------------------------------------------------------


def test_scale_sets_the_bounds(sim: ServedSim) -> None:
    """The platform's confirmation is printed and the simulator holds the new bounds."""
    result = run(sim, "scale", WHISPER, "--min", "2", "--max", "3")
    assert 0 == result.exit_code, result.stderr
    assert f"{WHISPER}: Autoscaling configuration updated successfully (min 2, max 3)\n" == result.stdout
    deployment = sim.deployment(WHISPER)
    assert (2, 3) == (deployment["min_replicas"], deployment["max_replicas"])


def test_scale_json(sim: ServedSim) -> None:
    """--output json prints the platform's answer with the deployment id."""
    result = run(sim, "scale", WHISPER, "--min", "1", "--max", "2", "-o", "json")
    expected = {"deployment_id": WHISPER, "message": "Autoscaling configuration updated successfully", "min_replicas": 1, "max_replicas": 2}
    assert expected == json.loads(result.stdout)


def test_scale_with_min_above_max_sends_nothing(sim: ServedSim) -> None:
    """Client-side validation: exit 1, a clear line, no request."""
    result = run(sim, "scale", WHISPER, "--min", "3", "--max", "1")
    assert_one_line_failure(result, 1, "min_replicas (3) must not exceed max_replicas (1)")
    assert [] == sim.requests()


def test_scale_beyond_the_quota_fails_with_the_platform_message(sim: ServedSim) -> None:
    """400 quota: exit 1 with 'Insufficient GPU quota...' and where quotas are."""
    sim.ctl("PUT", "/quotas", {"nvidia-tesla-t4": 2})
    result = run(sim, "scale", WHISPER, "--min", "1", "--max", "40")
    assert_one_line_failure(result, 1, "Insufficient GPU quota for requested replicas", "quotas are on the Simplismart settings page")


def test_scale_without_max_is_a_usage_error(sim: ServedSim) -> None:
    """A missing option is click's usage error: exit 2."""
    result = run(sim, "scale", WHISPER, "--min", "1")
    assert 2 == result.exit_code
    assert "Missing option '--max'" in result.stderr


# --- start, stop -----------------------------------------------------------------------


def test_stop_then_start(sim: ServedSim) -> None:
    """stop prints the platform's message and scales down; start resumes it."""
    stopped = run(sim, "stop", WHISPER)
    status_after_stop = sim.deployment(WHISPER)["status"]
    started = run(sim, "start", WHISPER)
    assert (0, 0) == (stopped.exit_code, started.exit_code)
    assert f"{WHISPER}: Deployment stopped successfully\n" == stopped.stdout
    assert f"{WHISPER}: Deployment started successfully\n" == started.stdout
    assert ("SCALED_DOWN", "DEPLOYED") == (status_after_stop, sim.deployment(WHISPER)["status"])
    assert [{"action": "stop", "org": DEFAULT_ORG_ID}, {"action": "start", "org": DEFAULT_ORG_ID}] == [
        entry["body"] for entry in sim.requests("startstop")
    ]


def test_start_json(sim: ServedSim) -> None:
    """--output json prints message and update_result."""
    result = run(sim, "start", WHISPER, "-o", "json")
    assert {"deployment_id": WHISPER, "message": "Deployment started successfully", "update_result": "started"} == json.loads(result.stdout)


def test_start_with_the_wallet_blocked_fails(sim: ServedSim) -> None:
    """402: exit 1 with the platform's message and what to do."""
    sim.ctl("PUT", "/wallet", {"blocked": True})
    result = run(sim, "start", WHISPER)
    assert_one_line_failure(result, 1, "Wallet is blocked", "resolve billing", "HTTP 402", "request id")


def test_stop_without_org_id_names_the_variable(sim: ServedSim) -> None:
    """No SCALER_ORG_ID: exit 1, the variable named, nothing sent."""
    result = run(sim, "stop", WHISPER, SCALER_ORG_ID=None)
    assert_one_line_failure(result, 1, "SCALER_ORG_ID")
    assert [] == sim.requests()


# --- delete ----------------------------------------------------------------------------


def test_delete_with_yes_deletes_without_asking(sim: ServedSim) -> None:
    """--yes: no prompt, the platform's message, the deployment DELETING."""
    result = run(sim, "delete", WHISPER, "--yes")
    assert 0 == result.exit_code, result.stderr
    assert (f"{WHISPER}: Deployment deleted successfully\n", "") == (result.stdout, result.stderr)
    assert "DELETING" == sim.deployment(WHISPER)["status"]


def test_delete_asks_and_a_no_deletes_nothing(sim: ServedSim) -> None:
    """Answering n: exit 1, no request sent."""
    result = run(sim, "delete", WHISPER, input="n\n")
    assert 1 == result.exit_code
    assert f"Delete deployment whisper-v3 ({WHISPER})? This cannot be undone. [y/N]" in result.stderr
    assert "error: deletion not confirmed, nothing deleted (pass --yes to skip the question)" == result.stderr.splitlines()[-1]
    assert [] == sim.requests("delete")


def test_delete_without_an_answer_deletes_nothing(sim: ServedSim) -> None:
    """End of input at the prompt is a no."""
    result = run(sim, "delete", WHISPER, input="")
    assert 1 == result.exit_code
    assert [] == sim.requests("delete")


def test_delete_asks_and_a_yes_deletes(sim: ServedSim) -> None:
    """Answering y deletes; the prompt goes to stderr so stdout stays the result."""
    result = run(sim, "delete", WHISPER, "-o", "json", input="y\n")
    assert 0 == result.exit_code, result.stderr
    assert {"deployment_id": WHISPER, "message": "Deployment deleted successfully", "already_deleted": False} == json.loads(result.stdout)


def test_delete_twice_reports_already_deleted(sim: ServedSim) -> None:
    """Deletion is idempotent: the second run succeeds with the platform's 'already' message."""
    run(sim, "delete", WHISPER, "--yes")
    sim.ctl("POST", "/clock/advance", {"seconds": 600})
    result = run(sim, "delete", WHISPER, "--yes", "-o", "json")
    assert 0 == result.exit_code, result.stderr
    assert {"deployment_id": WHISPER, "message": "Deployment already Deleted", "already_deleted": True} == json.loads(result.stdout)


def test_delete_of_an_unknown_deployment_fails(sim: ServedSim) -> None:
    """404: exit 1 with the platform's message."""
    assert_one_line_failure(run(sim, "delete", UNKNOWN_ID, "--yes"), 1, "Deployment not found", "HTTP 404")


# --- failures of every kind ------------------------------------------------------------


def test_a_wrong_token_fails_with_the_platform_message_and_a_hint(sim: ServedSim) -> None:
    """401: exit 1, 'Invalid token.', the token variables named, the token itself never shown."""
    result = run(sim, "list", SCALER_API_TOKEN="wrong-token-4242")
    line = assert_one_line_failure(result, 1, "Invalid token.", "SCALER_API_TOKEN", "HTTP 401")
    assert "wrong-token-4242" not in line + result.stdout


def test_no_token_is_a_settings_failure(sim: ServedSim) -> None:
    """No token at all: exit 2, both variables named, nothing sent."""
    result = run(sim, "list", SCALER_API_TOKEN=None)
    assert_one_line_failure(result, 2, "SCALER_API_TOKEN", "SCALER_API_TOKEN_FILE")
    assert [] == sim.requests()


def test_a_token_file_is_used(sim: ServedSim, tmp_path) -> None:
    """SCALER_API_TOKEN_FILE works in place of SCALER_API_TOKEN."""
    token_file = tmp_path / "token"
    token_file.write_text(DEFAULT_TOKEN + "\n")
    token_file.chmod(0o600)
    result = run(sim, "list", SCALER_API_TOKEN=None, SCALER_API_TOKEN_FILE=str(token_file))
    assert 0 == result.exit_code, result.stderr


def test_a_malformed_setting_is_a_settings_failure(sim: ServedSim) -> None:
    """SCALER_ORG_ID that is not a UUID: exit 2 naming it."""
    result = run(sim, "list", SCALER_ORG_ID="not-a-uuid")
    assert 2 == result.exit_code
    assert result.stderr.startswith("error: SCALER_ORG_ID")


def test_an_unreachable_platform_fails_with_a_connection_error() -> None:
    """Nothing listening: exit 1, a connection failure naming SCALER_API_URL."""
    with LoopbackServer(create_app(SimState())) as server:
        url = server.url
    result = run(None, "list", SCALER_API_URL=url)
    assert_one_line_failure(result, 1, "list deployments failed", "check SCALER_API_URL")


def test_a_slow_platform_fails_with_a_timeout() -> None:
    """Latency above SCALER_HTTP_TIMEOUT_SECONDS: exit 1, a timeout naming the setting.

    A simulator of its own: the request it answers after the client gave up must not
    reach the request log of a later test."""
    with LoopbackServer(create_app(SimState.from_seed(load_seed(DEFAULT_SEED_PATH), clock=ManualClock()))) as server:
        slow = ServedSim(server)
        slow.ctl("PUT", "/faults/latency", {"fixed_ms": 1000})
        result = run(slow, "list", SCALER_HTTP_TIMEOUT_SECONDS="0.1")
        slow.control.close()
    assert_one_line_failure(result, 1, "timed out after 0.1 s", "SCALER_HTTP_TIMEOUT_SECONDS")


def test_a_dropped_connection_fails_with_a_connection_error(sim: ServedSim) -> None:
    """The platform closes the connection half-way through the answer: exit 1, one line."""
    sim.ctl("POST", "/faults/malformed", {"kind": "drop", "endpoint": "list_deployments"})
    assert_one_line_failure(run(sim, "list"), 1, "list deployments failed")


def test_server_errors_are_retried_up_to_the_configured_attempts(sim: ServedSim) -> None:
    """Two 503s (Retry-After: 0, so no waiting) then success with SCALER_API_RETRY_ATTEMPTS=3: it succeeds."""
    failure = {"endpoint": "list_deployments", "count": 2, "status": 503, "headers": {"Retry-After": "0"}}
    sim.ctl("POST", "/faults/fail-next", failure)
    result = run(sim, "list", "-o", "json", SCALER_API_RETRY_ATTEMPTS="3")
    assert 0 == result.exit_code, result.stderr
    assert [503, 503, 200] == [entry["status"] for entry in sim.requests("list_deployments")]


def test_debug_logging_shows_each_request_without_the_token(sim: ServedSim) -> None:
    """SCALER_LOG_LEVEL=debug logs api_request events as JSON on stderr, never the token."""
    result = run(sim, "list", SCALER_LOG_LEVEL="debug")
    events = [json.loads(line) for line in result.stderr.splitlines()]
    (request,) = [event for event in events if event["event"] == "api_request"]
    assert ("list_deployments", "200") == (request["endpoint"], request["status"])
    assert DEFAULT_TOKEN not in result.stderr


def test_the_group_lists_every_command() -> None:
    """`scaler deployments --help` names the six commands."""
    result = CliRunner().invoke(main, ["deployments", "--help"])
    commands = result.stdout.split("Commands:")[1].split()
    assert {"list", "health", "scale", "start", "stop", "delete"} <= set(commands)


# --- names instead of ids ----------------------------------------------------------------

TWIN = "5f0e8a52-3c7d-4e7a-9d1b-2b6f1c9a7e44"


def add_twin(sim: ServedSim) -> None:
    """A second deployment called whisper-v3."""
    twin = {
        "deployment_id": TWIN,
        "deployment_name": "whisper-v3",
        "accelerator_type": ["nvidia-tesla-t4"],
        "accelerator_count": 1,
        "status": "DEPLOYED",
    }
    sim.ctl("POST", "/deployments", twin)


@pytest.mark.parametrize(
    ("args", "endpoint"),
    [
        (("health", "whisper-v3"), "get_health"),
        (("scale", "whisper-v3", "--min", "1", "--max", "2"), "update_replicas"),
        (("stop", "whisper-v3"), "startstop"),
        (("start", "whisper-v3"), "startstop"),
        (("delete", "whisper-v3", "--yes"), "delete"),
    ],
)
def test_a_command_takes_a_deployment_name(sim: ServedSim, args: tuple[str, ...], endpoint: str) -> None:
    """A name is looked up in the organization's list, then the call goes to that deployment's id."""
    result = run(sim, *args)
    assert 0 == result.exit_code, result.stderr
    assert ["list_deployments", endpoint] == [entry["endpoint"] for entry in sim.requests()]
    (call,) = sim.requests(endpoint)
    assert WHISPER == call["deployment_id"]


def test_a_name_is_shown_with_the_id(sim: ServedSim) -> None:
    """Given by name, the result names the deployment and its id."""
    result = run(sim, "stop", "whisper-v3")
    assert f"whisper-v3 ({WHISPER}): Deployment stopped successfully\n" == result.stdout


def test_an_ambiguous_name_is_refused_with_the_candidate_ids(sim: ServedSim) -> None:
    """Two deployments called whisper-v3: exit 1, both ids listed, nothing but the list sent."""
    add_twin(sim)
    result = run(sim, "stop", "whisper-v3")
    assert_one_line_failure(
        result,
        1,
        f"'whisper-v3' names 2 deployments: whisper-v3 ({WHISPER}), whisper-v3 ({TWIN}); give the id instead",
    )
    assert ["list_deployments"] == [entry["endpoint"] for entry in sim.requests()]


def test_an_unknown_name_is_an_error_after_one_list(sim: ServedSim) -> None:
    """No deployment of that name: exit 1 naming it, nothing but the list sent."""
    result = run(sim, "start", "whisper-v9")
    assert_one_line_failure(result, 1, "no deployment is called 'whisper-v9'")
    assert ["list_deployments"] == [entry["endpoint"] for entry in sim.requests()]


def test_an_id_is_used_without_listing(sim: ServedSim) -> None:
    """Given an id, the command sends its one call (no list)."""
    run(sim, "health", WHISPER)
    assert ["get_health"] == [entry["endpoint"] for entry in sim.requests()]


def test_the_delete_question_names_the_deployment_and_its_id(sim: ServedSim) -> None:
    """Asked by id or by name, the question shows both name and id."""
    by_id = run(sim, "delete", WHISPER, input="n\n")
    by_name = run(sim, "delete", "whisper-v3", input="n\n")
    question = f"Delete deployment whisper-v3 ({WHISPER})? This cannot be undone. [y/N]"
    assert question in by_id.stderr
    assert question in by_name.stderr
    assert [] == sim.requests("delete")
