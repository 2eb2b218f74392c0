"""The console in a real browser: Debian's Chromium, headless, driven by Selenium through chromedriver,
against ``scaler run`` and ``scaler sim`` as processes of their own.

Skips locally without Chromium, chromedriver or Selenium (with the reason); runs under
SCALERTEST_REQUIRE_INTEGRATION=1 (CI installs ``chromium`` and ``chromium-driver``). A screenshot of
each page is written under ``SCALERTEST_OUTPUT_DIR`` (default ``.cache/test-output``), in ``console/``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scaler.daemon.api.keys import hash_key
from tests.conftest import skip_or_fail
from tests.daemon.policies import document
from tests.processes import REPO, LoggedProcess, SimProcess, daemon_environment, scaler_command, start_logged, wait_for

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OPERATOR_KEY = "operator-key-for-the-browser-tests"
VIEWER_KEY = "viewer-key-for-the-browser-tests"
LLAMA = "0b6df06d-c35c-4c90-ae22-290d3b7b7ed7"
WHISPER = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"
XSS_ID = "5f0c7d0e-6d0a-4d3b-9a51-8b1a9f7d0c11"
XSS_NAME = "<img src=x onerror=alert(1)>"
#: llama-3-8b-chat always stopped; whisper-v3 running 08:00-19:00 UTC every day, else stopped.
POLICIES = document(
    """
  - name: llama
    match: {names: [llama-3-8b-chat]}
    default: stopped
""",
    """
  - name: daytime
    match: {names: [whisper-v3]}
    default: stopped
    windows:
      - name: day
        between: "08:00-19:00"
        state: running
""",
)
XSS_DEPLOYMENT = {
    "deployment_id": XSS_ID, "deployment_name": XSS_NAME, "model_repo_id": XSS_ID, "model_repo_name": "x",
    "model_type": "custom", "accelerator_type": ["nvidia-l4"], "accelerator_count": 1, "status": "DEPLOYED",
    "min_replicas": 1, "max_replicas": 1,
}  # fmt: skip


def output_dir() -> Path:
    """Where the screenshots go (created)."""
    base = Path(os.environ.get("SCALERTEST_OUTPUT_DIR") or REPO / ".cache" / "test-output")
    directory = base / "console"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@dataclass
class Stack:
    """The simulator, the daemon and the daemon's URL."""

    sim: SimProcess
    daemon: LoggedProcess
    url: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """``scaler sim`` with the XSS-named deployment added, and ``scaler run`` with a viewer and an operator key,
    after its first cycle (llama stopped)."""
    directory = tmp_path_factory.mktemp("console")
    (directory / "policies").mkdir()
    (directory / "policies" / "p.yaml").write_text(POLICIES)
    keys = directory / "keys.json"
    keys.write_text(json.dumps([
        {"name": "grafana", "role": "viewer", "sha256": hash_key(VIEWER_KEY)},
        {"name": "alice", "role": "operator", "sha256": hash_key(OPERATOR_KEY)},
    ]))  # fmt: skip
    with SimProcess() as sim:
        sim.control("POST", "/deployments", XSS_DEPLOYMENT)
        env = daemon_environment(
            sim.url, policies=directory / "policies", state_url=f"sqlite:///{directory / 'state.db'}",
            SCALER_API_KEYS_FILE=str(keys),
        )  # fmt: skip
        daemon = start_logged("daemon", scaler_command("run"), env)
        try:
            started = daemon.wait_for("daemon_started", timeout=60)
            daemon.wait_for("action", timeout=60, deployment="llama-3-8b-chat", action="stop")
            yield Stack(sim, daemon, started.fields["http"])
        finally:
            daemon.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through chromedriver (Selenium), 1400x1000."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        skip_or_fail("no Chromium here: install Debian's chromium and chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(browser: Any, url: str, key: str) -> None:
    """Sign out whoever is signed in, sign in with ``key`` through the form, land on the overview."""
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{url}/sign-in")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "sign-in").click()
    wait_for("the overview after sign-in", lambda: browser.find_elements(By.ID, "deployments"), timeout=10)


