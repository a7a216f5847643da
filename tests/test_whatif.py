"""Pricing what-if: a changed parameter gives what a hand-edited scheme file gives in a backtest, to the fen;
the break-even and target premiums hold when the year is run again at them; grids rank as they say;
the take-up model is reproducible and monotone; bad parameters are errors that name them."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from engine import SchemeError, load_product
from engine.backtest import backtest
from engine.cli import main
from engine.inherit import resolve_versions
from engine.load import load_file
from engine.population import load_population, residents
from engine import whatif as w

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ROOT / "products" / "zaohuibao.yaml"
GANZHOU = ROOT / "products" / "ganzhou.yaml"
POPULATION = ROOT / "populations" / "zaozhuang.yaml"
SMALL = 30_000


@pytest.fixture(scope="module")
def doc():
    return load_file(PRODUCT)


@pytest.fixture(scope="module")
def spec():
    return load_population(POPULATION).resized(SMALL)


@pytest.fixture(scope="module")
def year(doc, spec):
    return w.prepare(doc, "2025", spec, respond=False)


@pytest.fixture(scope="module")
def responding(doc, spec):
    return w.prepare(doc, "2025", spec)


def hand_edited(tmp_path: Path, doc, edits: dict[str, str]) -> Path:
    """The scheme file with each parameter's number retyped where it is written, as a person would."""
    lines = doc.text.splitlines(keepends=True)
    version = load_product(PRODUCT).version("2025")
    resolved = resolve_versions(doc)[0]  # 2025 extends 2024: each value located where it is written
    for name, new in edits.items():
        path = w.parameters(version)[name].path
        node = resolved.get(path)
        line, column = resolved.value_marks[path + ("value",) if isinstance(node, dict) else path]
        written = str(node["value"] if isinstance(node, dict) else node)
        text = lines[line - 1]
        assert text[column - 1:].startswith(written), (name, text)
        lines[line - 1] = text[:column - 1] + new + text[column - 1 + len(written):]
    edited = tmp_path / "edited.yaml"
    edited.write_text("".join(lines), encoding="utf-8")
    return edited


@pytest.mark.parametrize("edits", [
    {"deductible.annual": "12000"},
    {"ratio.in_policy.1": "0.85", "ratio.out_of_policy.2": "0.35"},
    {"cap.total": "20000", "cap.special_drugs.cap": "10000"},
    {"premium.senior": "129", "deductible.annual": "5000"},
], ids=lambda e: ",".join(e))
def test_whatif_equals_a_backtest_of_the_hand_edited_file(tmp_path, doc, spec, year, edits):
    version = year.version
    row = w.evaluate(year, [w.change(version, name, value) for name, value in edits.items()])
    report = backtest(load_product(hand_edited(tmp_path, doc, edits)).version("2025"), spec)
    assert row["path"] == "vector"
    assert row["premium_fen"] == report["premium"]["total_fen"]
    assert row["paid_fen"] == report["claims"]["paid_fen"]
    assert row["by_liability"] == report["claims"]["by_liability"]
    assert row["claims_ratio"] == report["claims"]["claims_ratio"]
    assert row["insured"] == report["insured"]
    assert {b: v["premium_fen"] for b, v in report["premium"]["by_band"].items()} == \
        {b: v["premium_fen"] * v["members"] for b, v in row["by_band"].items()}
    assert row["paid_fen"] != w.evaluate(year, [])["paid_fen"] or "premium.senior" in edits  # the change mattered


@pytest.mark.parametrize("fixture", ["year", "responding"])
def test_break_even_premium_covers_the_claims_when_run_again(request, fixture):
    year = request.getfixturevalue(fixture)
    changes = [w.change(year.version, "deductible.annual", "0")]  # claims above the premiums: the price must rise
    base = w.evaluate(year, changes)
    priced = base["break_even"]
    assert priced["holds"] and priced["errors"] == []
    known = w.parameters(year.version)
    again = w.evaluate(year, changes + [w.Change(known[f"premium.{b}"], fen) for b, fen in priced["bands_fen"].items()])
    assert again["premium_fen"] == priced["premium_fen"] and again["paid_fen"] == priced["paid_fen"]
    assert again["paid_fen"] <= again["premium_fen"]
    if priced["converged"]:  # the premium that holds still: the lowest to the fen, less than 1 fen a member over
        assert again["premium_fen"] < again["paid_fen"] + again["insured"]
    assert year.response is not None or priced["converged"]
    assert priced["bands_fen"] != {b: v["premium_fen"] for b, v in base["by_band"].items()}


