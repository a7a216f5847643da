"""What the browser tests (tests/admin/test_browser*.py) share: Playwright driving the system Chromium against
the app served on a free local port.

Imported only by those modules, so that the rest of the suite needs neither Playwright nor Chromium. Importing
it skips the importing module where Playwright is missing, and `needs_chromium` (the modules' `pytestmark`)
skips its tests where Chromium is (apt-get install chromium fonts-noto-cjk; HMB_CHROMIUM names another binary).
CI installs Chromium and sets HMB_REQUIRE_BROWSER=1: there either one missing is a failure, not a skip.
Playwright's own browser download is not used: the machines are offline.

The fixtures are imported by name into each test module (`from .browser import chromium, live`).
"""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from .conftest import PASSWORDS, REPO

REQUIRED = os.environ.get("HMB_REQUIRE_BROWSER") == "1"
if REQUIRED:
    from playwright import sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("HMB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if REQUIRED and not CHROMIUM:
    raise RuntimeError("HMB_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)")
needs_chromium = pytest.mark.skipif(not CHROMIUM, reason="no Chromium on this machine (apt-get install chromium)")

SCREENSHOTS = REPO / "test-output" / "screenshots"  # git-ignored: for a person to look at


@pytest.fixture
def live(make_app):
    """The app (on the test's products_copy: override that fixture for more products) and its base URL."""
    app = make_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def chromium():
    """The system Chromium, headless."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def new_page(chromium, **context):
    """A page in a fresh Chinese-locale context, collecting console and script errors in `page.errors`."""
    page = chromium.new_context(locale="zh-CN", **context).new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button.primary")
    page.wait_for_url(f"{base}/")


def open_page(chromium, base: str, username: str, **context):
    """A new page (see new_page), logged in as `username`."""
    page = new_page(chromium, **context)
    log_in(page, base, username)
    return page


def shot(page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
