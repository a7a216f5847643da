"""In a real browser (Playwright driving the system Chromium): the editor's live validation, jump to line,
save and the two-editor conflict, with no console or CSP errors.

Skipped where Playwright or Chromium is missing, unless HMB_REQUIRE_BROWSER=1 (CI), where that is a failure:
see tests/admin/browser.py, which holds the plumbing the browser tests share.
"""
from __future__ import annotations

from .browser import chromium, live, needs_chromium, open_page  # noqa: F401 (fixtures)
from .conftest import version_row

pytestmark = needs_chromium


def test_live_validation_marks_the_line_and_jumps_to_it(live, chromium):
    app, base = live
    page = open_page(chromium, base, "pm")
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


def test_two_editors_in_two_browsers(live, chromium):
    app, base = live
    first, second = open_page(chromium, base, "pm"), open_page(chromium, base, "pm2")
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


def test_simulator_and_version_pages_render_without_errors(live, chromium):
    app, base = live
    page = open_page(chromium, base, "regulator")
    page.click("text=理赔模拟 >> nth=0")
    page.wait_for_selector(".totals .big")
    assert page.text_content(".totals .big").strip().startswith("228,777.20")
    page.goto(f"{base}/compare")
    page.wait_for_selector("table.compare")
    assert page.errors == []
