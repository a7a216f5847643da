"""A population choosing among a version's plans (`plan_choice`): seeded shares, a clear error for plans the file
does not cover, and the backtest, what-if and impact of a version with plans, split by plan and adding up to
the totals, settled on the vectorised path exactly as the rules path settles them."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from engine import load_product
from engine.backtest import backtest
from engine.cli import main
from engine.impact import reference_population, run_population, run_population_rules
from engine.load import load_file
from engine.population import PlanChoiceError, draw_year, load_population, residents, with_plans
from engine.vector import compile_version, settlement_order
from engine.vector.sample import to_claims
from engine import whatif as w
from test_vectorised import rules_settlements

ROOT = Path(__file__).resolve().parent.parent
POPULATION = ROOT / "populations" / "zaozhuang.yaml"
TWO_PLANS = ROOT / "tests" / "fixtures" / "two-plans.yaml"
SMALL = 30_000


@pytest.fixture(scope="module")
def version():
    return load_product(TWO_PLANS).version("2025")


@pytest.fixture(scope="module")
def spec():
    return load_population(POPULATION).resized(SMALL)


@pytest.fixture(scope="module")
def report(version, spec):
    return backtest(version, spec)


def population_with(tmp_path, plan_choice: dict | None) -> Path:
    """The Zaozhuang file with another `plan_choice` (None: without one)."""
    data = yaml.safe_load(POPULATION.read_text(encoding="utf-8"))
    data.pop("plan_choice")
    if plan_choice is not None:
        data["plan_choice"] = {**plan_choice, "assumed": "测试用的假设"}
    path = tmp_path / "population.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_per_plan_figures_add_up_to_the_totals(report):
    plans, premium, claims = report["by_plan"], report["premium"], report["claims"]
    assert list(plans) == ["basic", "plus"] and all(p["members"] > 0 and p["claims"] > 0 for p in plans.values())
    assert sum(p["members"] for p in plans.values()) == report["insured"]
    assert sum(p["premium_fen"] for p in plans.values()) == premium["total_fen"]
    assert sum(p["claims"] for p in plans.values()) == claims["count"]
    assert sum(p["paid_count"] for p in plans.values()) == claims["paid_count"]
    assert sum(p["paid_fen"] for p in plans.values()) == claims["paid_fen"] > 0
    for liability in claims["by_liability"]:
        assert sum(p["by_liability"].get(liability, 0) for p in plans.values()) == claims["by_liability"][liability]
    for p in plans.values():
        assert sum(p["by_liability"].values()) == p["paid_fen"]


def test_each_member_pays_their_own_plans_premium(report):
    plans, bands = report["by_plan"], report["premium"]["by_band"]
    assert plans["basic"]["premium_fen"] == plans["basic"]["members"] * 5900  # 基础版 59 元
    assert plans["plus"]["premium_fen"] == plans["plus"]["members"] * 12900  # 升级版 129 元
    assert bands["basic/everyone"]["members"] == plans["basic"]["members"]
    assert bands["plus/everyone"]["name"] == "升级版·统一保费"
    assert "car-t" not in plans["basic"]["by_liability"] and "overseas-drugs" not in plans["basic"]["by_liability"]


def test_population_claims_under_plans_settle_as_the_rules_path(version, spec):
    compiled = compile_version(version)
    batch = draw_year(spec, version, compiled).batch
    assert set(batch.plan_ids) == {"basic", "plus"} and len(np.unique(batch.plan)) == 2
    assert len(batch) > 500 and batch.drug_fen.any()
    expected = rules_settlements(settlement_order(to_claims(batch)), version)
    settled = compiled.adjudicate(batch)
    assert [settled.settlement(i) for i in range(len(batch))] == expected


def test_plan_shares_follow_the_file_by_age_and_are_reproducible(tmp_path, version):
    choice = {"plans": {"basic": 0.2, "plus": 0.8}, "by_age": [{"from": 0, "to": 40, "plans": {"basic": 0.9, "plus": 0.1}}]}
    spec = load_population(population_with(tmp_path, choice)).resized(40_000)
    people = residents(spec)
    compiled = compile_version(version)
    chosen = with_plans(spec, people, version, compiled).members
    assert chosen.plan_ids == ["basic", "plus"]
    young = people.members.columns["age"] <= 40
    assert abs((chosen.plan[young] == 0).mean() - 0.9) < 0.02
    assert abs((chosen.plan[~young] == 1).mean() - 0.8) < 0.02
    assert np.array_equal(with_plans(spec, residents(spec), version, compiled).members.plan, chosen.plan)


def test_cheapest_gets_its_share_whatever_the_plans_are_called(tmp_path, version):
    spec = load_population(population_with(tmp_path, {"cheapest": 0.3})).resized(40_000)
    plan = with_plans(spec, residents(spec), version, compile_version(version)).members.plan
    assert abs((plan == 0).mean() - 0.3) < 0.02  # 基础版 (59 元) is everyone's cheapest


@pytest.mark.parametrize("choice, named", [
    (None, ["basic、plus"]),
    ({"plans": {"basic": 0.5, "premium": 0.5}}, ["plus", "premium"]),  # one of the version's, one of another's
    ({"plans": {"jichu": 0.6, "shengji": 0.4}}, ["basic、plus", "jichu、shengji"]),  # another scheme's, no fallback
])
def test_a_population_that_does_not_cover_the_plans_names_them(tmp_path, version, choice, named):
    spec = load_population(population_with(tmp_path, choice))
    with pytest.raises(PlanChoiceError) as caught:
        backtest(version, spec.resized(1000))
    [issue] = caught.value.issues
    assert issue.code == "population.plans" and issue.line > 0 and issue.path[0] == "plan_choice"
    assert all(name in issue.message for name in named)


def test_a_version_without_plans_ignores_the_plan_choice(tmp_path):
    zaohuibao = load_product(ROOT / "products" / "zaohuibao.yaml").version("2025")
    without = backtest(zaohuibao, load_population(population_with(tmp_path, None)).resized(5000))
    with_it = backtest(zaohuibao, load_population(POPULATION).resized(5000))
    assert without["by_plan"] == {} and {k: v for k, v in with_it.items() if k != "assumptions"} == \
        {k: v for k, v in without.items() if k != "assumptions"}


def test_plan_shares_must_add_up_and_age_bands_must_not_overlap(tmp_path):
    from engine import SchemeError

    bad = {"plans": {"basic": 0.5, "plus": 0.4}, "by_age": [{"from": 0, "to": 50, "cheapest": 0.7},
                                                             {"from": 40, "to": 60, "cheapest": 0.6}]}
    with pytest.raises(SchemeError) as caught:
        load_population(population_with(tmp_path, bad))
    assert {(i.code, i.path[:3]) for i in caught.value.issues} == {
        ("population.shares", ("plan_choice", "plans")), ("population.ages", ("plan_choice", "by_age", 1))}


def test_backtest_command_json_and_text_and_the_uncovered_exit_code(tmp_path):
    runner = CliRunner()
    args = ["backtest", str(TWO_PLANS), "--year", "2025", "--population", str(POPULATION), "--residents", "20000"]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert sum(p["paid_fen"] for p in report["by_plan"].values()) == report["claims"]["paid_fen"]
    text = runner.invoke(main, args)
    assert text.exit_code == 0 and "按方案：" in text.output and "升级版（plus）" in text.output
    uncovered = ["backtest", str(TWO_PLANS), "--year", "2025", "--population", str(population_with(tmp_path, None)),
                 "--residents", "1000", "--json"]
    refused = runner.invoke(main, uncovered)
    assert refused.exit_code == 2 and json.loads(refused.output)["errors"][0]["code"] == "population.plans"
    whatif = runner.invoke(main, ["whatif", *uncovered[1:]])
    assert whatif.exit_code == 2 and "basic、plus" in whatif.output


# ── what-if ──

@pytest.fixture(scope="module")
def year(version):
    return w.prepare(load_file(TWO_PLANS), "2025", load_population(POPULATION), 20_000, respond=False)


def test_the_what_ifs_published_figures_are_the_backtests(year, version):
    """The what-if draws the year as the backtest does (its pricing compiled without liabilities): same plans."""
    base, report = w.evaluate(year, []), backtest(version, load_population(POPULATION), 20_000)
    assert base["by_plan"] == {plan: {k: p[k] for k in ("name", "members", "premium_fen", "paid_fen", "claims_ratio")}
                               for plan, p in report["by_plan"].items()}
    assert set(base["by_band"]) == set(report["premium"]["by_band"]) == {"basic/everyone", "plus/everyone"}


def test_whatif_command_with_a_plans_parameter():
    args = ["whatif", str(TWO_PLANS), "--year", "2025", "--population", str(POPULATION), "--residents", "20000",
            "--no-take-up", "--set", "plus/ratio.inpatient=0.9", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["whatif"]["changes"][0]["parameter"] == "plus/ratio.inpatient"
    assert report["whatif"]["by_plan"]["basic"] == report["base"]["by_plan"]["basic"]
    assert report["whatif"]["by_plan"]["plus"]["paid_fen"] > report["base"]["by_plan"]["plus"]["paid_fen"]
    unknown = CliRunner().invoke(main, [*args[:-3], "--set", "ratio.inpatient=0.9"])
    assert unknown.exit_code == 2 and "plus/ratio.inpatient" in unknown.output  # the names it has are listed


def test_what_if_names_a_plans_own_terms_by_the_plan(version):
    names = set(w.parameters(version))
    assert {"plus/ratio.inpatient", "basic/ratio.inpatient", "ratio.domestic-drugs", "plus/ratio.car-t",
            "basic/premium.everyone", "plus/premium.everyone"} <= names
    assert "ratio.inpatient" not in names and "ratio.car-t" not in names


def test_a_plans_change_changes_that_plans_claims_only(year):
    base = w.evaluate(year, [])
    changed = w.evaluate(year, [w.change(year.version, "plus/ratio.inpatient", "0.95")])
    assert changed["by_plan"]["basic"] == base["by_plan"]["basic"]
    assert changed["by_plan"]["plus"]["paid_fen"] > base["by_plan"]["plus"]["paid_fen"]
    assert sum(p["paid_fen"] for p in changed["by_plan"].values()) == changed["paid_fen"]
    common = w.evaluate(year, [w.change(year.version, "ratio.domestic-drugs", "0.9")])
    assert all(common["by_plan"][p]["paid_fen"] >= base["by_plan"][p]["paid_fen"] for p in ("basic", "plus"))
    assert common["paid_fen"] > base["paid_fen"]


def test_a_candidate_is_settled_as_its_version_settles_the_same_claims(year):
    """What the grid ranks by is what the changed version pays on the year's claims, claim by claim summed."""
    report = w.grid(year, [(w.parameters(year.version)["plus/ratio.inpatient"], [Decimal("0.6"), Decimal("0.95")])])
    for row in report["candidates"]:
        changes = [w.Change(w.parameters(year.version)[c["parameter"]], Decimal(c["value"])) for c in row["changes"]]
        changed = w.changed_version(year, changes)
        assert row["paid_fen"] == int(compile_version(changed).adjudicate(year.batch).paid.sum())
    rows = report["candidates"]  # the same premium income: the higher claims ratio first
    assert [r["changes"][0]["value"] for r in rows] == ["0.95", "0.6"] and rows[0]["paid_fen"] > rows[1]["paid_fen"]
    premiums = w.evaluate(year, [w.change(year.version, "plus/premium.everyone", "150")])
    assert premiums["by_plan"]["plus"]["premium_fen"] == premiums["by_plan"]["plus"]["members"] * 15000
    assert premiums["by_plan"]["basic"]["premium_fen"] == premiums["by_plan"]["basic"]["members"] * 5900


