"""Sign-off in a real browser: a regulator records findings on a version in review from its compliance review page
and sees them there; the reviewer cannot publish the version while its 违规 verdict is open (the button is
disabled, and the server refuses the form sent anyway) and publishes it once the regulator has found it 符合.

The version: 赣州惠民保 2025, a draft whose co-insurer term is 2 years (the Ganzhou plan 四(二) wants 3), submitted.
Leaves test-output/screenshots/signoff.png (git-ignored). Skipped where Playwright or Chromium is missing
(HMB_REQUIRE_BROWSER=1 makes that a failure).
"""
from __future__ import annotations


import pytest
from sqlalchemy import select

from admin_ui import services
from admin_ui.models import User

from .browser import chromium, live, needs_chromium, open_page, shot, sync_api  # noqa: F401 (fixtures)
from .conftest import products_folder, version_row

pytestmark = needs_chromium
SCREEN = {"width": 1280, "height": 900}


@pytest.fixture
def products_copy(tmp_path):
    return products_folder(tmp_path, "ganzhou.yaml")


@pytest.fixture
def in_review(live):
    """ganzhou@2025 with a 2-year co-insurer term, drafted and submitted by pm."""
    app, _base = live
    with app.extensions["hmb_sessions"]() as session:
        pm = session.scalar(select(User).where(User.username == "pm"))
        row = services.create_next_draft(session, pm, "ganzhou")
        row, result = services.save_draft(session, pm, row.id, row.yaml_text.replace("term_years: 3", "term_years: 2"),
                                          row.row_version)
        assert result.ok
        return services.submit_for_review(session, pm, row.id, row.row_version).id


def record(page, check: str, outcome: str, comment: str) -> None:
    row = page.locator(f'.signoff tr[data-check="{check}"]')
    row.locator("select[name=outcome]").select_option(label=outcome)
    row.locator("input[name=comment]").fill(comment)
    row.locator("button").click()
    page.wait_for_selector(".flash.ok")


def test_a_regulator_signs_off_and_publishing_waits_for_it(live, chromium, in_review):
    app, base = live
    expect = sync_api.expect
    regulator = open_page(chromium, base, "regulator", viewport=SCREEN)
    regulator.goto(f"{base}/versions/{in_review}")
    regulator.click("text=合规审查")
    regulator.wait_for_url(f"{base}/versions/{in_review}/review")
    term = regulator.locator('.signoff tr[data-check="ganzhou-2023/coinsurer-term"]')
    expect(term.locator("td.open")).to_have_text("违规")
    expect(regulator.locator(".signoff .flash.warn")).to_contain_text("1 项违规结论尚未经审查确认为“符合”")

    record(regulator, "ganzhou-2023/coinsurer-term", "不符合", "承办期仅 2 年，须说明依据")
    record(regulator, "ganzhou-2023/surplus-rollover", "需补充", "请提供结余滚存的书面约定")
    expect(term.locator("td.state")).to_contain_text("不符合")
    expect(term.locator("td.state")).to_contain_text("承办期仅 2 年，须说明依据")
    report_row = regulator.locator("#check-ganzhou-2023-surplus-rollover td.finding")  # the report's own column
    expect(report_row).to_contain_text("需补充")
    expect(report_row).to_contain_text("请提供结余滚存的书面约定")

    # the reviewer may not publish: the button is disabled, and the form sent anyway is refused
    reviewer = open_page(chromium, base, "reviewer", viewport=SCREEN)
    reviewer.goto(f"{base}/versions/{in_review}")
    expect(reviewer.locator(".workflow .blocked")).to_contain_text("不能发布")
    publish = reviewer.locator("button", has_text="审批通过并发布")
    expect(publish).to_be_disabled()
    publish.evaluate("button => button.disabled = false")
    publish.click()
    expect(reviewer.locator("p.lead")).to_contain_text("不能发布")
    expect(reviewer.locator("ul.issues")).to_contain_text("主承保机构和共保体承办期每期 3 年")

    # the regulator finds it compliant after all; the earlier finding stays in the history
    regulator.reload()
    record(regulator, "ganzhou-2023/coinsurer-term", "符合", "市医保局批准首期 2 年，见批复")
    expect(term.locator("td.state")).to_contain_text("市医保局批准首期 2 年")
    expect(term.locator("details.history")).to_contain_text("此前的意见（1 条）")
    expect(regulator.locator(".signoff .flash.ok").last).to_contain_text("没有未解决的违规结论")
    regulator.evaluate("document.getElementById('signoff').scrollIntoView()")
    shot(regulator, "signoff", full_page=False)

    reviewer.goto(f"{base}/versions/{in_review}")
    reviewer.locator("button", has_text="审批通过并发布").click()
    expect(reviewer.locator(".flash.ok")).to_contain_text("已审批并发布")
    with app.extensions["hmb_sessions"]() as session:
        assert version_row(session, "ganzhou", "2025").status == "published"
    assert regulator.errors == [] and [e for e in reviewer.errors if "422" not in e] == []
