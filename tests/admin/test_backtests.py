"""The backtest page (/versions/<id>/backtest): a population file of the folder chosen, the backtest run as a job
whose progress the page polls, the engine's figures as tables and inline SVG charts."""
from __future__ import annotations

import re
import shutil
import threading
from decimal import Decimal

import pytest

from admin_ui.schemes import check_draft
from engine import backtest as engine_backtest
from engine.backtest import backtest
from engine.money import format_yuan, percent
from engine.population import load_population

from .conftest import REPO, Browser, products_folder, version_row
from .test_changes import text_of, wait_for_impact

RESIDENTS = 20_000


@pytest.fixture
def populations(tmp_path):
    folder = tmp_path / "populations"
    folder.mkdir()
    shutil.copy(REPO / "populations" / "zaozhuang.yaml", folder / "zaozhuang.yaml")
    return folder


@pytest.fixture
def products_copy(tmp_path):  # 赣州惠民保: the version with a regime minimum claims ratio
    return products_folder(tmp_path, "ganzhou.yaml")


@pytest.fixture
def app(make_app, populations):
    return make_app(POPULATIONS_DIR=str(populations))


@pytest.fixture
def pm(app):
    return Browser(app, "pm")


def page_url(session, product="ganzhou", version="2024") -> str:
    return f"/versions/{version_row(session, product, version).id}/backtest"


def expected(session, populations, product="ganzhou", version="2024") -> dict:
    checked = check_draft(version_row(session, product, version).yaml_text).version
    return backtest(checked, load_population(populations / "zaozhuang.yaml"), RESIDENTS)


def test_the_page_lists_the_population_files(pm, session):
    page = pm.get(page_url(session)).get_data(as_text=True)
    assert '<option value="zaozhuang.yaml"' in page and 'id="impact-start"' not in page  # nothing chosen yet
    chosen = pm.get(page_url(session) + f"?population=zaozhuang.yaml&residents={RESIDENTS}").get_data(as_text=True)
    assert 'id="impact-start"' in chosen and "population=zaozhuang.yaml" in chosen
    for outside in ("../products/ganzhou.yaml", "/etc/passwd", "nothing.yaml"):  # only files of the folder, by name
        assert 'id="impact-start"' not in pm.get(page_url(session) + f"?population={outside}").get_data(as_text=True)
        assert pm.get(page_url(session) + f"/../backtest.json?population={outside}").status_code in (404, 409)


def test_the_job_reports_progress_then_the_engines_figures(pm, session, populations, monkeypatch):
    reported, release = threading.Event(), threading.Event()

    def held(*args, progress=None, **kwargs):
        def report(done, total):
            progress(done, total)
            if not reported.is_set():
                reported.set()
                release.wait(10)
        return backtest(*args, progress=report, **kwargs)

    monkeypatch.setattr(engine_backtest, "backtest", held)  # what engine.sandbox.run calls for a published version
    url = page_url(session) + f".json?population=zaozhuang.yaml&residents={RESIDENTS}"
    first = pm.get(url).get_json()
    assert first["status"] in ("queued", "running")
    assert reported.wait(10)
    during = pm.get(url + f"&job={first['id']}").get_json()
    assert during["status"] == "running" and during["done"] == 1 and 0 < during["percent"] < 100
    release.set()
    done = wait_for_impact(pm, url + f"&job={first['id']}")
    assert done["status"] == "done" and done["percent"] == 100
    report = expected(session, populations)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", done["html"]))
    assert f"保费收入（元） {format_yuan(report['premium']['total_fen'])}" in text
    assert f"赔付率 {percent(Decimal(report['claims']['claims_ratio']))}" in text
    minimum = report["minimum_claims_ratio"]
    assert f"应赔金额（元） {format_yuan(minimum['required_fen'])}" in text
    assert f"差额，结转下一年度（元） {format_yuan(minimum['shortfall_fen'])}" in text
    for insurer in report["insurers"]:
        assert insurer["insurer"] in text and format_yuan(insurer["paid_fen"]) in text


def test_the_charts_draw_the_reports_figures(pm, session, populations):
    url = page_url(session) + f"?population=zaozhuang.yaml&residents={RESIDENTS}&run=1"
    html = pm.get(url).get_data(as_text=True)
    report = expected(session, populations)
    for band_id, band in report["premium"]["by_band"].items():
        assert re.search(rf'data-version="premium" data-band="{band_id}" data-fen="{band["premium_fen"]}"', html)
        assert re.search(rf'data-version="paid" data-band="{band_id}" data-fen="{band["paid_fen"]}"', html)
    counts = [int(n) for n in re.findall(r'data-version="claims" data-payout="\d+" data-fen="(\d+)"', html)]
    assert counts == [b["claims"] for b in report["payouts"]["buckets"]]
    assert sum(counts) == report["claims"]["paid_count"] > 0
    page = text_of(pm.get(url))
    assert "各档位赔付率" in page and "计算回测" not in page  # the result at once, no script needed


def test_the_version_page_links_to_it_and_a_regulator_may_run_it(app, session):
    regulator = Browser(app, "regulator")
    version_page = regulator.get(f"/versions/{version_row(session, 'ganzhou', '2024').id}").get_data(as_text=True)
    assert f'href="{page_url(session)}"' in version_page
    state = wait_for_impact(regulator, page_url(session) + ".json?population=zaozhuang.yaml&residents=2000")
    assert state["status"] == "done"
    assert app.test_client().get(page_url(session)).status_code == 302


@pytest.fixture
def plans_app(make_app, products_copy, populations):
    """示例双方案惠民保 beside the others, and a second population file that does not say how members choose plans."""
    shutil.copy(REPO / "tests" / "fixtures" / "two-plans.yaml", products_copy / "two-plans.yaml")
    text = (populations / "zaozhuang.yaml").read_text(encoding="utf-8")
    (populations / "no-plans.yaml").write_text(text[:text.index("\nplan_choice:")] + text[text.index("\nclaims:"):],
                                               encoding="utf-8")
    return make_app(POPULATIONS_DIR=str(populations))


def test_a_version_with_plans_shows_each_plans_figures(plans_app, populations):
    with plans_app.app_context():
        from admin_ui.db import db
        row = version_row(db(), "two-plans", "2025")
        version = check_draft(row.yaml_text).version
    url = f"/versions/{row.id}/backtest?population=zaozhuang.yaml&residents={RESIDENTS}&run=1"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", Browser(plans_app, "pm").get(url).get_data(as_text=True)))
    report = backtest(version, load_population(populations / "zaozhuang.yaml"), RESIDENTS)
    assert "按方案" in text and len(report["by_plan"]) == 2
    for plan_id, p in report["by_plan"].items():
        assert (f"{p['name']}（{plan_id}） {p['members']:,} {format_yuan(p['premium_fen'])} {p['claims']:,} "
                f"{format_yuan(p['paid_fen'])} {percent(Decimal(p['claims_ratio']))}") in text
    assert "升级版·统一保费" in text


def test_a_population_without_the_versions_plans_is_refused_with_the_reason(plans_app):
    with plans_app.app_context():
        from admin_ui.db import db
        row = version_row(db(), "two-plans", "2025")
    pm = Browser(plans_app, "pm")
    page = text_of(pm.get(f"/versions/{row.id}/backtest?population=no-plans.yaml&run=1"))
    assert "这个人群文件不能用于本版本" in page and "basic、plus" in page and "计算回测" not in page
    answer = pm.get(f"/versions/{row.id}/backtest.json?population=no-plans.yaml")
    assert answer.status_code == 409 and "basic、plus" in answer.get_json()["error"]
