"""The whole review flow in a real browser (Playwright driving the system Chromium) on a 1280×800 laptop screen.

A product manager drafts next year's 咸惠保, makes a mistake the editor shows at its line in Chinese, fixes
it, saves and submits; the reviewer publishes it with an effective period, after which nobody is offered
the editor; the regulator reads the version in plain Chinese with its assumptions marked and runs the
simulator. Each main page is saved to test-output/screenshots/ (git-ignored) for a person to look at.

Same skip/require logic as test_browser.py (see tests/admin/browser.py): skipped without Playwright or
Chromium, unless HMB_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
"""
from __future__ import annotations

import re
import shutil

import pytest

from .browser import chromium, live, log_in, needs_chromium, new_page, shot, sync_api  # noqa: F401 (fixtures)
from .conftest import REPO, version_row

pytestmark = needs_chromium
LAPTOP = {"width": 1280, "height": 800}
BROKEN, FIXED = "ratio: {value: 1.5,", "ratio: {value: 0.8,"


@pytest.fixture
def products_copy(products_copy):
    # All three products, so the list looks like the real one; the flow itself only touches 咸惠保.
    for path in (REPO / "products").glob("*.yaml"):
        if not path.name.endswith(".cases.yaml"):
            shutil.copy(path, products_copy / path.name)
    return products_copy


@pytest.fixture
def page(chromium):
    return new_page(chromium, viewport=LAPTOP)


def fits_the_screen(page) -> None:
    """Nothing wider than the laptop screen: no sideways scrolling of the whole page."""
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]


def product_card(page, name: str):
    return page.locator("section.card", has=page.locator("h2", has_text=name))


def log_out(page, base: str) -> None:
    page.click("header button.link")  # 退出
    page.wait_for_url(f"{base}/login")


