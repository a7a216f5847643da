"""Random claims that probe a version where it turns: amounts at and around every deductible, cap and
segment boundary (alone and split across a member's claims), every care type, hospital level and
group of people, bills through the payment chain and special drugs in and out of the catalogue.

Made with NumPy (millions a second) for the benchmark, and turned into parsed `Claim`s for the rules
path so both settle the very same claims.  Seeded: the same seed gives the same claims.
"""
from __future__ import annotations

import numpy as np

from .. import vocab
from ..inputs import Claim, ClaimItem, Person
from ..model import Version
from .columns import PERSON_DIMS, VALUES, ClaimBatch

# How often each value of a person's dimension is drawn (the rest share what is left equally).
SKEW = {"basic_insurance": {"none": 0.03, "employee": 0.35}, "basic_insurance_status": {"arrears": 0.03,
        "terminated": 0.02}, "low_income": {vocab.NOT_LOW_INCOME: 0.8}, "pre_existing": {True: 0.25},
        "entitled_care": {True: 0.05}, "disabled": {True: 0.05}, "hukou": {"nonlocal": 0.1},
        "occupation": {"high_risk": 0.05}}


def landmarks(version: Version) -> np.ndarray:
    """Every amount where a version's payout bends, in fen, with halves (two claims crossing it together)."""
    points = set()
    for layer in (layer for terms in (version, *version.plans) for layer in terms.layers):
        points.update(p.amount.fen for p in (*layer.deductibles.values(), *layer.caps.values()))
        for liability in layer.liabilities:
            deductible = layer.deductibles[liability.deductible].amount.fen
            for row in liability.rows:
                points.update(s.lo for s in row.segments)
                points.update(s.hi for s in row.segments if s.hi is not None)
                rate = row.rate.value if row.rate is not None else None
                for cap in liability.caps:  # the bill at which the cap is reached
                    if rate:
                        points.add(deductible + int(layer.caps[cap].amount.fen / rate))
    points.discard(0)
    points = sorted(points) or [100_000]
    return np.array(sorted(set(points) | {p // 2 for p in points}), np.int64)


def _draw(rng, dim: str, n: int) -> np.ndarray:
    values = VALUES[dim] if dim != "age" else None
    if dim == "age":  # every age, a few at the very top
        return np.where(rng.random(n) < 0.002, vocab.MAX_AGE, rng.integers(0, 111, n)).astype(np.int16)
    fixed = SKEW.get(dim, {})
    rest = (1 - sum(fixed.values())) / max(len(values) - len(fixed), 1)
    weights = np.array([fixed.get(v, rest) for v in values])
    return rng.choice(len(values), n, p=weights / weights.sum()).astype(np.int16)


def _amounts(rng, marks: np.ndarray, n: int) -> np.ndarray:
    """A fifth zero, two fifths at or next to a landmark, the rest spread from 1 fen to twice the largest."""
    kind = rng.random(n)
    near = marks[rng.integers(0, len(marks), n)] + rng.choice([-100, -1, 0, 0, 1, 100], n)
    spread = np.exp(rng.uniform(0, np.log(2 * marks[-1] + 2), n)).astype(np.int64)
    return np.where(kind < 0.2, 0, np.where(kind < 0.6, np.maximum(near, 0), spread))


def days_between(start: str, end: str, rng, n: int) -> np.ndarray:
    """n random days from start to end (inclusive) as day numbers (20250630)."""
    first, last = np.datetime64(start, "D"), np.datetime64(end, "D")
    days = first + rng.integers(0, int((last - first).astype(int)) + 1, n)
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = days.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (days - month_start).astype(np.int64) + 1
    return year * 10000 + month * 100 + day


def random_batch(version: Version, claims: int, seed: int = 11, claims_per_member: float = 4.0,
                 catalogue: dict | None = None) -> ClaimBatch:
    """`claims` random claims of one policy year, sorted as accumulators fill (member, date, claim id).

    Under a version with plans every member is in one of them; a fifth of the items are given elsewhere than
    their claim's care."""
    rng = np.random.default_rng(seed)
    members = max(1, int(claims / claims_per_member))
    member = rng.integers(0, members, claims)
    date = days_between(*version.period, rng, claims)
    order = np.lexsort((date, member))
    member, date = member[order], date[order]
    people = {dim: _draw(rng, dim, members) for dim in PERSON_DIMS}
    columns = {dim: codes[member] for dim, codes in people.items()}
    columns["care"] = rng.integers(0, len(vocab.CARE), claims).astype(np.int16)
    columns["hospital_level"] = rng.integers(0, len(vocab.HOSPITAL_LEVELS), claims).astype(np.int16)
    marks = landmarks(version)
    codes, indications, width = _drug_vocabulary(catalogue or {})
    drug_fen = np.where(rng.random((claims, width)) < 0.15, _amounts(rng, marks, claims * width).reshape(claims, width),
                        0) if width else np.zeros((claims, 0), np.int64)
    elsewhere = rng.random((claims, width)) < 0.2
    item_care = np.where(elsewhere, rng.integers(0, len(vocab.CARE), (claims, width)), columns["care"][:, None])
    plan_ids = [plan.plan for plan in version.plans] or [None]
    return ClaimBatch(
        member=member, date=date, columns=columns, age_ref=columns["age"],
        in_policy=_amounts(rng, marks, claims), out_of_policy=_amounts(rng, marks, claims),
        raw_bill=(rng.random(claims) < 0.3) if version.has_chain else np.zeros(claims, bool),
        drug_fen=drug_fen,
        drug_code=rng.integers(0, max(len(codes), 1), (claims, width)).astype(np.int32),
        drug_indication=rng.integers(0, max(len(indications), 1), (claims, width)).astype(np.int32),
        drug_codes=codes, drug_indications=indications,
        claim_ids=None, item_care=item_care.astype(np.int16) if width else None,
        plan=rng.integers(0, len(plan_ids), members).astype(np.int16)[member] if version.plans else None,
        plan_ids=plan_ids)


def _drug_vocabulary(catalogue: dict) -> tuple[list, list, int]:
    """The catalogue's codes and indications plus one of each it does not have; two drugs a claim at most."""
    if not catalogue:
        return [], [], 0
    codes = [*catalogue, "not-in-catalogue"]
    indications = [*dict.fromkeys(i for drug in catalogue.values() for i in drug.indications), "other-indication"]
    return codes, indications, 2


def to_claims(batch: ClaimBatch) -> list[Claim]:
    """The batch as parsed claims, for the rules path; claim and member ids keep the batch's order."""
    persons: dict[int, Person] = {}
    claims = []
    care, level = VALUES["care"], VALUES["hospital_level"]
    plans = batch.plan_codes()
    given = batch.item_care if batch.item_care is not None else np.repeat(batch.columns["care"][:, None],
                                                                           batch.drug_fen.shape[1], axis=1)
    for i in range(len(batch)):
        m = int(batch.member[i])
        if m not in persons:
            point = {dim: VALUES[dim][batch.columns[dim][i]] if dim != "age" else int(batch.columns["age"][i])
                     for dim in PERSON_DIMS}
            persons[m] = Person(id=f"m{m:09d}", birth_date=None, plan=batch.plan_ids[plans[i]], **point)
        d = int(batch.date[i])
        drugs = tuple(ClaimItem(batch.drug_codes[batch.drug_code[i, k]],
                                batch.drug_indications[batch.drug_indication[i, k]], int(batch.drug_fen[i, k]),
                                care[given[i, k]])
                      for k in range(batch.drug_fen.shape[1]) if batch.drug_fen[i, k] > 0)
        claims.append(Claim(claim_id=f"c{i:09d}", member=persons[m], date=f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}",
                            care=care[batch.columns["care"][i]], hospital_level=level[batch.columns["hospital_level"][i]],
                            in_policy_fen=int(batch.in_policy[i]), out_of_policy_fen=int(batch.out_of_policy[i]),
                            items=drugs, raw_bill=bool(batch.raw_bill[i])))
    return claims
