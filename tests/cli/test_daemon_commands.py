"""`scaler run --once`, `scaler status`, `scaler suspend`/`resume`/`suspensions`, as a user runs them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner, Result
from freezegun import freeze_time

from scaler.cli.main import main
from scaler.daemon.http import create_http_app
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.sim.state import SimState
from scaler.store import open_store
from tests.client.serving import LoopbackServer
from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import document

pytestmark = pytest.mark.usefixtures("restore_logging")

LLAMA_STOPPED = document(policies.LLAMA_STOPPED)
BATCH_RUNNING = "version: 1\npolicies:\n  - name: batch\n    match: {names: [batch-transcribe]}\n    default: running\n"


@pytest.fixture
def served_sim() -> Iterator[tuple[str, SimState]]:
    state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH), clock=ManualClock())
    with LoopbackServer(create_app(state)) as server:
        yield server.url, state


def invoke(*args: str, **env: str | None) -> Result:
    environment: dict[str, str | None] = {
        "SCALER_API_TOKEN": None,
        "SCALER_API_TOKEN_FILE": None,
        "SCALER_API_URL": None,
        "SCALER_ORG_ID": None,
        "SCALER_LOG_FORMAT": "json",
        "SCALER_LOG_LEVEL": None,
        "SCALER_API_RETRY_ATTEMPTS": "1",
    }
    environment.update(env)
    return CliRunner().invoke(main, list(args), env=environment)


def error_lines(result: Result) -> list[str]:
    """The lines of stderr that are the command's errors (the rest are log lines)."""
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def daemon_env(tmp_path: Path, url: str, policy: str) -> dict[str, str]:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "p.yaml").write_text(policy)
    return {
        "SCALER_API_URL": url,
        "SCALER_API_TOKEN": DEFAULT_TOKEN,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
        "SCALER_POLICY_PATH": str(tmp_path / "policies"),
        "SCALER_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
    }


# --- run --once -------------------------------------------------------------------


