"""The comparison page: versions side by side across products, every figure the engine's, exported to Excel and CSV.

The app here imports 咸惠保 (2023) and 枣惠保 (2023–2025): two products, so the default comparison (each
product's latest published version) has two columns.
"""
from __future__ import annotations

import csv
import html
import io
import re
import shutil
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from admin_ui import comparison as comparing
from admin_ui.models import Job
from engine import adjudicate, load_product, parse_claim
from engine.compare import PARAMETERS, comparison_steps, graded_bill_sizes, standard_profiles
from engine.money import format_yuan
from engine.vector import Unsupported, compile_version

from .conftest import REPO, XIANHUIBAO, Browser, bearer, login, products_also, version_row, wait_for_job

ZAOHUIBAO = REPO / "products" / "zaohuibao.yaml"

products_copy = products_also(ZAOHUIBAO)


@pytest.fixture
def two(app, session):
    """咸惠保 2023 and 枣惠保 2025: the row ids, as the page's query string."""
    xhb, zhb = version_row(session, "xianhuibao", "2023"), version_row(session, "zaohuibao", "2025")
    return f"v={xhb.id}&v={zhb.id}"


def table(page: str, css: str) -> str:
    start = page.index(f'<table class="{css}"')
    return page[start:page.index("</table>", start)]


def rows_of(html: str, attribute: str) -> dict[str, str]:
    """Each <tr {attribute}="id"> of a table, by id."""
    return dict(re.findall(rf'<tr {attribute}="([^"]+)">(.*?)</tr>', html, re.S))


def svg(page: str, css: str) -> str:
    start = page.index(f'<svg class="chart {css}"')
    return page[start:page.index("</svg>", start)]


# ── the page ─────────────────────────────────────────────────────────────────────────────────

def test_the_page_lists_every_parameter_with_one_column_per_version(app, two):
    page = Browser(app, "regulator").get(f"/compare?{two}").get_data(as_text=True)
    params = table(page, "grid params")
    header = params[:params.index("</thead>")]
    assert re.findall(r'<th><a href="/versions/\d+">([^<]+)</a>', header) == ["咸惠保 2023", "枣惠保 2025"]
    rows = rows_of(params, "data-key")
    assert list(rows) == [key for key, *_ in PARAMETERS] and all(row.count("<td") == 2 for row in rows.values())
    # 咸惠保's premium is an assumption of the file (its source publishes none); 枣惠保 2025's is declared by seed 002
    premium = re.findall(r"<td[^>]*>(.*?)</td>", rows["premium"], re.S)
    assert premium == ['<span class="mark">【假设】</span>69.00 元', "10.00–159.00 元"]
    assert 'title="假设：来源未公布保费；取湖北省内惠民保常见的统一价 69 元"' in rows["premium"]
    # 枣惠保 2025's bands are all stated by the source: not marked
    assert "【假设】" not in re.findall(r"<td[^>]*>(.*?)</td>", rows["bands"], re.S)[1]
    assert "【假设】" not in rows["city"]


def test_by_default_each_products_latest_published_version(app):
    page = Browser(app, "pm").get("/compare").get_data(as_text=True)
    header = table(page, "grid params")
    assert re.findall(r'<th><a href="/versions/\d+">([^<]+)</a>', header) == ["咸惠保 2023", "枣惠保 2025"]
    assert "请至少选择两个版本" not in page


def test_one_version_alone_asks_for_a_second(app, session):
    only = version_row(session, "xianhuibao", "2023")
    page = Browser(app, "regulator").get(f"/compare?v={only.id}").get_data(as_text=True)
    assert "请至少选择两个版本进行比较。" in page and 'data-profile="cancer-inpatient"' in page


def _claim(profile: dict, version) -> dict:
    """The profile as the claim a person would file, written out here rather than taken from engine.compare."""
    return {"claim_id": "c", "member": {"id": "m", **profile["member"]}, "date": version.period[0], **profile["claim"]}


