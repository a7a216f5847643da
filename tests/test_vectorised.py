"""The vectorised path equals the rules path to the fen, claim by claim (trace aside).

Every version of every product and fixture (plans included: each member in one of them) settles the same
random claims both ways: many members
with several claims each (accumulators carried per member, in date order), amounts at and around
every deductible, cap and segment boundary, every care type, hospital level and group, bills through
the payment chain, items (drugs, treatments) in and out of the lists, given in and outside the claim's
care, items several liabilities may pay (hit policy first or max).  HMB_DIFF_CLAIMS sets the number of
claims per version (default 10,000 to keep the suite quick; the issue's 100,000 with
HMB_DIFF_CLAIMS=100000).
"""
from __future__ import annotations

import os
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from engine import InputError, load_product
from engine.evaluate import adjudicate, quote
from engine.money import ROUNDING_RULES, apply_ratio, split_by_shares
from engine.vector import Unsupported, VectorVersion, batch_from_claims, compile_version, members_from_persons, \
    settlement_order
from engine.vector import fen
from engine.vector.sample import random_batch, to_claims

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for p in [*ROOT.glob("products/*.yaml"), *ROOT.glob("tests/fixtures/*.yaml")]
               if not p.name.endswith(".cases.yaml"))
ALL_VERSIONS = [v for path in FILES for v in load_product(path).versions]
# Versions the vectorised path refuses (the caller then settles them on the rules path), with why.  A new
# refusal must be named here, so that a fall-back is never silent.
FALLS_BACK: dict[str, str] = {
    "shanghai-2024@2024": "列名的既往症",  # the member's own list (tests/test_new_terms.py)
}
VERSIONS = [v for v in ALL_VERSIONS if v.key not in FALLS_BACK]
CLAIMS = int(os.environ.get("HMB_DIFF_CLAIMS", "10000"))


def rules_settlements(claims, version) -> list[dict]:
    """The rules path, one claim after another, each member's accumulators carried to their next claim."""
    accumulators: dict[str, dict] = {}
    out = []
    for claim in claims:
        settled = adjudicate(claim, version, accumulators.get(claim.member.id), trace=False)
        accumulators[claim.member.id] = settled.accumulators
        out.append({"eligibility": settled.eligibility.outcome, "paid_fen": settled.paid_fen,
                    "patient_remainder_fen": settled.patient_remainder_fen, "by_liability": settled.by_liability,
                    "layers": {layer["layer"]: layer["paid_fen"] for layer in settled.layers},
                    "insurers": [share["fen"] for share in settled.insurers]})
    return out


def assert_same_settlements(version, claims: int, seed: int) -> None:
    plan = VectorVersion(version)
    claims_in_order = settlement_order(to_claims(random_batch(version, claims, seed, catalogue=plan.catalogue)))
    expected = rules_settlements(claims_in_order, version)
    settled = plan.adjudicate(batch_from_claims(claims_in_order, plan.age_reference), chunk=997)  # many pieces
    differ = [(claims_in_order[i].claim_id, want, settled.settlement(i))
              for i, want in enumerate(expected) if settled.settlement(i) != want]
    assert differ == [], f"{len(differ)} of {len(expected)} claims differ, first: {differ[:3]}"
    assert sum(s["paid_fen"] for s in expected) > 0  # the claims reached the scheme's money, not only refusals


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.key)
def test_vectorised_settles_every_claim_as_the_rules_path(version):
    assert_same_settlements(version, CLAIMS, seed=2026)


@pytest.mark.parametrize("version", [next(v for v in VERSIONS if v.has_chain), next(v for v in VERSIONS if v.plans)],
                         ids=lambda v: v.key)
def test_pieces_and_threads_do_not_change_a_settlement(version):
    plan = compile_version(version)
    batch = random_batch(version, 20_000, seed=9, catalogue=plan.catalogue)
    whole = plan.adjudicate(batch, chunk=len(batch))
    for chunk, workers in ((1, 1), (613, 1), (4096, 2)):
        pieces = plan.adjudicate(batch, chunk=chunk, workers=workers)
        assert [pieces.settlement(i) for i in range(0, len(batch), 7)] == [whole.settlement(i)
                                                                           for i in range(0, len(batch), 7)]


