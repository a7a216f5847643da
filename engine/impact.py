"""Impact: what a new version does compared with the old one, before it is published.

Three views, all computed as real quotes and claims are (the reference population on the vectorised path,
which equals the rules path to the fen; see docs/vectorised.md):
- the standard profiles (engine/profiles.yaml) under both versions;
- a reference population, synthetic and reproducible (a seed), priced and claimed under both: premium
  income, claims paid, claims ratio, by band;
- any list of claims (e.g. the old version's golden cases), moved into the new period.

The population is made with integer arithmetic only (buckets of bill sizes, whole fen), so every
amount stays exact.  Its shape is an assumption and says so: it is for comparing versions with each
other, not for forecasting a city's results.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Callable

import numpy as np

from . import vocab
from .compare import profile_payouts
from .evaluate import adjudicate, quote
from .inputs import PERSON_DEFAULTS, parse_claim, parse_person
from .model import Version
from .population import PLAN_SEED, cheapest_plans, plan_codes
from .vector import MemberBatch, Unsupported, batch_from_claims, compile_version, settlement_order
from .vector.columns import PERSON_DIMS, code_array

POPULATION_ASSUMPTION = ("合成参考人群：年龄 0–90 岁近似均匀偏老，既往症约 15%（60 岁以上更高），低收入约 5%，"
                         "职工医保约 35%；约 5% 的人一年内有住院或门诊慢特病费用，按分档抽取（约 0.3% 的人自付超过 1.5 万元）。"
                         "版本分方案时，约 70% 的人选对自己最便宜的方案，其余平分到其他方案。"
                         "仅用于版本之间的比较，不代表任何城市的实际人群")
REFERENCE_CHEAPEST = 0.7  # the share choosing the plan cheapest for them (POPULATION_ASSUMPTION)

# (weight, lowest, highest) of a year's self-pay in yuan, and the out-of-policy share in percent
# (weight ‰, lowest, highest): about 0.3 % of members above 15,000 yuan, a thin tail to 500,000
BILL_BUCKETS = [(800, 500, 5_000), (140, 5_000, 15_000), (45, 15_000, 50_000), (13, 50_000, 150_000),
                (2, 150_000, 500_000)]
# chronic outpatient care of class 1 (treated as inpatient): what a scheme covering inpatient care pays for
CARE_MIX = [("inpatient", 80), ("emergency", 6), ("day_surgery", 6), ("chronic_outpatient_1", 8)]


@dataclass(frozen=True)
class Member:
    person: dict
    claim: dict | None  # a year's self-pay as one settled claim, or None
    plan_draw: float = 0.0  # uniform in [0, 1): which plan they choose under a version with plans


def reference_population(size: int, seed: int = 2025) -> list[Member]:
    """A reproducible synthetic population (see POPULATION_ASSUMPTION)."""
    rng, plan_rng = random.Random(seed), random.Random(seed + PLAN_SEED)
    members = []
    for i in range(size):
        age = min(90, rng.randint(0, 70) + rng.choice([0, 0, 10, 20]))
        person = {"id": f"ref-{i}", "age": age,
                  "pre_existing": rng.randrange(100) < (30 if age >= 60 else 10),
                  "low_income": rng.choice(list(vocab.LOW_INCOME)) if rng.randrange(100) < 5 else "none",
                  "basic_insurance": "employee" if rng.randrange(100) < 35 else "resident"}
        members.append(Member(person, _claim_for(rng, person) if rng.randrange(100) < 5 else None, plan_rng.random()))
    return members


def _claim_for(rng: random.Random, person: dict) -> dict:
    weight = rng.randrange(sum(w for w, _, _ in BILL_BUCKETS))
    for bucket_weight, low, high in BILL_BUCKETS:
        if weight < bucket_weight:
            break
        weight -= bucket_weight
    total_fen = rng.randint(low * 100, high * 100)
    out_fen = total_fen * rng.randint(0, 60) // 100
    care = rng.choices([c for c, _ in CARE_MIX], weights=[w for _, w in CARE_MIX])[0]
    return {"care": care, "hospital_level": rng.randint(1, 3), "in_policy_self_pay": _yuan(total_fen - out_fen),
            "out_of_policy_self_pay": _yuan(out_fen)}


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class PopulationResult:
    version: str
    members: int
    premium_fen: int = 0
    paid_fen: int = 0
    claimants: int = 0
    by_band: dict = field(default_factory=dict)  # band → {"members", "premium_fen"}
    by_liability: dict = field(default_factory=dict)
    path: dict = field(default_factory=lambda: {"path": "vectorised", "reason": ""})  # which path settled it, why

    @property
    def claims_ratio(self) -> Decimal:
        return (Decimal(self.paid_fen) / self.premium_fen).quantize(Decimal("0.0001")) if self.premium_fen else Decimal(0)

    def as_dict(self) -> dict:
        return {"version": self.version, "members": self.members, "premium_fen": self.premium_fen,
                "paid_fen": self.paid_fen, "claimants": self.claimants, "claims_ratio": str(self.claims_ratio),
                "by_band": self.by_band, "by_liability": self.by_liability, "path": self.path}


def run_population(version: Version, members: list[Member], progress: Callable[[int], None] | None = None
                   ) -> PopulationResult:
    """Everyone priced, every claim settled (the claim dated mid-period), under one version: on the vectorised
    path, equal to the rules path to the fen, unless the version is beyond it (then on the rules path)."""
    try:
        compiled = compile_version(version)
    except Unsupported as exc:
        result = run_population_rules(version, members, progress)
        result.path["reason"] = str(exc)
        return result
    result = PopulationResult(version.key, len(members))
    points = [{**PERSON_DEFAULTS, **m.person} for m in members]
    batch = MemberBatch({dim: code_array(dim, (p[dim] for p in points)) for dim in PERSON_DIMS})
    plans = _plans(version, members, lambda: cheapest_plans(compiled, batch))
    if version.plans:
        batch = MemberBatch(batch.columns, plans, [p.plan for p in version.plans])
    premiums = compiled.quote(batch)
    priced = premiums.band >= 0
    bands = version.priced_bands()
    for i in _first_seen(premiums.band[priced], np.flatnonzero(priced)):
        mine = premiums.band == i
        result.by_band[bands[i][0]] = {"name": bands[i][1], "members": int(mine.sum()),
                                       "premium_fen": int(premiums.premium[mine].sum())}
    result.premium_fen = int(premiums.premium[priced].sum())
    claim_date = _mid_period(version)
    claims = [parse_claim({"claim_id": f"{m.person['id']}-y", "member": _enrolled(m.person, version, plan),
                           "date": claim_date, **m.claim})
              for m, ok, plan in zip(members, priced, plans) if ok and m.claim]
    if claims:
        settled = compiled.adjudicate(batch_from_claims(settlement_order(claims), compiled.age_reference))
        result.paid_fen = int(settled.paid.sum())
        result.claimants = int((settled.paid > 0).sum())
        routed_first = {key: int(np.argmax(routed)) for key, (routed, _) in settled.by_liability.items() if routed.any()}
        for key in sorted(routed_first, key=routed_first.get):  # in the order the rules path meets them
            result.by_liability[key] = int(settled.by_liability[key][1].sum())
    if progress:
        progress(len(members))
    return result


def _plans(version: Version, members: list[Member], cheapest) -> np.ndarray:
    """Each member's plan under a version with plans (an index into its plans; zeros without plans)."""
    if not version.plans:
        return np.zeros(len(members), np.int16)
    age = np.array([m.person["age"] for m in members])
    return plan_codes([(None, REFERENCE_CHEAPEST)], age, cheapest, len(version.plans),
                      np.array([m.plan_draw for m in members]))