def test_draft_review_publish_and_read(live, page):
    app, base = live
    sync_api.expect.set_options(timeout=10_000)

    # ── the product manager drafts next year's version ──
    log_in(page, base, "pm")
    card = product_card(page, "咸惠保")
    sync_api.expect(card.locator("a", has_text="2023")).to_be_visible()
    fits_the_screen(page)
    shot(page, "01-products")
    card.locator("button", has_text="建立下一年度草稿").click()
    page.wait_for_url("**/edit")
    sync_api.expect(page.locator(".flash.ok")).to_contain_text("已建立 xianhuibao@2024 草稿")
    page.wait_for_selector("#status.ok")

    # ── a ratio of 1.5: the engine's message, in Chinese, at its line ──
    text = page.input_value("#yaml")
    line = text[:text.index(FIXED)].count("\n") + 1
    page.fill("#yaml", text.replace(FIXED, BROKEN))
    issue = page.locator(f'#issues li[data-line="{line}"]')
    sync_api.expect(issue).to_contain_text("1.5 不能大于 1")
    sync_api.expect(issue).to_contain_text(f"第 {line} 行")
    sync_api.expect(page.locator("#status")).to_have_text("1 个问题")
    sync_api.expect(page.locator("#gutter .err")).to_have_text(str(line))
    issue.click()  # jump to the line, so the screenshot shows it
    fits_the_screen(page)
    shot(page, "03-editor-error")

    # ── fixed (and a real change: the premium), saved, submitted ──
    page.fill("#yaml", text.replace("value: 69,", "value: 79,"))
    sync_api.expect(page.locator("#status")).to_have_text("校验通过")
    page.click("#save")
    sync_api.expect(page.locator(".flash.ok")).to_have_text("已保存，校验通过。")
    page.click(".crumbs a >> nth=1")  # the version page
    page.click("button:has-text('提交审核')")
    sync_api.expect(page.locator(".flash.ok")).to_have_text("已提交审核。")
    sync_api.expect(page.locator("h1 .badge")).to_have_text("审核中")
    version_url = page.url
    log_out(page, base)

    # ── the reviewer publishes it for 2024 ──
    log_in(page, base, "reviewer")
    page.goto(version_url)
    review = page.locator("section.workflow")
    sync_api.expect(review.locator("input[name=effective_from]")).to_have_value("2024-01-01")
    sync_api.expect(review.locator("input[name=effective_to]")).to_have_value("2024-12-31")
    # the change by meaning, listed for review; the text diff folded below it
    sync_api.expect(page.locator("table.changes-brief")).to_contain_text("档位“统一保费”保费：69.00 元 → 79.00 元")
    sync_api.expect(page.locator("details.text-diff pre.diff")).to_be_hidden()
    sync_api.expect(page.locator("details.text-diff pre.diff")).to_contain_text("value: 79")
    review.locator("input[name=comment]").fill("保费调整已核对，同意发布。")
    fits_the_screen(page)
    shot(page, "04-review")
    review.locator("button.primary").click()
    sync_api.expect(page.locator("main > .flash.ok").first).to_contain_text("已审批并发布")
    sync_api.expect(page.locator("h1 .badge")).to_have_text("已发布")
    sync_api.expect(page.locator(".meta")).to_contain_text("2024-01-01 – 2024-12-31")
    shot(page, "05-published")
    page.goto(f"{base}/audit")
    sync_api.expect(page.locator("table.audit")).to_contain_text("xianhuibao@2024")
    saved = page.locator("table.audit tr", has_text="version.save")
    saved.locator("summary").click()  # before/after and the text's diff
    sync_api.expect(saved.locator("pre.diff .add")).to_contain_text("value: 79")
    fits_the_screen(page)
    shot(page, "06-audit")
    saved.scroll_into_view_if_needed()
    shot(page, "06-audit-details")
    log_out(page, base)

    # ── the editor is no longer offered, even to the product manager who wrote it ──
    log_in(page, base, "pm")
    row = product_card(page, "咸惠保").locator("tr", has=page.locator("a", has_text=re.compile(r"^2024$")))
    sync_api.expect(row.locator(".badge")).to_have_text("已发布")
    sync_api.expect(row.locator("a", has_text=re.compile(r"^编辑$"))).to_have_count(0)
    page.goto(version_url)
    sync_api.expect(page.locator("a", has_text="编辑 YAML")).to_have_count(0)
    page.goto(version_url + "/edit")
    sync_api.expect(page.locator(".flash.error")).to_have_text("只有草稿可以编辑；已发布的版本不可修改。")
    assert page.url == version_url and page.locator("#yaml").count() == 0
    log_out(page, base)

    # ── the regulator reads it: plain Chinese, assumptions marked ──
    log_in(page, base, "regulator")
    page.goto(version_url)
    for heading in ("基本信息", "参保条件", "保费档位", "保障责任"):
        sync_api.expect(page.locator("h2", has_text=heading)).to_be_visible()
    sync_api.expect(page.locator(".assumptions h2")).to_contain_text("假设（共")
    assumed = page.locator(".ref.assumed")
    assert assumed.count() >= 3
    assert page.evaluate("getComputedStyle(document.querySelector('.ref.assumed')).backgroundColor") \
        == "rgb(255, 244, 206)"  # --assumed: the highlight a reviewer looks for
    sync_api.expect(page.locator("h1")).to_contain_text("咸惠保")
    fits_the_screen(page)
    shot(page, "02-version")
    shot(page, "02-version-full", full_page=True)

    # ── and runs a claim through the simulator ──
    page.click("a.button:has-text('理赔模拟')")
    page.click("button[value=form]")
    sync_api.expect(page.locator(".totals .big")).to_be_visible()
    assert page.locator("ol.trace li").count() >= 3
    fits_the_screen(page)
    shot(page, "07-simulator")
    shot(page, "07-simulator-full", full_page=True)

    # ── which rules applied to a claim dated in 2023, as known today ──
    page.click("header nav a:has-text('适用规则查询')")
    page.select_option("select[name=product]", "xianhuibao")
    page.fill("input[name=claim_date]", "2023-06-01")
    page.click("form button.primary")
    sync_api.expect(page.locator(".answer .lead")).to_contain_text("xianhuibao@2023")
    fits_the_screen(page)
    shot(page, "08-rules")

    with app.extensions["hmb_sessions"]() as session:
        published = version_row(session, "xianhuibao", "2024")
        assert published.status == "published" and published.reviewer.username == "reviewer"
        assert "value: 79," in published.yaml_text and FIXED in published.yaml_text
    assert page.errors == []
