"""Money invariants on random valid schemes (tests/scheme_strategies.py) and random claims.

For every claim: no layer pays a negative amount or more than it received, nor any liability more than
what is left of a part after its deductible; the layers' payouts plus the patient's remainder are the bill
to the fen; a larger bill never pays the layers up to any point of the chain less, together (all else
equal, from the same accumulators); the co-insurers' shares add up to the payout.  Across each member's year of claims, settled in date order by
the one accumulator loop: a deductible pool has used exactly min(what passed through it, its amount), and a
cap pool never pays out more than its amount.  Quotes: the payers add up to the premium.

The default run settles HMB_INVARIANT_CLAIMS = 100,000 claims (plus as many with a larger bill):
SCHEMES generated schemes × CLAIMS_PER_SCHEME claims each.  Set HMB_INVARIANT_CLAIMS for more.
"""
from __future__ import annotations

import os
import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import adjudicate, load_product_text, quote
from engine.accumulators import PoolKind
from engine.inputs import Claim, ClaimItem, Person
from engine.settle import InMemory
from scheme_strategies import schemes
from scheme_texts import FIXTURE_SOURCES

CLAIMS = int(os.environ.get("HMB_INVARIANT_CLAIMS", "100000"))
CLAIMS_PER_SCHEME = 1_000
SCHEMES = max(CLAIMS // CLAIMS_PER_SCHEME, 1)
CARE = ["inpatient", "inpatient", "emergency", "day_surgery", "chronic_outpatient", "outpatient"]
DRUGS = [("drug-a", "cancer-a"), ("drug-a", "cancer-b"), ("drug-z", "cancer-a")]  # in, wrong indication, unknown


# ── claims ────────────────────────────────────────────────────────────────────────────────────

def amount(rng: random.Random) -> int:
    """A bill part in fen: often nothing, mostly modest, sometimes large enough to reach caps."""
    size = rng.choice([0, 0, 5_000_00, 5_000_00, 50_000_00, 300_000_00])
    return rng.randint(0, size) if size else 0


def members(rng: random.Random) -> list[Person]:
    return [Person(id=f"m{i}", age=rng.randint(0, 100), birth_date=None, pre_existing=rng.random() < 0.3,
                   low_income=rng.choice(["none", "none", "dibao"]), basic_insurance="resident",
                   basic_insurance_status=rng.choice(["active"] * 9 + ["arrears"]), hukou="local",
                   occupation="general") for i in range(rng.randint(1, 4))]


def random_claims(rng: random.Random, count: int, raw_bills: bool) -> list[Claim]:
    people = members(rng)
    claims = []
    for i in range(count):
        care = rng.choice(CARE)
        drugs = tuple(ClaimItem(*rng.choice(DRUGS), amount(rng), care) for _ in range(rng.choice([0, 0, 1, 2])))
        raw = raw_bills and rng.random() < 0.7
        claims.append(Claim(claim_id=f"c{i}", member=rng.choice(people), date=f"2024-{rng.randint(1, 12):02d}-"
                            f"{rng.randint(1, 28):02d}", care=care, hospital_level=rng.randint(1, 3),
                            in_policy_fen=amount(rng), out_of_policy_fen=amount(rng), items=() if raw else drugs,
                            raw_bill=raw))
    return claims


def larger(claim: Claim, rng: random.Random) -> Claim:
    """The same claim with one part of the bill larger."""
    extra = rng.choice([1, 100, rng.randint(1, 50_000_00)])
    part = rng.choice(["in", "out", "drug"] if claim.items else ["in", "out"])
    if part == "in":
        return replace(claim, in_policy_fen=claim.in_policy_fen + extra)
    if part == "out":
        return replace(claim, out_of_policy_fen=claim.out_of_policy_fen + extra)
    i = rng.randrange(len(claim.items))
    drugs = list(claim.items)
    drugs[i] = replace(drugs[i], fen=drugs[i].fen + extra)
    return replace(claim, items=tuple(drugs))


# ── invariants ────────────────────────────────────────────────────────────────────────────────

def check_claim(claim: Claim, settled: dict, version) -> None:
    """One settlement: layers, liabilities, remainder, co-insurers."""
    layers = {layer.id: layer for layer in version.layers}
    in_policy_left = claim.in_policy_fen
    for row in settled["layers"]:
        layer = layers[row["layer"]]
        received = in_policy_left + (claim.out_of_policy_fen + sum(d.fen for d in claim.items)
                                     if layer.kind == "scheme" else 0)
        assert 0 <= row["paid_fen"] <= received, (row, received)
        keys = {layer.key_of(l): l for l in layer.liabilities}
        assert sum(settled["by_liability"].get(key, 0) for key in keys) == row["paid_fen"]
        in_policy_left -= sum(settled["by_liability"].get(key, 0) for key, l in keys.items()
                              if l.covers == "in_policy_self_pay")
    assert all(fen >= 0 for fen in settled["by_liability"].values())
    assert sum(row["paid_fen"] for row in settled["layers"]) + settled["patient_remainder_fen"] == claim.total_fen
    assert settled["patient_remainder_fen"] >= 0
    scheme_row = [row for row in settled["layers"] if row["layer"] == "scheme"]
    assert settled["paid_fen"] == (scheme_row[0]["paid_fen"] if scheme_row else 0)
    if settled["insurers"]:
        assert len(settled["insurers"]) == len(version.insurers)
        assert sum(i["fen"] for i in settled["insurers"]) == settled["paid_fen"]
        assert all(i["fen"] >= 0 for i in settled["insurers"])
    else:
        assert settled["paid_fen"] == 0
    check_parts(settled["trace"])


def check_larger_bill(claim: Claim, settled: dict, bigger) -> None:
    """A larger bill never leaves the patient worse off at any point of the chain: what the layers up to
    and including each one pay together never falls.  A single later layer may pay less: when a shared
    deductible is spent on the larger part first, the scheme pays more of the in-policy part and hands the
    next layer that much less to pay a share of (seed 465666668 found it, to the fen)."""
    small_total = big_total = 0
    for small, big in zip(settled["layers"], bigger.layers, strict=True):
        small_total += small["paid_fen"]
        big_total += big["paid_fen"]
        assert big_total >= small_total, (claim, small, big)


def check_parts(trace: list[dict]) -> None:
    """Each routed part: the deductible takes at most the part; what is paid is at most the part less it."""
    deducted = 0
    for step in trace:
        if step["step"] == "route" and "liability" in step:
            deducted = 0
        elif step["step"] == "deductible":
            deducted = step["amount_fen"] - step["result_fen"]
            assert 0 <= deducted <= step["amount_fen"]
        elif step["step"] == "paid":
            assert 0 <= step["result_fen"] <= step["amount_fen"] - deducted, step


class Year:
    """One member's year, summed from the settlements' traces and payouts — not from the accumulators."""

    def __init__(self) -> None:
        self.through = {}  # (layer, deductible pool) → fen of parts routed to liabilities using it
        self.deducted = {}  # (layer, deductible pool) → fen deducted
        self.paid_under_cap = {}  # (layer, cap pool) → fen paid by liabilities under it

    def add(self, settled: dict, version) -> None:
        layers = {layer.id: layer for layer in version.layers}
        for step in settled["trace"]:
            if "liability" not in step:
                continue
            layer = layers[step["layer"]]
            liability = next(l for l in layer.liabilities if l.id == step["liability"])
            pool = (layer.id, liability.deductible)
            if step["step"] == "route":
                self.through[pool] = self.through.get(pool, 0) + step["amount_fen"]
            elif step["step"] == "deductible":
                self.deducted[pool] = self.deducted.get(pool, 0) + step["amount_fen"] - step["result_fen"]
            elif step["step"] == "paid":
                for cap in liability.caps:
                    self.paid_under_cap[(layer.id, cap)] = self.paid_under_cap.get((layer.id, cap), 0) + step["result_fen"]

    def check(self, version, accumulators: dict) -> None:
        layers = {layer.id: layer for layer in version.layers}
        for (layer_id, pool_id), fen in self.through.items():
            amount = layers[layer_id].deductibles[pool_id].amount.fen
            assert self.deducted.get((layer_id, pool_id), 0) == min(fen, amount), (layer_id, pool_id)
        for (layer_id, cap_id), fen in self.paid_under_cap.items():
            assert fen <= layers[layer_id].caps[cap_id].amount.fen, (layer_id, cap_id)
        for key, fen in accumulators.items():  # and the engine's own accounts say the same
            if key.kind is PoolKind.DEDUCTIBLE:
                assert fen == self.deducted.get((key.layer, key.pool), 0), key
            elif key.kind is PoolKind.CAP:
                assert fen == self.paid_under_cap.get((key.layer, key.pool), 0), key


def check_quotes(version) -> None:
    for age in (0, 30, 75, 150):
        for low_income in ("none", "dibao"):
            person = Person(id="q", age=age, birth_date=None, pre_existing=False, low_income=low_income,
                            basic_insurance="resident", basic_insurance_status="active", hukou="local",
                            occupation="general")
            priced = quote(person, version, trace=False)
            assert sum(p["fen"] for p in priced.payers) == priced.premium_fen
            assert all(p["fen"] >= 0 for p in priced.payers)


# ── the property ──────────────────────────────────────────────────────────────────────────────

@settings(max_examples=SCHEMES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=schemes(), seed=st.integers(0, 2**32 - 1))
def test_money_invariants_hold_for_random_schemes_and_claims(scheme, seed):
    version = load_product_text(scheme.text, "<generated>", FIXTURE_SOURCES).versions[0]
    check_quotes(version)
    rng = random.Random(seed)  # claims from a seed: many per scheme, cheaply; a failure names scheme and seed
    claims = random_claims(rng, CLAIMS_PER_SCHEME, scheme.has_chain)
    book = InMemory()
    years = {person: Year() for person in {claim.member.id for claim in claims}}
    order = sorted(range(len(claims)), key=lambda i: claims[i].date)
    for i in order:  # what settle_in_order does, with a look at each claim's accumulators before it is settled
        claim = claims[i]
        before = book.accumulators(version, claim.member.id)
        settled, _ = book.settle(claim, version)
        check_claim(claim, settled, version)
        years[claim.member.id].add(settled, version)
        check_larger_bill(claim, settled, adjudicate(larger(claim, rng), version, before, trace=False))
    for member, year in years.items():
        year.check(version, book.accumulators(version, member))
