"""Adjudication of settled claims: accumulators, eligibility, special drugs, care, rounding, shares, trace.

Expected amounts are worked by hand in the comments (yuan).  咸惠保 2023 (products/xianhuibao.yaml):
in_policy deductible 18,000 then 80 %; out_of_policy deductible 24,000 then 70 % (shared cap 1,500,000);
special drugs no deductible, 60 %, cap 500,000; chronic outpatient deductible 2,000, 50 %, cap 20,000;
insurers 40 % / 60 %.  The small test scheme is described in tests/scheme_texts.py.
"""
from decimal import Decimal

import pytest

from engine import adjudicate, parse_claim
from engine.accumulators import PoolKey, PoolKind
from scheme_texts import LIABILITIES, scheme, version

CLAUSED_STEPS = ("route", "deductible", "ratio", "segment", "cap", "catalogue")


def fen(yuan) -> int:
    return int(Decimal(str(yuan)) * 100)


def claim(claim_id="c1", date="2024-05-01", care="inpatient", in_policy=None, out=None, drugs=(), level=None,
          member="m1", **person):
    data = {"claim_id": claim_id, "member": {"id": member, "age": 45, **person}, "date": date, "care": care}
    if in_policy is not None:
        data["in_policy_self_pay"] = in_policy
    if out is not None:
        data["out_of_policy_self_pay"] = out
    if drugs:
        data["drugs"] = [{"code": c, "indication": i, "amount": a} for c, i, a in drugs]
    if level is not None:
        data["hospital_level"] = level
    return parse_claim(data)


def xn(**fields):
    return claim(date="2023-06-01", **fields)


@pytest.fixture(scope="module")
def xn2023(xianhuibao):
    return xianhuibao.version("2023")


@pytest.fixture(scope="module")
def test_scheme():
    return version()


def pool(kind: PoolKind, pool_id: str, version="test-scheme@2024", member="m1") -> PoolKey:
    """The key of one of the scheme's own pools (the default member's, in the test scheme's 2024)."""
    return PoolKey(member, version, "scheme", kind, pool_id)


def step_list(settled, step):
    return [s for s in settled.trace if s["step"] == step]


# ── accumulators ──────────────────────────────────────────────────────────────────────────────

XN_DEDUCTIBLE = pool(PoolKind.DEDUCTIBLE, "in_policy.deductible", version="xianhuibao@2023")


def test_annual_deductible_is_consumed_across_successive_claims(xn2023):
    first = adjudicate(xn(claim_id="a", in_policy=10_000), xn2023)
    # 10,000 is all within the 18,000 deductible: nothing paid, 10,000 of it used
    assert first.paid_fen == 0
    assert first.accumulators[XN_DEDUCTIBLE] == fen(10_000)
    kept = dict(first.accumulators)

    second = adjudicate(xn(claim_id="b", in_policy=20_000), xn2023, first.accumulators)
    # 18,000 − 10,000 = 8,000 of the deductible is left: (20,000 − 8,000) × 80 % = 9,600
    assert second.paid_fen == fen(9_600)
    deductible = [s for s in step_list(second, "deductible") if s["liability"] == "in_policy"]
    assert "此前已累计 10,000.00 元，本次抵扣 8,000.00 元" in deductible[0]["text"]
    assert first.accumulators == kept  # the caller's accumulators are not changed in place

    third = adjudicate(xn(claim_id="c", in_policy=5_000), xn2023, second.accumulators)
    assert third.paid_fen == fen(4_000)  # deductible met: 5,000 × 80 %
    assert third.accumulators[XN_DEDUCTIBLE] == fen(18_000)