def _enrolled(person: dict, version: Version, plan: int) -> dict:
    """The person as they enrol: in their plan, where the version has plans."""
    return {**person, "plan": version.plans[plan].plan} if version.plans else person


def _first_seen(values: np.ndarray, positions: np.ndarray) -> list[int]:
    """The distinct values in the order they first appear."""
    distinct, first = np.unique(values, return_index=True)
    return [int(v) for _, v in sorted(zip(positions[first], distinct))]


def run_population_rules(version: Version, members: list[Member], progress: Callable[[int], None] | None = None
                   ) -> PopulationResult:
    """run_population on the rules path, one member after another."""
    result = PopulationResult(version.key, len(members), path={"path": "rules", "reason": ""})
    claim_date = _mid_period(version)
    plans = _plans(version, members, lambda: np.array([_cheapest_by_rules(m.person, version) for m in members]))
    for i, (member, plan) in enumerate(zip(members, plans)):
        person = _enrolled(member.person, version, plan)
        priced = quote(parse_person(person), version, trace=False)
        if priced.band is None:
            continue  # not eligible: neither premium nor claims
        terms = version.plans[plan] if version.plans else None
        key, name = (f"{terms.plan}/{priced.band}", f"{terms.plan_name}·{priced.band_name}") if terms else \
            (priced.band, priced.band_name)
        band = result.by_band.setdefault(key, {"name": name, "members": 0, "premium_fen": 0})
        band["members"] += 1
        band["premium_fen"] += priced.premium_fen
        result.premium_fen += priced.premium_fen
        if member.claim:
            claim = {"claim_id": f"{member.person['id']}-y", "member": person, "date": claim_date, **member.claim}
            settled = adjudicate(parse_claim(claim), version, trace=False)
            result.paid_fen += settled.paid_fen
            result.claimants += settled.paid_fen > 0
            for liability, fen in settled.by_liability.items():
                result.by_liability[liability] = result.by_liability.get(liability, 0) + fen
        if progress and i % 500 == 499:
            progress(i + 1)
    return result


