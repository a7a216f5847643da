"""The compliance review page in a real browser: a regulator opens a version, follows 合规审查, reads the
verdicts with their clauses and quotes, and the report's styles apply (the Content-Security-Policy allows
no inline styles). Leaves test-output/screenshots/review.png (git-ignored) for a person to look at.

Skipped where Playwright or Chromium is missing (HMB_REQUIRE_BROWSER=1 makes that a failure).
"""
from __future__ import annotations

from .browser import chromium, live, needs_chromium, open_page, shot  # noqa: F401 (fixtures)
from .conftest import REPO, products_also, version_row

pytestmark = needs_chromium

products_copy = products_also(REPO / "products" / "ganzhou.yaml")


def test_a_regulator_reads_the_review_of_a_version(live, chromium):
    app, base = live
    with app.extensions["hmb_sessions"]() as session:
        row = version_row(session, "ganzhou", "2024")
    page = open_page(chromium, base, "regulator", viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/versions/{row.id}")
    page.click("text=合规审查")
    page.wait_for_url(f"{base}/versions/{row.id}/review")
    row_of_check = page.locator(".review-report tr", has_text="第一年保费不超过 100 元")  # the report, not the sign-off table
    assert "三(四) “第一年保费原则上不超过100元”" in row_of_check.inner_text()
    verdict = row_of_check.locator("td.verdict")
    assert verdict.inner_text() == "符合"
    assert verdict.evaluate("e => getComputedStyle(e).fontWeight") == "700"  # review.css applied
    assert page.errors == []
    shot(page, "review", full_page=False)