def test_shared_deductible_pool_between_two_liabilities(test_scheme):
    first = adjudicate(claim(in_policy=6_000, out=8_000), test_scheme)
    # pool 10,000: in_policy (first liability) uses 6,000 and pays 0; out_of_policy uses the other 4,000
    # and pays (8,000 − 4,000) × 50 % = 2,000
    assert first.by_liability == {"in_policy": 0, "out_of_policy": fen(2_000)}
    assert first.accumulators[pool(PoolKind.DEDUCTIBLE, "shared")] == fen(10_000)
    second = adjudicate(claim(claim_id="c2", in_policy=1_000), test_scheme, first.accumulators)
    assert second.paid_fen == fen(800)  # pool used up: 1,000 × 80 %


def test_caps_are_reached_across_claims(test_scheme):
    acc = None
    paid = []
    claims = [claim(claim_id="k1", in_policy=110_000),
              claim(claim_id="k2", in_policy=30_000, out=20_000),
              claim(claim_id="k3", in_policy=1_000),
              claim(claim_id="k4", drugs=[("drug-a", "cancer-a", 60_000)]),
              claim(claim_id="k5", drugs=[("drug-a", "cancer-a", 60_000)])]
    results = []
    for item in claims:
        settled = adjudicate(item, test_scheme, acc)
        acc = settled.accumulators
        paid.append(settled.paid_fen)
        results.append(settled)
    # k1: (110,000 − 10,000) × 80 % = 80,000 of the 100,000 shared cap
    # k2: in_policy 30,000 × 80 % = 24,000 → only 20,000 of the cap left → 20,000;
    #     out_of_policy 20,000 × 50 % = 10,000 → cap used up → 0
    # k3: 1,000 × 80 % = 800 → 0
    # k4: special drugs have their own cap of 50,000: 60,000 × 50 % = 30,000
    # k5: 30,000 again, but only 50,000 − 30,000 = 20,000 left → 20,000
    assert paid == [fen(80_000), fen(20_000), 0, fen(30_000), fen(20_000)]
    caps = [(s["liability"], s["amount_fen"], s["result_fen"]) for s in step_list(results[1], "cap")]
    assert caps == [("in_policy", fen(24_000), fen(20_000)), ("out_of_policy", fen(10_000), 0)]
    assert acc[pool(PoolKind.CAP, "total")] == fen(100_000)
    assert acc[pool(PoolKind.CAP, "special_drugs.cap")] == fen(50_000)


def test_a_new_member_and_a_new_year_start_from_zero():
    product = scheme(years=("2024", "2025"))
    v2024, v2025 = product.version("2024"), product.version("2025")
    a1 = adjudicate(claim(claim_id="a1", member="A", in_policy=10_000), v2024)
    assert a1.paid_fen == 0  # all deducted
    a2 = adjudicate(claim(claim_id="a2", member="A", in_policy=12_000), v2024, a1.accumulators)
    assert a2.paid_fen == fen(9_600)  # deductible met: 12,000 × 80 %
    # another member, or the same member next year, starts with the whole deductible: (12,000 − 10,000) × 80 %
    b1 = adjudicate(claim(claim_id="b1", member="B", in_policy=12_000), v2024)
    a3 = adjudicate(claim(claim_id="a3", member="A", date="2025-05-01", in_policy=12_000), v2025)
    assert b1.paid_fen == a3.paid_fen == fen(1_600)
    assert b1.accumulators[pool(PoolKind.DEDUCTIBLE, "shared", member="B")] == fen(10_000)


# ── eligibility ───────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("status, words", [("arrears", "欠费暂停待遇"), ("terminated", "参保关系中断")])
def test_suspended_member_is_paid_nothing_with_the_reason(test_scheme, status, words):
    before = {pool(PoolKind.DEDUCTIBLE, "shared"): fen(5_000)}
    settled = adjudicate(claim(in_policy=50_000, basic_insurance_status=status), test_scheme, before)
    assert settled.eligibility.outcome == "suspended"
    assert settled.paid_fen == 0 and settled.by_liability == {} and settled.insurers == []
    assert settled.patient_remainder_fen == fen(50_000)
    assert settled.accumulators == before
    elig = step_list(settled, "eligibility")[0]
    assert elig["rule"] == "eligibility.basic_insurance_suspended"
    assert words in elig["text"] and elig["clause"] == "doc 第三条 “第三条”"
    assert "暂停享受待遇，本次不予赔付" in step_list(settled, "total")[0]["text"]


