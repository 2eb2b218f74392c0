"""Scenario 6, secrets, the parts that need no daemon: the API token shows nowhere, whole or in part.

The token is recognisable and as long as a real JWT (longer than any value a renderer
shows in full, so a scrubber that only knows the whole token would miss a cut one). It
goes through every client error path on every endpoint, with the platform echoing it
back in every place an answer can hold text; through ``scaler deployments ...``
failing in every way, in process and as a fresh process, quiet and at debug level;
through the settings' ``repr``, ``str``, ``public_view`` and JSON; and through a token
file readable by other users, which must produce a warning. No 12 consecutive
characters of it may appear in a captured log event, a rendered log line (JSON and
console, tracebacks included), an exception's text, the metrics or the command
line's output. Already covered elsewhere, and not repeated here: the basic client
error paths with a short token (``tests/client/test_secrets.py``), the token source's
``repr`` and its warning as a log event (``tests/client/test_token.py``), the settings'
``repr`` with a short token (``tests/foundation/test_settings.py``). ``/status``,
``/metrics`` of the daemon, the audit log and a crash come with the daemon.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from scaler.cli.main import main
from scaler.logs import configure_logging, register_secret
from scaler.metrics import Metrics
from scaler.settings import SettingsError, load_settings
from scaler.sim import DEFAULT_ORG_ID
from scaler.simplismart import errors
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.token import TokenSource
from tests.client.fakes import DEPLOYMENT_ID, ScriptedPlatform, make_client, retries
from tests.client.serving import LoopbackServer
from tests.processes import environment
from tests.reliability.figures import ScenarioFigures, is_full, run_seed, scaled
from tests.client.in_process_sim import WHISPER, InProcessSim

pytestmark = [pytest.mark.scenario(6), pytest.mark.usefixtures("restore_logging")]

#: The recognisable token: a JWT's shape and length (about 200 characters).
TOKEN = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJyZWxpYWJpbGl0eS1zdWl0ZSIsIm9yZyI6IjU0MzYwMjEyIiwiZXhwIjoxODkzNDU2MDAwfQ"
    ".RELIABILITY-SIGNATURE-q7f3a9c21e5d84b6a0c2e4f6a8b0d2f4b6d8f0a2c4e6"
)
#: Consecutive characters of the token that count as a leak.
LEAK_WIDTH = 12
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
#: Random echoes of the token in platform answers (full run: many more).
RANDOM_ECHOES = scaled(fast=40, full=1_000)


def leaked(text: str) -> bool:
    """Whether ``text`` holds the token or any LEAK_WIDTH consecutive characters of it."""
    return any(TOKEN[start : start + LEAK_WIDTH] in text for start in range(len(TOKEN) - LEAK_WIDTH + 1))


def check(figures: ScenarioFigures, where: str, *texts: str) -> list[str]:
    """Count one case; count and return a leak for each text that shows part of the token."""
    figures.add(cases=1, leaks=0, crashes=0)
    found = [f"{where} [{number}]" for number, text in enumerate(texts) if leaked(text)]
    for note in found:
        figures.leak(note)
    return found


@pytest.fixture(autouse=True)
def _token_is_known() -> None:
    """The token is registered as a secret, as building a client does (the scrubber knows it)."""
    register_secret(TOKEN)


# --------------------------------------------------------------------------- every client error path

ENDPOINT_CALLS: dict[str, Callable[[SimplismartClient], Awaitable[Any]]] = {
    "list_deployments": lambda client: client.list_deployments(),
    "get_health": lambda client: client.get_health(DEPLOYMENT_ID),
    "update_replicas": lambda client: client.update_replicas(DEPLOYMENT_ID, 1, 2),
    "start": lambda client: client.start(DEPLOYMENT_ID),
    "stop": lambda client: client.stop(DEPLOYMENT_ID),
    "delete": lambda client: client.delete(DEPLOYMENT_ID),
}
_LONG_PREFIX = "x" * 250  # pushes an echoed token across the 300-character cut of error messages

#: Failures of a call, most with the platform echoing the token somewhere in its answer.
FAILURES: dict[str, Any] = {
    "401": httpx.Response(401, json={"detail": "Invalid token."}),
    "401 echoing the token": httpx.Response(401, json={"detail": f"Invalid token {TOKEN}."}),
    "403 echoing the header": httpx.Response(403, json={"detail": f"Authorization: Bearer {TOKEN} lacks permission"}),
    "400 field errors echoing it": httpx.Response(400, json={"min_replicas": [f"bad value for {TOKEN}"], "non_field_errors": [TOKEN]}),
    "400 quota echoing it": httpx.Response(400, json={"error": f"Insufficient GPU quota for token {TOKEN}"}),
    "402 echoing it": httpx.Response(402, json={"error": f"Wallet is blocked for {TOKEN}"}),
    "404 echoing it": httpx.Response(404, json={"message": TOKEN}),
    "429 echoing it": httpx.Response(429, headers={"Retry-After": "1"}, json={"detail": f"throttled {TOKEN}"}),
    "500 text echoing the header": httpx.Response(500, text=f"Authorization: Bearer {TOKEN}", headers={"content-type": "text/plain"}),
    "500 echo cut at the message limit": httpx.Response(500, text=_LONG_PREFIX + TOKEN, headers={"content-type": "text/plain"}),
    "502 HTML page echoing it": httpx.Response(502, text=f"<html><p>{TOKEN}</p></html>", headers={"content-type": "text/html"}),
    "302 to a page with it": httpx.Response(302, headers={"location": f"https://login.invalid/?token={TOKEN}"}),
    "200 non-JSON echoing it": httpx.Response(200, text=f"proxy says: {TOKEN}"),
    "200 non-JSON echo cut at the excerpt": httpx.Response(200, text="x" * 40 + TOKEN),
    "200 wrong shape echoing it": httpx.Response(200, json={"unexpected": TOKEN, "data": 5, "message": 7}),
    "timeout": httpx.ReadTimeout(f"read timed out on request with {TOKEN}"),
    "connection refused": httpx.ConnectError(f"connection refused ({TOKEN})"),
    "TLS": httpx.ConnectError(f"[SSL: CERTIFICATE_VERIFY_FAILED] for {TOKEN}"),
    "dropped by an in-process transport": ConnectionResetError(f"reset while sending {TOKEN}"),
}


async def fail_and_collect(call: Callable[[SimplismartClient], Awaitable[Any]], failure: Any, metrics: Metrics) -> list[str]:
    """Make the call fail with ``failure``; return the captured events, the error's texts and the metrics exposition."""
    async with make_client(ScriptedPlatform(failure), metrics=metrics, token=TokenSource.static(TOKEN), retry=retries(attempts=2)) as client:
        with capture_logs() as logs:
            try:
                await call(client)
            except errors.SimplismartError as error:
                caught: BaseException = error
            else:
                caught = AssertionError("the call succeeded")
        texts = [repr(logs), str(caught), repr(caught), getattr(caught, "message", ""), repr(caught.args), repr(client)]
    return [*texts, generate_latest(metrics.registry).decode()]


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
async def test_no_client_error_path_shows_the_token_in_events_errors_or_metrics(figures: ScenarioFigures, failure: str) -> None:
    """On every endpoint: captured events, the error's str, repr, message and args, and the metrics show no part of the token."""
    leaks = []
    for endpoint, call in ENDPOINT_CALLS.items():
        metrics = Metrics(CollectorRegistry())
        texts = await fail_and_collect(call, FAILURES[failure], metrics)
        figures.add(faults=1)
        leaks += check(figures, f"{failure} on {endpoint}", *texts)
    assert [] == leaks


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_no_client_error_path_shows_the_token_in_rendered_lines_or_tracebacks(
    figures: ScenarioFigures, log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every failure on every endpoint at debug level, each error then logged with its traceback: no part of the token in the output."""
    configure_logging(log_format=log_format, log_level="debug")
    log = structlog.get_logger()
    leaks = []
    for name, failure in FAILURES.items():
        for endpoint, call in ENDPOINT_CALLS.items():
            async with make_client(ScriptedPlatform(failure), token=TokenSource.static(TOKEN), retry=retries(attempts=2)) as client:
                try:
                    await call(client)
                except errors.SimplismartError:
                    log.exception("call_failed", endpoint=endpoint)
            figures.add(faults=1)
            leaks += check(figures, f"{log_format} output of {name} on {endpoint}", capsys.readouterr().err)
    assert [] == leaks


async def test_errors_raised_before_sending_show_no_part_of_the_token(figures: ScenarioFigures) -> None:
    """The token pasted as a deployment id or a model repo id, and bad bounds: ClientValidationError without it."""
    leaks = []
    async with make_client(ScriptedPlatform(httpx.Response(200, json=[])), token=TokenSource.static(TOKEN)) as client:
        for name, call in {
            "token as a deployment id": lambda: client.delete(TOKEN),
            "token as a model repo id": lambda: client.list_deployments(model_repo_id=TOKEN),
            "Bearer token as an id": lambda: client.get_health(f"Bearer {TOKEN}"),
            "bad bounds": lambda: client.update_replicas(DEPLOYMENT_ID, 3, 1),
        }.items():
            with capture_logs() as logs, pytest.raises(errors.ClientValidationError) as caught:
                await call()
            leaks += check(figures, name, str(caught.value), repr(caught.value), repr(logs))
    assert [] == leaks


_texts = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=60)


@st.composite
def echoing_answers(draw: st.DrawFn) -> tuple[int, dict[str, str], bytes]:
    """An answer holding the token (or a long start of it) somewhere: in a JSON field, a list, text, HTML or a header."""
    echo = draw(st.sampled_from([TOKEN, f"Bearer {TOKEN}", TOKEN[: draw(st.integers(LEAK_WIDTH, len(TOKEN)))]]))
    text = draw(_texts) + echo + draw(_texts)
    status = draw(st.sampled_from([200, 400, 401, 402, 403, 404, 409, 429, 500, 502, 503]))
    shape = draw(st.sampled_from(["detail", "error", "message", "fields", "list", "text", "html", "header"]))
    headers: dict[str, str] = {}
    if shape in ("detail", "error", "message"):
        body = json.dumps({shape: text}).encode()
    elif shape == "fields":
        body = json.dumps({draw(st.sampled_from(["min_replicas", "org", "action"])): [text]}).encode()
    elif shape == "list":
        body = json.dumps([text, {"deployment_id": text}]).encode()
    elif shape == "text":
        body, headers = text.encode(), {"content-type": "text/plain"}
    elif shape == "html":
        body, headers = f"<html>{text}</html>".encode(), {"content-type": "text/html"}
    else:
        body, headers = b"{}", {"x-debug-authorization": echo.encode("ascii", "ignore").decode()}
    return status, headers, body


async def test_random_echoes_of_the_token_never_come_back_out(figures: ScenarioFigures) -> None:
    """Answers echoing the token (whole, with Bearer, or cut) anywhere, on every endpoint: no part of it in events or errors."""
    cases: list[tuple[str, tuple[int, dict[str, str], bytes]]] = []

    @settings(max_examples=RANDOM_ECHOES, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(ENDPOINT_CALLS)), echoing_answers())
    def collect(endpoint: str, answer: tuple[int, dict[str, str], bytes]) -> None:
        cases.append((endpoint, answer))

    seed(run_seed())(collect)()
    leaks = []
    for endpoint, (status, headers, body) in cases:
        metrics = Metrics(CollectorRegistry())
        texts = await fail_and_collect(ENDPOINT_CALLS[endpoint], httpx.Response(status, headers=headers, content=body), metrics)
        figures.add(faults=1)
        leaks += check(figures, f"{status} echo on {endpoint}", *texts[1:])  # texts[0]: events, which may hold returned data
    assert [] == leaks


# --------------------------------------------------------------------------- scaler deployments, failing in every way


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[InProcessSim, str]]:
    """The simulator accepting the recognisable token, on a loopback port."""
    simulator = InProcessSim(rng_seed=run_seed(), token=TOKEN)
    with LoopbackServer(simulator.app) as server:
        yield simulator, server.url


def control(url: str, method: str, path: str, body: Any = None) -> None:
    """Drive the served simulator's control API."""
    response = httpx.request(method, f"{url}/_sim{path}", json=body)
    assert response.is_success, response.text


COMMANDS = {
    "list": ["list"],
    "health": ["health", "{id}"],
    "scale": ["scale", "{id}", "--min", "1", "--max", "2"],
    "start": ["start", "{id}"],
    "stop": ["stop", "{id}"],
    "delete": ["delete", "{id}", "--yes"],
}
_ECHO = {"status": 500, "body": f"upstream said Authorization: Bearer {TOKEN}"}

#: Ways a command fails: (faults to install, environment changes, the deployment id to name).
CLI_FAILURES: dict[str, tuple[list[tuple[str, str, Any]], dict[str, str | None], str]] = {
    "401 from the platform": ([("POST", "/faults/fail-next", {"status": 401, "body": {"detail": "Invalid token."}, "count": 5})], {}, WHISPER),
    "401 echoing the token": ([("POST", "/faults/fail-next", {"status": 401, "body": {"detail": f"Invalid token {TOKEN}"}, "count": 5})], {}, WHISPER),
    "500 text echoing the header": ([("POST", "/faults/fail-next", {**_ECHO, "count": 5})], {}, WHISPER),
    "400 quota echoing it": ([("POST", "/faults/fail-next", {"status": 400, "body": {"error": f"Insufficient GPU quota {TOKEN}"}, "count": 5})], {}, WHISPER),
    "wallet blocked": ([("PUT", "/wallet", {"blocked": True})], {}, WHISPER),
    "unknown deployment": ([], {}, UNKNOWN_ID),
    "failed deployment": ([("PUT", f"/deployments/{WHISPER}/status", {"status": "FAILED"})], {}, WHISPER),
    "an id that is not a UUID": ([], {}, "whisper-v3"),
    "the token pasted as the id": ([], {}, TOKEN),
    "a proxy's text instead of JSON": ([("POST", "/faults/malformed", {"kind": "non_json", "count": 5})], {}, WHISPER),
    "an HTML 502 page": ([("POST", "/faults/malformed", {"kind": "html", "count": 5})], {}, WHISPER),
    "a dropped connection": ([("POST", "/faults/malformed", {"kind": "drop", "count": 5})], {}, WHISPER),
    "a slow platform": ([("PUT", "/faults/latency", {"fixed_ms": 400})], {"SCALER_HTTP_TIMEOUT_SECONDS": "0.1"}, WHISPER),
    "nothing listening": ([], {"SCALER_API_URL": "http://127.0.0.1:9"}, WHISPER),
    "a malformed setting": ([], {"SCALER_ORG_ID": "not-a-uuid"}, WHISPER),
    "a bad URL setting": ([], {"SCALER_API_URL": f"ftp://{TOKEN}@example.invalid"}, WHISPER),
    "no org id": ([], {"SCALER_ORG_ID": None}, WHISPER),
}


def run_command(url: str, args: list[str], **env: str | None) -> Result:
    """Invoke `scaler deployments ARGS` in process with the token in the environment."""
    variables: dict[str, str | None] = {
        "SCALER_API_URL": url,
        "SCALER_API_TOKEN": TOKEN,
        "SCALER_API_TOKEN_FILE": None,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
        "SCALER_LOG_FORMAT": "json",
        "SCALER_LOG_LEVEL": None,
        "SCALER_API_RETRY_ATTEMPTS": "2" if is_full() else "1",  # a retry waits for real: the full run only
        "SCALER_API_RETRY_TIMEOUT_SECONDS": "1",
        **env,
    }
    return CliRunner().invoke(main, ["deployments", *args], env=variables)


def cli_cases() -> list[tuple[str, str, str | None]]:
    """(failure, command, log level) to run: every combination in the full run, each failure twice in the fast one."""
    commands = list(COMMANDS)
    if is_full():
        return [(failure, command, level) for failure in CLI_FAILURES for command in commands for level in (None, "debug")]
    return [
        (failure, commands[(index + shift) % len(commands)], level)
        for index, failure in enumerate(CLI_FAILURES)
        for shift, level in ((0, None), (3, "debug"))
    ]


def test_scaler_deployments_failing_in_every_way_never_shows_the_token(served: tuple[InProcessSim, str], figures: ScenarioFigures) -> None:
    """Each failure under the commands, quiet and at debug level: exit 0, 1 or 2, no traceback, no part of the token on stdout or stderr."""
    _, url = served
    leaks, crashed = [], []
    for failure, command, level in cli_cases():
        faults, env, deployment_id = CLI_FAILURES[failure]
        control(url, "POST", "/reset")
        for method, path, body in faults:
            control(url, method, path, body)
        args = [part.format(id=deployment_id) for part in COMMANDS[command]]
        result = run_command(url, args, SCALER_LOG_LEVEL=level, **env)
        figures.add(faults=1)
        where = f"scaler deployments {command} with {failure} (log level {level or 'quiet'})"
        if result.exit_code not in (0, 1, 2) or "Traceback" in result.output + result.stderr or result.exception and not isinstance(result.exception, SystemExit):
            figures.crash(f"{where}: exit {result.exit_code}, {result.exception!r}")
            crashed.append(where)
        if result.exit_code:
            assert result.stderr.splitlines()[-1].startswith("error: "), (where, result.stderr)
        leaks += check(figures, where, result.stdout, result.stderr)
    control(url, "POST", "/reset")
    assert ([], []) == (leaks, crashed)


def test_a_fresh_process_failing_never_shows_the_token(served: tuple[InProcessSim, str], figures: ScenarioFigures) -> None:
    """`scaler deployments list` as its own process (nothing registered beforehand), the platform echoing the token: none of it in the output."""
    _, url = served
    leaks = []
    formats = ("json", "console") if is_full() else ("json",)
    for log_format in formats:
        for level in ("error", "debug"):
            control(url, "POST", "/reset")
            control(url, "POST", "/faults/fail-next", {**_ECHO, "count": 10})
            env = environment(
                SCALER_API_URL=url,
                SCALER_API_TOKEN=TOKEN,
                SCALER_ORG_ID=DEFAULT_ORG_ID,
                SCALER_LOG_FORMAT=log_format,
                SCALER_LOG_LEVEL=level,
                SCALER_API_RETRY_ATTEMPTS="1",
            )
            command = [str(Path(sys.executable).with_name("scaler")), "deployments", "list"]
            run = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
            figures.add(faults=1)
            assert 1 == run.returncode, run.stderr
            assert "Traceback" not in run.stderr
            leaks += check(figures, f"a fresh process, {log_format} at {level}", run.stdout, run.stderr)
    control(url, "POST", "/reset")
    assert [] == leaks


# --------------------------------------------------------------------------- settings and the token file


def test_the_settings_show_no_part_of_the_token_in_any_rendering(monkeypatch: pytest.MonkeyPatch, figures: ScenarioFigures) -> None:
    """repr, str, format, public_view, model_dump, its JSON and a settings error naming another variable: no part of the token."""
    monkeypatch.setenv("SCALER_API_TOKEN", TOKEN)
    loaded = load_settings()
    renderings = [repr(loaded), str(loaded), f"{loaded}", json.dumps(loaded.public_view()), loaded.model_dump_json(), repr(loaded.model_dump())]
    monkeypatch.setenv("SCALER_HTTP_PORT", "not-a-port")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    renderings += [str(caught.value), repr(caught.value)]
    assert TOKEN == loaded.api_token.get_secret_value()  # it is there, only never shown
    assert [] == check(figures, "settings", *renderings)


def test_the_settings_show_no_database_password_where_people_read_them(monkeypatch: pytest.MonkeyPatch, figures: ScenarioFigures) -> None:
    """A long password in SCALER_STATE_URL (here: the token's text) shows nowhere in repr, str or public_view."""
    monkeypatch.setenv("SCALER_STATE_URL", f"postgresql://scaler:{TOKEN}@db.invalid/scaler")
    loaded = load_settings()
    assert [] == check(figures, "settings with a database password", repr(loaded), str(loaded), json.dumps(loaded.public_view()))


def test_a_token_file_readable_by_others_warns_naming_the_file_never_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], figures: ScenarioFigures
) -> None:
    """Mode 0644: one warning line (JSON) with the path, the mode and advice; mode 0600: none; no part of the token either way."""
    configure_logging(log_format="json", log_level="info")
    exposed, private = tmp_path / "exposed-token", tmp_path / "private-token"
    for path, mode in ((exposed, 0o644), (private, 0o600)):
        path.write_text(TOKEN + "\n")
        path.chmod(mode)
        TokenSource.from_file(path).get()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    warnings = [line for line in lines if line["event"] == "api_token_file_readable_by_others"]
    figures.add(faults=1)
    assert [(str(exposed), "0o644", "warning")] == [(line["path"], line["mode"], line["level"]) for line in warnings]
    assert "chmod 600" in warnings[0]["advice"]
    assert [] == check(figures, "token file warning", json.dumps(lines))


def test_the_command_line_warns_of_a_token_file_readable_by_others(
    served: tuple[InProcessSim, str], tmp_path: Path, figures: ScenarioFigures
) -> None:
    """`scaler deployments list` with SCALER_LOG_LEVEL=warning and a 0644 token file: it works, warns once, never shows the token."""
    _, url = served
    control(url, "POST", "/reset")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    result = run_command(url, ["list"], SCALER_API_TOKEN=None, SCALER_API_TOKEN_FILE=str(token_file), SCALER_LOG_LEVEL="warning")
    figures.add(faults=1)
    events = [json.loads(line)["event"] for line in result.stderr.splitlines()]
    assert (0, ["api_token_file_readable_by_others"]) == (result.exit_code, events)
    assert [] == check(figures, "command line token file warning", result.stdout, result.stderr)