def test_each_profile_payout_on_the_page_is_the_engines_adjudication_to_the_fen(app, two):
    page = Browser(app, "regulator").get(f"/compare?{two}").get_data(as_text=True)
    rows = rows_of(table(page, "grid compare"), "data-profile")
    versions = [load_product(XIANHUIBAO).version("2023"), load_product(ZAOHUIBAO).version("2025")]
    profiles = standard_profiles()["profiles"]
    assert list(rows) == [p["id"] for p in profiles]
    for profile in profiles:
        cells = re.findall(r'data-paid-fen="(\d+)" data-remainder-fen="(\d+)">\s*<strong class="paid">([^<]+)</strong>',
                           rows[profile["id"]])
        expected = [adjudicate(parse_claim(_claim(profile, v)), v, trace=False) for v in versions]
        assert cells == [(str(s.paid_fen), str(s.patient_remainder_fen), format_yuan(s.paid_fen)) for s in expected]
    cancer = rows["cancer-inpatient"]
    # 咸惠保 2023: (100,000 − 18,000) × 80 % + (200,000 − 24,000) × 70 % = 65,600 + 123,200 = 188,800; 62.93 % of 300,000
    assert "188,800.00</strong> <span class=\"ratio\">62.93%</span>" in cancer
    assert '<span class="remainder">111,200.00</span>' in cancer  # 300,000 − 188,800
    # 枣惠保 2025: one 8,000 deductible, met by the in-policy part: (100,000 − 8,000) × 80 % + 200,000 × 70 % = 213,600
    assert "213,600.00</strong> <span class=\"ratio\">71.20%</span>" in cancer


SHANGHAI = REPO / "tests" / "fixtures" / "shanghai.yaml"  # names pre-existing conditions: the vectorised path refuses it


def computed_by(page: str) -> dict[str, tuple[str, str]]:
    """The profiles table's last row: each version's path and the words that say it."""
    row = page[page.index('<tr class="computed-by">'):]
    row = row[:row.index("</tr>")]
    return {key: (path, re.sub(r"\s+", " ", text).strip()) for key, path, text in
            re.findall(r'<td class="small" data-version="([^"]+)" data-path="([^"]*)">(.*?)</td>', row, re.S)}


def test_the_page_says_which_path_computed_each_versions_figures_and_why_the_rules_path(make_app, products_copy):
    shutil.copy(SHANGHAI, products_copy / "shanghai.yaml")
    app = make_app()
    with app.app_context():
        from admin_ui.db import db
        ids = [version_row(db(), product, year).id for product, year in (("xianhuibao", "2023"), ("shanghai-2024", "2024"))]
    with pytest.raises(Unsupported) as refused:
        compile_version(load_product(SHANGHAI).version("2024"))
    regulator = Browser(app, "regulator")
    page = html.unescape(regulator.get(f"/compare?v={ids[0]}&v={ids[1]}").get_data(as_text=True))
    assert computed_by(page) == {
        "xianhuibao@2023": ("vectorised", "按向量化路径计算"),
        "shanghai-2024@2024": ("rules", f"按规则路径计算（向量化路径不能处理：{refused.value}）")}
    assert "列名的既往症" in str(refused.value)  # the reason in the scheme's words
    regulator.get("/lang/en")
    page = html.unescape(regulator.get(f"/compare?v={ids[0]}&v={ids[1]}").get_data(as_text=True))
    assert computed_by(page)["xianhuibao@2023"][1] == "Computed on the vectorised path"
    assert computed_by(page)["shanghai-2024@2024"][1].startswith("Computed on the rules path")


