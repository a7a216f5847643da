"""Comparison of versions on standard profiles: the figures are the engine's, for each version in its own year."""
from __future__ import annotations

import re

from admin_ui.compare import PROFILES, evaluate
from engine import adjudicate, load_product, parse_claim
from engine.money import format_yuan

from .conftest import XIANHUIBAO, Browser, version_row


def test_each_cell_is_the_engines_result():
    version = load_product(XIANHUIBAO).version("2023")
    profile = PROFILES[0]
    cell = evaluate(profile, version)
    claim = parse_claim({"claim_id": "c", "member": {"id": "m", **profile["member"]}, "date": "2023-05-31",
                         "care": profile["care"], "hospital_level": profile["hospital_level"],
                         "in_policy_self_pay": profile["in_policy_self_pay"],
                         "out_of_policy_self_pay": profile["out_of_policy_self_pay"]})
    assert cell.paid_fen == adjudicate(claim, version).paid_fen == 228_777_20  # the source example, to the fen
    assert cell.premium_fen == 69_00 and cell.share == "62.9%"


def test_a_profile_the_version_refuses_is_explained_not_crashed():
    version = load_product(XIANHUIBAO).version("2023")
    cell = evaluate({**PROFILES[1], "member": {"age": 40, "basic_insurance": "none"}}, version)
    assert cell.paid_fen == 0 and cell.note == "不符合参保条件"


def test_the_page_compares_published_versions_and_a_draft(app, draft, session):
    regulator = Browser(app, "regulator")
    page = regulator.get("/compare").get_data(as_text=True)
    published = version_row(session, "xianhuibao", "2023")
    assert "咸惠保 2023" in page and format_yuan(228_777_20) in page
    assert page.count('class="num"') == len(PROFILES)  # one column: the latest published version only
    both = regulator.get(f"/compare?v={published.id}&v={draft.id}").get_data(as_text=True)
    assert both.count('class="num"') == 2 * len(PROFILES)
    assert re.search(r'<th><a href="/versions/\d+">咸惠保 2024</a>', both)


def test_csv_downloads_open_in_excel_and_keep_money_exact(app, session):
    import csv
    import io
    reviewer = Browser(app, "reviewer")
    response = reviewer.get("/compare.csv")
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/csv" and body.startswith("\ufeff")
    lines = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    first = next(line for line in lines if line["profile"] == "xianning-example")
    assert (first["version"], first["paid_yuan"], first["premium_yuan"]) == ("xianhuibao@2023", "228777.20", "69.00")
    audit = reviewer.get("/audit.csv?action=import").get_data(as_text=True).lstrip("\ufeff")
    events = list(csv.DictReader(io.StringIO(audit)))
    assert [e["object"] for e in events] == ["xianhuibao@2023"] and '"content_hash"' in events[0]["after"]
    assert Browser(app, "pm").get("/audit.csv").status_code == 403


def test_the_chart_draws_one_bar_per_profile_and_version(app, draft, session):
    published = version_row(session, "xianhuibao", "2023")
    page = Browser(app, "regulator").get(f"/compare?v={published.id}&v={draft.id}").get_data(as_text=True)
    chart = page[page.index('<svg class="chart"'):page.index("</svg>")]
    assert chart.count('height="13"') == 2 * len(PROFILES)  # bars (the legend squares are 14 high)
    assert 'width="560.0"' in chart  # the largest payout spans the full width
