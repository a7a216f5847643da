"""The what-if page: the version's parameters in a form, a grid run as a background job with progress, the
figures the engine gives (engine/whatif.py) in a ranked table and a chart of claims ratios."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from engine import whatif as w
from engine.load import load_file
from engine.population import load_population

from .conftest import REPO, Browser, login, products_folder, version_row, wait_for_job

ZAOHUIBAO = REPO / "products" / "zaohuibao.yaml"
POPULATION = REPO / "populations" / "zaozhuang.yaml"
RESIDENTS = 5_000


@pytest.fixture
def products_copy(tmp_path):
    return products_folder(tmp_path, "zaohuibao.yaml")


@pytest.fixture
def row(app, session):
    return version_row(session, "zaohuibao", "2025")


def form(**extra) -> dict:
    return {"population": "zaozhuang.yaml", "residents": str(RESIDENTS), "take_up": "off", **extra}


def engine_grid(axes: dict) -> dict:
    year = w.prepare(load_file(ZAOHUIBAO), "2025", load_population(POPULATION), RESIDENTS, respond=False)
    known = w.parameters(year.version)
    return w.grid(year, [(known[n], [known[n].parse(v) for v in values]) for n, values in axes.items()])


def test_the_form_lists_the_versions_parameters(app, row):
    page = Browser(app, "pm").get(f"/versions/{row.id}/whatif").get_data(as_text=True)
    for name in ("deductible.annual", "cap.total", "ratio.in_policy.1", "premium.young"):
        assert f'data-parameter="{name}"' in page and f'name="grid:{name}"' in page
    assert "8,000.00 元" in page  # the deductible's current value
    assert f'href="/versions/{row.id}/whatif"' in Browser(app, "pm").get(f"/versions/{row.id}").get_data(as_text=True)


def test_a_grid_runs_as_a_job_with_progress_and_shows_the_engines_figures(app, row):
    pm = Browser(app, "pm")
    started = pm.post(f"/versions/{row.id}/whatif/jobs",
                      data=form(**{"grid:deductible.annual": "4000,12000", "grid:premium.young": "50,69"}))
    assert started.status_code == 202, started.get_data(as_text=True)
    job = started.get_json()
    assert job["total"] == 4 + 2  # drawing the year, four candidates, the published version
    done = wait_for_job(pm, job["poll"])
    assert (done["done"], done["total"], done["error"]) == (6, 6, "")
    assert Browser(app, "regulator").get(job["poll"]).status_code == 404  # a job is its owner's
    page = pm.get(done["page"]).get_data(as_text=True)
    expected = engine_grid({"deductible.annual": ["4000", "12000"], "premium.young": ["50", "69"]})
    table = page[page.index('<table class="grid whatif-candidates"'):]
    shown = re.findall(r'<tr data-candidate="(\d+)"', table)
    assert shown == [str(r["candidate"]) for r in expected["candidates"]]  # the engine's ranking
    for r in expected["candidates"]:
        assert f'data-fen="{r["paid_fen"]}"' in table and f'data-fen="{r["premium_fen"]}"' in table
    chart = page[page.index('<svg class="chart whatif-ratios"'):page.index("</svg>")]
    bars = dict(re.findall(r'data-candidate="(\d+)" data-ratio-bp="(\d+)"', chart))
    assert bars == {str(r["candidate"]): str(int(Decimal(r["claims_ratio"]) * 10_000)) for r in expected["candidates"]}


def test_a_set_value_that_breaks_the_scheme_names_the_parameter(app, row):
    pm = Browser(app, "pm")
    page = pm.get(f"/versions/{row.id}/whatif", query_string={**form(), "run": "1", "set:cap.total": "5000"})
    assert page.status_code == 200
    assert "cap.total" in page.get_data(as_text=True) and "方案无效" in page.get_data(as_text=True)


def test_bad_form_values_are_refused(app, row):
    pm = Browser(app, "pm")
    assert pm.post(f"/versions/{row.id}/whatif/jobs", data=form(**{"set:cap.total": "lots"})).status_code == 400
    assert pm.post(f"/versions/{row.id}/whatif/jobs", data={"residents": "5000"}).status_code == 400  # no population
    refused = pm.get(f"/versions/{row.id}/whatif", query_string={**form(residents="10"), "run": "1"})
    assert refused.status_code == 400


def test_starting_a_job_needs_the_csrf_token(app, row):
    client = login(app.test_client(), "pm")
    assert client.post(f"/versions/{row.id}/whatif/jobs", data=form()).status_code == 400


def test_a_version_with_plans_runs_plan_by_plan(make_app, products_copy):
    import shutil

    two_plans = REPO / "tests" / "fixtures" / "two-plans.yaml"
    shutil.copy(two_plans, products_copy / "two-plans.yaml")
    app = make_app()
    with app.app_context():
        from admin_ui.db import db
        row = version_row(db(), "two-plans", "2025")
    pm = Browser(app, "pm")
    assert 'data-parameter="plus/ratio.inpatient"' in pm.get(f"/versions/{row.id}/whatif").get_data(as_text=True)
    page = pm.get(f"/versions/{row.id}/whatif", query_string={**form(), "run": "1",
                                                               "grid:plus/ratio.inpatient": "0.6,0.95"})
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    year = w.prepare(load_file(two_plans), "2025", load_population(POPULATION), RESIDENTS, respond=False)
    known = w.parameters(year.version)
    expected = w.grid(year, [(known["plus/ratio.inpatient"], [Decimal("0.6"), Decimal("0.95")])])
    table = html[html.index('<table class="grid whatif-candidates"'):]
    assert re.findall(r'<tr data-candidate="(\d+)"', table) == [str(r["candidate"]) for r in expected["candidates"]]
    base = w.evaluate(year, [])
    plans = html[html.index('<table class="grid whatif-plans"'):]
    for plan_id, p in base["by_plan"].items():
        assert re.search(rf'<tr data-plan="{plan_id}">.*?data-fen="{p["premium_fen"]}".*?data-fen="{p["paid_fen"]}"',
                         plans, re.S)
