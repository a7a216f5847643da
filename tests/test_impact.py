"""Impact of a new version: the same people and claims, priced and paid under both versions."""
import json
from pathlib import Path

from click.testing import CliRunner

from engine import load_product, parse_person, quote
from engine.cli import main
from engine.impact import impact, reference_population, run_population, run_population_rules, shift_claim

PRODUCTS = Path(__file__).resolve().parent.parent / "products"


def test_the_reference_population_is_reproducible_and_exact():
    first, again, other = reference_population(300, 7), reference_population(300, 7), reference_population(300, 8)
    assert first == again and first != other
    amounts = [m.claim[k] for m in first if m.claim for k in ("in_policy_self_pay", "out_of_policy_self_pay")]
    assert amounts and all(isinstance(a, str) and a.count(".") == 1 and len(a.split(".")[1]) == 2 for a in amounts)


def test_premium_income_is_the_sum_of_each_members_quote(xianhuibao):
    version = xianhuibao.version("2023")
    members = reference_population(200, 3)
    result = run_population(version, members)
    expected = sum(quote(parse_person(m.person), version, trace=False).premium_fen for m in members)
    assert result.premium_fen == expected == 200 * 6900  # 咸惠保: one flat premium of 69 yuan, everyone eligible


def test_a_version_against_itself_changes_nothing(xianhuibao):
    version = xianhuibao.version("2023")
    report = impact(version, version, population=300)
    assert report["population"]["premium_change_fen"] == 0 and report["population"]["paid_change_fen"] == 0
    assert all(p["change_fen"] == 0 for p in report["profiles"])


def test_zaohuibao_2025_prices_pre_existing_members_at_159():
    product = load_product(PRODUCTS / "zaohuibao.yaml")
    report = impact(product.version("2024"), product.version("2025"), population=2000)
    new_bands = report["population"]["new"]["by_band"]
    pre_existing = [band for band in new_bands.values() if "既往症" in band["name"] and "无" not in band["name"]]
    assert len(pre_existing) == 1
    assert pre_existing[0]["premium_fen"] == pre_existing[0]["members"] * 15900  # the source's 159 yuan


def test_a_claim_moves_into_the_new_period_by_whole_years():
    product = load_product(PRODUCTS / "zaohuibao.yaml")
    old, new = product.version("2023"), product.version("2024")
    assert shift_claim({"claim_id": "c", "date": "2023-06-15"}, old, new)["date"] == "2024-06-15"
    leap = load_product(PRODUCTS / "zaohuibao.yaml")
    assert shift_claim({"claim_id": "c", "date": "2024-02-29"}, leap.version("2024"), leap.version("2025"))["date"] == "2025-02-28"


def test_cli_impact_json_includes_golden_case_claims():
    zz = PRODUCTS / "zaohuibao.yaml"
    result = CliRunner().invoke(main, ["impact", f"{zz}@2024", f"{zz}@2025", "--population", "300", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["claims"], "the 2024 golden cases' claims are re-run under 2025"
    assert all(c["change_fen"] == c["new_paid_fen"] - c["old_paid_fen"] for c in report["claims"])


def test_the_population_view_is_the_same_on_the_vectorised_and_the_rules_path():
    members = reference_population(4000, 11)
    for path in sorted(PRODUCTS.glob("*.yaml")):
        if path.name.endswith(".cases.yaml"):
            continue
        for version in load_product(path).versions:
            vectorised, rules = run_population(version, members), run_population_rules(version, members)
            assert (vectorised.path["path"], rules.path["path"]) == ("vectorised", "rules")  # and each says so
            vectorised.path = rules.path
            assert vectorised.as_dict() == rules.as_dict(), version.key
            assert json.dumps(vectorised.as_dict()) == json.dumps(rules.as_dict())  # same order too
            assert rules.paid_fen > 0
