"""Every golden case of every product, one test each (the same runner as `hmb cases`)."""
from decimal import Decimal
from pathlib import Path

import pytest

from engine import load_product, parse_text
from engine.cases import case_issues, load_cases, run_case
from engine.cli import failure_text

PRODUCTS = Path(__file__).resolve().parent.parent / "products"
CASE_FILES = sorted(PRODUCTS.glob("*.cases.yaml"))
# the fixtures' schemes (tests/fixtures) have golden cases too: the fourth city, the two-plans product
FIXTURE_CASE_FILES = sorted((Path(__file__).resolve().parent / "fixtures").glob("*.cases.yaml"))


def _all_cases():
    for case_file in CASE_FILES + FIXTURE_CASE_FILES:
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
    assert result.passed, result.error or "\n".join(failure_text(f) for f in result.failures)


def test_the_fourth_city_has_golden_cases():
    assert "shanghai.cases.yaml" in {f.name for f in FIXTURE_CASE_FILES}


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


def test_a_cases_source_is_a_citation_checked_against_the_text():
    case = "  - id: a\n    version: '2023'\n    quote: {age: 30}\n    expect: {premium: 69}\n    source: @SOURCE@\n"
    cited = "{doc: xn-news, clause: “咸惠保”如何惠民, quote: @QUOTE@}"
    assert case_issues(_case_doc(case.replace("@SOURCE@", cited.replace("@QUOTE@", "住院产生医疗费用81万元")))) == []
    written = case.replace("@SOURCE@", cited.replace("@QUOTE@", "住院产生医疗费用80万元"))
    wrong = case_issues(_case_doc(written))
    column = written.splitlines()[4].index("住院产生医疗费用80万元") + 1  # the case's line 5 is the file's line 7
    assert [(i.code, i.line, i.column) for i in wrong] == [("citation.quote_not_found", 7, column)]
    bare = case_issues(_case_doc(case.replace("@SOURCE@", "xn-news 计算示例")))
    assert [(i.code, i.line, i.column) for i in bare] == [("provenance.bare_source", 7, 13)]
    unknown = case_issues(_case_doc(case.replace("@SOURCE@", cited.replace("xn-news", "xn-newz").replace("@QUOTE@", "住院"))))
    assert [(i.code, i.line) for i in unknown] == [("citation.unknown_document", 7)]


def test_trace_numbers_match_exactly(xianhuibao):
    claim = {"claim_id": "t", "member": {"id": "m", "age": 40}, "date": "2023-03-01", "care": "inpatient",
             "in_policy_self_pay": 20000}
    # (20,000 − 18,000) × 80 % = 1,600 yuan = 160000 fen; 1600 fen must not match by prefix
    good = {"id": "g", "version": "2023", "claim": claim, "expect": {"trace": [{"step": "ratio", "result_fen": 160000}]}}
    bad = {"id": "b", "version": "2023", "claim": claim, "expect": {"trace": [{"step": "ratio", "result_fen": 1600}]}}
    assert run_case(xianhuibao, good).passed
    assert not run_case(xianhuibao, bad).passed


def _inpatient(claim_id: str, in_policy: int) -> dict:
    return {"claim_id": claim_id, "member": {"id": "m", "age": 40}, "date": "2023-03-01", "care": "inpatient",
            "in_policy_self_pay": in_policy}


def test_a_failure_is_data_what_was_compared_in_fen_and_the_clause_behind_it(xianhuibao):
    """Two claims of 10,000: the 18,000 deductible takes the first and 8,000 of the second; the scheme pays
    (10,000 − 8,000) × 80 % = 1,600 yuan on the second, under liability in_policy (its source clause: xn-news)."""
    case = {"id": "x", "version": "2023", "claims": [_inpatient("a", 10000), _inpatient("b", 10000)],
            "expect": [{"paid": 0}, {"paid": 1700, "by_liability": {"in_policy": 1600}, "layers": {"scheme": 1}}]}
    result = run_case(xianhuibao, case)
    assert not result.passed and result.error == ""
    assert [(c.claim, c.expectation, c.item, c.passed) for c in result.checks] == [
        (1, "paid", "", True), (2, "paid", "", False), (2, "by_liability", "in_policy", True),
        (2, "layers", "scheme", False)]
    paid, layer = result.failures
    assert (paid.expected_fen, paid.actual_fen, paid.money) == (170000, 160000, True)
    assert (layer.expected_fen, layer.actual_fen) == (100, 160000)
    liability = result.checks[2]
    assert liability.rule == "liability.in_policy" and liability.clause.startswith("xn-news")
    assert [f["expectation"] for f in result.as_dict()["failures"]] == ["paid", "layers"]