def test_member_without_basic_insurance_is_not_eligible(xn2023):
    settled = adjudicate(xn(in_policy=100_000, basic_insurance="none"), xn2023)
    assert (settled.eligibility.outcome, settled.eligibility.reason) == ("not_eligible", "未参加基本医疗保险")
    assert settled.paid_fen == 0 and settled.patient_remainder_fen == fen(100_000)
    assert step_list(settled, "eligibility")[0]["rule"] == "eligibility.basic_insurance_required"


def test_a_versions_own_eligibility_condition_names_itself_and_its_clause():
    conditions = """\
    conditions:
      - {id: nonlocal, name: 外地户籍, when: {hukou: [nonlocal]}, outcome: not_eligible, source: {doc: doc, clause: 第三条（二）, quote: 第三条}}
      - {id: risky, name: 高风险职业暂停, when: {occupation: [high_risk]}, outcome: suspended, source: {doc: doc, clause: 第三条（三）, quote: 第三条}}"""
    v = version(conditions=conditions)
    out = adjudicate(claim(in_policy=50_000, hukou="nonlocal"), v)
    assert (out.eligibility.outcome, out.eligibility.reason, out.eligibility.clause) == (
        "not_eligible", "外地户籍", "doc 第三条（二） “第三条”")
    assert out.paid_fen == 0
    risky = adjudicate(claim(in_policy=50_000, occupation="high_risk"), v)
    assert (risky.eligibility.outcome, risky.eligibility.reason) == ("suspended", "高风险职业暂停")
    ok = adjudicate(claim(in_policy=50_000), v)
    assert ok.eligibility.outcome == "eligible" and ok.paid_fen == fen(32_000)  # (50,000 − 10,000) × 80 %


# ── special drugs ─────────────────────────────────────────────────────────────────────────────

def test_special_drug_in_the_catalogue_is_paid(xn2023):
    settled = adjudicate(xn(care="outpatient", drugs=[("pembrolizumab", "melanoma", 10_000)]), xn2023)
    assert settled.by_liability == {"special_drugs": fen(6_000)}  # no deductible, 10,000 × 60 %
    assert settled.patient_remainder_fen == fen(4_000)


@pytest.mark.parametrize("code, indication, words", [
    ("pembrolizumab", "breast-cancer", "适应症不包括“breast-cancer”"),
    ("aspirin", "pain", "“aspirin”不在本方案任何目录中"),
])
def test_special_drug_refused_with_the_reason_and_a_clause(xn2023, code, indication, words):
    settled = adjudicate(xn(care="outpatient", drugs=[(code, indication, 10_000)]), xn2023)
    assert settled.paid_fen == 0 and settled.patient_remainder_fen == fen(10_000)
    [step] = step_list(settled, "catalogue")
    assert words in step["text"] and step["result_fen"] == 0
    assert step["clause"]  # the catalogue entry, or for an unknown drug the special-drug liability's clause


@pytest.mark.parametrize("date, paid", [
    ("2024-02-29", 0),  # before valid_from 2024-03-01
    ("2024-03-01", fen(5_000)),  # first day: 10,000 × 50 %
    ("2024-06-30", fen(5_000)),  # last day
    ("2024-07-01", 0),  # after valid_to
])
def test_special_drug_outside_its_validity_dates_is_not_paid(test_scheme, date, paid):
    settled = adjudicate(claim(date=date, care="pharmacy", drugs=[("drug-a", "cancer-a", 10_000)]), test_scheme)
    assert settled.paid_fen == paid
    catalogue = step_list(settled, "catalogue")
    assert (len(catalogue) == 1 and "不在目录有效期内" in catalogue[0]["text"]) == (paid == 0)


