"""Population files and the backtest: checked files, reproducible people, reports that add up, and
population claims settled on the vectorised path exactly as the rules path settles them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from engine import SchemeError, load_product
from engine.backtest import backtest
from engine.cli import main
from engine.money import format_yuan
from engine.population import draw_year, load_population, residents
from engine.vector import compile_version, settlement_order
from engine.vector.sample import to_claims
from test_vectorised import rules_settlements

ROOT = Path(__file__).resolve().parent.parent
POPULATION = ROOT / "populations" / "zaozhuang.yaml"
SMALL = 30_000


@pytest.fixture(scope="module")
def spec():
    return load_population(POPULATION).resized(SMALL)


@pytest.fixture(scope="module")
def version():
    return load_product(ROOT / "products" / "zaohuibao.yaml").version("2025")


@pytest.fixture(scope="module")
def report(spec, version):
    return backtest(version, spec)


def test_the_same_seed_gives_the_same_people_and_claims(spec, version):
    first, second = residents(spec), residents(spec)
    assert all(np.array_equal(first.members.columns[d], second.members.columns[d]) for d in first.members.columns)
    compiled = compile_version(version)
    a, b = (draw_year(spec, version, compiled).batch for _ in range(2))
    assert np.array_equal(a.in_policy, b.in_policy) and np.array_equal(a.member, b.member)
    assert backtest(version, spec)["claims"] == backtest(version, spec)["claims"]


def test_population_claims_settle_as_the_rules_path(spec, version):
    compiled = compile_version(version)
    batch = draw_year(spec, version, compiled).batch
    assert len(batch) > 500 and batch.drug_fen.any()
    expected = rules_settlements(settlement_order(to_claims(batch)), version)
    settled = compiled.adjudicate(batch)
    assert [settled.settlement(i) for i in range(len(batch))] == expected


def test_the_report_adds_up(report, spec):
    premium, paid = report["premium"], report["claims"]
    assert sum(b["premium_fen"] for b in premium["by_band"].values()) == premium["total_fen"] > 0
    assert sum(b["members"] for b in premium["by_band"].values()) == report["insured"]
    assert sum(p["fen"] for p in premium["by_payer"].values()) == premium["total_fen"]
    assert sum(paid["by_liability"].values()) == paid["paid_fen"] > 0
    assert sum(i["paid_fen"] for i in report["insurers"]) == paid["paid_fen"]
    assert sum(i["premium_fen"] for i in report["insurers"]) == premium["total_fen"]
    assert sum(b["claims"] for b in report["payouts"]["buckets"]) == paid["paid_count"]
    assert 0 < report["members_paid"]["members"] <= paid["paid_count"]
    assert report["residents"] == SMALL and 0 < report["insured"] < SMALL
    assert any(a.startswith("age：") for a in report["assumptions"])  # every assumed figure is listed


def test_low_income_residents_enrol_and_their_premium_is_donated(report):
    low = report["premium"]["by_band"]["low_income"]
    assert low["members"] > 0
    assert report["premium"]["by_payer"]["donor"]["fen"] == low["premium_fen"]


def test_the_full_size_population_meets_what_the_sources_say(version):
    report = backtest(version, load_population(POPULATION))
    figures = {c["figure"]: c for c in report["calibration"]}
    assert abs(figures["insured"]["modelled"] - 1_400_000) < 14_000  # "参保人数突破140万人"
    assert figures["largest_claim_yuan"]["modelled"] > 300_000  # "单笔最高赔款超30万元"
    assert figures["claims_total_yuan"]["per_year"] == 23_500_000  # 9400 万元 over four years


def test_a_bad_population_file_names_the_line_and_the_problem(tmp_path):
    text = POPULATION.read_text(encoding="utf-8").replace("share: 0.42", "share: 0.52")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SchemeError) as caught:
        load_population(bad)
    [issue] = caught.value.issues
    assert issue.code == "population.shares" and issue.line > 0 and issue.path == ("age", "groups")
    unexplained = tmp_path / "unexplained.yaml"
    unexplained.write_text(POPULATION.read_text(encoding="utf-8").replace(
        "  assumed: 女性约占 49%，住院费用略低于男性（来源未给出）\n", ""), encoding="utf-8")
    with pytest.raises(SchemeError) as caught:
        load_population(unexplained)
    assert any(i.path[:1] == ("sex",) for i in caught.value.issues)


def test_backtest_command(tmp_path):
    runner = CliRunner()
    args = ["backtest", "products/zaohuibao.yaml", "--year", "2025", "--population", str(POPULATION),
            "--residents", "20000"]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["version"] == "zaohuibao@2025" and report["residents"] == 20000
    text = runner.invoke(main, args)
    assert text.exit_code == 0 and "赔付率" in text.output and "保费收入" in text.output
    for key, fen in report["claims"]["by_liability"].items():  # each liability by its name, not its id
        assert f"  {report['claims']['liability_names'][key]}：{format_yuan(fen)} 元" in text.output
    assert f"  {next(iter(report['claims']['by_liability']))}：" not in text.output
    missing = runner.invoke(main, ["backtest", "products/zaohuibao.yaml", "--year", "2025"])
    assert missing.exit_code == 2


def test_progress_is_reported_and_changes_nothing(spec, version, report):
    seen = []
    assert backtest(version, spec, progress=lambda done, total: seen.append((done, total))) == report
    assert len(seen) > 10 and seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == list(range(1, len(seen) + 1))
