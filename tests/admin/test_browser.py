"""In a real browser (Playwright driving the system Chromium): the editor's live validation, jump to line,
save and the two-editor conflict, with no console or CSP errors.

Skipped where Playwright or Chromium is missing (apt-get install chromium fonts-noto-cjk; HMB_CHROMIUM
names another binary). Playwright's own browser download is not used: the machines are offline.
"""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

# CI installs Chromium and sets HMB_REQUIRE_BROWSER=1: there a missing browser is a failure, not a skip.
REQUIRED = os.environ.get("HMB_REQUIRE_BROWSER") == "1"
if REQUIRED:
    from playwright import sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("HMB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if REQUIRED and not CHROMIUM:
    raise RuntimeError("HMB_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="no Chromium on this machine (apt-get install chromium)")

from .conftest import PASSWORDS, version_row  # noqa: E402


@pytest.fixture
def live(make_app):
    app = make_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser, base: str, username: str):
    page = browser.new_context(locale="zh-CN").new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button.primary")
    page.wait_for_url(f"{base}/")
    return page


def test_live_validation_marks_the_line_and_jumps_to_it(live, browser):
    app, base = live
    page = open_page(browser, base, "pm")
    page.click("text=建立下一年度草稿 >> nth=0")
    page.wait_for_url("**/edit")
    page.wait_for_selector("#status.ok")
    text = page.input_value("#yaml")
    broken = text.replace("ratio: {value: 0.8,", "ratio: {value: 8,")
    line = broken[:broken.index("ratio: {value: 8,")].count("\n") + 1
    page.fill("#yaml", broken)
    page.wait_for_selector(f'#issues li[data-line="{line}"]')
    assert page.text_content("#status") == "1 个问题"
    assert page.text_content("#gutter .err") == str(line)
    page.click(f'#issues li[data-line="{line}"]')
    caret = page.evaluate("document.getElementById('yaml').selectionStart")
    assert broken[:caret].count("\n") + 1 == line
    assert page.text_content("#dirty") == "有未保存的修改"
    page.keyboard.press("Control+s")
    page.wait_for_selector(".flash.warn")
    assert "还有 1 个问题" in page.text_content(".flash.warn")
    assert page.errors == []


def test_two_editors_in_two_browsers(live, browser):
    app, base = live
    first, second = open_page(browser, base, "pm"), open_page(browser, base, "pm2")
    first.click("text=建立下一年度草稿 >> nth=0")
    first.wait_for_url("**/edit")
    second.goto(first.url)
    text = first.input_value("#yaml")
    first.fill("#yaml", text.replace("value: 69,", "value: 79,"))
    first.click("#save")
    first.wait_for_selector(".flash.ok")
    second.fill("#yaml", text.replace("value: 18000,", "value: 15000,"))
    second.click("#save")
    second.wait_for_selector(".conflict")
    assert "value: 15000," in second.input_value("#yaml")  # nothing lost
    assert second.text_content("#dirty") == "有未保存的修改"
    with app.extensions["hmb_sessions"]() as session:
        assert "value: 79," in version_row(session, "xianhuibao", "2024").yaml_text
    assert first.errors == []
    assert [e for e in second.errors if "409 (CONFLICT)" not in e] == []  # the conflict page itself answers 409


def test_simulator_and_version_pages_render_without_errors(live, browser):
    app, base = live
    page = open_page(browser, base, "regulator")
    page.click("text=理赔模拟 >> nth=0")
    page.wait_for_selector(".totals .big")
    assert page.text_content(".totals .big").strip().startswith("228,777.20")
    page.goto(f"{base}/compare")
    page.wait_for_selector("table.compare")
    assert page.errors == []
