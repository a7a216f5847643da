"""A product manager in a real browser (Playwright driving the system Chromium) brings in a new city's file,
then sees what next year's change does: the semantic diff, and the impact computed with its progress bar
and drawn as charts. Screenshots go to test-output/screenshots/ (git-ignored) for a person to look at.

Skipped where Playwright or Chromium is missing, unless HMB_REQUIRE_BROWSER=1 (CI): see tests/admin/browser.py.
"""
from __future__ import annotations

import re

from .browser import chromium, live, needs_chromium, open_page, shot  # noqa: F401 (fixtures)
from .conftest import REPO, XIANHUIBAO, products_also, version_row

pytestmark = needs_chromium
SCREEN = {"viewport": {"width": 1280, "height": 900}}

products_copy = products_also(REPO / "products" / "zaohuibao.yaml")


def test_import_a_new_citys_file_as_drafts(live, chromium, tmp_path):
    app, base = live
    new_city = tmp_path / "xianning-new.yaml"
    text = XIANHUIBAO.read_text(encoding="utf-8")
    new_city.write_text(text.replace("  id: xianhuibao\n  name: 咸惠保\n", "  id: xianning-new\n  name: 咸宁新惠保\n"),
                        encoding="utf-8")
    page = open_page(chromium, base, "pm", **SCREEN)
    page.click("text=导入方案文件")
    page.set_input_files("input[name=files]", str(new_city))
    with page.expect_request(lambda r: "/products/import/jobs/" in r.url):  # the script polls the import job
        page.click("#import-submit")
    page.wait_for_selector("#import-report")
    assert "新建草稿" in page.text_content("#import-report")
    page.click("#import-report >> text=xianning-new@2023")
    assert "草稿" in page.text_content("h1")
    with app.extensions["hmb_sessions"]() as session:
        row = version_row(session, "xianning-new", "2023")
        assert (row.status, row.origin) == ("draft", "upload:xianning-new.yaml")
    assert page.errors == []


def test_see_what_next_years_change_does(live, chromium):
    app, base = live
    with app.extensions["hmb_sessions"]() as session:
        row_id = version_row(session, "zaohuibao", "2025").id
    page = open_page(chromium, base, "pm", **SCREEN)
    page.goto(f"{base}/versions/{row_id}/changes")
    diff = page.text_content("#diff")
    assert re.search(r"15,000\.00 元\s*→?\s*8,000\.00 元", diff)  # the sources' deductible change, in words
    # with JavaScript the page starts the impact job itself, shows its progress, then puts the result in place
    page.wait_for_selector("svg.impact-liabilities rect.bar", timeout=60_000)
    bars = page.locator('svg.impact-profiles rect.bar[data-profile="cancer-inpatient"]')
    old, new = (int(bars.nth(i).get_attribute("data-fen")) for i in range(2))
    assert new > old  # a lower deductible pays the cancer inpatient more
    assert "保费收入（元）" in page.text_content("#impact")
    page.locator("#impact").scroll_into_view_if_needed()
    shot(page, "09-changes-impact", full_page=True)
    assert page.errors == []