def _cheapest_by_rules(person: dict, version: Version) -> int:
    """The plan cheapest for this person (the first of equals), quoted on the rules path."""
    fen = [quote(parse_person({**person, "plan": plan.plan}), version, trace=False) for plan in version.plans]
    return min(range(len(fen)), key=lambda k: (fen[k].band is None, fen[k].premium_fen))


def _mid_period(version: Version) -> str:
    start, end = date.fromisoformat(version.period[0]), date.fromisoformat(version.period[1])
    return (start + (end - start) / 2).isoformat()


def shift_claim(claim: dict, old: Version, new: Version) -> dict:
    """A claim of the old period moved by whole years into the new one (day and month kept where they exist)."""
    years = int(new.period[0][:4]) - int(old.period[0][:4])
    when = date.fromisoformat(claim["date"])
    try:
        moved = when.replace(year=when.year + years)
    except ValueError:  # 29 February into a common year
        moved = when.replace(year=when.year + years, day=28)
    moved_text = min(max(moved.isoformat(), new.period[0]), new.period[1])
    return {**claim, "date": moved_text}


def claims_impact(claims: list[dict], old: Version, new: Version) -> list[dict]:
    """Each claim paid under the old version and, moved into its period, under the new one."""
    rows = []
    for claim in claims:
        before = adjudicate(parse_claim(claim), old, trace=False).paid_fen
        after = adjudicate(parse_claim(shift_claim(claim, old, new)), new, trace=False).paid_fen
        rows.append({"claim_id": str(claim["claim_id"]), "old_paid_fen": before, "new_paid_fen": after,
                     "change_fen": after - before})
    return rows


def plan_pairs(old: Version, new: Version) -> list[tuple[Version, Version]]:
    """The terms the standard profiles are compared under: plan by plan where both versions declare the same
    plans; a version without plans against each plan of the other; otherwise the plans in declared order."""
    if not old.plans and not new.plans:
        return [(old, new)]
    if not old.plans or not new.plans:
        return [(o, n) for o in (old.plans or (old,)) for n in (new.plans or (new,))]
    same = {p.plan for p in old.plans} == {p.plan for p in new.plans}
    return [(o, new.for_plan(o.plan)) for o in old.plans] if same else list(zip(old.plans, new.plans))


def _profile_rows(old: Version, new: Version) -> list[dict]:
    """Each standard profile paid under the old and the new terms (named by plan where there are plans)."""
    plan = " / ".join(dict.fromkeys(v.plan_name for v in (old, new) if v.plan))
    return [{"id": p["id"] + "".join(f"/{v.plan}" for v in (old, new) if v.plan), "plan": plan,
             "name": f"{plan}：{p['name']}" if plan else p["name"], "old_paid_fen": p["cells"][0]["paid_fen"],
             "new_paid_fen": p["cells"][1]["paid_fen"], "change_fen": p["cells"][1]["paid_fen"] - p["cells"][0]["paid_fen"]}
            for p in profile_payouts([old, new])]


def impact(old: Version, new: Version, population: int = 5_000, seed: int = 2025, claims: list[dict] | None = None,
           progress: Callable[[str, int, int], None] | None = None) -> dict:
    """The whole impact report, JSON-ready (amounts in fen, ratios as decimal strings)."""
    members = reference_population(population, seed)
    results = []
    for label, version in (("old", old), ("new", new)):
        step = (lambda done, label=label: progress(label, done, population)) if progress else None
        results.append(run_population(version, members, step))
    before, after = results
    return {
        "old": old.key, "new": new.key,
        "population": {"size": population, "seed": seed, "assumption": POPULATION_ASSUMPTION,
                       "old": before.as_dict(), "new": after.as_dict(),
                       "premium_change_fen": after.premium_fen - before.premium_fen,
                       "paid_change_fen": after.paid_fen - before.paid_fen},
        "profiles": [row for pair in plan_pairs(old, new) for row in _profile_rows(*pair)],
        "claims": claims_impact(claims or [], old, new),
    }
