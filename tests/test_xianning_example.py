"""The one full calculation in the sources (seed 000): 咸惠保's payout on an 810,000-yuan bill.

The source gives the bill, what basic insurance paid, the out-of-policy part, the overall ratio after
咸惠保 (55.11 % → 83.35 %) and the payout in round words ("将近 20 万", "将近 3 万"); it does not publish the
deductibles or ratios. products/xianhuibao.yaml assumes them so that the example comes out: two tests
below check that fit (they say so in their names). The others do not depend on it: whatever the file's
deductibles and ratios are, the payout must be their arithmetic, step by traced step, and stay within
what the source states.
"""
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from engine import adjudicate, load_file, parse_claim

SCHEME = Path(__file__).resolve().parent.parent / "products" / "xianhuibao.yaml"
BILL = 810_000
BASIC_PAID = 446_391  # 55.11 % of the bill, paid by basic insurance and the large-expense subsidy
OUT_OF_POLICY = 309_100
IN_POLICY = BILL - BASIC_PAID - OUT_OF_POLICY  # 54,509
# What the source says 咸惠保 paid: nearly 200,000 out of policy, nearly 30,000 in policy, nearly 230,000 in all
STATED_FEN = {"out_of_policy": 200_000_00, "in_policy": 30_000_00, "total": 230_000_00}


def example_claim():
    return parse_claim({"claim_id": "xn-example", "member": {"id": "m1", "age": 65, "basic_insurance": "employee"},
                        "date": "2023-06-01", "care": "inpatient", "hospital_level": 3,
                        "in_policy_self_pay": IN_POLICY, "out_of_policy_self_pay": OUT_OF_POLICY})


def test_source_figures_are_consistent():
    assert IN_POLICY == 54_509
    assert Decimal(BASIC_PAID) / BILL == Decimal("0.5511")


def test_the_assumed_parameters_are_fitted_to_give_the_examples_83_35_percent(xianhuibao):
    settled = adjudicate(example_claim(), xianhuibao.version("2023"))
    ratio = (Decimal(BASIC_PAID * 100 + settled.paid_fen) / (BILL * 100))
    assert abs(ratio - Decimal("0.8335")) <= Decimal("0.0001"), ratio


def test_the_assumed_parameters_are_fitted_to_bring_each_part_near_the_source_figure(xianhuibao):
    settled = adjudicate(example_claim(), xianhuibao.version("2023"))
    # "将近 20 万" out-of-policy and "将近 3 万" in-policy: close to (within 5 %) and not above
    assert 190_000_00 <= settled.by_liability["out_of_policy"] <= 200_000_00
    assert 28_000_00 <= settled.by_liability["in_policy"] <= 30_000_00


def _fen(yuan) -> int:
    return int(Decimal(yuan) * 100)


def test_the_payout_is_the_files_deductibles_and_ratios_step_by_step_within_the_stated_totals(xianhuibao):
    """Independent of the fit: deductibles, ratios and the rounding rule are read from the scheme file itself
    (as written, not through the engine's model), and each liability's traced steps must be their arithmetic."""
    raw = next(v for v in load_file(SCHEME).data["versions"] if v["id"] == "2023")
    rounding = {"half_up": ROUND_HALF_UP}[raw["settlement"]["rounding"]]
    liabilities = {item["id"]: item for item in raw["liabilities"]}
    settled = adjudicate(example_claim(), xianhuibao.version("2023"))
    steps = settled.trace
    paid = {}
    for liability, self_pay in (("in_policy", IN_POLICY), ("out_of_policy", OUT_OF_POLICY)):
        deductible = _fen(liabilities[liability]["deductible"]["value"])
        rate = Decimal(liabilities[liability]["ratio"]["value"])
        mine = {s["step"]: s for s in steps if s.get("liability") == liability}
        assert mine["route"]["amount_fen"] == _fen(self_pay)
        after_deductible = _fen(self_pay) - deductible  # the member's first claim of the year: nothing accumulated
        assert mine["deductible"]["result_fen"] == after_deductible
        assert mine["ratio"]["amount_fen"] == after_deductible
        assert mine["ratio"]["result_fen"] == int((after_deductible * rate).quantize(Decimal(1), rounding))
        paid[liability] = mine["paid"]["result_fen"]
        assert paid[liability] == mine["ratio"]["result_fen"] == settled.by_liability[liability]
    shared_cap = _fen(next(c for c in raw["caps"] if c["id"] == "total")["amount"]["value"])
    assert settled.paid_fen == sum(paid.values()) <= shared_cap  # the cap does not bind here
    # the source's totals bound the payout: "将近" (nearly) means not above
    assert paid["out_of_policy"] <= STATED_FEN["out_of_policy"] and paid["in_policy"] <= STATED_FEN["in_policy"]
    assert settled.paid_fen <= STATED_FEN["total"]
    assert settled.paid_fen + settled.patient_remainder_fen == _fen(IN_POLICY + OUT_OF_POLICY)


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
