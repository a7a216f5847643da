"""The pages: product list, the version in plain Chinese, the simulator, the audit log, English on request."""
from __future__ import annotations

import re
import shutil
from decimal import Decimal

from engine import adjudicate, load_product, parse_claim

from .conftest import REPO, XIANHUIBAO, Browser, version_row

GANZHOU = REPO / "products" / "ganzhou.yaml"

CLAIM = {"claim_id": "x", "member": {"id": "m", "age": 65, "basic_insurance": "employee"}, "date": "2023-06-01",
         "care": "inpatient", "hospital_level": 3, "in_policy_self_pay": 54509, "out_of_policy_self_pay": 309100}


def test_product_list_shows_city_year_and_status(app):
    page = Browser(app, "regulator").get("/").get_data(as_text=True)
    assert "咸惠保" in page and "咸宁市" in page and "湖北省" in page
    row = page[page.index(">2023</a>"):]
    assert "已发布" in row[:800] and "2023-01-01 – 2023-12-31" in row[:800]


def test_version_page_explains_the_scheme_with_sources_and_assumptions(app, session):
    row = version_row(session, "xianhuibao", "2023")
    page = Browser(app, "regulator").get(f"/versions/{row.id}").get_data(as_text=True)
    assert "保费档位" in page and "统一保费" in page and "69.00 元" in page
    assert "医保目录内个人自付：住院" in page  # a liability sentence from engine.explain
    assert 'class="ref assumed"' in page and "来源未公布保费" in page  # assumptions highlighted with their reason
    title = load_product(REPO / "products" / "xianhuibao.yaml").sources["xn-news"]["title"]
    assert f"〔《{title}》" in page  # a source reference beside a value, its document by title
    assert "假设（共" in page and row.content_hash in page


def test_simulator_pays_the_schemes_amounts_step_by_step(app, session):
    """The Xianning example under 咸惠保 2023's numbers (products/xianhuibao.yaml), by hand:
    in policy (54,509 − 18,000 deductible) × 80 % = 29,207.20; out of policy (309,100 − 24,000) × 70 % = 199,570.00;
    paid 228,777.20 (under the 1,500,000 shared cap)."""
    row = version_row(session, "xianhuibao", "2023")
    form = {"mode": "form", "age": "65", "basic_insurance": "employee", "basic_insurance_status": "active",
            "low_income": "none", "date": "2023-06-01", "care": "inpatient", "hospital_level": "3",
            "in_policy_self_pay": "54509", "out_of_policy_self_pay": "309100"}
    page = Browser(app, "regulator").post(f"/versions/{row.id}/simulate", form).get_data(as_text=True)
    assert re.search(r'class="big">\s*228,777\.20', page)
    # each step of the calculation is a line of the trace, with its clause
    for step in ("起付线 18,000.00 元", "36,509.00 元 × 80% = 29,207.20 元", "起付线 24,000.00 元",
                 "285,100.00 元 × 70% = 199,570.00 元"):
        assert step in page, step
    assert "医保目录外个人自费" in page and "太平洋人寿" in page
    # the clause behind a step: the document by its title, the quoted words; never the document's id
    assert "“咸惠保”如何惠民：“医保目录外自费费用可以多报销将近20万元”" in page and "xn-news" not in page


def test_simulator_json_keeps_money_exact(app, session):
    """JSON amounts are read as Decimal (parse_float=Decimal): 20000.10 yuan is 2,000,010 fen, never a float."""
    row = version_row(session, "xianhuibao", "2023")
    claim_json = '{"claim_id": "j", "member": {"id": "m", "age": 40}, "date": "2023-03-01", "care": "inpatient",' \
                 ' "in_policy_self_pay": 20000.10, "out_of_policy_self_pay": 30000.05}'
    page = Browser(app, "pm").post(f"/versions/{row.id}/simulate", {"mode": "json", "claim_json": claim_json})
    assert page.status_code == 200
    claim = parse_claim({"claim_id": "j", "member": {"id": "m", "age": 40}, "date": "2023-03-01", "care": "inpatient",
                         "in_policy_self_pay": Decimal("20000.10"), "out_of_policy_self_pay": Decimal("30000.05")})
    assert claim.in_policy_fen == 2_000_010
    # (20,000.10 − 18,000) × 80 % = 1,600.08; (30,000.05 − 24,000) × 70 % = 4,200.035 → 4,200.04 (half_up,
    # the version's rounding); 1,600.08 + 4,200.04 = 5,800.12. A float on the way would lose the 0.005.
    text = page.get_data(as_text=True)
    assert re.search(r'class="big">\s*5,800\.12', text)
    assert "6,000.05 元 × 70% = 4,200.04 元" in text


def test_simulator_reports_bad_input_with_its_line(app, session):
    row = version_row(session, "xianhuibao", "2023")
    pm = Browser(app, "pm")
    response = pm.post(f"/versions/{row.id}/simulate", {"mode": "json", "claim_json": '{"claim_id": "j",\n  "date": }'})
    assert response.status_code == 422 and "第 2 行" in response.get_data(as_text=True)
    response = pm.post(f"/versions/{row.id}/simulate", {"mode": "form", "age": "65", "date": "2030-01-01",
                                                        "care": "inpatient", "in_policy_self_pay": "1"})
    assert response.status_code == 422 and "不在" in response.get_data(as_text=True)