def test_checks_other_than_money_keep_their_values(xianhuibao):
    quote_case = {"id": "q", "version": "2023", "quote": {"age": 30},
                  "expect": {"band": "nobody", "eligibility": "eligible", "payers": {"self": 69}}}
    eligibility, band, payer = run_case(xianhuibao, quote_case).checks
    assert (band.passed, band.expected, band.actual, band.rule) == (False, "nobody", "everyone", "band.everyone")
    assert (eligibility.passed, eligibility.rule) == (True, "eligibility.otherwise")
    assert (payer.passed, payer.expected_fen, payer.actual_fen) == (True, 6900, 6900)
    # 20,000 in policy: (20,000 − 18,000) × 80 % = 1,600 yuan paid
    claim_case = {"id": "c", "version": "2023", "claim": _inpatient("c", 20000), "expect": {
        "near": {"paid_fen": {"value": 2000, "tolerance": 0.1}},
        "overall_ratio": {"value": 0.5, "tolerance": 0.01, "prior_paid": 0, "bill": 3200},
        "trace": [{"step": "ratio", "result_fen": 160000}, {"step": "ratio", "result_fen": 1600}]}}
    near, ratio, found, missing = run_case(xianhuibao, claim_case).checks
    assert (near.passed, near.expected_fen, near.actual_fen, near.tolerance) == (False, 200000, 160000, Decimal("0.1"))
    assert (ratio.passed, ratio.expected, ratio.actual) == (True, Decimal("0.5"), Decimal("0.5"))  # 1,600 ÷ 3,200
    assert (found.passed, missing.passed, missing.expected) == (True, False, {"step": "ratio", "result_fen": 1600})


def test_a_case_that_cannot_run_says_why_and_fails(xianhuibao):
    result = run_case(xianhuibao, {"id": "v", "version": "1999", "quote": {"age": 30}, "expect": {"premium": 69}})
    assert not result.passed and result.checks == () and "1999" in result.error
    assert result.as_dict()["error"] == result.error


# ── basis: source only where every value the result rests on is sourced ─────────────────────────────

def test_a_source_case_resting_on_an_assumed_ratio_fails_and_names_it(xianhuibao):
    # 咸惠保 2023: the in-policy deductible 18,000 and 80 % are assumed (the file says why)
    case = {"id": "s", "basis": "source", "version": "2023", "claim": _inpatient("s", 20000), "expect": {"paid": 1600}}
    result = run_case(xianhuibao, case)
    assert not result.failures and not result.passed and result.basis_broken
    liability = xianhuibao.version("2023").scheme_layer.liabilities[0]
    assert any(liability.rows[0].rate.prov.assumed in item for item in result.rests_on)
    assert any("取整规则" in item for item in result.rests_on)  # the rounding of the ratio is assumed too
    assert result.as_dict()["rests_on"] == list(result.rests_on)
    assert run_case(xianhuibao, {**case, "basis": "derived"}).passed  # the same numbers, worked by hand


def test_a_source_case_resting_only_on_sourced_values_passes(products_dir):
    zaohuibao = load_product(products_dir / "zaohuibao.yaml")
    # 2025: 51 and over without a pre-existing condition pay 99 yuan, and the band is the source's own
    case = {"id": "q", "basis": "source", "version": "2025", "quote": {"age": 60}, "expect": {"premium": 99}}
    result = run_case(zaohuibao, case)
    assert result.passed and result.rests_on == ()


def test_a_person_given_by_birth_date_rests_on_the_age_reference_date(products_dir):
    zaohuibao = load_product(products_dir / "zaohuibao.yaml")
    case = {"id": "q", "basis": "source", "version": "2025", "quote": {"birth_date": "1960-06-01"},
            "expect": {"premium": 99}}
    result = run_case(zaohuibao, case)
    assert not result.passed and any("计算年龄的日期" in item for item in result.rests_on)


def test_a_subsidy_counts_only_where_the_case_expects_payers(products_dir):
    zaohuibao = load_product(products_dir / "zaohuibao.yaml")
    premium = {"id": "q", "basis": "source", "version": "2025", "quote": {"age": 40, "low_income": "dibao"},
               "expect": {"premium": 10}}
    assert run_case(zaohuibao, premium).passed  # 10 yuan for the low-income: the source's own
    payers = {**premium, "expect": {"premium": 10, "payers": {"donor": 10}}}
    result = run_case(zaohuibao, payers)  # that a donor pays it is this file's assumption
    assert not result.passed and any("捐赠" in item for item in result.rests_on)


def test_the_cli_reports_the_assumed_values_a_source_case_rests_on(tmp_path):
    from click.testing import CliRunner
    from engine.cli import main
    product = tmp_path / "xianhuibao.yaml"
    product.write_text((PRODUCTS / "xianhuibao.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    cases = tmp_path / "xianhuibao.cases.yaml"
    cases.write_text("product: xianhuibao.yaml\ncases:\n  - id: s\n    basis: source\n    version: '2023'\n"
                     "    claim: {claim_id: s, member: {id: m, age: 40}, date: 2023-03-01, care: inpatient,"
                     " in_policy_self_pay: 20000}\n    expect: {paid: 1600}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["cases", str(product)])
    assert result.exit_code == 1
    assert "basis: source" in result.output and "【假设】" in result.output
