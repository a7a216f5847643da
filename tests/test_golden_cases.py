"""Every golden case of every product, one test each (the same runner as `hmb cases`)."""
from pathlib import Path

import pytest

from engine import load_product, parse_text
from engine.cases import case_issues, load_cases, run_case

PRODUCTS = Path(__file__).resolve().parent.parent / "products"
CASE_FILES = sorted(PRODUCTS.glob("*.cases.yaml"))


def _all_cases():
    for case_file in CASE_FILES:
        product_path, cases = load_cases(case_file)
        for case in cases:
            yield pytest.param(product_path, case, id=f"{product_path.stem}:{case['id']}")


_PRODUCTS: dict = {}


def _product(path):
    if path not in _PRODUCTS:
        _PRODUCTS[path] = load_product(path)
    return _PRODUCTS[path]


def test_each_product_has_golden_cases():
    assert {f.name for f in CASE_FILES} == {"xianhuibao.cases.yaml", "ganzhou.cases.yaml", "zaohuibao.cases.yaml"}


@pytest.mark.parametrize("product_path, case", list(_all_cases()))
def test_golden_case(product_path, case):
    result = run_case(_product(product_path), case)
    assert result.passed, "\n".join(result.failures)


def test_source_cases_are_marked_as_such():
    bases = {case.get("basis") for f in CASE_FILES for case in load_cases(f)[1]}
    assert bases <= {"source", "derived"}
    assert "source" in bases


def _case_doc(body: str):
    return parse_text("product: xianhuibao.yaml\ncases:\n" + body, "t.cases.yaml")


def test_a_misspelt_expectation_is_an_error_not_a_silent_pass():
    doc = _case_doc("  - {id: a, version: '2023', quote: {age: 30}, expect: {premium: 69, preimum: 70}}\n")
    issues = case_issues(doc)
    assert [i.code for i in issues] == ["cases.unknown_expect"]
    assert issues[0].line == 3


def test_claims_and_expectations_must_pair_up():
    doc = _case_doc("  - id: a\n    version: '2023'\n    claims: [{}, {}]\n    expect: [{paid: 0}]\n")
    assert [i.code for i in case_issues(doc)] == ["cases.expect_count"]


def test_an_empty_expectation_checks_nothing_and_is_refused():
    doc = _case_doc("  - {id: a, version: '2023', quote: {age: 30}, expect: {}}\n")
    assert [i.code for i in case_issues(doc)] == ["cases.expect_empty"]


def test_trace_numbers_match_exactly(xianhuibao):
    claim = {"claim_id": "t", "member": {"id": "m", "age": 40}, "date": "2023-03-01", "care": "inpatient",
             "in_policy_self_pay": 20000}
    # (20,000 − 18,000) × 80 % = 1,600 yuan = 160000 fen; 1600 fen must not match by prefix
    good = {"id": "g", "version": "2023", "claim": claim, "expect": {"trace": [{"step": "ratio", "result_fen": 160000}]}}
    bad = {"id": "b", "version": "2023", "claim": claim, "expect": {"trace": [{"step": "ratio", "result_fen": 1600}]}}
    assert run_case(xianhuibao, good).passed
    assert not run_case(xianhuibao, bad).passed
