"""The console in process (httpx over ASGI, the daemon on the harness's manual clock): sign-in and
sessions, roles, CSRF, the exception forms going through the control API's code, escaping and headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest

from scaler.daemon.console.page_data import PageData, plan_figures
from scaler.daemon.http import create_http_app
from scaler.sim.seed import parse_deployment
from scaler.store import ExceptionRecord, Saved
from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import document
from tests.daemon.test_control_api import OPERATOR_KEY, VIEWER_KEY, keys_file

OFFICE = document(policies.OFFICE)
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_ID = "5f0c7d0e-6d0a-4d3b-9a51-8b1a9f7d0c11"


def client_of(harness: Harness, base_url: str = "http://daemon") -> httpx.AsyncClient:
    app = create_http_app(harness.daemon, harness.metrics)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def harness(make_harness: Callable[..., Harness], tmp_path: Path) -> Harness:
    built = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"), api_keys_file=keys_file(tmp_path / "keys.json"))
    await built.cycle()
    return built


@pytest.fixture
async def http(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(harness) as client:
        yield client


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    """Fetch the sign-in form, post ``key`` with its token; return the answer (cookies kept by ``http``)."""
    form = await http.get("/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None, form.text
    return await http.post("/sign-in", data={"csrf": token.group(1), "key": key})


async def csrf_of(http: httpx.AsyncClient, path: str = "/") -> str:
    page = await http.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


async def test_without_a_session_pages_send_to_sign_in(http: httpx.AsyncClient) -> None:
    """With a keys file, every page needs a session: the overview, a deployment, the exceptions redirect."""
    for path in ("/", f"/deployments/{LLAMA_8B}", "/exceptions"):
        response = await http.get(path)
        assert (303, "/sign-in") == (response.status_code, response.headers["location"])


async def test_sign_in_sets_a_strict_http_only_expiring_cookie(http: httpx.AsyncClient) -> None:
    """A valid key gives a session cookie: HttpOnly, SameSite=Strict, with a Max-Age, not Secure over HTTP;
    the key appears on no page."""
    response = await sign_in(http, VIEWER_KEY)
    assert (303, "/") == (response.status_code, response.headers["location"])
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("scaler_session="))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "max-age=28800" in cookie.lower()
    assert "secure" not in cookie.lower()
    page = await http.get("/")
    assert 200 == page.status_code
    assert "grafana (viewer)" in page.text
    assert VIEWER_KEY not in page.text


async def test_the_cookie_is_secure_over_tls(harness: Harness) -> None:
    """Served over HTTPS, the session cookie carries Secure."""
    async with client_of(harness, "https://daemon") as http:
        response = await sign_in(http, OPERATOR_KEY)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("scaler_session="))
    assert "secure" in cookie.lower()


async def test_a_wrong_key_is_refused_and_throttled(http: httpx.AsyncClient) -> None:
    """A wrong key answers 401 with the form again; the tenth failure within a minute closes the address."""
    refused = await sign_in(http, "not-a-key")
    assert 401 == refused.status_code
    assert "That key is not valid." in refused.text
    for _ in range(9):
        await sign_in(http, "not-a-key")
    assert 429 == (await sign_in(http, OPERATOR_KEY)).status_code


async def test_sign_in_without_its_form_token_is_refused(http: httpx.AsyncClient) -> None:
    """A sign-in posted from elsewhere (no double-submit token) is refused with 403."""
    response = await http.post("/sign-in", data={"key": OPERATOR_KEY})
    assert 403 == response.status_code
    assert "scaler_session" not in response.headers.get("set-cookie", "")


async def test_a_viewer_sees_no_write_controls_and_a_forged_post_is_refused(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    """A viewer's pages have no form but sign-out; a POST with the viewer's session and its own CSRF token
    answers 403 and records nothing."""
    await sign_in(http, VIEWER_KEY)
    page = await http.get(f"/deployments/{LLAMA_8B}")
    assert 200 == page.status_code
    assert "exception-form" not in page.text
    assert ["/sign-out"] == re.findall(r'<form method="post" action="([^"]+)"', page.text)
    token = await csrf_of(http, f"/deployments/{LLAMA_8B}")
    forged = await http.post(
        "/exceptions/new", data={"csrf": token, "deployment": LLAMA_8B, "action": "keep_1h", "reason": "mine"}
    )
    assert 403 == forged.status_code
    assert "needs operator" in forged.text
    assert [] == harness.store.all_exceptions()


async def test_an_operator_keeps_a_stopped_deployment_up_for_an_hour(http: httpx.AsyncClient, harness: Harness) -> None:
    """Through the form: the override is recorded by alice until now + 1 h, and the daemon's next check of
    the exceptions starts llama (stopped by its schedule at 06:00)."""
    await sign_in(http, OPERATOR_KEY)
    await harness.daemon.check_exceptions()
    harness.calls(clear=True)
    token = await csrf_of(http, f"/deployments/{LLAMA_8B}")
    response = await http.post(
        "/exceptions/new", data={"csrf": token, "deployment": LLAMA_8B, "action": "keep_1h", "reason": "eval tonight"}
    )
    assert (303, f"/deployments/{LLAMA_8B}") == (response.status_code, response.headers["location"])
    (created,) = harness.store.all_exceptions()
    assert ("override", "running", "alice", "eval tonight") == (
        created.kind, created.state, created.created_by, created.reason
    )
    assert harness.now() + timedelta(hours=1) == created.until
    harness.advance(seconds=1)
    assert await harness.daemon.check_exceptions()
    assert ["Mon 06:00:01 llama-3-8b-chat start -> 200"] == [str(call) for call in harness.calls()]
    page = await http.get(f"/deployments/{LLAMA_8B}")
    assert "eval tonight" in page.text and 'class="exception override"' in page.text


async def test_a_post_without_the_csrf_token_is_refused(http: httpx.AsyncClient, harness: Harness) -> None:
    """An operator's session without the form's token (a cross-site form) records nothing: 403."""
    await sign_in(http, OPERATOR_KEY)
    response = await http.post(
        "/exceptions/new", data={"csrf": "guess", "deployment": LLAMA_8B, "action": "keep_1h", "reason": "x"}
    )
    assert 403 == response.status_code
    assert [] == harness.store.all_exceptions()


async def test_a_missing_reason_is_named(http: httpx.AsyncClient, harness: Harness) -> None:
    """Without a reason the form comes back with 400 naming the field, and nothing is recorded."""
    await sign_in(http, OPERATOR_KEY)
    token = await csrf_of(http, f"/deployments/{LLAMA_8B}")
    response = await http.post(
        "/exceptions/new", data={"csrf": token, "deployment": LLAMA_8B, "action": "stop", "duration": "3h", "reason": " "}
    )
    assert 400 == response.status_code
    assert "reason: required" in response.text
    assert [] == harness.store.all_exceptions()


async def test_until_tomorrow_is_nine_in_the_policys_zone(make_harness: Callable[..., Harness], tmp_path: Path) -> None:
    """"Keep up until tomorrow 09:00" ends at 09:00 in the policy's zone (Berlin: 08:00 UTC in March)."""
    harness = make_harness(
        document(policies.OFFICE_BERLIN), start=at_utc(MONDAY, "20:00"), api_keys_file=keys_file(tmp_path / "k.json")
    )
    await harness.cycle()
    async with client_of(harness) as http:
        await sign_in(http, OPERATOR_KEY)
        token = await csrf_of(http, f"/deployments/{LLAMA_8B}")
        await http.post(
            "/exceptions/new", data={"csrf": token, "deployment": LLAMA_8B, "action": "keep_tomorrow", "reason": "demo"}
        )
    (created,) = harness.store.all_exceptions()
    assert datetime(2026, 3, 3, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")) == created.until


async def test_an_operator_ends_an_exception_from_the_exceptions_page(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    """The end button ends it by alice; the page then lists it under the recently ended."""
    await sign_in(http, OPERATOR_KEY)
    token = await csrf_of(http, f"/deployments/{LLAMA_8B}")
    await http.post("/exceptions/new", data={"csrf": token, "deployment": LLAMA_8B, "action": "hands_off",
                                             "duration": "8h", "reason": "debugging"})  # fmt: skip
    (created,) = harness.store.all_exceptions()
    page = await http.get("/exceptions")
    assert f"/exceptions/{created.id}/end" in page.text
    harness.advance(minutes=5)
    ended = await http.post(f"/exceptions/{created.id}/end", data={"csrf": token, "back": "/exceptions"})
    assert (303, "/exceptions") == (ended.status_code, ended.headers["location"])
    stored = harness.store.get_exception(created.id)
    assert stored is not None and ("alice", harness.now()) == (stored.ended_by, stored.ended_at)
    page = await http.get("/exceptions")
    ended_table = page.text.split('id="ended"', 1)[1]
    assert "debugging" in ended_table and "by alice" in ended_table


async def test_sign_out_ends_the_session(http: httpx.AsyncClient) -> None:
    """After sign-out the old session cookie no longer opens a page."""
    await sign_in(http, VIEWER_KEY)
    session = http.cookies["scaler_session"]
    token = await csrf_of(http)
    out = await http.post("/sign-out", data={"csrf": token})
    assert (303, "/sign-in") == (out.status_code, out.headers["location"])
    http.cookies.set("scaler_session", session)
    assert 303 == (await http.get("/")).status_code


async def test_removing_a_key_from_the_file_ends_its_sessions(http: httpx.AsyncClient, tmp_path: Path) -> None:
    """The keys file is re-read: a session whose key is gone is signed out at its next request."""
    await sign_in(http, VIEWER_KEY)
    assert 200 == (await http.get("/")).status_code
    (tmp_path / "keys.json").write_text("[]\n")
    assert 303 == (await http.get("/")).status_code


async def test_names_are_text_and_headers_forbid_inline_scripts_and_framing(
    make_harness: Callable[..., Harness],
) -> None:
    """A deployment named like markup renders escaped on the overview and its page; every answer carries a
    CSP without unsafe-inline and X-Frame-Options DENY. Without keys the console is read-only and says why."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    raw = {"deployment_id": XSS_ID, "deployment_name": XSS_NAME, "model_repo_id": XSS_ID, "model_repo_name": "x",
           "model_type": "custom", "accelerator_type": ["nvidia-l4"], "accelerator_count": 1, "status": "DEPLOYED",
           "min_replicas": 1, "max_replicas": 1}  # fmt: skip
    harness.sim.add_deployments([parse_deployment(raw)])
    await harness.cycle()
    async with client_of(harness) as http:
        pages = [await http.get(path) for path in ("/", f"/deployments/{XSS_ID}", "/exceptions", "/sign-in")]
        forged = await http.post("/exceptions/new", data={"deployment": XSS_ID, "action": "keep_1h", "reason": "x"})
    for page in pages:
        assert 200 == page.status_code
        assert "DENY" == page.headers["x-frame-options"]
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert XSS_NAME not in page.text
        assert "no API keys are configured" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0].text
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[1].text
    assert "exception-form" not in pages[1].text
    assert 403 == forged.status_code


async def test_the_overview_pages_filters_and_sorts(http: httpx.AsyncClient) -> None:
    """The filter narrows the rows (server side), a column sorts them, a bad sort key is named."""
    await sign_in(http, VIEWER_KEY)
    every = re.findall(r'<td class="name"><a [^>]+>([^<]+)</a>', (await http.get("/")).text)
    assert every == sorted(every, key=str.lower) and "llama-3-8b-chat" in every
    llamas = re.findall(r'<td class="name"><a [^>]+>([^<]+)</a>', (await http.get("/?q=LLAMA")).text)
    assert llamas and all("llama" in name for name in llamas) and len(llamas) < len(every)
    backwards = re.findall(r'<td class="name"><a [^>]+>([^<]+)</a>', (await http.get("/?sort=name&order=desc")).text)
    assert list(reversed(every)) == backwards
    bad = await http.get("/?sort=password")
    assert 400 == bad.status_code and "sort: must be one of" in bad.text


async def test_plan_figures_are_refreshed_in_the_background_after_a_new_inventory(harness: Harness) -> None:
    """The first view computes the figures; after a new inventory a view shows the last ones at once while new
    ones are computed, and the view after that has the new deployment's."""
    data = PageData(harness.daemon)
    first = await data.figures(harness.now())
    raw = {"deployment_id": XSS_ID, "deployment_name": "llama-3-8b-chat-eu", "model_repo_id": XSS_ID,
           "model_repo_name": "x", "model_type": "custom", "accelerator_type": ["nvidia-l4"], "accelerator_count": 1,
           "status": "DEPLOYED", "min_replicas": 1, "max_replicas": 1}  # fmt: skip
    harness.sim.add_deployments([parse_deployment(raw)])
    harness.advance(seconds=30)
    await harness.cycle()
    meanwhile = await data.figures(harness.now())
    assert meanwhile is first and XSS_ID not in meanwhile.next_24h_by_deployment
    assert data._refreshing is not None
    await data._refreshing
    assert XSS_ID in (await data.figures(harness.now())).next_24h_by_deployment


async def test_the_deployment_page_shows_its_health_history_newest_first(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    """Healthy, then Degraded 40 min later, seen 25 min after that (as the health job records them): the page
    lists Degraded (25 min so far) above Healthy (40 min), and the timeline's health lane has both."""
    llama = LLAMA_8B
    healthy_at = harness.now()
    harness.store.record_health([(UUID(llama), "Healthy", healthy_at)])
    harness.advance(minutes=40)
    harness.store.record_health([(UUID(llama), "Degraded", harness.now())])
    harness.advance(minutes=25)
    await sign_in(http, VIEWER_KEY)
    page = (await http.get(f"/deployments/{llama}")).text
    table = page.split('id="health-history"', 1)[1].split("</table>", 1)[0]
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in table.split("<tr>")[2:]]
    assert 2 == len(rows), rows
    assert rows[0].startswith("Degraded") and rows[0].endswith("25 min so far")
    assert rows[1].startswith("Healthy") and rows[1].endswith("40 min") and "(1 h 5 min ago)" in rows[1]
    assert healthy_at.strftime("%H:%M") in rows[1]
    lane = re.findall(r'<rect class="health (\S+)"[^>]*data-health="([^"]+)"', page)
    assert [("healthy", "Healthy"), ("degraded", "Degraded")] == lane


async def test_pages_show_the_measured_savings_today_and_over_seven_days(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    """Stopped by the scaler at 06:00 and seen stopped at 07:30: 1.5 GPU-h ($2.25 at $1.50 an L4-hour) measured
    today. With 2 GPU-h ($3) stored for 3 days ago and 10 GPU-h for 7 days ago (outside the 7 days), the
    overview's row and totals and the deployment's page show 1.5 GPU-h today and 3.5 GPU-h, $5.25 over 7 days."""
    llama = UUID(LLAMA_8B)
    today = harness.now().date()
    harness.store.add_savings(
        {
            (llama, today - timedelta(days=3)): Saved(7200.0, 3.0),
            (llama, today - timedelta(days=7)): Saved(36000.0, 15.0),
        }
    )
    harness.advance(minutes=90)
    await harness.cycle()
    await sign_in(http, VIEWER_KEY)
    overview = (await http.get("/")).text
    cells = overview.split(f'data-id="{LLAMA_8B}"', 1)[1].split("</tr>", 1)[0]
    assert "1.5 GPU-h<br><small>$2.25</small>" in cells.split('class="saved-today">', 1)[1]
    assert "3.5 GPU-h<br><small>$5.25</small>" in cells.split('class="saved-week">', 1)[1]
    totals = overview.split('id="totals"', 1)[1].split("</section>", 1)[0]
    saved_today = totals.split('id="saved-today"', 1)[1].split("</div>", 1)[0]
    saved_week = totals.split('id="saved-week"', 1)[1].split("</div>", 1)[0]
    assert '"figure">1.5</span> GPU-h,\n    $2.25' in saved_today
    assert '"figure">3.5</span> GPU-h,\n    $5.25' in saved_week
    page = (await http.get(f"/deployments/{LLAMA_8B}")).text
    saved = page.split('id="saved"', 1)[1].split("</span>", 1)[0]
    assert "1.5 GPU-h, $2.25</b>" in saved and "3.5 GPU-h, $5.25</b>" in page.split('id="saved"', 1)[1]


def test_planned_spend_honours_the_exceptions_in_force(harness: Harness) -> None:
    """The office policy stops llama-3-8b-chat at 19:00; kept running by an override for the next 24 h, its
    planned GPU-hours over them are 24, against fewer without the override; a suspension plans no change."""
    policy_set, deployments, _ = harness.daemon.planning_inputs()
    now = harness.now()
    override = ExceptionRecord(id="e1", kind="override", target_kind="deployment", target=LLAMA_8B,
                               target_name="llama-3-8b-chat", deployment_ids=(UUID(LLAMA_8B),), state="running",
                               created_at=now, until=now + timedelta(hours=24), reason="demo",
                               created_by="alice")  # fmt: skip
    plain = plan_figures(policy_set, deployments, now).next_24h_by_deployment[LLAMA_8B]
    kept = plan_figures(policy_set, deployments, now, [override]).next_24h_by_deployment[LLAMA_8B]
    assert (24.0, True) == (kept.planned_gpu_hours, plain.planned_gpu_hours < 24.0)
