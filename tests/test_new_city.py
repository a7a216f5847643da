"""`hmb new`: a new city's scheme and cases, run end to end as a product manager would (new → validate → cases →
explain → review), every value a placeholder the reader sees as an assumption; existing files are never overwritten."""
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from engine import load_product
from engine.cli import main
from engine.explain import ASSUMED_MARK, describe_version
from engine.load import load_file
from engine.scaffold import PLACEHOLDER


@pytest.fixture
def run():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])


@pytest.fixture
def scaffold(run, tmp_path):
    out = tmp_path / "products"
    result = run("new", "sample-city", "--name", "示例惠保: 二期 #1", "--year", 2026, "--out", out)
    assert result.exit_code == 0, result.output
    return out / "sample-city.yaml", out / "sample-city.cases.yaml"


def test_new_scheme_validates_runs_its_cases_and_explains(run, scaffold):
    scheme, cases = scaffold
    validated = run("validate", scheme, cases)
    assert validated.exit_code == 0, validated.output
    assert "示例惠保: 二期 #1，1 个版本：2026" in validated.output  # a name with YAML's ':' and '#' stays one string
    ran = run("cases", cases, "--json")
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.output)
    assert report["passed"] == 2 and report["failed"] == 0
    explained = run("explain", scheme, "--year", 2026)
    assert explained.exit_code == 0, explained.output
    assert "【假设】以下数值和选择来源未规定" in explained.output


def _numbers_and_their_holders(node, holder=None):
    """(number, the nearest enclosing mapping that carries provenance) for every number of a document."""
    if isinstance(node, dict):
        holder = node if {"source", "assumed"} & set(node) else holder
        for value in node.values():
            yield from _numbers_and_their_holders(value, holder)
    elif isinstance(node, list):
        for item in node:
            yield from _numbers_and_their_holders(item, holder)
    elif isinstance(node, (int, Decimal)) and not isinstance(node, bool):
        yield node, holder


def test_every_value_of_the_new_scheme_is_a_placeholder_assumption(scaffold):
    scheme, _ = scaffold
    data = load_file(scheme).data
    assert "'source'" not in repr(data["versions"])  # nothing pretends to be sourced
    numbers = list(_numbers_and_their_holders(data["versions"]))
    assert numbers and all(holder is not None and holder["assumed"].startswith(PLACEHOLDER) for _, holder in numbers)
    version = load_product(scheme).version("2026")
    described = describe_version(version)
    assert described["assumptions"] and all(a["reason"].startswith(PLACEHOLDER) for a in described["assumptions"])
    refs = [b["ref"] for b in described["bands"]] + [item["ref"] for item in described["liabilities"]]
    assert all(ref.startswith(ASSUMED_MARK + PLACEHOLDER) for ref in refs)


def test_the_review_shows_the_placeholders_as_assumptions(run, scaffold):
    scheme, _ = scaffold
    result = run("review", scheme, "--year", 2026, "--population", 100, "--json")
    assert result.exit_code in (0, 1), result.output  # 1: a regime finds a 违规 (a placeholder is no compliant scheme)
    report = json.loads(result.output)
    looked_at = [fact for regime in report["regimes"] for check in regime["checks"] for fact in check["looked_at"]]
    # every assumption behind a verdict is a placeholder, but the backtest's own synthetic population
    assumed = [reason for fact in looked_at if fact["name"] != "claims_ratio_backtest" for reason in fact["assumed"]]
    assert assumed and all(reason.startswith(PLACEHOLDER) for reason in assumed)
    assert ASSUMED_MARK in run("review", scheme, "--year", 2026, "--population", 100).output


def test_new_refuses_to_overwrite_an_existing_file(run, scaffold):
    scheme, cases = scaffold
    cases.write_text("# my own cases\n", encoding="utf-8")
    result = run("new", "sample-city", "--name", "别的名字", "--year", 2027, "--out", scheme.parent)
    assert result.exit_code == 2
    assert "不覆盖已有文件" in result.output and str(cases) in result.output
    assert cases.read_text(encoding="utf-8") == "# my own cases\n"
    assert "示例惠保" in scheme.read_text(encoding="utf-8")


def test_new_refuses_an_id_the_scheme_language_would_refuse(run, tmp_path):
    result = run("new", "Xiao Gan", "--name", "孝惠保", "--year", 2025, "--out", tmp_path)
    assert result.exit_code == 2 and "编号只能用小写字母" in result.output
    assert not list(tmp_path.iterdir())