def test_paid_and_refused_drugs_in_one_claim(xn2023):
    settled = adjudicate(xn(care="inpatient", drugs=[("osimertinib", "nsclc-egfr", 20_000),
                                                      ("osimertinib", "melanoma", 5_000)]), xn2023)
    # the first is paid 20,000 × 60 % = 12,000; the second has the wrong indication
    assert settled.paid_fen == fen(12_000)
    assert settled.patient_remainder_fen == fen(25_000) - fen(12_000)


# ── care not covered ──────────────────────────────────────────────────────────────────────────

def test_care_type_no_liability_covers_pays_nothing_and_says_why(xn2023):
    settled = adjudicate(xn(care="outpatient", in_policy=5_000, out=1_000), xn2023)
    assert settled.paid_fen == 0 and settled.patient_remainder_fen == fen(6_000)
    routes = step_list(settled, "route")
    assert [s["rule"] for s in routes] == ["part.otherwise", "part.otherwise"]
    assert all("没有责任覆盖（普通门诊）" in s["text"] and s["clause"] for s in routes)


def test_chronic_outpatient_pays_in_policy_but_not_out_of_policy(xn2023):
    settled = adjudicate(xn(care="chronic_outpatient", in_policy=5_000, out=1_000), xn2023)
    # in_policy goes to the chronic-outpatient liability: (5,000 − 2,000) × 50 % = 1,500; out_of_policy: nothing
    assert settled.by_liability == {"chronic_outpatient": fen(1_500)}
    assert settled.patient_remainder_fen == fen(4_500)


# ── chronic outpatient by class ───────────────────────────────────────────────────────────────
# In a scheme the generic chronic_outpatient covers claims of either class and of none stated; a class covers only
# itself.  Test scheme: in_policy covers class 1 only, out_of_policy the generic code; shared deductible 10,000.

CLASS_LIABILITIES = (LIABILITIES.replace("care: [inpatient]", "care: [inpatient, chronic_outpatient_1]", 1)
                     .replace("care: [inpatient]", "care: [inpatient, chronic_outpatient]", 1))


@pytest.fixture(scope="module")
def by_class():
    return version(liabilities=CLASS_LIABILITIES)


def test_class_1_chronic_outpatient_is_paid_by_both_the_class_and_its_parent(by_class):
    settled = adjudicate(claim(care="chronic_outpatient_1", in_policy=20_000, out=14_000), by_class)
    # in_policy (class 1 listed): (20,000 − 10,000) × 80 % = 8,000; out_of_policy (parent listed): 14,000 × 50 % = 7,000
    assert settled.by_liability == {"in_policy": fen(8_000), "out_of_policy": fen(7_000)}


@pytest.mark.parametrize("care", ["chronic_outpatient_2", "chronic_outpatient"])
def test_class_2_or_unstated_class_is_paid_only_under_the_parent(by_class, care):
    settled = adjudicate(claim(care=care, in_policy=20_000, out=14_000), by_class)
    # in_policy covers class 1 only: nothing; out_of_policy: (14,000 − 10,000) × 50 % = 2,000
    assert settled.by_liability == {"out_of_policy": fen(2_000)}
    assert settled.patient_remainder_fen == fen(34_000) - fen(2_000)


def test_an_unstated_class_is_refused_by_a_class_1_liability_saying_so(by_class):
    refused = [s["text"] for s in step_list(adjudicate(claim(care="chronic_outpatient", in_policy=20_000), by_class),
                                            "route") if s["rule"] == "part.otherwise"]
    assert len(refused) == 1
    assert "没有责任覆盖（门诊慢特病）" in refused[0] and "一类还是二类未说明" in refused[0]
    assert "chronic_outpatient_1" in refused[0]  # what to write instead
    class_2 = step_list(adjudicate(claim(care="chronic_outpatient_2", in_policy=20_000), by_class), "route")
    assert "没有责任覆盖（二类门诊慢特病）" in class_2[0]["text"] and "未说明" not in class_2[0]["text"]


