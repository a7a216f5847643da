"""The changes page (/versions/<id>/changes): semantic diff, golden cases, impact with progress.

枣惠保 is the product with three years and a case file, so these tests give the app a folder with all three
products and their case files (copies: the live products/ folder may be mid-edit).
"""
from __future__ import annotations

import re
import shutil
import threading
import time
from html import unescape

import pytest
from flask import session as flask_session
from flask_babel import refresh

from admin_ui import changes
from admin_ui.schemes import check_draft
from engine import parse_person, quote, rules, sandbox
from engine.cases import load_cases, run_case
from engine import impact as engine_impact
from engine.impact import impact, reference_population
from engine.money import format_yuan

from .conftest import REPO, Browser, version_row

POPULATION = 1_000  # engine.impact reports progress once a version is done (the vectorised path takes everyone at once)


@pytest.fixture
def products_all(tmp_path):
    folder = tmp_path / "all-products"
    folder.mkdir()
    for path in (REPO / "products").glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def app(make_app, products_all):
    return make_app(PRODUCTS_DIR=str(products_all), IMPACT_POPULATION=POPULATION)


@pytest.fixture
def pm(app):
    return Browser(app, "pm")


def text_of(response) -> str:
    """The page as a reader sees it: tags dropped, whitespace collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def changes_url(session, product: str, version: str) -> str:
    return f"/versions/{version_row(session, product, version).id}/changes"


def wait_for_impact(client, url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(url).get_json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.05)
    raise AssertionError("the impact job did not finish")


def versions(session, product: str, *ids: str):
    return [check_draft(version_row(session, product, v).yaml_text).version for v in ids]


# ── 1. semantic diff ──────────────────────────────────────────────────────────────────────────

def test_2025_against_2024_shows_the_sourced_changes_in_the_schemes_words(pm, session):
    page = text_of(pm.get(changes_url(session, "zaohuibao", "2025")))
    assert "对比版本： zaohuibao@2024" in page
    # deductible 15,000 (2023; assumed kept in 2024) → 8,000 in 2025, and the pre-existing band 139 → 159 (seed 002)
    assert "起付线 1 项" in page and "起付线“年度累计起付线（目录内外共用）” 15,000.00 元 → 8,000.00 元" in page
    assert "保费档位 7 项" in page and "档位“有既往症人群”保费 139.00 元 → 159.00 元" in page
    # an assumed new value is marked where it stands
    assert "特药“瑞基奥仑赛注射液（CAR-T）” — → 复发或难治性大 B 细胞淋巴瘤 【假设】" in page


def test_the_first_version_says_there_is_nothing_earlier(pm, session):
    page = text_of(pm.get(changes_url(session, "zaohuibao", "2023")))
    assert "没有更早的版本可比较" in page
    assert "计算影响" not in page


def test_a_draft_with_one_changed_ratio_shows_exactly_that_change(app, pm, session, monkeypatch):
    monkeypatch.setattr(sandbox, "evaluate_draft", _fake_sandbox)  # the diff is the point here, not the cases
    assert pm.post("/products/zaohuibao/next-draft").status_code == 302
    draft = version_row(session, "zaohuibao", "2026")
    assert draft.origin == "copy:zaohuibao@2025"
    old_rate = "rate: 0.8, assumed: 来源未公布比例；取市场无既往症人群 70–90% 区间的中值 80%"
    assert draft.yaml_text.count(old_rate) == 1
    text = draft.yaml_text.replace(old_rate, old_rate.replace("rate: 0.8,", "rate: 0.85,"))
    saved = pm.post(f"/versions/{draft.id}/edit", data={"yaml_text": text, "row_version": draft.row_version})
    assert saved.status_code == 302

    response = pm.get(f"/versions/{draft.id}/changes")
    page = text_of(response)
    assert "对比版本： zaohuibao@2025" in page and "本草稿复制自该版本" in page
    # next year's copy moves its dates; beyond them the only change is the ratio, marked as an assumption
    assert response.get_data(as_text=True).count('<span class="kind ') == 3
    assert "保险期间 2 项" in page
    assert "保障责任 1 项" in page
    assert re.search(r"责任“医保目录内个人自付”比例 无既往症 80%；有既往症 40% → 无既往症 85%；有既往症 40% 【假设】", page), page


def test_a_draft_that_does_not_validate_shows_its_issues(app, pm, session):
    pm.post("/products/zaohuibao/next-draft")
    draft = version_row(session, "zaohuibao", "2026")
    broken = draft.yaml_text.replace("rate: 0.8,", "rate: 8,", 1)
    pm.post(f"/versions/{draft.id}/edit", data={"yaml_text": broken, "row_version": draft.row_version})
    response = pm.get(f"/versions/{draft.id}/changes")
    assert response.status_code == 200
    assert "本版本未通过校验，暂时无法比较" in text_of(response)


# ── 2. golden cases ───────────────────────────────────────────────────────────────────────────

def test_the_golden_cases_of_this_version_run_and_pass(pm, session, products_all):
    _, cases = load_cases(products_all / "zaohuibao.cases.yaml")
    mine = [c for c in cases if c["version"] == "2025"]
    assert len(mine) > 20
    page = text_of(pm.get(changes_url(session, "zaohuibao", "2025")))
    assert f"本版本的案例 {len(mine)}/{len(mine)} 通过" in page
    assert "q25-pre-existing-51" in page and "未通过" not in page


def test_the_previous_versions_cases_rerun_here_old_expected_beside_new(pm, session):
    page = text_of(pm.get(changes_url(session, "zaohuibao", "2025")))
    assert "zaohuibao@2024 的案例在本版本上重跑" in page and "理赔日期平移 1 年" in page
    # a 2024 quote: the pre-existing band was 139, 2025 charges 159 (both sourced)
    assert re.search(r"q24-pre-existing-19 档位 既往症患者（19 周岁及以上） 相同 保费 139\.00 元 159\.00 元 \+20\.00", page), page
    # a 2024 claim moved into 2025: the lower deductible pays more
    assert "c24-deductible-assumed 赔付 7,000.00 元 11,900.00 元 +4,900.00" in page
    # a 51-year-old paid 99 in both years: listed among the unchanged
    unchanged = page[page.index("结果不变的"):]
    assert "q24-age-51" in unchanged


def test_a_moved_case_is_dated_in_the_new_period_and_a_quote_is_not_touched(session, products_all):
    old, new = versions(session, "zaohuibao", "2024", "2025")
    _, cases = load_cases(products_all / "zaohuibao.cases.yaml")
    claim = next(c for c in cases if c["id"] == "c24-deductible-assumed")
    moved = changes.moved_case(claim, old, new)
    assert moved["version"] == "2025" and moved["claim"]["date"] == claim["claim"]["date"].replace("2024", "2025", 1)
    assert claim["version"] == "2024"  # the original is left as it was
    several = {**claim, "claims": [claim["claim"], {**claim["claim"], "date": "2024-12-31"}]}
    del several["claim"]
    assert [c["date"] for c in changes.moved_case(several, old, new)["claims"]] == \
        [moved["claim"]["date"], "2025-12-31"]
    a_quote = next(c for c in cases if c["id"] == "q24-age-0")
    assert changes.moved_case(a_quote, old, new) == {**a_quote, "version": "2025"}


# ── 3. impact ─────────────────────────────────────────────────────────────────────────────────

def test_the_impact_json_reports_progress_then_the_engines_result(pm, session, monkeypatch):
    """The job runs engine.impact.impact; the test holds it after its first progress report to see it."""
    reported, release = threading.Event(), threading.Event()

    def held(old, new, population, seed, claims, progress):
        def report(label, done, total):
            progress(label, done, total)
            if not reported.is_set():
                reported.set()
                release.wait(10)
        return impact(old, new, population, seed, claims, progress=report)

    monkeypatch.setattr(engine_impact, "impact", held)  # what engine.sandbox.run calls, here for a published pair
    url = changes_url(session, "zaohuibao", "2025") + "/impact.json"
    first = pm.get(url).get_json()
    assert first["status"] in ("queued", "running")
    assert reported.wait(10)
    during = pm.get(url).get_json()
    assert (during["status"], during["message"], during["done"], during["total"], during["percent"]) == \
        ("running", "old", POPULATION, 2 * POPULATION, 50)
    assert during["id"] == first["id"]  # one job, not one per poll
    release.set()

    done = wait_for_impact(pm, url)
    assert done["status"] == "done" and done["id"] == first["id"] and done["percent"] == 100
    old, new = versions(session, "zaohuibao", "2024", "2025")
    assert done["result"] == impact(old, new, population=POPULATION)
    # premium income is what the engine charges each member of the reference population under 2025
    premiums = [quote(parse_person(m.person), new, trace=False) for m in reference_population(POPULATION)]
    income = sum(q.premium_fen for q in premiums if q.band is not None)
    assert done["result"]["population"]["new"]["premium_fen"] == income
    assert f"保费收入（元） {format_yuan(done['result']['population']['old']['premium_fen'])} {format_yuan(income)}" \
        in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", done["html"]))


def test_a_repeated_visit_reuses_the_result(pm, session, monkeypatch):
    url = changes_url(session, "zaohuibao", "2025")
    before = pm.get(url).get_data(as_text=True)
    assert 'id="impact-start"' in before and "保费收入（元）" not in before  # not computed yet: the page offers it
    done = wait_for_impact(pm, url + "/impact.json")
    monkeypatch.setattr(engine_impact, "impact", lambda *a, **k: pytest.fail("computed twice"))
    assert pm.get(url + "/impact.json").get_json()["id"] == done["id"]
    page = text_of(pm.get(url))
    assert "保费收入（元）" in page and "计算影响" not in page  # shown at once, no script needed


def test_without_javascript_the_link_computes_on_the_server(pm, session):
    url = changes_url(session, "zaohuibao", "2025")
    link = re.search(r'id="impact-start" href="([^"]+)"', pm.get(url).get_data(as_text=True)).group(1)
    assert link == f"{url}?impact=1#impact"
    page = text_of(pm.get(link.split("#")[0]))
    old, new = versions(session, "zaohuibao", "2024", "2025")
    report = impact(old, new, population=POPULATION)
    premium = report["population"]
    assert f"保费收入（元） {format_yuan(premium['old']['premium_fen'])} {format_yuan(premium['new']['premium_fen'])}" in page
    assert "标准病例的赔付（元）" in page and "恶性肿瘤住院" in page


def test_no_earlier_version_no_impact(pm, session):
    response = pm.get(changes_url(session, "zaohuibao", "2023") + "/impact.json")
    assert response.status_code == 409 and response.get_json()["status"] == "unavailable"


# ── who may read it, where it is linked ───────────────────────────────────────────────────────

def test_a_regulator_reads_the_page_and_the_impact(app, session):
    regulator = Browser(app, "regulator")
    url = changes_url(session, "zaohuibao", "2025")
    assert regulator.get(url).status_code == 200
    assert wait_for_impact(regulator, url + "/impact.json")["status"] == "done"
    assert app.test_client().get(url).status_code == 302  # not signed in: to the login page


def test_the_version_page_and_the_editor_link_to_it(pm, session):
    row = version_row(session, "zaohuibao", "2025")
    assert f'href="/versions/{row.id}/changes"' in pm.get(f"/versions/{row.id}").get_data(as_text=True)
    pm.post("/products/zaohuibao/next-draft")
    draft = version_row(session, "zaohuibao", "2026")
    assert f'href="/versions/{draft.id}/changes"' in pm.get(f"/versions/{draft.id}/edit").get_data(as_text=True)


# ── drafts go through the sandbox ─────────────────────────────────────────────────────────────

def _fake_sandbox(operation, text, version_id, payload, progress=None):
    """What the worker would answer, computed here: for tests where the sandbox is not the subject."""
    from engine import load_product_text
    product = load_product_text(text)
    if operation == "cases":
        return {"results": [run_case(product, case) for case in payload]}
    raise AssertionError(f"unexpected {operation}")


def test_drafts_are_evaluated_in_the_sandbox_never_here(app, pm, session, monkeypatch):
    calls = []
    real = sandbox.evaluate_draft

    def recording(operation, text, version_id, payload, progress=None):
        calls.append((operation, text, version_id, payload))
        return real(operation, text, version_id, payload, progress)

    monkeypatch.setattr(sandbox, "evaluate_draft", recording)
    try:
        pm.get(changes_url(session, "zaohuibao", "2025"))
        wait_for_impact(pm, changes_url(session, "zaohuibao", "2025") + "/impact.json")
        assert calls == []  # published: in process

        pm.post("/products/zaohuibao/next-draft")
        draft = version_row(session, "zaohuibao", "2026")
        page = text_of(pm.get(f"/versions/{draft.id}/changes"))
        assert "案例在隔离的工作进程中运行" in page
        [(operation, text, version_id, payload)] = calls  # 2026 has no cases of its own: one call, the re-run
        assert (operation, text, version_id) == ("cases", draft.yaml_text, "2026")
        assert payload and all(c["version"] == "2026" for c in payload)
        assert all(c["claim"]["date"].startswith("2026") for c in payload if "claim" in c)
        assert "0 个案例结果变化" in page  # a copy changes nothing but its dates

        state = wait_for_impact(pm, f"/versions/{draft.id}/changes/impact.json")
        assert state["status"] == "done" and state["percent"] == 100
        operation, text, version_id, payload = calls[-1]
        previous = version_row(session, "zaohuibao", "2025")
        assert (operation, text, version_id) == ("impact", draft.yaml_text, "2026")
        assert payload == {"previous": {"text": previous.yaml_text, "version": "2025"}, "population": POPULATION}
        assert state["result"]["population"]["premium_change_fen"] == 0

        # the draft's rules were never compiled in this process (durable-rules would keep them for ever)
        ruleset = check_draft(draft.yaml_text).version.ruleset_name
        assert ruleset not in rules._COMPILED
    finally:
        sandbox.shutdown()


def test_the_impact_charts_draw_each_liability_and_profile_old_beside_new(pm, session):
    url = changes_url(session, "zaohuibao", "2025")
    html = wait_for_impact(pm, url + "/impact.json")["html"]
    old, new = versions(session, "zaohuibao", "2024", "2025")
    report = impact(old, new, population=POPULATION)

    def bars(css: str, group: str) -> list[tuple[str, str, int]]:
        start = html.index(f'<svg class="chart {css}"')
        chart = html[start:html.index("</svg>", start)]
        return [(v, g, int(f)) for v, g, f in
                re.findall(rf'<rect class="bar" data-version="([^"]+)" data-{group}="([^"]+)" data-fen="(-?\d+)"', chart)]

    drawn = bars("impact-liabilities", "liability")
    before, after = report["population"]["old"]["by_liability"], report["population"]["new"]["by_liability"]
    assert drawn and len(drawn) == 2 * len(before.keys() | after.keys())
    for version, liability, fen in drawn:
        assert fen == (before if version == "zaohuibao@2024" else after).get(liability, 0)
    profiles = {(p["id"], "zaohuibao@2024"): p["old_paid_fen"] for p in report["profiles"]}
    profiles |= {(p["id"], "zaohuibao@2025"): p["new_paid_fen"] for p in report["profiles"]}
    assert {(g, v): f for v, g, f in bars("impact-profiles", "profile")} == profiles
    # the 2025 deductible (15,000 → 8,000) pays the cancer inpatient more: its 2025 bar is the taller
    cancer = {v: f for v, g, f in bars("impact-profiles", "profile") if g == "cancer-inpatient"}
    assert cancer["zaohuibao@2025"] > cancer["zaohuibao@2024"]
    assert '<text x="' in html and ">枣惠保 2024</text>" in html  # the legend names each version shortly


def computed_by(html: str) -> dict[str, tuple[str, str]]:
    """The impact section's computation paths: old / new → (path, the words that say it)."""
    return {label: (path, unescape(text)) for label, path, text in
            re.findall(r'<li data-version="(old|new)" data-path="([^"]+)">[^：]+：([^<]+)</li>', html)}


