"""Raw bills through a declared payment chain: the Xixia five-layer chain (seed 004), as a test fixture.

Chain of tests/fixtures/xixia.yaml, in order (all deductibles annual and cumulative, amounts in yuan):
  basic       deductible 200, 90 %, cap 150,000                                  (inpatient)
  critical    deductible 15,000, 50 % (assumed), cap 400,000                     (inpatient)
  scheme      deductible 3,000; 3–5k 30 %, 5–10k 40 %, 10–15k 50 %, 15–50k 80 %, 50k+ 90 %   (inpatient)
  assistance  chronic outpatient 70 % cap 2,000; major outpatient 70/70/60 % by level 1/2/3 cap 12,000;
              inpatient above 2,000 at 85/80/70 % by level 1/2/3
Each layer pays on the in-policy amount the layers before it left.  Expected figures are worked by hand.
"""
from pathlib import Path

import pytest

from engine import InputError, SchemeError, adjudicate, load_product, load_product_text, parse_claim
from engine.accumulators import PoolKey, PoolKind

from scheme_texts import FIXTURE_SOURCES

FIXTURE = Path(__file__).parent / "fixtures" / "xixia.yaml"


@pytest.fixture(scope="module")
def xixia():
    return load_product(FIXTURE).version("2017")


def bill(in_policy, out_of_policy=0, level=2, care="inpatient", claim_id="x1", member="m1", date="2017-08-01"):
    data = {"claim_id": claim_id, "member": {"id": member, "age": 58, "low_income": "dibao"}, "date": date,
            "care": care, "bill": {"in_policy": in_policy, "out_of_policy": out_of_policy}}
    if level is not None:
        data["hospital_level"] = level
    return parse_claim(data)


def fen(yuan) -> int:
    """Hand-worked yuan figures below are written as strings so that no float ever enters."""
    whole, _, cents = str(yuan).partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def layer_paid(settled) -> dict:
    return {layer["layer"]: layer["paid_fen"] for layer in settled.layers}


def steps(settled, step, layer=None):
    return [s for s in settled.trace if s["step"] == step and (layer is None or s.get("layer") == layer)]


def test_fixture_is_a_valid_scheme_with_the_chain_in_order(xixia):
    assert [layer.kind for layer in xixia.layers] == ["basic", "critical_illness", "scheme", "assistance"]
    assert xixia.has_chain


def test_inpatient_level_2_bill_of_100000(xixia):
    settled = adjudicate(bill(100_000, level=2), xixia)
    # basic:      (100,000 − 200) × 90 % = 99,800 × 0.9 = 89,820            left 100,000 − 89,820 = 10,180
    # critical:   10,180 is below the 15,000 deductible: all of it is deducted, pays 0     left 10,180
    # scheme:     deductible 3,000, then on the cumulative range 3,000–10,180:
    #             3,000–5,000: 2,000 × 30 % = 600; 5,000–10,000: 5,000 × 40 % = 2,000; 10,000–10,180: 180 × 50 % = 90
    #             600 + 2,000 + 90 = 2,690                                    left 10,180 − 2,690 = 7,490
    # assistance: level 2 inpatient: (7,490 − 2,000) × 80 % = 5,490 × 0.8 = 4,392   left 7,490 − 4,392 = 3,098
    assert layer_paid(settled) == {"basic": fen(89_820), "critical": 0, "scheme": fen(2_690), "assistance": fen(4_392)}
    assert [layer["layer"] for layer in settled.layers] == ["basic", "critical", "scheme", "assistance"]
    assert settled.paid_fen == fen(2_690)
    assert settled.patient_remainder_fen == fen(3_098)
    assert settled.by_liability == {"basic.inpatient": fen(89_820), "critical.inpatient": 0,
                                    "critical_supplement": fen(2_690), "assistance.inpatient": fen(4_392)}
    segments = steps(settled, "segment", "scheme")
    assert [s["amount_fen"] for s in segments] == [fen(2_000), fen(5_000), fen(180)]
    assert [s["text"].split("：")[0] for s in segments] == ["分段 3,000.00–5,000.00 元", "分段 5,000.00–10,000.00 元",
                                                          "分段 10,000.00–15,000.00 元"]
    assert all(s["clause"].startswith("xixia-news ") for s in segments)
    # the assistance layer chose the level-2 row
    assert [s["rule"] for s in steps(settled, "route", "assistance")] == ["route.assistance.inpatient.1"]


