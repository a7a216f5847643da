"""A version with plans (基础版 / 升级版) on the admin's version page: each plan whole, its figures marked."""
from __future__ import annotations

import html
import re
import shutil

import pytest

from .conftest import REPO, Browser, version_row

TWO_PLANS = REPO / "tests" / "fixtures" / "two-plans.yaml"


@pytest.fixture
def page(make_app, products_copy) -> str:
    shutil.copy(TWO_PLANS, products_copy / "two-plans.yaml")
    app = make_app()
    with app.app_context():
        from admin_ui.db import db
        row = version_row(db(), "two-plans", "2025")
    return html.unescape(Browser(app, "regulator").get(f"/versions/{row.id}").get_data(as_text=True))


def section(page: str, plan_id: str) -> str:
    return re.search(rf'<section class="card plan" id="plan-{plan_id}">(.*?)</section>', page, re.S).group(1)


def test_each_plan_is_shown_whole_with_its_own_bands_and_liabilities(page):
    basic, plus = section(page, "basic"), section(page, "plus")
    assert "方案：基础版" in basic and "方案：升级版" in plus
    assert "59.00 元" in basic and "129.00 元" in plus  # each plan's own premium band
    assert "CAR-T 治疗" not in basic and "CAR-T 治疗" in plus  # basic drops nothing but never had CAR-T
    assert "起付线 20,000.00 元" in basic and "起付线 10,000.00 元" in plus  # plus overrides the inpatient liability


def test_a_plans_assumed_figures_are_marked_in_place(page):
    plus = section(page, "plus")
    assert re.search(r'<mark class="assumed"[^>]*>500,000\.00 元【假设】</mark>', plus)  # CAR-T's cap


def test_the_hit_policy_and_the_treatment_lists_are_on_the_page(page):
    assert "一个项目几项责任都能赔付时：赔得多的责任赔付" in page
    assert "治疗项目目录" in page and "阿基仑赛注射液" in page


def test_the_comparison_shows_a_version_with_plans_as_a_column_a_plan(make_app, products_copy):
    shutil.copy(TWO_PLANS, products_copy / "two-plans.yaml")
    app = make_app()
    with app.app_context():
        from admin_ui.db import db
        ids = [version_row(db(), "two-plans", "2025").id, version_row(db(), "xianhuibao", "2023").id]
    regulator = Browser(app, "regulator")
    page = html.unescape(regulator.get(f"/compare?v={ids[0]}&v={ids[1]}").get_data(as_text=True))
    header = page[page.index('<table class="grid params"'):]
    header = header[:header.index("</thead>")]
    names = re.findall(r'<th><a href="/versions/\d+">([^<]+)</a>', header)
    assert sorted(names) == ["咸惠保 2023", "示例双方案惠民保 2025 升级版", "示例双方案惠民保 2025 基础版"]
    premium = re.search(r'<tr data-key="premium">(.*?)</tr>', page, re.S).group(1)
    cells = dict(zip(names, re.findall(r"<td[^>]*>(.*?)</td>", premium, re.S)))  # each column under its header
    assert cells["示例双方案惠民保 2025 基础版"].endswith("59.00 元")
    assert cells["示例双方案惠民保 2025 升级版"].endswith("129.00 元")
    job = regulator.post("/compare/jobs", data={"v": [str(i) for i in ids]}).get_json()
    from engine.compare import comparison_steps, graded_bill_sizes
    assert job["total"] == comparison_steps(3, len(graded_bill_sizes()))  # progress counts a column a plan


# ── the simulator: named pre-existing conditions, sex and a listed hospital ───────────────────

SHANGHAI = REPO / "tests" / "fixtures" / "shanghai.yaml"


@pytest.fixture
def shanghai(make_app, products_copy):
    shutil.copy(SHANGHAI, products_copy / "shanghai.yaml")
    app = make_app()
    with app.app_context():
        from admin_ui.db import db
        row = version_row(db(), "shanghai-2024", "2024")
    return app, row.id


def simulate(app, row_id: int, **fields) -> str:
    form = {"mode": "form", "age": "50", "date": "2024-09-01", "care": "inpatient", "hospital_level": "3",
            "in_policy_self_pay": "0", "out_of_policy_self_pay": "0", "drug_code": "axicabtagene",
            "drug_amount": "1200000", "basic_insurance": "employee", "basic_insurance_status": "active", **fields}
    response = Browser(app, "pm").post(f"/versions/{row_id}/simulate", form)
    return html.unescape(response.get_data(as_text=True))


def paid(page: str) -> str:
    return re.search(r'本方案赔付</span><strong class="big">([\d,.]+) 元', page).group(1)


def test_the_simulator_offers_the_schemes_named_conditions_and_listed_hospitals(shanghai):
    app, row_id = shanghai
    page = html.unescape(Browser(app, "pm").get(f"/versions/{row_id}/simulate").get_data(as_text=True))
    assert 'name="condition" value="cancer"' in page and "恶性肿瘤" in page
    assert '<option value="SH-RUIJIN"' in page and "上海交通大学医学院附属瑞金医院（三级医疗机构）" in page
    assert '<select name="sex">' in page


def test_car_t_at_a_listed_hospital_is_paid_unless_the_member_names_cancer(shanghai):
    """CAR-T: 70 % of 1,200,000 capped at 500,000, only at a listed hospital; refused by the exclusion for a member
    with cancer before enrolment (the fixture's terms, all assumed)."""
    app, row_id = shanghai
    assert paid(simulate(app, row_id, hospital="SH-RUIJIN")) == "500,000.00"
    unlisted = simulate(app, row_id, hospital="名单外医院")
    assert paid(unlisted) == "0.00" and "只适用于就诊医院在“CAR-T 治疗指定医疗机构”名单内" in unlisted
    assert "请给出 hospital" in simulate(app, row_id)  # no hospital at all: asked for, not guessed
    excluded = simulate(app, row_id, hospital="SH-RUIJIN", condition="cancer")
    assert paid(excluded) == "0.00" and "属于责任免除" in excluded
    assert paid(simulate(app, row_id, hospital="SH-RUIJIN", condition="cirrhosis", sex="female")) == "500,000.00"