# ── rounding ──────────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("rounding, out, paid_fen", [
    # out_of_policy at 50 % after the 10,000 pool: 0.01 → 0.5 fen, 0.03 → 1.5 fen, 0.05 → 2.5 fen
    ("half_up", "10000.01", 1), ("down", "10000.01", 0), ("half_even", "10000.01", 0),
    ("half_up", "10000.03", 2), ("down", "10000.03", 1), ("half_even", "10000.03", 2),
    ("half_up", "10000.05", 3), ("down", "10000.05", 2), ("half_even", "10000.05", 2),
])
def test_rounding_follows_the_versions_settlement_rule(rounding, out, paid_fen):
    settled = adjudicate(claim(out=out), version(rounding=rounding))
    assert settled.paid_fen == paid_fen


SPLIT_SEGMENTS = """\
- id: out_of_policy
  name: 目录外
  covers: out_of_policy_self_pay
  care: [inpatient]
  deductible: 0
  ratio:
    segments:
      - {from: 0, to: 0.01, rate: 0.5}
      - {from: 0.01, rate: 0.5}
  cap: total
  source: {doc: doc, clause: 第八条, quote: 第八条}"""


@pytest.mark.parametrize("rounding", ["half_up", "down"])
def test_progressive_segments_round_once_on_their_sum(rounding):
    # 0.02 yuan: 1 fen × 50 % in each segment = 0.5 + 0.5 = exactly 1 fen.  Rounding each segment would
    # give 2 fen (half_up) or 0 fen (down).
    settled = adjudicate(claim(out="0.02"), version(rounding=rounding, liabilities=SPLIT_SEGMENTS))
    assert settled.paid_fen == 1


# ── co-insurers ───────────────────────────────────────────────────────────────────────────────

NINE_INSURERS = """\
lead: {name: 主承保公司, share: 0.2}
co:
""" + "\n".join(f"  - {{name: 共保公司{i}, share: 0.1}}" for i in range(1, 9))