@pytest.mark.parametrize("rounding", ["half_even", "down"])
@pytest.mark.parametrize("version", [v for v in VERSIONS if any(row.segments for layer in v.layers
                                                               for l in layer.liabilities for row in l.rows)],
                         ids=lambda v: v.key)
def test_every_declared_rounding_rule_gives_the_rules_path_fen(version, rounding):
    variant = replace(version, rounding=rounding, content_hash=f"{version.content_hash}-{rounding}")
    assert_same_settlements(variant, max(CLAIMS // 4, 1000), seed=7)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.key)
def test_vectorised_quotes_equal_the_rules_path(version):
    plan = compile_version(version)
    persons = list({c.member.id: c.member for c in to_claims(random_batch(version, 3000, seed=5))}.values())
    premiums = plan.quote(members_from_persons(persons, plan.age_reference))
    for i, person in enumerate(persons):
        want = quote(person, version, trace=False)
        subsidies = {version.subsidies[k].id: int(premiums.subsidies[i, k])
                     for k in range(len(version.subsidies)) if premiums.applied[i, k]}
        band = premiums.bands[premiums.band[i]].id if premiums.band[i] >= 0 else None
        assert (band, int(premiums.premium[i]), subsidies) == (
            want.band, want.premium_fen, {p["subsidy"]: p["fen"] for p in want.payers if "subsidy" in p}), person
        assert int(premiums.remainder[i]) == sum(p["fen"] for p in want.payers if "subsidy" not in p)


def test_integer_rounding_equals_decimal_rounding():
    rng = random.Random(3)
    ratios = [Decimal(r) for r in ("0.5", "0.65", "0.675", "0.8", "0.3333", "1", "0", "0.125", "0.05")]
    amounts = [rng.randrange(0, 10**rng.randint(1, 11)) for _ in range(3000)] + list(range(0, 400))
    array = np.array(amounts, np.int64)
    for ratio in ratios:
        for rounding in ROUNDING_RULES:
            got = fen.apply_ratio(array, ratio, rounding).tolist()
            assert got == [apply_ratio(a, ratio, rounding) for a in amounts], (ratio, rounding)
    shares = [Decimal("0.4"), Decimal("0.35"), Decimal("0.25")]
    assert fen.split_by_shares(array, shares).tolist() == [split_by_shares(a, shares) for a in amounts]


def test_half_way_amounts_round_by_the_declared_rule():
    halves = np.array([1, 3, 5, 7], np.int64)  # × 0.5 lands exactly on half a fen
    assert fen.apply_ratio(halves, Decimal("0.5"), "half_up").tolist() == [1, 2, 3, 4]
    assert fen.apply_ratio(halves, Decimal("0.5"), "half_even").tolist() == [0, 2, 2, 4]
    assert fen.apply_ratio(halves, Decimal("0.5"), "down").tolist() == [0, 1, 2, 3]


def test_a_liability_under_two_caps_is_refused_not_approximated():
    version = next(v for v in VERSIONS if any(l.caps for l in v.scheme_layer.liabilities))
    layer = version.scheme_layer
    liability = next(l for l in layer.liabilities if l.caps)
    twice = replace(liability, caps=(liability.caps[0], liability.caps[0]))
    changed = replace(layer, liabilities=tuple(twice if l is liability else l for l in layer.liabilities))
    variant = replace(version, layers=tuple(changed if l is layer else l for l in version.layers))
    with pytest.raises(Unsupported, match="一项责任有多个封顶线"):
        VectorVersion(variant)


@pytest.mark.parametrize("order", ["out_of_policy_first", "pro_rata", "best_for_patient"])
def test_a_deductible_order_other_than_liability_order_is_refused_not_approximated(order):
    from scheme_texts import version as test_version
    with pytest.raises(Unsupported, match=f"起付线的使用顺序为 {order}"):
        VectorVersion(test_version(order=order))
    VectorVersion(test_version(order="in_policy_first"))  # the order it pays in: accepted


def test_claims_the_rules_path_refuses_are_refused_too():
    version = next(v for v in VERSIONS if any("hospital_level" in row.when
                                             for l in v.scheme_layer.liabilities for row in l.rows))
    plan = compile_version(version)
    claims = settlement_order(to_claims(random_batch(version, 50, seed=1)))
    care = next(c for l in version.scheme_layer.liabilities for row in l.rows if "hospital_level" in row.when
                for c in l.care)
    no_level = replace(claims[0], care=care, hospital_level=None)
    late = replace(claims[1], date="2999-01-01")
    for bad, code in ((no_level, "claim.hospital_level"), (late, "claim.date")):
        with pytest.raises(InputError) as from_rules:
            adjudicate(bad, version)
        with pytest.raises(InputError) as vectorised:
            plan.adjudicate(batch_from_claims([bad], plan.age_reference))
        assert [i.code for i in from_rules.value.issues] == [i.code for i in vectorised.value.issues] == [code]


def test_the_versions_that_fall_back_to_the_rules_path_are_named_with_their_reason():
    refused = {}
    for version in ALL_VERSIONS:
        try:
            VectorVersion(version)
        except Unsupported as exc:
            refused[version.key] = str(exc)
    assert refused.keys() == FALLS_BACK.keys()
    assert all(FALLS_BACK[key] in reason for key, reason in refused.items())


def test_a_version_with_plans_settles_each_member_under_their_plan():
    version = next(v for v in ALL_VERSIONS if len(v.plans) > 1)
    plan = compile_version(version)
    batch = random_batch(version, 4000, seed=3, catalogue=plan.catalogue)
    settled = plan.adjudicate(batch)
    codes = batch.plan_codes()
    for k, terms in enumerate(version.plans):  # the same claims settled under that plan alone
        mine = np.flatnonzero(codes == k)
        alone = compile_version(terms).adjudicate(batch.select(mine))
        assert alone.paid.tolist() == settled.paid[mine].tolist()
        own = {terms.scheme_layer.key_of(l) for l in terms.scheme_layer.liabilities}
        others = [key for key in settled.by_liability if key not in own]
        assert not any(settled.by_liability[key][0][mine].any() for key in others), terms.key
    assert len(set(codes.tolist())) == len(version.plans) and settled.paid.sum() > 0


def test_a_member_without_a_plan_is_refused_as_the_rules_path_refuses_them():
    version = next(v for v in ALL_VERSIONS if v.plans)
    claims = settlement_order(to_claims(random_batch(version, 20, seed=1)))
    claims[0] = replace(claims[0], member=replace(claims[0].member, plan=None))
    with pytest.raises(InputError) as from_rules:
        adjudicate(claims[0], version)
    with pytest.raises(InputError) as vectorised:
        compile_version(version).adjudicate(batch_from_claims(claims, version.period[0]))
    assert [(i.code, i.message) for i in from_rules.value.issues] == [(i.code, i.message)
                                                                      for i in vectorised.value.issues]


@pytest.mark.parametrize("policy", ["first", "max"])
def test_an_item_several_liabilities_may_pay_goes_where_the_hit_policy_says(policy):
    """The differential test with both hit policies, on a version where such items occur."""
    version = next(v for v in ALL_VERSIONS if v.hit_policy)
    plus = max(version.plans, key=lambda p: sum(l.covers is None for l in p.scheme_layer.liabilities))
    variant = replace(plus, hit_policy=policy, content_hash=f"{plus.content_hash}-{policy}")
    plan = VectorVersion(variant)
    batch = random_batch(variant, 20_000, seed=17, catalogue=plan.catalogue)
    contested = plan._payable(batch, plan._catalogue_windows(batch))
    several = sum(may.astype(int) for may in contested.values()) > 1
    assert (several & (batch.drug_fen > 0)).sum() > 100  # items the policy decides are among the claims
    assert_same_settlements(variant, max(CLAIMS // 2, 5000), seed=17)