def test_run_once_reconciles_and_exits_0(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:
    """One cycle: the stop is sent, printed, and the command exits 0."""
    url, state = served_sim
    result = invoke("run", "--once", **daemon_env(tmp_path, url, LLAMA_STOPPED))
    assert 0 == result.exit_code, result.stderr
    assert [
        f"llama-3-8b-chat ({LLAMA_8B}): stop (default) success: Deployment stopped successfully",
        "reconciled 13 deployments: 1 action (1 success); 12 skipped (12 no policy governs it)",
    ] == result.stdout.splitlines()
    assert ["startstop"] == [entry.endpoint for entry in state.requests if entry.method == "POST"]


def test_run_once_exits_1_when_an_action_fails(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:
    """A start refused with 402 makes --once exit 1."""
    url, state = served_sim
    state.wallet_blocked = True
    result = invoke("run", "--once", **daemon_env(tmp_path, url, BATCH_RUNNING))
    assert 1 == result.exit_code
    assert "batch-transcribe" in result.stdout and "start (default) error" in result.stdout


def test_run_refuses_an_invalid_policy_set_with_every_problem(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:
    """An invalid set stops `scaler run` before anything is sent: exit 2, one line per problem."""
    url, state = served_sim
    result = invoke("run", "--once", **daemon_env(tmp_path, url, LLAMA_STOPPED.replace("stopped", "stoped")))
    assert 2 == result.exit_code
    assert "'stoped' is not a state" in result.stderr
    assert [] == list(state.requests)


def test_run_refuses_a_misspelt_setting_before_sending_anything(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:
    """SCALER_DRYRUN=true is no dry run: exit 2, one line naming the setting meant, no request sent."""
    url, state = served_sim
    result = invoke("run", "--once", **daemon_env(tmp_path, url, LLAMA_STOPPED), SCALER_DRYRUN="true")
    assert 2 == result.exit_code
    assert ["error: SCALER_DRYRUN is not a setting; did you mean SCALER_DRY_RUN?"] == result.stderr.splitlines()
    assert [] == list(state.requests)


def test_demo_refuses_a_misspelt_setting_too() -> None:
    """Every command that reads settings refuses an unknown SCALER_ variable, the demo included."""
    result = invoke("demo", "--for", "1s", "--port", "0", SCALER_LOG_LEVL="debug")
    assert 2 == result.exit_code
    assert ["error: SCALER_LOG_LEVL is not a setting; did you mean SCALER_LOG_LEVEL?"] == result.stderr.splitlines()


def test_run_names_the_setting_of_a_missing_policy_path(
    tmp_path: Path, served_sim: tuple[str, SimState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started where ./policies does not exist, `scaler run` says which setting named it: exit 2, nothing sent."""
    url, state = served_sim
    env: dict[str, str | None] = {**daemon_env(tmp_path, url, LLAMA_STOPPED), "SCALER_POLICY_PATH": None}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("run", "--once", **env)
    assert 2 == result.exit_code
    assert (
        f"error: SCALER_POLICY_PATH=./policies (the default): no such directory (relative to {elsewhere})"
        == result.stderr.splitlines()[-1]
    )
    assert [] == list(state.requests)


def test_run_refuses_a_set_without_policy_before_sending_anything(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:
    """Only a pricing block: `scaler run --once` exits 2 with validate's message instead of reconciling nothing."""
    url, state = served_sim
    result = invoke("run", "--once", **daemon_env(tmp_path, url, "version: 1\npricing: {nvidia-l4: 1.5}\n"))
    assert 2 == result.exit_code
    assert [
        f"error: SCALER_POLICY_PATH={tmp_path / 'policies'} (from the environment) holds no policy: p.yaml has none "
        "under policies; policy files are read from the directory itself, not from its subdirectories",
        "error: set SCALER_ALLOW_EMPTY_POLICIES=true to run with no policy on purpose",
    ] == error_lines(result)
    assert [] == list(state.requests)


def test_run_from_the_repository_root_says_that_policies_holds_only_examples(
    tmp_path: Path, served_sim: tuple[str, SimState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default settings at the repository's root: ./policies holds no policy (only policies/examples/), exit 2."""
    url, state = served_sim
    env: dict[str, str | None] = {**daemon_env(tmp_path, url, LLAMA_STOPPED), "SCALER_POLICY_PATH": None}
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = invoke("run", "--once", **env)
    assert 2 == result.exit_code
    assert (
        "error: SCALER_POLICY_PATH=./policies (the default) holds no policy file (.yaml, .yml); policy files are "
        "read from the directory itself, not from its subdirectories, and policies/examples/ holds 7: point the "
        "policy path at it, or move the files up"
    ) == error_lines(result)[0]
    assert [] == list(state.requests)


def test_run_with_no_policy_on_purpose(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:
    """SCALER_ALLOW_EMPTY_POLICIES=true: the daemon runs with no policy and does nothing."""
    url, state = served_sim
    env = daemon_env(tmp_path, url, "version: 1\npricing: {nvidia-l4: 1.5}\n")
    result = invoke("run", "--once", **env, SCALER_ALLOW_EMPTY_POLICIES="true")
    assert 0 == result.exit_code, result.stderr
    assert ["reconciled 13 deployments: 0 actions; 13 skipped (13 no policy governs it)"] == result.stdout.splitlines()
    assert [] == [entry for entry in state.requests if entry.method != "GET"]


def test_run_needs_the_organization_id(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:
    """Without SCALER_ORG_ID the daemon does not start: exit 2 naming the variable."""
    url, _ = served_sim
    env: dict[str, str | None] = {**daemon_env(tmp_path, url, LLAMA_STOPPED), "SCALER_ORG_ID": None}
    result = invoke("run", "--once", **env)
    assert 2 == result.exit_code
    assert "SCALER_ORG_ID" in result.stderr


def test_run_dry_run_flag_sends_nothing(tmp_path: Path, served_sim: tuple[str, SimState]) -> None:
    """--dry-run decides and prints the stop as dry_run, and sends no mutating call."""
    url, state = served_sim
    result = invoke("run", "--once", "--dry-run", **daemon_env(tmp_path, url, LLAMA_STOPPED))
    assert 0 == result.exit_code
    assert "stop (default) dry_run" in result.stdout
    assert [] == [entry for entry in state.requests if entry.method != "GET"]


# --- status ----------------------------------------------------------------------------


async def test_status_prints_one_row_per_deployment(make_harness: Callable[..., Harness]) -> None:
    """`scaler status --url` shows status, health, policy, desired state, next change and last action."""
    harness = make_harness(
        "version: 1\npolicies:\n  - name: office\n    match: {names: [llama-3-8b-chat]}\n    default: stopped\n"
        "    windows:\n      - {name: office, between: '08:00-19:00', state: {min_replicas: 1, max_replicas: 3}}\n",
        start=at_utc(MONDAY, "06:00"),
    )
    await harness.cycle()
    await harness.poll_health()
    with LoopbackServer(create_http_app(harness.daemon, harness.metrics)) as server:
        result = invoke("status", "--url", server.url)
    assert 0 == result.exit_code, result.stderr
    lines = result.stdout.splitlines()
    (row,) = [line for line in lines if line.startswith("llama-3-8b-chat ")]
    assert [
        "DEPLOYMENT",
        "STATUS",
        "HEALTH",
        "POLICY",
        "DESIRED",
        "(SOURCE)",
        "NEXT",
        "CHANGE",
        "EXCEPTION",
        "LAST",
        "ACTION",
    ] == lines[3].split()
    assert row.split()[:5] == ["llama-3-8b-chat", "SCALED_DOWN", "SCALED_DOWN", "office", "stopped"]
    assert "min=1 max=3 at 2026-03-02 08:00Z (in 2h)" in row
    assert "stop success 2026-03-02 06:00Z" in row
    assert 13 == len(lines[4:])


def test_status_of_an_unreachable_daemon_is_one_line(tmp_path: Path) -> None:
    """Nothing listens: exit 1 with one line naming the address."""
    result = invoke("status", "--url", "http://127.0.0.1:9")
    assert 1 == result.exit_code
    assert result.stderr.startswith("error: cannot reach the daemon at http://127.0.0.1:9")
    assert 1 == len(result.stderr.splitlines())


# --- suspend, resume, suspensions --------------------------------------------------------


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    """A state store that has seen three deployments, two of them named alike."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url) as store:
        store.mark_seen(
            [
                (UUID(LLAMA_8B), "llama-3-8b-chat"),
                (UUID("11111111-1111-4111-8111-111111111111"), "twin"),
                (UUID("22222222-2222-4222-8222-222222222222"), "twin"),
            ],
            datetime.now(UTC),
        )
    return url


def test_suspend_by_name_records_the_suspension(state_url: str) -> None:
    """suspend NAME --for 2h --reason: stored with its end, reason and author; printed."""
    now = datetime.now(UTC).replace(microsecond=0)
    with freeze_time(now):
        result = invoke(
            "suspend", "llama-3-8b-chat", "--for", "2h", "--reason", "incident 42", "--state-url", state_url, SCALER_STATE_URL=state_url
        )
    assert 0 == result.exit_code, result.stderr
    with open_store(state_url) as store:
        (suspension,) = store.active_suspensions(now).values()
    assert (UUID(LLAMA_8B), "incident 42") == (suspension.deployment_id, suspension.reason)
    assert now + timedelta(hours=2) == suspension.until
    assert result.stdout.startswith(f"suspended llama-3-8b-chat ({LLAMA_8B}) until ")


def test_suspensions_reads_the_state_url_from_its_file(state_url: str, tmp_path: Path) -> None:
    """SCALER_STATE_URL_FILE names the store as SCALER_STATE_URL would."""
    (tmp_path / "state-url").write_text(state_url + "\n")
    invoke("suspend", "llama-3-8b-chat", "--for", "1h", "--reason", "from a file", "--state-url", state_url)
    result = invoke("suspensions", SCALER_STATE_URL=None, SCALER_STATE_URL_FILE=str(tmp_path / "state-url"))
    assert 0 == result.exit_code, result.stderr
    assert "from a file" in result.stdout


def test_an_ambiguous_name_is_refused_listing_the_candidates(state_url: str) -> None:
    """Two deployments called twin: exit 1, both ids named, nothing stored."""
    result = invoke("suspend", "twin", "--for", "1h", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 1 == result.exit_code
    assert (
        "'twin' names 2 deployments: twin (11111111-1111-4111-8111-111111111111), "
        "twin (22222222-2222-4222-8222-222222222222); give the id instead" in result.stderr
    )
    with open_store(state_url) as store:
        assert {} == store.all_suspensions()


def test_an_unknown_name_is_an_error(state_url: str) -> None:
    """No such deployment in the store and no credentials to ask the API: exit 1."""
    result = invoke("suspend", "nope", "--for", "1h", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 1 == result.exit_code
    assert "no deployment is called 'nope'" in result.stderr


def test_an_unknown_name_is_looked_up_through_the_api(state_url: str, served_sim: tuple[str, SimState]) -> None:
    """A deployment the daemon never saw is found in the organization's list when credentials are set."""
    url, _ = served_sim
    result = invoke(
        "suspend",
        "whisper-v3",
        "--for",
        "30m",
        "--reason",
        "eval",
        "--state-url", state_url, SCALER_STATE_URL=state_url,
        SCALER_API_URL=url,
        SCALER_API_TOKEN=DEFAULT_TOKEN,
    )
    assert 0 == result.exit_code, result.stderr
    assert "suspended whisper-v3 (1e99a854-26de-4c19-b6b6-68c7e03c39c3)" in result.stdout


def test_a_bad_duration_is_a_usage_error(state_url: str) -> None:
    """--for 2 hours: exit 2 saying what a duration looks like."""
    result = invoke("suspend", "llama-3-8b-chat", "--for", "2 hours", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 2 == result.exit_code
    assert "30s, 10m, 8h, 7d or 1h30m" in result.stderr


def test_resume_ends_a_suspension_and_a_second_resume_fails(state_url: str) -> None:
    """resume removes the suspension (exit 0); resuming again says it is not suspended (exit 1)."""
    invoke("suspend", LLAMA_8B, "--for", "1h", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    first = invoke("resume", "llama-3-8b-chat", "--state-url", state_url, SCALER_STATE_URL=state_url)
    second = invoke("resume", "llama-3-8b-chat", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert (0, f"resumed llama-3-8b-chat ({LLAMA_8B})\n") == (first.exit_code, first.stdout)
    assert 1 == second.exit_code
    assert "is not suspended" in second.stderr


def test_suspensions_lists_the_active_ones(state_url: str) -> None:
    """The table shows deployment, id, end, time left, reason and author; an empty store says so."""
    empty = invoke("suspensions", SCALER_STATE_URL=state_url)
    invoke("suspend", "llama-3-8b-chat", "--for", "90m", "--reason", "launch day", "--state-url", state_url, SCALER_STATE_URL=state_url)
    listed = invoke("suspensions", SCALER_STATE_URL=state_url)
    assert "no suspensions\n" == empty.stdout
    header, row = listed.stdout.splitlines()
    assert ["DEPLOYMENT", "ID", "UNTIL", "REMAINING", "REASON", "BY"] == header.split()
    assert row.startswith(f"llama-3-8b-chat  {LLAMA_8B}")
    assert "1h29m" in row or "1h30m" in row
    assert "launch day" in row


async def test_the_daemon_honours_a_suspension_written_by_the_command(
    make_harness: Callable[..., Harness],
) -> None:
    """`scaler suspend` on the daemon's store: the next cycle leaves the deployment alone."""
    harness = make_harness(LLAMA_STOPPED, start=datetime.now(UTC).replace(microsecond=0))
    await harness.cycle()
    harness.calls(clear=True)
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "DEPLOYED"})
    result = invoke(
        "suspend",
        "llama-3-8b-chat",
        "--for",
        "1h",
        "--reason",
        "debugging",
        "--state-url", harness.settings.state_url, SCALER_STATE_URL=harness.settings.state_url,
    )
    (harness.policy_path / "policies.yaml").write_text(LLAMA_STOPPED.replace("stopped", "stopped\n    enforce: true"))
    await harness.daemon.check_policies()
    harness.advance(minutes=1)
    await harness.cycle()
    assert 0 == result.exit_code
    assert [] == harness.calls()
    assert "suspended until" in (harness.daemon.board.views[UUID(LLAMA_8B)].decision.skip or "")


def test_status_url_defaults_to_the_http_settings() -> None:
    """Without --url the command asks SCALER_HTTP_HOST:SCALER_HTTP_PORT (0.0.0.0 read as 127.0.0.1)."""
    result = invoke("status", SCALER_HTTP_HOST="0.0.0.0", SCALER_HTTP_PORT="9")
    assert "http://127.0.0.1:9" in result.stderr
