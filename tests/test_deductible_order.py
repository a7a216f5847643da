"""A deductible shared by in-policy and out-of-policy costs is used in the order the scheme declares.

Worked by hand (yuan).  The test scheme (tests/scheme_texts.py): shared deductible 10,000; in-policy 80 %,
out-of-policy 50 %; shared cap 100,000.  A claim of 12,000 in-policy and 6,000 out-of-policy:
  in_policy_first      in 12,000 − 10,000 = 2,000 × 80 % = 1,600;  out 6,000 × 50 % = 3,000        → 4,600
  out_of_policy_first  out 6,000 − 6,000 = 0;  in 12,000 − 4,000 = 8,000 × 80 % = 6,400              → 6,400
  pro_rata             10,000 × 12/18 = 6,666.666… → 6,666.67 (half-up), out 10,000 × 6/18 → 3,333.33;
                       in 5,333.33 × 80 % = 4,266.664 → 4,266.66;  out 2,666.67 × 50 % = 1,333.335 → 1,333.34 → 5,600.00
  best_for_patient     the larger of 4,600 and 6,400 → out-of-policy first, 6,400
"""
from decimal import Decimal
from pathlib import Path

import pytest

from engine import adjudicate, load_product_text, parse_claim
from engine.accumulators import PoolKey, PoolKind
from engine.vocab import DEDUCTIBLE_ORDERS
from scheme_texts import version

GANZHOU = Path(__file__).parent.parent / "products" / "ganzhou.yaml"


def fen(yuan) -> int:
    return int(Decimal(str(yuan)) * 100)


def shared(member="m1"):
    """The test scheme's shared deductible, as the accumulators key it."""
    return PoolKey(member, "test-scheme@2024", "scheme", PoolKind.DEDUCTIBLE, "shared")


def claim(in_policy, out, date="2024-05-01", care="inpatient", age=45, claim_id="c1"):
    return parse_claim({"claim_id": claim_id, "member": {"id": "m1", "age": age}, "date": date, "care": care,
                        "in_policy_self_pay": in_policy, "out_of_policy_self_pay": out})


@pytest.mark.parametrize("order, paid, in_policy, out_of_policy", [
    ("in_policy_first", 4_600, 1_600, 3_000),
    ("out_of_policy_first", 6_400, 6_400, 0),
    ("pro_rata", "5600.00", "4266.66", "1333.34"),
    ("best_for_patient", 6_400, 6_400, 0),
])
def test_each_declared_order_pays_as_worked_by_hand(order, paid, in_policy, out_of_policy):
    settled = adjudicate(claim(12_000, 6_000), version(order=order))
    assert settled.paid_fen == fen(paid)
    assert settled.by_liability == {"in_policy": fen(in_policy), "out_of_policy": fen(out_of_policy)}
    assert settled.accumulators[shared()] == fen(10_000)  # the whole deductible, whatever the order


def test_pro_rata_rounds_by_the_declared_rule_and_keeps_the_whole_deductible():
    # rounding down: 6,666.666… → 6,666.66 and 3,333.333… → 3,333.33 leave 0.01 over, settled on the first part:
    # in 12,000 − 6,666.67 = 5,333.33 × 80 % = 4,266.664 → 4,266.66; out 2,666.67 × 50 % = 1,333.335 → 1,333.33
    settled = adjudicate(claim(12_000, 6_000), version(order="pro_rata", rounding="down"))
    assert settled.by_liability == {"in_policy": fen("4266.66"), "out_of_policy": fen("1333.33")}
    deducted = [s for s in settled.trace if s["step"] == "deductible"]
    assert [s["amount_fen"] - s["result_fen"] for s in deducted] == [fen("6666.67"), fen("3333.33")]


def test_best_for_patient_compares_on_what_is_left_of_the_deductible():
    # 7,000 used by an earlier claim leaves 3,000.  In first: (12,000 − 3,000) × 80 % + 6,000 × 50 % = 10,200;
    # out first: 12,000 × 80 % + (6,000 − 3,000) × 50 % = 11,100 → out first
    settled = adjudicate(claim(12_000, 6_000), version(order="best_for_patient"),
                         {shared(): fen(7_000)})
    assert settled.paid_fen == fen(11_100)
    (step,) = [s for s in settled.trace if s["step"] == "deductible_order"]
    assert "先扣政策范围外个人自费" in step["text"] and "10,200.00" in step["text"] and "11,100.00" in step["text"]


@pytest.mark.parametrize("order", ["in_policy_first", "out_of_policy_first", "pro_rata", "best_for_patient"])
def test_the_trace_says_which_order_was_used_and_its_clause(order):
    settled = adjudicate(claim(12_000, 6_000), version(order=order))
    (step,) = [s for s in settled.trace if s["step"] == "deductible_order"]
    assert DEDUCTIBLE_ORDERS[order] in step["text"]
    assert step["clause"] == "doc 第五条 “第五条”"


def test_one_part_alone_needs_no_order():
    settled = adjudicate(claim(12_000, 0), version(order="out_of_policy_first"))
    assert settled.paid_fen == fen(1_600)  # (12,000 − 10,000) × 80 %
    assert not [s for s in settled.trace if s["step"] == "deductible_order"]


@pytest.mark.parametrize("order, paid, in_policy, out_of_policy", [
    # 赣州 2024, a class-1 chronic outpatient claim (the golden case c-chronic-outpatient-class-1-both-parts):
    # in-policy 20,000 and out-of-policy 5,000, shared deductible 15,000, 80 % / 70 % (no pre-existing condition)
    ("in_policy_first", 7_500, 4_000, 3_500),  # (20,000 − 15,000) × 80 % + 5,000 × 70 %
    ("out_of_policy_first", 8_000, 8_000, 0),  # (20,000 − 10,000) × 80 % + 0
    ("pro_rata", 7_800, 6_400, 1_400),  # 15,000 as 12,000 / 3,000: 8,000 × 80 % + 2,000 × 70 %
    ("best_for_patient", 8_000, 8_000, 0),
])
def test_ganzhou_chronic_outpatient_class_1_under_each_order(order, paid, in_policy, out_of_policy):
    text = GANZHOU.read_text(encoding="utf-8")
    assert text.count("value: in_policy_first") == 1
    gz = load_product_text(text.replace("value: in_policy_first", f"value: {order}"), "ganzhou.yaml").version("2024")
    settled = adjudicate(claim(20_000, 5_000, date="2024-02-01", care="chronic_outpatient_1", age=66), gz)
    assert settled.paid_fen == fen(paid)
    assert settled.by_liability == {"in_policy": fen(in_policy), "out_of_policy": fen(out_of_policy)}
    assert settled.patient_remainder_fen == fen(25_000 - paid)
