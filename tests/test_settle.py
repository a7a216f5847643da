"""The one accumulator loop (engine.settle.settle_in_order): date order, per member and year, in memory or a ledger.

Test scheme (tests/scheme_texts.py): shared deductible 10,000, in_policy 80 %.
"""
import pytest

from engine import parse_claim
from engine.ledger import Ledger
from engine.settle import settle_in_order
from scheme_texts import version


@pytest.fixture(scope="module")
def test_scheme():
    return version()


def claim(claim_id, date, in_policy, member="m1"):
    return parse_claim({"claim_id": claim_id, "member": {"id": member, "age": 45}, "date": date, "care": "inpatient",
                        "in_policy_self_pay": in_policy})


def paid(results):
    return [settled["paid_fen"] for settled, _ in results]


def test_claims_are_settled_in_date_order_and_reported_in_the_order_given(test_scheme):
    later, earlier = claim("later", "2024-09-01", 10_000), claim("earlier", "2024-03-01", 10_000)
    results = settle_in_order([later, earlier], test_scheme)
    # the March stay meets the whole 10,000 deductible and pays 0; September's then pays 10,000 × 80 %
    assert [settled["claim_id"] for settled, _ in results] == ["later", "earlier"]
    assert paid(results) == [8_000_00, 0]


def test_claims_of_one_day_keep_the_order_given(test_scheme):
    results = settle_in_order([claim("a", "2024-03-01", 10_000), claim("b", "2024-03-01", 12_000)], test_scheme)
    assert paid(results) == [0, 9_600_00]  # a meets the deductible; b: 12,000 × 80 %


def test_members_do_not_share_accumulators(test_scheme):
    results = settle_in_order([claim("a", "2024-03-01", 10_000), claim("b", "2024-04-01", 12_000, member="m2")],
                              test_scheme)
    assert paid(results) == [0, 1_600_00]  # m2 meets its own deductible: (12,000 − 10,000) × 80 %


def test_a_ledger_settles_the_sequence_as_memory_does(test_scheme, tmp_path):
    claims = [claim("c3", "2024-07-01", 3_000), claim("c1", "2024-01-05", 6_000), claim("c2", "2024-02-01", 9_000),
              claim("d1", "2024-02-01", 11_000, member="m2")]
    in_memory = settle_in_order(claims, test_scheme, trace=False)
    in_ledger = settle_in_order(claims, test_scheme, Ledger(f"sqlite:///{tmp_path / 'l.db'}"), trace=False)
    assert paid(in_ledger) == paid(in_memory) == [2_400_00, 0, 4_000_00, 800_00]
    assert [duplicate for _, duplicate in in_ledger] == [False] * 4