def test_inpatient_level_3_bill_reaching_the_basic_cap(xixia):
    settled = adjudicate(bill(300_000, out_of_policy=10_000, level=3), xixia)
    # basic:      (300,000 − 200) × 90 % = 269,820, above the 150,000 cap → 150,000    left 150,000
    # critical:   (150,000 − 15,000) × 50 % = 67,500 (cap 400,000 not reached)           left 82,500
    # scheme:     3–5k 2,000 × 30 % = 600; 5–10k 5,000 × 40 % = 2,000; 10–15k 5,000 × 50 % = 2,500;
    #             15–50k 35,000 × 80 % = 28,000; 50k–82.5k 32,500 × 90 % = 29,250
    #             600 + 2,000 + 2,500 + 28,000 + 29,250 = 62,350                        left 20,150
    # assistance: level 3: (20,150 − 2,000) × 70 % = 18,150 × 0.7 = 12,705              left 7,445
    # out of policy 10,000: no layer pays it.  Patient: 7,445 + 10,000 = 17,445
    assert layer_paid(settled) == {"basic": fen(150_000), "critical": fen(67_500), "scheme": fen(62_350),
                                   "assistance": fen(12_705)}
    assert settled.patient_remainder_fen == fen(17_445)
    assert [s["amount_fen"] for s in steps(settled, "segment", "scheme")] == [
        fen(2_000), fen(5_000), fen(5_000), fen(35_000), fen(32_500)]
    cap = steps(settled, "cap", "basic")
    assert len(cap) == 1 and cap[0]["amount_fen"] == fen(269_820) and cap[0]["result_fen"] == fen(150_000)
    # the out-of-policy part reaches the scheme, which has no liability for it: said so, with the clause
    not_covered = [s for s in steps(settled, "route", "scheme") if s["rule"] == "part.otherwise"]
    assert len(not_covered) == 1 and not_covered[0]["amount_fen"] == fen(10_000) and not_covered[0]["clause"]


def test_each_layers_paid_steps_add_up_to_what_the_layer_paid(xixia):
    settled = adjudicate(bill(300_000, out_of_policy=10_000, level=3), xixia)
    for layer in settled.layers:
        assert sum(s["result_fen"] for s in steps(settled, "paid", layer["layer"])) == layer["paid_fen"]
    assert sum(layer["paid_fen"] for layer in settled.layers) + settled.patient_remainder_fen == fen(310_000)


def test_annual_deductibles_and_segments_carry_over_to_the_next_stay(xixia):
    first = adjudicate(bill(10_000, claim_id="a"), xixia)
    # basic:      (10,000 − 200) × 90 % = 8,820                     left 1,180
    # critical:   1,180 used of the 15,000 deductible, pays 0        left 1,180
    # scheme:     1,180 used of the 3,000 deductible, pays 0         left 1,180
    # assistance: 1,180 used of the 2,000 deductible, pays 0         left 1,180
    assert layer_paid(first) == {"basic": fen(8_820), "critical": 0, "scheme": 0, "assistance": 0}
    assert first.patient_remainder_fen == fen(1_180)

    second_claim = bill(50_000, claim_id="b", date="2017-10-09")
    second = adjudicate(second_claim, xixia, first.accumulators)
    # basic:      deductible already met: 50,000 × 90 % = 45,000 (cap: 8,820 + 45,000 ≤ 150,000)   left 5,000
    # critical:   15,000 − 1,180 = 13,820 still to deduct ≥ 5,000: pays 0                            left 5,000
    # scheme:     3,000 − 1,180 = 1,820 still to deduct; the cumulative range is 1,180 + 1,820 = 3,000
    #             up to 1,180 + 5,000 = 6,180: 3,000–5,000: 2,000 × 30 % = 600; 5,000–6,180: 1,180 × 40 % = 472
    #             600 + 472 = 1,072                                                                  left 3,928
    # assistance: 2,000 − 1,180 = 820 still to deduct: (3,928 − 820) × 80 % = 3,108 × 0.8 = 2,486.40   left 1,441.60
    assert layer_paid(second) == {"basic": fen(45_000), "critical": 0, "scheme": fen(1_072),
                                  "assistance": fen("2486.40")}
    assert second.patient_remainder_fen == fen("1441.60")
    assert [s["amount_fen"] for s in steps(second, "segment", "scheme")] == [fen(2_000), fen(1_180)]
    def used(layer, kind, pool):
        return second.accumulators[PoolKey(second_claim.member.id, xixia.key, layer, kind, pool)]
    assert used("basic", PoolKind.CAP, "inpatient.cap") == fen(8_820) + fen(45_000)
    assert used("scheme", PoolKind.DEDUCTIBLE, "critical_supplement.deductible") == fen(3_000)