def test_the_impact_says_each_version_went_the_vectorised_path(pm, session):
    html = wait_for_impact(pm, changes_url(session, "zaohuibao", "2025") + "/impact.json")["html"]
    assert computed_by(html) == {"old": ("vectorised", "按向量化路径计算"), "new": ("vectorised", "按向量化路径计算")}


def test_the_impact_says_a_version_went_the_rules_path_and_why(make_app, products_all):
    """枣惠保 2025 naming a pre-existing condition: the vectorised path refuses it, so its figures come from the
    rules path, and the page says so with the engine's reason; 2024 stays on the vectorised path."""
    path = products_all / "zaohuibao.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = '    extends: "2024"\n'
    path.write_text(text.replace(anchor, anchor + "    pre_existing_conditions: [{id: cancer, name: 恶性肿瘤, assumed: 示例}]\n", 1),
                    encoding="utf-8")
    app = make_app(PRODUCTS_DIR=str(products_all), IMPACT_POPULATION=POPULATION)
    with app.app_context():
        from admin_ui.db import db
        url = changes_url(db(), "zaohuibao", "2025")
        old, new = versions(db(), "zaohuibao", "2024", "2025")
    report = impact(old, new, population=POPULATION)
    reason = report["population"]["new"]["path"]["reason"]
    assert report["population"]["new"]["path"]["path"] == "rules" and "列名的既往症" in reason
    pm = Browser(app, "pm")
    state = wait_for_impact(pm, url + "/impact.json")
    assert computed_by(state["html"]) == {"old": ("vectorised", "按向量化路径计算"),
                                          "new": ("rules", f"按规则路径计算（向量化路径不能处理：{reason}）")}
    assert "按规则路径计算（向量化路径不能处理：" in text_of(pm.get(url))  # the page, once computed, shows it too