def test_premiums_for_standard_persons(app, two):
    page = Browser(app, "regulator").get(f"/compare?{two}").get_data(as_text=True)
    rows = rows_of(table(page, "grid compare premiums"), "data-person")
    # 咸惠保: one assumed band of 69 for everyone; 枣惠保 2025 (seed 002): pre-existing 159, the five low-income 10
    assert re.findall(r'data-premium-fen="(\d+)"', rows["pre-existing"]) == ["6900", "15900"]
    assert re.findall(r'data-premium-fen="(\d+)"', rows["low-income"]) == ["6900", "1000"]
    assert rows["adult"].count('class="num assumed"') == 1 and rows["adult"].count('class="num"') == 1


def test_the_curve_chart_draws_one_curve_per_version(app, session, two):
    regulator = Browser(app, "regulator")
    page = regulator.get(f"/compare?{two}").get_data(as_text=True)
    chart = svg(page, "curves")
    assert re.findall(r'<polyline class="curve" data-version="([^"]+)"', chart) == ["xianhuibao@2023", "zaohuibao@2025"]
    points = re.findall(r'points="([^"]+)"', chart)
    assert [len(p.split()) for p in points] == [len(graded_bill_sizes())] * 2
    assert "咸惠保 2023" in chart and "个人自付合计（万元）" in chart and ">200</text>" in chart  # x axis to 200 万元
    three = f"{two}&v={version_row(session, 'zaohuibao', '2023').id}"
    chart = svg(regulator.get(f"/compare?{three}").get_data(as_text=True), "curves")
    assert chart.count('<polyline class="curve"') == 3


def test_the_premium_chart_has_one_bar_per_person_and_version(app, two):
    page = Browser(app, "regulator").get(f"/compare?{two}").get_data(as_text=True)
    chart = svg(page, "premium-bars")
    bars = re.findall(r'<rect class="bar( assumed)?" data-version="([^"]+)" data-person="([^"]+)" data-fen="(\d+)"', chart)
    assert len(bars) == 5 * 2
    assert ("", "zaohuibao@2025", "pre-existing", "15900") in bars
    assert (" assumed", "xianhuibao@2023", "adult", "6900") in bars  # the assumed premium is drawn pale
    tallest = max(bars, key=lambda b: int(b[3]))
    assert tallest[2:] == ("pre-existing", "15900") and ">200</text>" in chart  # the axis runs to 200 元


def test_a_version_that_does_not_validate_is_left_out_and_named(app, session, draft):
    published = version_row(session, "xianhuibao", "2023")
    draft.yaml_text = draft.yaml_text.replace("ratio: {value: 0.8,", "ratio: {value: 8,")
    session.commit()
    page = Browser(app, "regulator").get(f"/compare?v={published.id}&v={draft.id}").get_data(as_text=True)
    assert "以下版本未通过校验，未参加比较：" in page and "xianhuibao@2024" in page
    assert table(page, "grid params").count('<th><a href="/versions/') == 1


# ── who may see it ───────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("username", ["regulator", "reviewer", "pm", "admin"])
def test_every_role_can_view_comparisons(app, two, username):
    user = Browser(app, username)
    assert user.get(f"/compare?{two}").status_code == 200
    assert user.get(f"/compare.xlsx?{two}").status_code == 200


