"""Drafts are evaluated in a worker process: same answers, errors intact, and rulesets that die with it."""
import os
from pathlib import Path

import pytest

from engine import InputError, SchemeError, adjudicate, load_product_text, parse_claim
from engine import sandbox

XIANNING = (Path(__file__).resolve().parent.parent / "products" / "xianhuibao.yaml").read_text(encoding="utf-8")
CLAIM = {"claim_id": "s1", "member": {"id": "m", "age": 50}, "date": "2023-05-01", "care": "inpatient",
         "in_policy_self_pay": "30000", "out_of_policy_self_pay": "40000"}


@pytest.fixture(scope="module", autouse=True)
def pool():
    yield
    sandbox.shutdown()


def test_a_draft_pays_in_the_worker_exactly_what_it_pays_here():
    here = adjudicate(parse_claim(CLAIM), load_product_text(XIANNING).version("2023")).as_dict()
    there = sandbox.evaluate_draft("adjudicate", XIANNING, "2023", CLAIM)
    assert there == here
    # (30,000 − 18,000) × 80 % + (40,000 − 24,000) × 70 % = 9,600 + 11,200
    assert there["paid_fen"] == 20_800_00


def test_errors_come_back_with_their_issues():
    with pytest.raises(InputError) as err:
        sandbox.evaluate_draft("adjudicate", XIANNING, "2023", {**CLAIM, "care": "spa"})
    assert err.value.issues[0].path == ("care",)
    with pytest.raises(SchemeError) as err:
        sandbox.evaluate_draft("quote", XIANNING.replace("value: 0.8,", "value: 1.8,"), "2023", {"age": 30})
    assert err.value.issues[0].code == "schema.maximum"


def test_the_worker_is_another_process_and_is_replaced():
    first = sandbox._pool().submit(os.getpid).result()
    assert first != os.getpid()
    for _ in range(sandbox.TASKS_PER_WORKER):
        sandbox._pool().submit(os.getpid).result()
    assert sandbox._pool().submit(os.getpid).result() != first


def test_impact_of_a_draft_runs_in_the_worker():
    draft = XIANNING.replace("value: 0.8,", "value: 0.85,")
    seen = []
    report = sandbox.evaluate_draft("impact", draft, "2023", {"previous": {"text": XIANNING, "version": "2023"},
                                                             "population": 1000}, progress=lambda *a: seen.append(a))
    # a higher in-policy ratio never lowers a payout; the premium is unchanged
    assert report["population"]["premium_change_fen"] == 0
    assert report["population"]["paid_change_fen"] >= 0
    cancer = next(p for p in report["profiles"] if p["id"] == "cancer-inpatient")
    # in-policy (100,000 − 18,000) × (85 % − 80 %) = 4,100 yuan more
    assert cancer["change_fen"] == 4_100_00
    # progress came back across the process boundary: the old version's members, then the new one's (each
    # version's population is settled in one vectorised batch, so one report each)
    assert seen == [("old", 1000, 1000), ("new", 1000, 1000)]
