"""The comparison page in a real browser (Playwright driving the system Chromium): choose two schemes, compute
with the progress bar, see the charts, download the Excel file; and the same form without JavaScript.

Skipped where Playwright or Chromium is missing, as tests/admin/test_browser.py (HMB_REQUIRE_BROWSER=1 makes
that a failure). Leaves a screenshot of the page in test-output/screenshots/compare.png (git-ignored).
"""
from __future__ import annotations

import os
import shutil
import threading
from decimal import Decimal

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

from openpyxl import load_workbook  # noqa: E402

from .conftest import PASSWORDS, REPO, version_row  # noqa: E402

SCREENSHOTS = REPO / "test-output" / "screenshots"


@pytest.fixture
def products_copy(products_copy):
    shutil.copy(REPO / "products" / "zaohuibao.yaml", products_copy / "zaohuibao.yaml")
    return products_copy


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
def chromium():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_page(chromium, base: str, username: str, **context):
    page = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                **context).new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button.primary")
    page.wait_for_url(f"{base}/")
    return page


def choose(page, ids: set[int]) -> None:
    for box in page.query_selector_all("input[name=v]"):
        box.set_checked(int(box.get_attribute("value")) in ids)


def row_ids(app, *keys: tuple[str, str]) -> list[int]:
    with app.extensions["hmb_sessions"]() as session:
        return [version_row(session, product, version).id for product, version in keys]


def test_compare_two_schemes_see_the_chart_and_download_excel(live, chromium, tmp_path):
    app, base = live
    xhb, zhb23, zhb25 = row_ids(app, ("xianhuibao", "2023"), ("zaohuibao", "2023"), ("zaohuibao", "2025"))
    page = open_page(chromium, base, "regulator")
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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "compare.png"), full_page=True)
    assert page.errors == []  # no script error, no CSP refusal


def test_without_javascript_the_form_still_compares(live, chromium):
    app, base = live
    xhb, zhb25 = row_ids(app, ("xianhuibao", "2023"), ("zaohuibao", "2025"))
    page = open_page(chromium, base, "reviewer", java_script_enabled=False)
    page.goto(f"{base}/compare")
    choose(page, {xhb, zhb25})
    page.click("#compare-button")
    page.wait_for_url(f"{base}/compare?v={xhb}&v={zhb25}")
    assert page.locator("svg.curves").first.locator("polyline.curve").count() == 2
    assert page.locator('tr[data-profile="cancer-inpatient"] strong.paid').nth(1).text_content() == "213,600.00"
