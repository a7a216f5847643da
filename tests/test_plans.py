"""Plans within a version, item lists and hit policies, on tests/fixtures/two-plans.yaml (基础版 / 升级版,
five liabilities): its golden cases, a claim under the wrong plan, and a broken use of every new term,
each reported at its place (the style of test_broken_schemes.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import load_product, load_product_text, parse_claim, parse_person
from engine.accumulators import PoolKind
from engine.cases import load_cases, run_case
from engine.cli import failure_text, main
from engine.evaluate import adjudicate, quote
from engine.issues import InputError, SchemeError, format_path
from engine.ledger import Ledger
from engine.load import parse_text
from engine.validate import validate_document
from test_broken_schemes import Broken, line_of, mutate

FIXTURES = Path(__file__).parent / "fixtures"
SCHEME = FIXTURES / "two-plans.yaml"
FILE = "two-plans.yaml"
BASE = SCHEME.read_text(encoding="utf-8")
CASES_FILE = FIXTURES / "two-plans.cases.yaml"


@pytest.fixture(scope="module")
def product():
    return load_product(SCHEME)


@pytest.fixture(scope="module")
def v2025(product):
    return product.version(2025)


def claim(plan: str | None, claim_id: str = "c1", member: str = "m1", **extra) -> dict:
    person = {"id": member, "age": 40, **({"plan": plan} if plan else {})}
    return {"claim_id": claim_id, "member": person, "date": "2025-03-01", "care": "inpatient",
            "in_policy_self_pay": 50000, **extra}


# ── the fixture's golden cases ────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("case", load_cases(CASES_FILE)[1], ids=lambda case: case["id"])
def test_golden_case(product, case):
    result = run_case(product, case)
    assert result.passed, result.error or "\n".join(failure_text(f) for f in result.failures)


def test_the_year_finds_the_version_and_each_plan_is_a_whole_version(product, v2025):
    assert product.version("2025") is v2025
    assert [(p.key, p.plan_name) for p in v2025.plans] == [("two-plans@2025/basic", "基础版"),
                                                           ("two-plans@2025/plus", "升级版")]
    basic, plus = v2025.plans
    assert [l.id for l in basic.scheme_layer.liabilities] == ["inpatient", "domestic-drugs", "proton"]
    assert [l.id for l in plus.scheme_layer.liabilities] == ["inpatient", "domestic-drugs", "proton",
                                                             "overseas-drugs", "car-t"]
    assert basic.ruleset_name != plus.ruleset_name  # each plan compiles its own rules


def test_the_cli_settles_a_claim_under_the_members_plan_by_year(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("claim_id: x\nmember: {id: m, age: 40, plan: plus}\ndate: 2025-03-01\ncare: inpatient\n"
                    "in_policy_self_pay: 50000\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["claim", str(SCHEME), str(path), "--year", "2025", "--json"])
    assert result.exit_code == 0, result.output
    assert '"paid_fen": 3200000' in result.output and "two-plans@2025/plus" in result.output


# ── the plan a claim is filed under ───────────────────────────────────────────────────────────

def test_a_claim_without_a_plan_is_refused_naming_the_plans(v2025):
    with pytest.raises(InputError) as refused:
        adjudicate(parse_claim(claim(None)), v2025)
    [issue] = refused.value.issues
    assert issue.path == ("member", "plan") and "基础版（basic）" in issue.message and "升级版（plus）" in issue.message


def test_a_plan_the_version_does_not_have_is_refused(v2025):
    with pytest.raises(InputError, match="没有方案“gold”"):
        adjudicate(parse_claim(claim("gold")), v2025)
    with pytest.raises(InputError, match="没有方案“gold”"):
        quote(parse_person({"age": 30, "plan": "gold"}), v2025)


def test_a_claim_under_another_plan_than_the_plan_version_is_refused(v2025):
    basic = v2025.for_plan("basic")
    with pytest.raises(InputError, match="成员参保的是方案“plus”"):
        adjudicate(parse_claim(claim("plus")), basic)


def test_the_ledger_refuses_a_claim_under_another_plan_than_the_members_enrolment(v2025):
    ledger = Ledger("sqlite://")
    settled, _ = ledger.settle(parse_claim(claim("basic", "c1")), v2025)
    assert settled["paid_fen"] == 2_100_000  # (50,000 − 20,000) × 70 %
    with pytest.raises(InputError) as refused:
        ledger.settle(parse_claim(claim("plus", "c2")), v2025)
    [issue] = refused.value.issues
    assert issue.code == "claim.plan" and "参保的是基础版（basic）" in issue.message and "升级版（plus）" in issue.message
    with pytest.raises(InputError) as reused:  # the same claim id under the other plan is another claim
        ledger.settle(parse_claim(claim("plus", "c1")), v2025)
    assert reused.value.issues[0].code == "claim.id_reused"
    assert ledger.settle(parse_claim(claim("basic", "c1")), v2025) == (settled, True)


def test_an_explicit_enrolment_binds_the_first_claim(v2025):
    ledger = Ledger("sqlite://")
    ledger.enrol(v2025, "m9", "plus")
    ledger.enrol(v2025, "m9", "plus")  # again, the same plan: nothing changes
    with pytest.raises(InputError, match="参保的是升级版"):
        ledger.settle(parse_claim(claim("basic", member="m9")), v2025)


def test_accumulators_are_the_plans(v2025):
    ledger = Ledger("sqlite://")
    ledger.settle(parse_claim(claim("plus", "c1")), v2025)
    used = {(key.version, key.kind, key.pool): fen for key, fen in ledger.accumulators(v2025.for_plan("plus"), "m1").items()}
    assert used[("two-plans@2025/plus", PoolKind.DEDUCTIBLE, "inpatient.deductible")] == 1_000_000  # plus: 10,000


# ── items: routed by list, where given, then the rest ─────────────────────────────────────────

def test_an_item_is_paid_by_its_lists_liability_under_its_real_care(v2025):
    settled = adjudicate(parse_claim(claim("plus", in_policy_self_pay=0, items=[
        {"code": "proton", "amount": 100000}, {"code": "pembrolizumab", "amount": 10000}])), v2025)
    assert settled.by_liability == {"proton": 6_000_000, "domestic-drugs": 600_000}  # never CAR-T's


def test_an_item_given_where_its_liability_does_not_pay_is_not_covered(v2025):
    settled = adjudicate(parse_claim(claim("plus", in_policy_self_pay=0, care="outpatient",
                                           items=[{"code": "proton", "amount": 100000}])), v2025)
    assert settled.paid_fen == 0
    assert any("没有责任覆盖（普通门诊）" in s["text"] for s in settled.trace)


def test_an_indication_is_checked_only_where_the_list_names_them(v2025):
    wrong = adjudicate(parse_claim(claim("basic", in_policy_self_pay=0, items=[
        {"code": "tafamidis", "indication": "other", "amount": 1000}])), v2025)
    assert wrong.paid_fen == 0 and any("适应症不包括“other”" in s["text"] for s in wrong.trace)
    unnamed = adjudicate(parse_claim(claim("basic", in_policy_self_pay=0, items=[
        {"code": "pembrolizumab", "amount": 1000}])), v2025)
    assert unnamed.paid_fen == 60_000


def test_hit_policy_first_takes_the_liability_declared_first(v2025):
    product = load_product_text(mutate(BASE, "hit_policy: max", "hit_policy: first"), FILE)
    settled = adjudicate(parse_claim(claim("plus", in_policy_self_pay=0, items=[
        {"code": "tafamidis", "indication": "attr-cm", "amount": 300000, "where": "pharmacy"}])),
        product.version(2025))
    assert settled.by_liability == {"domestic-drugs": 18_000_000}  # 300,000 × 60 %, though overseas pays more
    assert any(s["rule"] == "hit_policy.first" and "书写在前" in s["text"] for s in settled.trace)


# ── broken uses of every new term ─────────────────────────────────────────────────────────────

def issues_for(text: str) -> list:
    try:
        return validate_document(parse_text(text, FILE))
    except SchemeError as exc:
        return exc.issues


PLANS = "    plans:\n"
BROKEN = [
    Broken("overlap-without-hit-policy", "    hit_policy: max", "", "liability.item_overlap",
           "versions[0].plans[1].liabilities[1].lists",
           says=("国内特药", "境外特药", "氯苯唑酸软胶囊", "hit_policy"), at=("- id: overseas-drugs", "lists:")),
    Broken("hit-policy-unknown", "hit_policy: max", "hit_policy: best", "schema.enum", "versions[0].hit_policy",
           says=("first", "max")),
    Broken("list-unknown", "lists: [proton]", "lists: [protons]", "liability.drug_list_unknown",
           "versions[0].liabilities[2].lists[0]", says=("protons", "treatment_lists"), at=("lists: [protons]",)),
    Broken("cost-kind-and-list", "        lists: [proton]\n", "        lists: [proton]\n        covers: in_policy_self_pay\n",
           "liability.drug_list_unexpected", "versions[0].liabilities[2].lists", at=("lists: [proton]",),
           count=2),  # and, as a cost-kind liability, it overlaps the inpatient one
    Broken("list-id-twice", "  car-t:\n    name: CAR-T", "  domestic:\n    name: CAR-T", "lists.duplicate_id",
           "treatment_lists.domestic", says=("domestic",), at=("treatment_lists:", "domestic:"), count=2),
    Broken("treatment-without-name", "{code: proton, name: 质子治疗}", "{code: proton}", "schema.missing",
           "treatment_lists.proton.treatments[0].name", at=("{code: proton}",)),
    Broken("plan-drops-unknown", "      - id: basic\n        name: 基础版\n",
           "      - id: basic\n        name: 基础版\n        drop: [car-t]\n", "plan.drop_unknown",
           "versions[0].plans[0].drop[0]", says=("car-t", "基础版"), at=("drop: [car-t]",)),
    Broken("plan-id-twice", "      - id: plus\n", "      - id: basic\n", "ids.duplicate", "versions[0].plans[1].id",
           says=("basic",), at=(PLANS, "- id: basic", "- id: basic")),
    Broken("plan-unknown-key", "        name: 升级版\n", "        name: 升级版\n        premium: 129\n",
           "schema.unknown_key", "versions[0].plans[1].premium", at=("premium: 129",)),
]


def test_the_fixture_is_valid():
    assert issues_for(BASE) == []


@pytest.mark.parametrize("case", BROKEN, ids=lambda case: case.name)
def test_broken_use_is_reported_at_its_place(case: Broken):
    text = mutate(BASE, case.old, case.new)
    issues = issues_for(text)
    found = [i for i in issues if i.code == case.code and format_path(i.path) == case.path]
    assert found, f"no {case.code} at {case.path} among: " + "; ".join(map(str, issues))
    issue = found[0]
    assert (issue.file, issue.line) == (FILE, line_of(text, *(case.at or (case.new,)))), str(issue)
    assert re.search(r"[\u4e00-\u9fff]", issue.message)
    for word in case.says:
        assert word in issue.message, f"{word!r} not in {issue.message!r}"
    assert len(issues) == case.count, "; ".join(map(str, issues))


def test_a_claim_item_given_nowhere_known_is_refused():
    with pytest.raises(InputError) as refused:
        parse_claim(claim("basic", items=[{"code": "proton", "amount": 1, "where": "moon"}]))
    assert refused.value.issues[0].path == ("items", 0, "where")


# ── compare: plan by plan, with the standard drug, treatment and CAR-T profiles ─────────────────

def test_compare_shows_each_plan_and_pays_the_item_profiles_by_the_terms(v2025):
    from engine.compare import compare
    result = compare([v2025], bill_sizes=[0])
    assert [v["name"] for v in result["versions"]] == ["示例双方案惠民保 2025 基础版", "示例双方案惠民保 2025 升级版"]
    paid = {row["id"]: [c["paid_fen"] for c in row["cells"]] for row in result["profiles"]}
    assert paid["special-drug"] == [3_000_000, 3_000_000]  # 50,000 × 60 %, bought at a pharmacy
    assert paid["proton-therapy"] == [18_000_000, 18_000_000]  # 300,000 × 60 %
    assert paid["car-t"] == [0, 50_000_000]  # basic has no CAR-T; plus: 1,200,000 × 50 % capped at 500,000
    premiums = {row["id"]: [c["premium_fen"] for c in row["cells"]] for row in result["premiums"]}
    assert premiums["adult"] == [5_900, 12_900]


def test_explain_shows_each_plan_whole_and_the_hit_policy(v2025):
    from engine.explain import version_text
    text = version_text(v2025)
    basic, plus = text.index("【方案：基础版】"), text.index("【方案：升级版】")
    assert "CAR-T 治疗" not in text[basic:plus] and "CAR-T 治疗：住院【假设】发生的CAR-T 细胞治疗所列项目的费用" in text[plus:]
    assert "129.00 元" in text[plus:] and "一个项目几项责任都能赔付时：赔得多的责任赔付" in text
    assert "【治疗项目目录】" in text and "帕博利珠单抗注射液：适应症不限" in text


# ── diff: plan by plan ────────────────────────────────────────────────────────────────────────

def test_diff_names_the_plan_whose_terms_changed_and_plans_added(v2025):
    from engine.diff import diff_versions
    text = BASE.replace("            deductible: 10000\n            ratio: 0.8", "            deductible: 8000\n            ratio: 0.8")
    text = text.replace("      - id: plus\n", "      - id: kids\n        name: 少儿版\n      - id: plus\n")
    changed = load_product_text(text, FILE).version(2025)
    texts = [c.text for c in diff_versions(v2025, changed)]
    assert "新增方案“少儿版”：3 项责任" in texts
    assert any(t.startswith("［升级版］") and "10,000" in t and "8,000" in t for t in texts), texts
    assert not any(t.startswith("［基础版］") for t in texts)  # nothing of the basic plan changed