def test_co_insurer_shares_sum_exactly_and_none_is_negative():
    v = version(insurers=NINE_INSURERS)
    for extra in range(60):
        out = f"10000.{extra:02d}"
        settled = adjudicate(claim(out=out), v)
        shares = [i["fen"] for i in settled.insurers]
        assert sum(shares) == settled.paid_fen, out
        assert all(share >= 0 for share in shares), (out, shares)
        # the co-insurers get their 10 % rounded down; the lead takes the rest
        assert shares[1:] == [settled.paid_fen // 10] * 8, (out, shares)
    five = adjudicate(claim(out="10000.10"), v)  # 10 fen × 50 % = 5 fen: 0.5 fen each for eight co-insurers
    assert [i["fen"] for i in five.insurers] == [5] + [0] * 8
    big = adjudicate(claim(out="12000.02"), v)  # (12,000.02 − 10,000) × 50 % = 1,000.01 yuan = 100,001 fen
    # co-insurers: 10 % of 100,001 = 10,000.1 → 10,000 each, 80,000 in all; the lead 100,001 − 80,000 = 20,001
    assert [i["fen"] for i in big.insurers] == [20_001] + [10_000] * 8
    assert big.insurers[0]["lead"] and not any(i["lead"] for i in big.insurers[1:])


def test_xianning_shares(xn2023):
    settled = adjudicate(xn(in_policy=30_000), xn2023)
    # (30,000 − 18,000) × 80 % = 9,600: co-insurer 60 % = 5,760, lead 9,600 − 5,760 = 3,840
    assert [(i["lead"], i["fen"]) for i in settled.insurers] == [(True, fen(3_840)), (False, fen(5_760))]


# ── determinism and the trace ─────────────────────────────────────────────────────────────────

def varied_claims():
    return [
        xn(in_policy=54_509, out=309_100, level=3),
        xn(care="outpatient", in_policy=5_000, out=1_000, drugs=[("nusinersen", "sma", 900_000)]),
        xn(care="chronic_outpatient", in_policy=30_000, out=2_000, drugs=[("aspirin", "pain", 100)]),
        xn(care="emergency", in_policy=20_000, drugs=[("pembrolizumab", "breast-cancer", 100)]),
        xn(in_policy=10_000, basic_insurance="none"),
    ]


def test_same_inputs_give_identical_output_and_trace(xn2023, test_scheme):
    first = [adjudicate(c, xn2023).as_dict() for c in varied_claims()]
    for other in (claim(in_policy=90_000, out=1_000), claim(out="10000.05")):  # other rulesets in between
        adjudicate(other, test_scheme)
    again = [adjudicate(c, xn2023).as_dict() for c in varied_claims()]
    assert first == again
    untraced = [adjudicate(c, xn2023, trace=False) for c in varied_claims()]
    assert [s.paid_fen for s in untraced] == [s["paid_fen"] for s in first]
    assert all(s.trace == [] for s in untraced)


def test_paid_steps_sum_to_paid_fen(xn2023):
    for item in varied_claims():
        settled = adjudicate(item, xn2023)
        paid = [s for s in settled.trace if s["step"] == "paid"]
        assert all(s["layer"] == "scheme" for s in paid)
        assert sum(s["result_fen"] for s in paid) == settled.paid_fen
        assert sum(settled.by_liability.values()) == settled.paid_fen
        [total] = step_list(settled, "total")
        assert total["result_fen"] == settled.paid_fen


def test_every_ratio_deductible_and_route_step_carries_a_clause(xn2023):
    seen = set()
    for item in varied_claims():
        for step in adjudicate(item, xn2023).trace:
            if step["step"] in CLAUSED_STEPS:
                seen.add(step["step"])
                assert step["clause"], step
    assert seen == {"route", "deductible", "ratio", "cap", "catalogue"}


def test_a_liability_without_its_own_source_cites_its_ratio_not_a_blank_assumption():
    liabilities = """\
    - id: in_policy
      name: 目录内
      covers: in_policy_self_pay
      care: {value: [inpatient], source: {doc: doc, clause: 第七条（住院）, quote: 第七条}}
      deductible: shared
      ratio: {value: 0.8, source: {doc: doc, clause: 第七条（比例）, quote: 第七条}}
      cap: total"""
    settled = adjudicate(claim(in_policy=20_000), version(liabilities=liabilities))
    assert settled.paid_fen == fen(8_000)  # (20,000 − 10,000) × 80 %
    for step in settled.trace:
        if step["step"] in ("route", "ratio", "paid"):
            assert (step["clause"], step["assumed"]) == ("doc 第七条（比例） “第七条”", False), step


def test_chain_layers_inherit_the_chains_source():
    chain = """\
    source: {doc: doc, clause: 第十条（赔付链）, quote: 第十条}
    layers:
      - id: basic
        name: 基本医保
        kind: basic
        liabilities:
          - {id: inpatient, name: 住院统筹, covers: in_policy_self_pay, care: [inpatient], deductible: 1000,
             ratio: 0.5, cap: 50000}
      - {id: scheme, name: 本方案, kind: scheme}"""
    v = version(chain=chain)
    settled = adjudicate(parse_claim({"claim_id": "r", "member": {"id": "m", "age": 40}, "date": "2024-05-01",
                                      "care": "inpatient", "bill": {"in_policy": 31_000, "out_of_policy": 0}}), v)
    # basic: (31,000 − 1,000) × 50 % = 15,000; the scheme: (16,000 − 10,000) × 80 % = 4,800
    assert {layer["layer"]: layer["paid_fen"] for layer in settled.layers} == {"basic": fen(15_000),
                                                                                "scheme": fen(4_800)}
    basic_steps = [s for s in settled.trace if s.get("layer") == "basic"]
    assert basic_steps and all((s["clause"], s["assumed"]) == ("doc 第十条（赔付链） “第十条”", False) for s in basic_steps)
