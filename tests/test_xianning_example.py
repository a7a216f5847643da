"""The one full calculation in the sources (seed 000): 咸惠保 must reproduce it."""
from decimal import Decimal

from engine import adjudicate, parse_claim

BILL = 810_000
BASIC_PAID = 446_391  # 55.11 % of the bill, paid by basic insurance and the large-expense subsidy
OUT_OF_POLICY = 309_100
IN_POLICY = BILL - BASIC_PAID - OUT_OF_POLICY  # 54,509


def example_claim():
    return parse_claim({"claim_id": "xn-example", "member": {"id": "m1", "age": 65, "basic_insurance": "employee"},
                        "date": "2023-06-01", "care": "inpatient", "hospital_level": 3,
                        "in_policy_self_pay": IN_POLICY, "out_of_policy_self_pay": OUT_OF_POLICY})


def test_source_figures_are_consistent():
    assert IN_POLICY == 54_509
    assert Decimal(BASIC_PAID) / BILL == Decimal("0.5511")


def test_overall_reimbursement_ratio_is_83_35_percent(xianhuibao):
    settled = adjudicate(example_claim(), xianhuibao.version("2023"))
    ratio = (Decimal(BASIC_PAID * 100 + settled.paid_fen) / (BILL * 100))
    assert abs(ratio - Decimal("0.8335")) <= Decimal("0.0001"), ratio


def test_each_part_is_near_the_source_figure(xianhuibao):
    settled = adjudicate(example_claim(), xianhuibao.version("2023"))
    # "将近 20 万" out-of-policy and "将近 3 万" in-policy: close to and not above
    assert 190_000_00 <= settled.by_liability["out_of_policy"] <= 200_000_00
    assert 28_000_00 <= settled.by_liability["in_policy"] <= 30_000_00
    assert settled.paid_fen == settled.by_liability["out_of_policy"] + settled.by_liability["in_policy"]


def test_every_fen_is_traced_to_a_clause(xianhuibao):
    settled = adjudicate(example_claim(), xianhuibao.version("2023"))
    paid_steps = [s for s in settled.trace if s["step"] == "paid" and s.get("liability")]
    assert sum(s["result_fen"] for s in paid_steps) == settled.paid_fen
    for step in settled.trace:
        if step["step"] in ("deductible", "ratio", "route"):
            assert step["clause"], step
    ratio_steps = [s for s in settled.trace if s["step"] == "ratio"]
    assert {s["liability"] for s in ratio_steps} == {"in_policy", "out_of_policy"}
    assert all(s["assumed"] for s in ratio_steps)  # the source gives no ratio: the file says so