def test_outpatient_chronic_assistance_capped_at_2000_a_year(xixia):
    first = adjudicate(bill(2_000, level=1, care="chronic_outpatient", claim_id="c1"), xixia)
    # only the assistance layer covers chronic outpatient care: 2,000 × 70 % = 1,400 (cap 2,000)
    assert layer_paid(first) == {"basic": 0, "critical": 0, "scheme": 0, "assistance": fen(1_400)}
    assert first.patient_remainder_fen == fen(600)
    for layer in ("basic", "critical", "scheme"):  # each layer says it does not cover this, and why
        route = steps(first, "route", layer)
        assert len(route) == 1 and route[0]["rule"] == "part.otherwise" and route[0]["clause"]
    second = adjudicate(bill(2_000, level=1, care="chronic_outpatient", claim_id="c2"), xixia, first.accumulators)
    # 2,000 × 70 % = 1,400, but only 2,000 − 1,400 = 600 of the annual cap is left → 600
    assert layer_paid(second)["assistance"] == fen(600)
    assert [(s["amount_fen"], s["result_fen"]) for s in steps(second, "cap", "assistance")] == [(fen(1_400), fen(600))]


def test_major_outpatient_by_hospital_level_capped_at_12000(xixia):
    acc = None
    paid = []
    for i in range(3):
        settled = adjudicate(bill(10_000, level=3, care="major_outpatient", claim_id=f"mo{i}"), xixia, acc)
        acc = settled.accumulators
        paid.append(layer_paid(settled)["assistance"])
    # level 3: 10,000 × 60 % = 6,000; again 6,000 (12,000 reached exactly); then nothing is left of the cap
    assert paid == [fen(6_000), fen(6_000), 0]
    level_2 = adjudicate(bill(10_000, level=2, care="major_outpatient", claim_id="mo-l2"), xixia)
    assert layer_paid(level_2)["assistance"] == fen(7_000)  # level 2: 10,000 × 70 %


def test_settled_claim_on_a_chain_version_is_paid_by_the_scheme_alone(xixia):
    claim = parse_claim({"claim_id": "s1", "member": {"id": "m1", "age": 58, "low_income": "tekun"},
                         "date": "2017-08-01", "care": "inpatient", "hospital_level": 2,
                         "in_policy_self_pay": 10_180})
    settled = adjudicate(claim, xixia)
    # what basic and critical illness left is given: the scheme pays the same 2,690 as in the 100,000 bill
    assert settled.layers == [{"layer": "scheme", "kind": "scheme", "name": "西峡县大病补充医疗保险（测试夹具）",
                               "paid_fen": fen(2_690)}]
    assert settled.patient_remainder_fen == fen(10_180) - fen(2_690)


def test_member_outside_the_schemes_group_is_paid_nothing(xixia):
    claim = parse_claim({"claim_id": "n1", "member": {"id": "m9", "age": 40}, "date": "2017-08-01",
                         "care": "inpatient", "hospital_level": 2, "in_policy_self_pay": 10_180})
    settled = adjudicate(claim, xixia)
    assert settled.eligibility.outcome == "not_eligible"
    assert settled.eligibility.reason == "非困难群众"
    assert settled.paid_fen == 0


def test_raw_bill_without_hospital_level_is_refused_when_a_ratio_depends_on_it(xixia):
    # the assistance layer's inpatient ratio is by hospital level: without it no row would match and the
    # layer would silently pay nothing
    with pytest.raises(InputError) as err:
        adjudicate(bill(100_000, level=None), xixia)
    assert [(i.code, i.path) for i in err.value.issues] == [("claim.hospital_level", ("hospital_level",))]


def test_raw_bill_on_a_version_without_a_chain_names_the_bill_field(xianhuibao):
    claim = parse_claim({"claim_id": "r1", "member": {"id": "m1", "age": 40}, "date": "2023-06-01",
                         "care": "inpatient", "bill": {"in_policy": 100_000, "out_of_policy": 0}})
    with pytest.raises(InputError) as err:
        adjudicate(claim, xianhuibao.version("2023"))
    assert [(i.code, i.path) for i in err.value.issues] == [("claim.no_chain", ("bill",))]
    assert "chain.layers" in err.value.issues[0].message


def test_the_source_no_cap_is_written_as_cap_none():
    version = load_product_text(FIXTURE.read_text(encoding="utf-8"), library=FIXTURE_SOURCES).version("2017")
    scheme = version.scheme_layer.liabilities[0]
    assert scheme.caps == ()  # 不设封顶线

