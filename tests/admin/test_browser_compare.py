"""The comparison page in a real browser (Playwright driving the system Chromium): choose two schemes, compute
with the progress bar, see the charts, download the Excel file; and the same form without JavaScript.

Skipped where Playwright or Chromium is missing, as tests/admin/test_browser.py (HMB_REQUIRE_BROWSER=1 makes
that a failure). Leaves a screenshot of the page in test-output/screenshots/compare.png (git-ignored).
"""
from __future__ import annotations

from decimal import Decimal

from openpyxl import load_workbook

from .browser import chromium, live, needs_chromium, open_page, shot  # noqa: F401 (fixtures)
from .conftest import REPO, products_also, version_row

pytestmark = needs_chromium
SCREEN = {"viewport": {"width": 1280, "height": 900}, "accept_downloads": True}

products_copy = products_also(REPO / "products" / "zaohuibao.yaml")


def choose(page, ids: set[int]) -> None:
    for box in page.query_selector_all("input[name=v]"):
        box.set_checked(int(box.get_attribute("value")) in ids)


def row_ids(app, *keys: tuple[str, str]) -> list[int]:
    with app.extensions["hmb_sessions"]() as session:
        return [version_row(session, product, version).id for product, version in keys]


def test_compare_two_schemes_see_the_chart_and_download_excel(live, chromium, tmp_path):
    app, base = live
    xhb, zhb23, zhb25 = row_ids(app, ("xianhuibao", "2023"), ("zaohuibao", "2023"), ("zaohuibao", "2025"))
    page = open_page(chromium, base, "regulator", **SCREEN)
    page.click("text=方案比较")
    page.wait_for_selector("#compare-form")
    choose(page, {xhb, zhb23})
    # The script computes in the background and polls the job, then loads the page with the result.
    with page.expect_request(lambda r: "/compare/jobs/" in r.url):
        page.click("#compare-button")
    page.wait_for_url(f"{base}/compare?v={xhb}&v={zhb23}")
    curves = page.locator("svg.curves").first.locator("polyline.curve")
    assert curves.count() == 2
    assert [curves.nth(i).get_attribute("data-version") for i in range(2)] == ["xianhuibao@2023", "zaohuibao@2023"]
    assert page.locator("svg.premium-bars rect.bar").count() == 5 * 2
    cancer = page.locator('tr[data-profile="cancer-inpatient"] strong.paid').first
    assert cancer.text_content() == "188,800.00"  # (100,000 − 18,000) × 80 % + (200,000 − 24,000) × 70 %
    assert page.locator('tr[data-key="premium"] td.assumed .mark').count() == 2  # both premiums are assumed

    with page.expect_download() as download:
        page.click("#download-xlsx")
    assert download.value.suggested_filename == "hmb-compare.xlsx"
    saved = tmp_path / download.value.suggested_filename  # openpyxl goes by the extension
    download.value.save_as(saved)
    book = load_workbook(saved)
    assert book.sheetnames == ["参数", "标准病例赔付", "保费", "收益曲线"]
    sheet = book["标准病例赔付"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value.startswith("恶性肿瘤住院"))
    assert Decimal(str(row[header.index("咸惠保 2023 赔付（元）")].value)) == Decimal("188800")

    choose(page, {xhb, zhb23, zhb25})  # three versions: three curves
    page.click("#compare-button")
    page.wait_for_url(f"{base}/compare?v={xhb}&v={zhb23}&v={zhb25}")
    assert page.locator("svg.curves").first.locator("polyline.curve").count() == 3
    shot(page, "compare", full_page=True)
    assert page.errors == []  # no script error, no CSP refusal


def test_without_javascript_the_form_still_compares(live, chromium):
    app, base = live
    xhb, zhb25 = row_ids(app, ("xianhuibao", "2023"), ("zaohuibao", "2025"))
    page = open_page(chromium, base, "reviewer", java_script_enabled=False, **SCREEN)
    page.goto(f"{base}/compare")
    choose(page, {xhb, zhb25})
    page.click("#compare-button")
    page.wait_for_url(f"{base}/compare?v={xhb}&v={zhb25}")
    assert page.locator("svg.curves").first.locator("polyline.curve").count() == 2
    assert page.locator('tr[data-profile="cancer-inpatient"] strong.paid').nth(1).text_content() == "213,600.00"