def test_target_premium_reaches_the_minimum_claims_ratio_when_run_again(year):
    target = Decimal("0.8")
    changes = [w.change(year.version, "deductible.annual", "0")]
    priced = w.evaluate(year, changes, target)["target"]
    assert priced["errors"] == []
    known = w.parameters(year.version)
    again = w.evaluate(year, changes + [w.Change(known[f"premium.{b}"], fen) for b, fen in priced["bands_fen"].items()])
    ratio = Decimal(again["paid_fen"]) / again["premium_fen"]
    assert again["premium_fen"] == priced["premium_fen"]
    assert target <= ratio
    assert again["paid_fen"] / target - again["premium_fen"] < again["insured"]  # the highest such premium, to the fen
    assert priced["rounding"] == "down"


def test_with_leavers_the_target_premium_given_holds_when_run_again(responding):
    """Members leave whole with their claims: the premium is priced again on those who stay, and whether or not
    it settles, the premiums given meet the target when the year is run again at them."""
    version, target = responding.version, Decimal("0.3")
    changes = [w.change(version, "deductible.annual", "4000"), w.change(version, "premium.young", "49")]
    priced = w.evaluate(responding, changes, target)["target"]
    assert priced["holds"] and priced["insured"] < len(responding.band)  # the price rose: some left
    known = w.parameters(version)
    again = w.evaluate(responding, changes[:1] + [w.Change(known[f"premium.{b}"], fen)
                                                  for b, fen in priced["bands_fen"].items()])
    assert (again["premium_fen"], again["paid_fen"], again["insured"]) == \
        (priced["premium_fen"], priced["paid_fen"], priced["insured"])
    assert Decimal(again["paid_fen"]) / again["premium_fen"] >= target


def test_a_premium_that_makes_the_scheme_invalid_is_said(year):
    """The published premiums are far above the break-even here: scaled down, the low-income band falls below
    the donation that pays it, which the scheme's own checks refuse."""
    priced = w.evaluate(year, [])["break_even"]
    assert priced["bands_fen"]["low_income"] < 1000
    assert any(e["code"] == "funding.subsidy_exceeds_premium" and "premium.low_income" in e["message"]
               for e in priced["errors"])


def test_the_regimes_minimum_is_the_default_target():
    version = load_product(GANZHOU).version("2024")
    assert w.default_target(version) == Decimal("0.8")
    assert w.default_target(load_product(PRODUCT).version("2025")) is None


def test_grid_ranks_candidates_within_the_target_by_lowest_premium(year, monkeypatch):
    monkeypatch.setattr(w, "draw_year", lambda *a, **k: pytest.fail("the grid drew the claims again"))
    known = w.parameters(year.version)
    axes = [(known["deductible.annual"], [300_000, 800_000, 2_000_000]),
            (known["premium.young"], [2_000, 3_000, 6_900]),
            (known["cap.total"], [500_000, 150_000_000])]  # 5,000 yuan is below a 8,000+ deductible: invalid
    base = w.evaluate(year, [])
    ratio = Decimal(base["paid_fen"]) / base["premium_fen"]
    report = w.grid(year, axes, target=ratio * Decimal("0.9"), ceiling=ratio * 2)
    rows = report["candidates"]
    assert len(rows) == 18 and sorted(r["candidate"] for r in rows) == list(range(1, 19))
    kinds = [0 if r["within_target"] else 2 if "errors" in r else 1 for r in rows]
    assert kinds == sorted(kinds) and 0 < kinds.count(0) < 18 and kinds.count(2) == 6
    within = [r for r in rows if r["within_target"]]
    assert report["within_target"] == len(within)
    assert [r["premium_fen"] for r in within] == sorted(r["premium_fen"] for r in within)
    for r in within:
        assert ratio * Decimal("0.9") <= Decimal(r["paid_fen"]) / r["premium_fen"] <= ratio * 2
    for r in rows:
        if not r["within_target"] and "errors" not in r:
            assert not ratio * Decimal("0.9") <= Decimal(r["paid_fen"]) / r["premium_fen"] <= ratio * 2
    assert all("cap.total" in r["errors"][0]["message"] for r in rows if "errors" in r)


def test_take_up_model_is_reproducible_and_monotone(doc, spec, responding):
    again = w.prepare(doc, "2025", spec)
    base = responding.base_fen
    stays = []
    for rise in (100, 120, 150, 200):
        after = base * rise // 100
        mask = responding.response.stays(base, after)
        assert np.array_equal(mask, again.response.stays(base, after))
        stays.append(mask)
    assert stays[0].all()  # no change, nobody leaves
    for fewer, more in zip(stays[1:], stays):
        assert not (fewer & ~more).any() and fewer.sum() < more.sum()  # a higher premium only adds leavers
    pre_existing = residents(responding.spec).members.columns["pre_existing"][responding.who] == 1
    assert pre_existing[stays[-1]].mean() > pre_existing.mean()  # the healthier left
    low_income = responding.band == [b.id for b in responding.version.bands].index("low_income")
    assert low_income.any() and stays[-1][low_income].all()  # a band with elasticity 0 stays