def test_simulator_runs_a_draft_in_the_sandbox_and_pays_what_the_engine_pays(app, session, draft, monkeypatch):
    """A draft's text compiles a ruleset durable-rules never frees: it is evaluated in the sandbox's worker."""
    from admin_ui.services import check_stored
    from engine import rules, sandbox

    calls = []
    real = sandbox.evaluate_draft
    monkeypatch.setattr(sandbox, "evaluate_draft", lambda *args: calls.append(args[0]) or real(*args))
    try:
        page = Browser(app, "pm").post(f"/versions/{draft.id}/simulate", {
            "mode": "form", "age": "30", "date": "2024-05-01", "care": "inpatient", "in_policy_self_pay": "50000",
            "out_of_policy_self_pay": "0"})
    finally:
        sandbox.shutdown()
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "xianhuibao@2024" in text
    assert calls == ["adjudicate", "quote"]
    # (50,000 − 18,000) × 80 % = 25,600 yuan, as the 2023 version it was copied from pays
    assert re.search(r'class="big">\s*25,600.00', text) and "69.00" in text  # and the band's premium
    draft_version = load_product(XIANHUIBAO).version("2023")
    assert adjudicate(parse_claim({**CLAIM, "date": "2023-05-01", "in_policy_self_pay": 50000,
                                   "out_of_policy_self_pay": 0}), draft_version).paid_fen == 25_600_00
    assert check_stored(draft).version.ruleset_name not in rules._COMPILED


def test_audit_log_search(app, draft):
    reviewer = Browser(app, "reviewer")
    everything = reviewer.get("/audit").get_data(as_text=True)
    assert "version.import" in everything and "version.create_draft" in everything and "user.login" in everything
    by_user = reviewer.get("/audit?user=pm&action=create").get_data(as_text=True)
    assert ">version.create_draft</code>" in by_user and ">version.import</code>" not in by_user
    by_object = reviewer.get("/audit?object=xianhuibao@2023").get_data(as_text=True)
    assert ">version.import</code>" in by_object and ">version.create_draft</code>" not in by_object
    none = reviewer.get("/audit?user=nobody").get_data(as_text=True)
    assert "没有符合条件的记录" in none


def test_english_on_request(app):
    pm = Browser(app, "pm")
    assert "产品与版本" in pm.get("/").get_data(as_text=True)
    pm.get("/lang/en?next=/")
    page = pm.get("/").get_data(as_text=True)
    assert "Products and versions" in page and "Published" in page and 'lang="en"' in page
    pm.get("/lang/zh")
    assert "产品与版本" in pm.get("/").get_data(as_text=True)



def test_simulator_quotes_special_groups_and_who_pays(make_app, products_copy):
    """赣州惠民保 2024: a disabled member's 30-yuan subsidy, the rest donated (as its golden cases have it)."""
    shutil.copy(GANZHOU, products_copy / "ganzhou.yaml")
    app = make_app()
    session = app.extensions["hmb_sessions"]()
    row = version_row(session, "ganzhou", "2024")
    form = {"mode": "form", "age": "40", "disabled": "1", "pay_with": "donor", "basic_insurance": "resident",
            "basic_insurance_status": "active", "low_income": "none", "date": "2024-06-01", "care": "inpatient",
            "in_policy_self_pay": "1000", "out_of_policy_self_pay": "0"}
    page = Browser(app, "pm").post(f"/versions/{row.id}/simulate", form).get_data(as_text=True)
    # products/ganzhou.yaml 2024: premium 69; the disabled member's subsidy 30 from the assistance fund; the
    # donor pays what is left, 69 − 30 = 39
    assert "医疗救助资金 30.00；社会捐赠 39.00" in re.sub(r"\s+", " ", page)
    # a scheme without donated enrolment refuses the donor, and says so beside the claim's result
    xhb = version_row(session, "xianhuibao", "2023")
    page = Browser(app, "pm").post(f"/versions/{xhb.id}/simulate", {**form, "date": "2023-06-01"})
    assert page.status_code == 200 and 'class="big">' in page.get_data(as_text=True)  # the claim is still paid
    assert '<span class="warn-text small">本方案不支持爱心企业等捐赠参保' in page.get_data(as_text=True)


def test_the_version_page_marks_each_assumed_figure_where_it_is_read(app, session):
    """products/xianhuibao.yaml: the in-policy deductible 18,000 and its ratio 80 % are assumptions, each marked
    in the liability's sentence with the reason the file gives."""
    row = version_row(session, "xianhuibao", "2023")
    page = Browser(app, "regulator").get(f"/versions/{row.id}").get_data(as_text=True)
    assert '起付线 <mark class="assumed" title="假设：来源未公布；与 80% 比例一起使示例目录内多报约 3 万元">' \
           '18,000.00 元【假设】</mark>的部分，按 <mark class="assumed" title="假设：来源未公布；市场无既往症人群 ' \
           '70–90% 区间内取 80%">80%【假设】</mark> 赔付' in page


def test_a_figure_the_source_states_is_not_marked():
    """枣惠保 2025: the deductible of 8,000 is the source's (zz-news); that it is shared and its order, the covered
    care, the ratios 80 % / 40 % and the cap are assumed."""
    from admin_ui.catalogue import marked_liability
    from engine.explain import describe_version

    version = load_product(REPO / "products" / "zaohuibao.yaml").version("2025")
    item = next(i for i in describe_version(version)["liabilities"] if i["id"] == "in_policy")
    marked = marked_liability(item, version)
    assert "起付线 8,000.00 元" in item["text"]
    assert [piece for piece, a in marked["pieces"] if a] == [
        "住院【假设】", "共用【假设】", "先扣政策范围内个人自付，再扣政策范围外个人自费【假设】", "80%【假设】", "40%【假设】",
        "1,500,000.00 元【假设】"]
    assert "".join(piece for piece, _a in marked["pieces"]) == item["text"]