def test_the_page_words_the_engines_checks_in_the_versions_names(app, xianhuibao):
    """Numbers by hand: two claims of 10,000 in policy; the 18,000 deductible takes the first and 8,000 of
    the second, which is paid (10,000 − 8,000) × 80 % = 1,600 yuan under 医保目录内个人自付 (in_policy)."""
    version = xianhuibao.version("2023")
    claim = {"member": {"id": "m", "age": 40}, "date": "2023-03-01", "care": "inpatient", "in_policy_self_pay": 10000}
    case = {"id": "x", "version": "2023", "claims": [{**claim, "claim_id": "a"}, {**claim, "claim_id": "b"}],
            "expect": [{"paid": 0}, {"paid": 1700, "by_liability": {"in_policy": 1600},
                                     "near": {"paid_fen": {"value": 2000, "tolerance": 0.1}},
                                     "trace": [{"step": "ratio", "result_fen": 1}]}]}
    result = run_case(xianhuibao, case)
    lines = [(l.label, l.before, l.after, l.same, l.change_fen) for l in changes.rerun_row(result, version, version).lines]
    assert lines == [
        ("第 1 笔：赔付", "0.00 元", "0.00 元", True, 0),
        ("第 2 笔：赔付", "1,700.00 元", "1,600.00 元", False, -100_00),
        ("第 2 笔：责任 医保目录内个人自付", "1,600.00 元", "1,600.00 元", True, 0),
        ("第 2 笔：赔付（约数）", "约 2,000.00 元（±10%）", "1,600.00 元", False, -400_00),
        ("第 2 笔：计算过程", "step: ratio，result_fen: 1", "没有这一步", False, None)]
    row = changes.own_row(result, version)
    assert row.failures[0] == ("第 2 笔：赔付：应为 1,700.00 元，实际 1,600.00 元", "")
    assert len(row.failures) == 3 and not row.passed

    band = run_case(xianhuibao, {"id": "q", "version": "2023", "quote": {"age": 30}, "expect": {"band": "x"}})
    assert changes.own_row(band, version).failures == (
        ("档位：应为 x，实际 统一保费", "band.everyone：假设：来源未公布保费；取湖北省内惠民保常见的统一价 69 元"),)
    broken = run_case(xianhuibao, {"id": "v", "version": "1999", "quote": {"age": 30}, "expect": {"premium": 69}})
    [line] = changes.rerun_row(broken, version, version).lines
    assert line.label == "" and line.after.startswith("无法运行：") and "1999" in line.after

    with app.test_request_context():
        flask_session["lang"] = "en"
        refresh()
        english = changes.rerun_row(result, version, version).lines
        assert (english[1].label, english[3].before) == ("Claim 2: paid", "about 2,000.00 yuan (±10%)")