def test_a_premium_rise_makes_healthy_members_leave_in_the_whatif(year, responding):
    changes = [w.change(year.version, "premium.young", "99")]
    fixed, moved = w.evaluate(year, changes), w.evaluate(responding, changes)
    assert fixed["left"] == 0 < moved["left"] == fixed["insured"] - moved["insured"]
    assert moved["by_band"]["young"]["members"] < fixed["by_band"]["young"]["members"]
    assert moved["by_band"]["senior"]["members"] == fixed["by_band"]["senior"]["members"]  # their price did not move
    assert moved["paid_fen"] < fixed["paid_fen"]
    assert any(a.startswith("take_up.price_response") for a in w.whatif(responding, changes)["assumptions"])


def test_an_invalid_change_names_the_parameter(year):
    version = year.version
    with pytest.raises(SchemeError) as caught:
        w.evaluate(year, [w.change(version, "ratio.in_policy.1", "0.9"), w.change(version, "cap.total", "5000")])
    messages = [i.message for i in caught.value.issues]
    assert messages and all("cap.total" in m and "ratio.in_policy.1" not in m for m in messages)
    with pytest.raises(SchemeError) as caught:
        w.evaluate(year, [w.change(version, "ratio.in_policy.1", "1.5")])
    assert all("ratio.in_policy.1" in i.message for i in caught.value.issues)
    with pytest.raises(w.ChangeError, match="deductible.nowhere"):
        w.change(version, "deductible.nowhere", "1")
    with pytest.raises(w.ChangeError, match="deductible.annual"):
        w.change(version, "deductible.annual", "12000.001")
    with pytest.raises(w.ChangeError, match="ratio.in_policy.1"):
        w.change(version, "ratio.in_policy.1", "eighty")


def test_a_change_the_vectorised_path_refuses_is_settled_on_the_rules_path(doc, spec):
    small = w.prepare(doc, "2025", spec.resized(4_000), respond=False)
    row = w.evaluate(small, [w.change(small.version, "ratio.in_policy.1", "0.800000000000001")])
    assert row["path"] == "rules" and "int64" in row["fallback"]
    low, high = (w.evaluate(small, [w.change(small.version, "ratio.in_policy.1", r)]) for r in ("0.8", "0.80001"))
    assert low["path"] == high["path"] == "vector"
    assert low["paid_fen"] <= row["paid_fen"] <= high["paid_fen"] and low["paid_fen"] > 0


def test_parameters_name_every_number_a_whatif_may_change(year):
    known = w.parameters(year.version)
    assert {"deductible.annual", "cap.total", "ratio.in_policy.1", "ratio.in_policy.2", "ratio.special_drugs",
            "premium.young"} <= set(known)
    assert known["ratio.in_policy.2"].current == Decimal("0.4") and "既往症" in known["ratio.in_policy.2"].label
    assert known["deductible.annual"].current == 800_000
    segmented = w.parameters(load_product(ROOT / "tests" / "fixtures" / "minimal.yaml").version("2025"))
    assert "ratio.in_policy.s5" in segmented and "ratio.out_of_policy.3" in segmented


# ── the command ───────────────────────────────────────────────────────────────────────────────

@pytest.fixture
def run():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, ["whatif", str(PRODUCT), "--year", "2025", "--population",
                                              str(POPULATION), "--residents", "20000", *map(str, args)])


def test_cli_whatif_json(run):
    result = run("--set", "deductible.annual=12000", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["whatif"]["changes"][0] == {"parameter": "deductible.annual", "fen": 1_200_000,
                                              "shown": "12,000.00 元"}
    assert report["whatif"]["paid_fen"] < report["base"]["paid_fen"]
    assert report["base"]["break_even"]["paid_fen"] <= report["base"]["break_even"]["premium_fen"]


def test_cli_grid_with_a_target(run):
    result = run("--grid", "deductible.annual=4000..12000..4000", "--grid", "premium.young=50,69",
                 "--target-ratio", "0.2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])  # the progress bar goes to stderr
    assert len(report["candidates"]) == 6 and report["range"] == ["0.2", "1"]
    text = run("--grid", "deductible.annual=4000..12000..4000", "--target-ratio", "0.2")
    assert text.exit_code == 0 and "保费收入最低者优先" in text.output


def test_cli_errors_and_exit_codes(run):
    invalid = run("--set", "cap.total=5000")
    assert invalid.exit_code == 1 and "cap.total" in invalid.output
    unknown = run("--set", "deductible.nowhere=1")
    assert unknown.exit_code == 2 and "deductible.annual" in unknown.output  # the known ones are listed
    assert run("--set", "deductible.annual").exit_code == 2
    assert run("--grid", "ratio.in_policy.1=0.5..0.9..0.1").exit_code == 2
    assert run("--set", "cap.total=1", "--grid", "cap.total=2,3").exit_code == 2
    assert run("--target-ratio", "zero").exit_code == 2
    listed = run("--list")
    assert listed.exit_code == 0 and "premium.young" in listed.output
    assert "hmb whatif" in CliRunner().invoke(main, ["whatif", "--help"]).output
