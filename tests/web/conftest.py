"""Browser tests of the web app (``/app/``): a real ``paindiary serve`` per backend and module,
Debian's Chromium driven by Playwright at 360 × 640 with touch. Each "device" is a browser
context of its own (its own IndexedDB, service worker and cookies); at the end of a test it
must have logged no console error, no uncaught exception and no CSP violation beyond those
the test expects."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)

from tests.conftest import BACKENDS, POSTGRES_URL
from tests.databases import throwaway_postgres
from tests.reliability.live_server import LiveServer, live_server

PASSWORD = "correct horse battery"
TIMEZONE = "Europe/Berlin"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: How long a condition may take to come true (a sync round trip on a loaded machine).
WAIT_MS = 20_000

expect.set_options(timeout=WAIT_MS)

# Records every CSP violation the page sees; added before any script of the page runs.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One ``paindiary serve`` per backend for the whole module (each test makes its own
    accounts, so they share it without interfering)."""
    tmp_path = tmp_path_factory.mktemp(f"web-{request.param}")
    if request.param == "sqlite":
        with live_server(f"sqlite:///{tmp_path / 'paindiary.db'}", tmp_path) as running:
            yield running
        return
    assert POSTGRES_URL is not None
    # Playwright's sync API keeps an event loop running on this thread, and the database is
    # made and dropped with asyncio.run(): that happens on a thread of its own.
    database = throwaway_postgres(POSTGRES_URL, "paindiary_web")
    with ThreadPoolExecutor(max_workers=1) as admin:
        url = admin.submit(database.__enter__).result()
        try:
            with live_server(url, tmp_path) as running:
                yield running
        finally:
            admin.submit(database.__exit__, None, None, None).result()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "the web app tests need Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        yield launched
        launched.close()


@dataclass
class Device:
    """One browser context with one page: a patient's phone, or a clinician's."""

    context: BrowserContext
    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Console errors matching ``pattern`` are expected in this test (e.g. the browser's
        own line for a request that fails offline)."""
        self.allowed.append(re.compile(pattern))

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.base_url}/app/{route}")
        self.page.wait_for_function("() => document.body.classList.contains('ready')")

    def unexpected(self) -> list[str]:
        found = [p for p in self.problems if not any(a.search(p) for a in self.allowed)]
        if not self.page.is_closed():
            violations = self.page.evaluate("window.__cspViolations || []")
            found += [f"CSP violation: {v}" for v in violations]
        return found


@pytest.fixture
def device(browser: Browser, server: LiveServer) -> Iterator[Callable[[], Device]]:
    """Makes devices; after the test, each must have logged nothing unexpected."""
    made: list[Device] = []

    def make() -> Device:
        context = browser.new_context(
            viewport={"width": 360, "height": 640},
            device_scale_factor=1,
            has_touch=True,
            is_mobile=True,
            locale="en-GB",
            timezone_id=TIMEZONE,
            accept_downloads=True,
        )
        context.add_init_script(CSP_WATCH)
        page = context.new_page()
        made_device = Device(context, page, server.base_url)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                made_device.problems.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: made_device.problems.append(f"page error: {error}"))
        made.append(made_device)
        return made_device

    yield make
    problems = {index: d.unexpected() for index, d in enumerate(made)}
    for d in made:
        d.context.close()
    assert not any(problems.values()), problems


# --- the API, straight --------------------------------------------------------------------


@dataclass
class Account:
    email: str
    password: str
    token: str
    base_url: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.base_url + path, headers=self.headers(), timeout=30, **kwargs)

    def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(
            method, self.base_url + path, headers=self.headers(), json=body, timeout=30
        )

    def entries(self) -> list[dict[str, Any]]:
        response = self.get("/v1/patients/me/entries", params={"limit": 500})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


def sign_in(base_url: str, email: str, password: str = PASSWORD) -> Account:
    response = httpx.post(
        f"{base_url}/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return Account(email, password, response.json()["access_token"], base_url)


@pytest.fixture
def make_account(server: LiveServer) -> Callable[..., Account]:
    """A new account made over the API (a test of the sign-up screen makes its own)."""

    def make(role: str = "patient", display_name: str | None = None) -> Account:
        email = f"{role}-{uuid.uuid4().hex[:10]}@example.org"
        body = {"email": email, "password": PASSWORD, "role": role, "timezone": TIMEZONE}
        if display_name:
            body["display_name"] = display_name
        response = httpx.post(f"{server.base_url}/v1/auth/register", json=body, timeout=30)
        assert response.status_code == 201, response.text
        return sign_in(server.base_url, email)

    return make


def today() -> dt.date:
    """Today where the test's patients and browsers live."""
    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


def at_noon(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(12), ZoneInfo(TIMEZONE)).isoformat()


# --- helpers for screens ----------------------------------------------------------------------


def sign_in_with_form(d: Device, account: Account) -> None:
    d.open()
    d.page.get_by_label("Email").fill(account.email)
    d.page.get_by_label("Password").fill(account.password)
    d.page.get_by_role("button", name="Sign in").click()
    expect(d.page.get_by_role("navigation")).to_be_visible()


def check_accessibility(page: Page, screen: str) -> None:
    """axe-core on the screen as it is: no serious or critical violation."""
    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
    assert not bad, f"{screen}: {bad}"


def screenshot(page: Page, screen: str) -> None:
    """Writes docs/screenshots/<screen>.png (360 × 640) when PAINDIARY_SCREENSHOTS=1."""
    if os.environ.get("PAINDIARY_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"{screen}.png"))