def test_without_login_nothing_is_shown(app, two):
    client = app.test_client()
    for url in (f"/compare?{two}", f"/compare.xlsx?{two}", f"/compare.csv?{two}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ── downloads ────────────────────────────────────────────────────────────────────────────────

def _number(value) -> Decimal:
    return Decimal(str(value))


def test_the_excel_file_has_the_four_sheets_with_the_engines_numbers(app, two):
    response = Browser(app, "regulator").get(f"/compare.xlsx?{two}")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["参数", "标准病例赔付", "保费", "收益曲线"]

    params = {row[0].value: row for row in book["参数"].iter_rows(min_row=2)}
    assert [c.value for c in book["参数"][1]] == ["参数", "咸惠保 2023", "枣惠保 2025"]
    premium = params["保费"]
    assert (premium[1].value, premium[2].value) == ("【假设】69.00 元", "10.00–159.00 元")
    assert premium[1].fill.fgColor.rgb.endswith("FFF4CE") and "69 元" in premium[1].comment.text
    assert premium[2].comment is None

    payouts = book["标准病例赔付"]
    header = [c.value for c in payouts[1]]
    cancer = next(row for row in payouts.iter_rows(min_row=2) if row[0].value.startswith("恶性肿瘤住院"))
    paid = cancer[header.index("咸惠保 2023 赔付（元）")]
    # (100,000 − 18,000) × 80 % + (200,000 − 24,000) × 70 % = 188,800.00, a number with two decimals shown
    assert _number(paid.value) == Decimal("188800") and paid.number_format == "#,##0.00"
    assert _number(cancer[header.index("咸惠保 2023 个人负担（元）")].value) == Decimal("111200")
    ratio = cancer[header.index("咸惠保 2023 赔付比例")]
    assert _number(ratio.value) == Decimal("0.6293") and ratio.number_format == "0.00%"
    assert _number(cancer[header.index("枣惠保 2025 赔付（元）")].value) == Decimal("213600")
    assert _number(cancer[header.index("自付合计（元）")].value) == Decimal("300000")

    premiums = book["保费"]
    header = [c.value for c in premiums[1]]
    preexisting = next(row for row in premiums.iter_rows(min_row=2) if row[0].value == "45 岁既往症患者")
    assert _number(preexisting[header.index("枣惠保 2025 保费（元）")].value) == Decimal("159")
    assert preexisting[header.index("咸惠保 2023 档位")].value == "【假设】统一保费"

    curves = book["收益曲线"]
    assert [c.value for c in curves[1]][1:] == ["咸惠保 2023 赔付（元）", "枣惠保 2025 赔付（元）"]
    by_bill = {_number(row[0].value): [_number(c.value) for c in row[1:]] for row in curves.iter_rows(min_row=2)}
    assert len(by_bill) == len(graded_bill_sizes())
    # 100,000 self-pay, 40 % out-of-policy: 咸惠保 (60,000 − 18,000) × 80 % + (40,000 − 24,000) × 70 % = 44,800;
    # 枣惠保 2025 (60,000 − 8,000) × 80 % + 40,000 × 70 % = 69,600
    assert by_bill[Decimal("100000")] == [Decimal("44800"), Decimal("69600")]
    assert by_bill[Decimal("0")] == [0, 0]
    assert len(curves._charts) == 1  # the curve drawn in Excel too


def test_the_csv_starts_with_a_bom_and_keeps_money_exact(app, two):
    response = Browser(app, "reviewer").get(f"/compare.csv?{two}")
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/csv" and body.startswith("\ufeff")
    lines = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert list(lines[0]) == comparing.CSV_HEADER

    def value(section, item, measure, version):
        return next(l["value"] for l in lines if (l["section"], l["item"], l["measure"], l["version"])
                    == (section, item, measure, version))

    assert value("标准病例赔付", "cancer-inpatient", "paid_yuan", "xianhuibao@2023") == "188800.00"
    assert value("标准病例赔付", "cancer-inpatient", "remainder_yuan", "zaohuibao@2025") == "86400.00"  # 300,000 − 213,600
    assert value("保费", "pre-existing", "premium_yuan", "zaohuibao@2025") == "159.00"
    assert value("参数", "premium", "value", "xianhuibao@2023") == "【假设】69.00 元"
    assert value("收益曲线", "100000.00", "paid_yuan", "xianhuibao@2023") == "44800.00"


# ── progress: a background job the page polls ────────────────────────────────────────────────

def test_a_background_job_reports_progress_and_leads_to_the_page(app, two, session, monkeypatch):
    regulator = Browser(app, "regulator")
    ids = [v.split("=")[1] for v in two.split("&")]
    started = regulator.post("/compare/jobs", data={"v": ids})
    assert started.status_code == 202
    job = started.get_json()
    steps = comparison_steps(2, len(graded_bill_sizes()))  # 2 × (9 profiles + 5 persons + 39 bill sizes) = 106
    assert job["total"] == steps == 106 and job["page"] == f"/compare?{two}"
    done = wait_for_job(regulator, job["poll"])
    assert (done["done"], done["total"], done["error"]) == (steps, steps, "")
    [stored] = session.scalars(select(Job).where(Job.kind == "compare")).all()  # the page will find it ready
    monkeypatch.setattr(comparing, "evaluate_stored", lambda *args: pytest.fail("computed twice"))
    page = regulator.get(done["page"]).get_data(as_text=True)
    assert 'data-paid-fen="18880000"' in page
    assert Browser(app, "pm").get(job["poll"]).status_code == 404  # a job is its owner's


def test_a_draft_is_compared_in_the_sandbox_with_progress_and_the_same_figures(app, session, draft, monkeypatch):
    """durable-rules never frees a ruleset: a draft's text is compiled in the sandbox's worker, never here."""
    from engine import rules, sandbox

    draft.yaml_text = draft.yaml_text.replace("ratio: {value: 0.8,", "ratio: {value: 0.85,")
    session.commit()
    published = version_row(session, "xianhuibao", "2023")
    calls = []
    real = sandbox.evaluate_draft
    monkeypatch.setattr(sandbox, "evaluate_draft", lambda *args: calls.append(args[0]) or real(*args))
    regulator = Browser(app, "regulator")
    try:
        job = regulator.post("/compare/jobs", data={"v": [str(published.id), str(draft.id)]}).get_json()
        done = wait_for_job(regulator, job["poll"])
        assert calls == ["compare"] and done["error"] == ""
        assert done["done"] == done["total"] == 106  # the worker's progress reached the job
        page = regulator.get(done["page"]).get_data(as_text=True)
    finally:
        sandbox.shutdown()
    draft_version = comparing.check_stored(draft).version
    assert draft_version.ruleset_name not in rules._COMPILED
    # the cancer inpatient: 188,800 yuan under 2023 (as above); in-policy 100,000 − 18,000 at 85 % not 80 %
    # adds 4,100 yuan under the draft
    assert 'data-paid-fen="18880000"' in page and 'data-paid-fen="19290000"' in page


def test_starting_a_job_needs_the_csrf_token(app, two):
    client = login(app.test_client(), "regulator")
    assert client.post("/compare/jobs", data={"v": ["1", "2"]}).status_code == 400


# ── the JSON API ─────────────────────────────────────────────────────────────────────────────

def test_the_api_compares_and_downloads(app, two):
    client = app.test_client()
    auth = bearer(app, "regulator")
    body = client.get(f"/api/v1/compare?{two}", headers=auth).get_json()
    assert [v["key"] for v in body["versions"]] == ["xianhuibao@2023", "zaohuibao@2025"]
    cancer = next(p for p in body["profiles"] if p["id"] == "cancer-inpatient")
    assert [c["paid_fen"] for c in cancer["cells"]] == [188_800_00, 213_600_00]
    assert next(r for r in body["parameters"] if r["key"] == "premium")["assumed"] == [True, False]
    xlsx = client.get(f"/api/v1/compare?{two}&format=xlsx", headers=auth)
    assert load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["参数", "标准病例赔付", "保费", "收益曲线"]
    assert client.get(f"/api/v1/compare?{two}&format=csv", headers=auth).data.startswith(b"\xef\xbb\xbf")
    assert client.get("/api/v1/compare", headers=auth).status_code == 422  # v is required
    assert client.get(f"/api/v1/compare?{two}&format=pdf", headers=auth).status_code == 422
    assert client.get("/api/v1/compare?v=9999", headers=auth).status_code == 404
    assert client.get(f"/api/v1/compare?{two}").status_code == 401