# ── impact ──

def test_impact_of_a_version_with_plans_equals_the_rules_path(version):
    members = reference_population(2000, 7)
    vector, rules = run_population(version, members), run_population_rules(version, members)
    assert vector.path["path"] == "vectorised"
    assert (vector.premium_fen, vector.paid_fen, vector.by_band) == (rules.premium_fen, rules.paid_fen, rules.by_band)
    assert set(vector.by_band) == {"basic/everyone", "plus/everyone"} and vector.paid_fen > 0


def test_impact_command_compares_the_standard_profiles_plan_by_plan():
    target = f"{TWO_PLANS}@2025"
    result = CliRunner().invoke(main, ["impact", target, target, "--population", "500", "--no-cases", "--json"])
    assert result.exit_code == 0, result.output
    profiles = json.loads(result.output)["profiles"]
    car_t = {p["plan"]: p["new_paid_fen"] for p in profiles if p["id"].startswith("car-t")}
    assert car_t["基础版"] == 0 < car_t["升级版"]  # only 升级版 pays CAR-T
    assert len({p["id"] for p in profiles}) == len(profiles)


def test_the_review_of_a_version_with_plans_works_the_profiles_under_each_plan():
    from engine.review import review_document
    from engine.review.report import report_data

    data = report_data(review_document(load_file(TWO_PLANS), "2025", 300))
    car_t = {e["id"]: e["paid_fen"] for e in data["examples"] if e["id"].startswith("car-t")}
    assert car_t["car-t/basic"] == 0 < car_t["car-t/plus"]
