"""The dashboard in a real Chromium (Debian's ``chromium`` driven by Selenium and its
``chromedriver``), against the service on loopback over the sandbox.

These tests never skip: without chromium and chromedriver they FAIL, saying what to install
(``apt-get install -y chromium chromium-driver``). Screenshots go to ``tmp_path``, or to
``$KYCBRIDGE_SCREENSHOTS`` when set (``docs/_static/screenshots`` is made that way).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_support import TOKEN, Served, served
from tracking_support import FakeClock

from kycbridge.sandbox import Replay, SimResponse
from kycbridge.webhooks.push import push_simulators

CHROMIUM = os.environ.get("KYCBRIDGE_CHROMIUM", "/usr/bin/chromium")


def _driver() -> Any:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[test]'", pytrace=False)
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (os.path.exists(CHROMIUM) and os.path.exists(driver_path)):
        pytest.fail(
            f"the browser tests need Chromium ({CHROMIUM}) and chromedriver: "
            "apt-get install -y chromium chromium-driver",
            pytrace=False,
        )
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--hide-scrollbars",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = _driver()
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = os.environ.get("KYCBRIDGE_SCREENSHOTS")
    path = Path(where) if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(browser: Any, path: Path) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(int(height), 700), 2400))
    assert browser.save_screenshot(str(path))
    browser.set_window_size(1280, 1000)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    clock = FakeClock(time.time() - 3 * 86400)
    db = tmp_path_factory.mktemp("browser") / "dash.db"
    with served(f"sqlite:///{db}", clock=clock) as running:
        tracker = running.tracker
        for email in ("approved", "declined", "blocklisted", "abandoned", "expired"):
            tracker.add("starkfi", email=f"{email}@sandbox.starkfi.test")
        for round in range(4):  # each poll moves a scenario one step
            if round == 2:  # polled twice (NOT_SUBMITTED, SUBMITTED), then told by webhook
                for run in ("wfr-approved", "wfr-rejected", "wfr-not-submitted"):
                    tracker.add("transak", work_flow_run_id=run)
            tracker.run_once()
            clock.advance(4 * 3600)
        clock.now = time.time() - 30
        results = push_simulators(running.url, [running.sandbox.simulators["transak"]], attempts=1)[
            "transak"
        ]
        assert all(r.ok for r in results)
        clock.now = time.time()
        yield running


NEXT_PAGE = "return window.__kycbridgeOld === undefined && document.readyState === 'complete'"
"""True once another document than the one marked has fully loaded."""


def click(browser: Any, element: Any) -> None:
    """Click ``element`` and wait until the next page has replaced this one.

    The old page's ``window`` carries a marker; the wait ends when a loaded document has none.
    (Selenium's ``staleness_of`` races with Chrome mid-navigation, which may answer "node
    does not belong to the document" instead of "stale": errors while navigating are
    ignored here, so nothing depends on that timing.)
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__kycbridgeOld = true")
    element.click()
    wait = WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,))
    wait.until(lambda b: b.execute_script(NEXT_PAGE))


def login(browser: Any, service: Served) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(service.url + "/")
    assert browser.current_url.endswith("/login")
    browser.find_element(By.NAME, "token").send_keys(TOKEN)
    click(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Tracked subjects"


def test_login_then_the_dashboard(browser: Any, service: Served, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(service.url + "/login")
    screenshot(browser, shots / "login.png")
    browser.find_element(By.NAME, "token").send_keys("not the token at all")
    click(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "That token is wrong" in browser.find_element(By.CSS_SELECTOR, "div.error").text
    login(browser, service)
    counts = browser.find_element(By.ID, "counts").text.lower()
    assert "starkfi" in counts and "transak" in counts and "approved" in counts
    assert "Blocklisted" in browser.find_element(By.ID, "blocklisted").text
    assert "b***@s***.test" in browser.find_element(By.ID, "blocklisted").text
    assert "webhook" in browser.find_element(By.ID, "recent").text
    page = browser.page_source
    assert "@sandbox.starkfi.test" not in page and TOKEN not in page  # masked, no secret
    screenshot(browser, shots / "dashboard.png")


def test_filter_by_state(browser: Any, service: Served) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    login(browser, service)
    Select(browser.find_element(By.ID, "filter-state")).select_by_value("rejected")
    click(browser, browser.find_element(By.ID, "filter-apply"))
    assert "state=rejected" in browser.current_url
    rows = browser.find_elements(By.CSS_SELECTOR, "#subjects tbody tr")
    states = {r.find_elements(By.TAG_NAME, "td")[3].text for r in rows}
    assert rows and states == {"rejected"}


def test_a_subjects_timeline_shows_polls_and_webhooks(
    browser: Any, service: Served, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    subject = service.tracker.store.find("transak", "wfr-approved")
    assert subject is not None
    login(browser, service)
    click(browser, browser.find_element(By.LINK_TEXT, str(subject.id)))
    assert browser.current_url.endswith(f"/subjects/{subject.id}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    sources = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
    assert sources[0] == "poll" and "webhook" in sources
    assert "approved" in browser.find_element(By.ID, "state").text
    screenshot(browser, shots / "subject.png")


def test_forget_through_the_form(browser: Any, service: Served) -> None:
    from selenium.webdriver.common.by import By

    subject = service.tracker.store.find("starkfi", "expired@sandbox.starkfi.test")
    assert subject is not None
    login(browser, service)
    browser.get(f"{service.url}/subjects/{subject.id}")
    click(browser, browser.find_element(By.CSS_SELECTOR, "#forget button"))
    assert "personal data erased" in browser.find_element(By.ID, "facts").text
    forgotten = service.tracker.get(subject.id)
    assert forgotten is not None and forgotten.forgotten


def test_hostile_provider_text_is_shown_as_text(browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    hostile = "<script>alert(1)</script><b>bold</b>"
    replay = Replay(
        "starkfi",
        [
            SimResponse.json(
                200,
                {
                    "statusCode": 200,
                    "success": True,
                    "status": "kyc_status_retrieved",
                    "message": "ok",
                    "data": {
                        "status": "pending",
                        "approved": False,
                        "session_id": "s-1",
                        "session_status": hostile,
                        "session_url": "https://verify.example/s-1",
                        "ip_info": [],
                        "is_blocklisted": False,
                    },
                },
            )
        ],
        settings={"api_key": "sk_sandbox_starkfi"},
    )
    with served(f"sqlite:///{tmp_path / 'hostile.db'}", simulators=[replay]) as service:
        subject = service.tracker.add("starkfi", email="hostile@example.com")
        assert service.tracker.run_once() == 1
        login(browser, service)
        for path in ("/", f"/subjects/{subject.id}"):
            browser.get(service.url + path)
            assert hostile in browser.find_element(By.TAG_NAME, "main").text
            assert browser.find_elements(By.CSS_SELECTOR, "main script, main b") == []
            with pytest.raises(NoAlertPresentException):
                browser.switch_to.alert.text
            assert "&lt;script&gt;" in browser.page_source