def screenshot(browser: Any, name: str) -> Path:
    path = output_dir() / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def names_on_overview(browser: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#deployments td.name")]


def test_the_overview_lists_the_simulators_deployments(stack: Stack, browser: Any) -> None:
    """Every deployment the simulator has is a row of the overview (the XSS name as plain text), and no
    script ran from a name."""
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    sign_in(browser, stack.url, VIEWER_KEY)
    expected = sorted(item["deployment_name"] for item in stack.sim.deployments().values())
    assert expected == sorted(names_on_overview(browser))
    assert XSS_NAME in names_on_overview(browser)
    assert [] == browser.find_elements(By.CSS_SELECTOR, "#deployments img")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    screenshot(browser, "overview")


def test_the_timeline_shows_the_daily_window(stack: Stack, browser: Any) -> None:
    """whisper-v3's strip: stopped, then running from each 08:00 UTC and stopped from each 19:00 UTC, over
    the strip's seven days; now is marked."""
    from selenium.webdriver.common.by import By

    sign_in(browser, stack.url, VIEWER_KEY)
    browser.get(f"{stack.url}/deployments/{WHISPER}")
    strip = browser.find_element(By.ID, "timeline")
    start = datetime.fromisoformat(strip.get_attribute("data-start").replace("Z", "+00:00"))
    until = datetime.fromisoformat(strip.get_attribute("data-until").replace("Z", "+00:00"))
    shown = [
        (band.get_attribute("data-at"), band.get_attribute("data-state"))
        for band in strip.find_elements(By.CSS_SELECTOR, "rect.band")
    ]
    expected = []
    day = start.replace(hour=0)
    while day < until:
        for hour, state in ((8, "running"), (19, "stopped")):
            instant = day + timedelta(hours=hour)
            if start < instant < until:
                expected.append((instant.strftime("%Y-%m-%dT%H:%M:%SZ"), state))
        day += timedelta(days=1)
    first_state = "running" if 8 <= start.hour < 19 else "stopped"
    assert [(start.strftime("%Y-%m-%dT%H:%M:%SZ"), first_state), *expected] == shown
    assert timedelta(days=7) == until - start
    assert browser.find_elements(By.ID, "now-marker")
    screenshot(browser, "deployment")


def test_an_operator_keeps_a_stopped_deployment_up_and_the_platform_gets_the_start(
    stack: Stack, browser: Any
) -> None:
    """alice signs in, opens llama-3-8b-chat (stopped by its policy), gives a reason and clicks "keep up for
    1 h": the simulator receives the start within 2 s of the click, and the exception is listed."""
    from selenium.webdriver.common.by import By

    sign_in(browser, stack.url, OPERATOR_KEY)
    browser.get(f"{stack.url}/deployments/{LLAMA}")
    browser.find_element(By.ID, "reason").send_keys("demo for the customer tonight")
    before = len(stack.sim.requests())
    clicked = time.monotonic()
    browser.find_element(By.ID, "keep-1h").click()

    def started() -> bool:
        return any(
            entry["endpoint"] == "startstop" and entry["deployment_id"] == LLAMA
            and (entry["body"] or {}).get("action") == "start" and entry["status"] == 200
            for entry in stack.sim.requests()[before:]
        )  # fmt: skip

    wait_for("the start of llama-3-8b-chat at the simulator", started, timeout=10, every=0.05)
    elapsed = time.monotonic() - clicked
    assert elapsed < 2.0, f"the start arrived {elapsed:.2f} s after the click"
    listed = browser.find_element(By.ID, "active-exceptions").text
    assert "demo for the customer tonight" in listed and "alice" in listed
    browser.get(f"{stack.url}/exceptions")
    assert "demo for the customer tonight" in browser.find_element(By.ID, "active").text
    screenshot(browser, "exceptions")


def test_a_viewer_has_no_write_controls_and_a_forged_post_is_refused(stack: Stack, browser: Any) -> None:
    """grafana (viewer) sees no exception form and no end button; a POST made with its session cookie and
    its page's CSRF token answers 403."""
    from selenium.webdriver.common.by import By

    sign_in(browser, stack.url, VIEWER_KEY)
    browser.get(f"{stack.url}/deployments/{LLAMA}")
    assert [] == browser.find_elements(By.ID, "exception-form")
    assert [] == browser.find_elements(By.CSS_SELECTOR, "form.end")
    browser.get(f"{stack.url}/exceptions")
    assert [] == browser.find_elements(By.CSS_SELECTOR, "form.end")
    token = browser.find_element(By.CSS_SELECTOR, "form[action='/sign-out'] input[name=csrf]").get_attribute("value")
    session = browser.get_cookie("scaler_session")["value"]
    forged = httpx.post(
        f"{stack.url}/exceptions/new",
        data={"csrf": token, "deployment": LLAMA, "action": "stop", "duration": "1h", "reason": "forged"},
        cookies={"scaler_session": session},
        timeout=10,
    )
    assert 403 == forged.status_code
    assert "forged" not in httpx.get(f"{stack.url}/exceptions", cookies={"scaler_session": session}, timeout=10).text


def test_the_sign_in_page_and_a_screenshot_of_each_page(stack: Stack, browser: Any) -> None:
    """Signed out, the console sends to the sign-in page; every page's screenshot is a PNG on disk."""
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(stack.url)
    assert re.search(r"/sign-in$", browser.current_url)
    assert browser.find_elements(By.ID, "sign-in-form")
    screenshot(browser, "sign-in")
    for name in ("overview", "deployment", "exceptions", "sign-in"):
        path = output_dir() / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


def test_chromium_is_the_one_ci_installs() -> None:
    """The browser tests drive Debian's packages: .ci/run installs chromium and chromium-driver."""
    script = (REPO / ".ci" / "run").read_text()
    assert re.search(r"apt-get install .*\bchromium\b.*\bchromium-driver\b", script)
