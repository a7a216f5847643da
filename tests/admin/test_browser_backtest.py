"""A regulator in a real browser (Playwright driving the system Chromium) backtests a version on a population
file: the page starts the job itself, shows its progress, then puts the figures and charts in place. The
screenshot goes to test-output/screenshots/ (git-ignored) for a person to look at.

Skipped where Playwright or Chromium is missing, unless HMB_REQUIRE_BROWSER=1 (CI): see tests/admin/browser.py.
"""
from __future__ import annotations

from .browser import chromium, live, needs_chromium, open_page, shot  # noqa: F401 (fixtures)
from .conftest import REPO, products_also, version_row

pytestmark = needs_chromium

products_copy = products_also(REPO / "products" / "ganzhou.yaml")


def test_backtest_a_version_on_a_population(live, chromium):
    app, base = live
    with app.extensions["hmb_sessions"]() as session:
        row_id = version_row(session, "ganzhou", "2024").id
    page = open_page(chromium, base, "regulator", viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/versions/{row_id}")
    page.click("a.button:text-is('回测')")
    page.select_option("select[name=population]", "zaozhuang.yaml")
    page.fill("input[name=residents]", "30000")
    with page.expect_request(lambda r: "/backtest.json" in r.url and "job=" in r.url):  # the script polls the job
        page.click("form.backtest-form button")
    page.wait_for_selector("svg.backtest-ratios rect.bar", timeout=60_000)
    section = page.text_content("#backtest")
    assert "最低赔付率" in section and "共保分摊" in section and "各档位赔付率" in section
    paid = page.locator('svg.backtest-payouts rect.bar')
    assert paid.count() == 10 and sum(int(paid.nth(i).get_attribute("data-fen")) for i in range(10)) > 0
    shot(page, "10-backtest", full_page=True)
    assert page.errors == []
