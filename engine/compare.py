"""Compare schemes side by side in one vocabulary: parameters, payouts on standard profiles,
benefit curves (payout against bill size) and premiums for standard persons.

Every payout here is settled as a real claim is, with fresh accumulators, so a comparison is exactly what
each scheme would pay: on the vectorised path (engine/vector, equal to the rules path to the fen) when it
can settle the version, else on the rules path (`evaluate.adjudicate`); `paths` in the result says which.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml

from . import conditions, vocab
from .evaluate import adjudicate, quote
from .explain import (ASSUMED_MARK, assumptions, deadline_text, no_application_text, ratio_phrase, surplus_text,
                      waiting_period_text)
from .inputs import parse_claim, parse_person
from .model import Liability, Provenance, Version
from .money import apply_ratio, format_yuan, yuan_to_fen
from .vector import OUTCOMES, Unsupported, settle_apart

PROFILES_FILE = Path(__file__).with_name("profiles.yaml")


@lru_cache(maxsize=1)
def standard_profiles() -> dict:
    with PROFILES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# ── parameters ────────────────────────────────────────────────────────────────────────────────

def _covers_text(version: Version, covers: str | None, describe) -> str:
    """How the liabilities of a cost kind (None: of item lists) do one thing, e.g. their ratio."""
    layer = version.scheme_layer
    found = [l for l in layer.liabilities if l.covers == covers]
    if not found:
        return "不保"
    if len(found) == 1:
        return describe(layer, found[0])
    if covers is None:  # liabilities of item lists: told apart by what they pay
        return "；".join(f"{version.pays_for(l)}：{describe(layer, l)}" for l in found)
    return "；".join(f"{'、'.join(vocab.CARE[c] for c in l.care)}：{describe(layer, l)}" for l in found)


def _ratio_text(_layer, liability: Liability) -> str:
    rows = liability.rows
    if len(rows) == 1:
        return ratio_phrase(rows[0], marked=False).removeprefix("按 ").removesuffix(" 赔付")
    return "；".join(f"{conditions.describe(r.when)} {ratio_phrase(r, marked=False).removeprefix('按 ').removesuffix(' 赔付')}"
                     for r in rows)


def _deductible_text(layer, liability: Liability) -> str:
    pool = layer.deductibles[liability.deductible]
    shared = "" if pool.inline else "（共用）"
    return f"{format_yuan(pool.amount.fen)} 元{shared}" if pool.amount.fen else "无"


def _premium_range(version: Version) -> str:
    amounts = sorted(b.amount.fen for b in version.bands)
    low, high = amounts[0], amounts[-1]
    return f"{format_yuan(low)} 元" if low == high else f"{format_yuan(low)}–{format_yuan(high)} 元"


def _section(key: str):
    """The provenance of one section of a version (period, settlement…): its own, else the version's."""
    return lambda v: [v.section_prov(key)]


def _choice(version: Version, key: str):
    return next(c for c in version.choices if c.key == key)


def _deductible_provs(layer, liability: Liability) -> list[Provenance]:
    """The amount, and for a shared deductible that it is shared and the order it is used in."""
    pool = layer.deductibles[liability.deductible]
    return [pool.amount.prov, *([pool.prov] if not pool.inline else []), *([pool.order.prov] if pool.order else [])]


def _ratio_provs(_layer, liability: Liability) -> list[Provenance]:
    return [prov for row in liability.rows
            for prov in ([row.rate.prov] if row.rate else []) + [s.rate.prov for s in row.segments]]


def _covers_provs(covers: str, provs):
    return lambda v: [p for l in v.scheme_layer.liabilities if l.covers == covers for p in provs(v.scheme_layer, l)]


def _no_provenance(_version: Version) -> list[Provenance]:
    """A value read from the product header, or a count: never an assumption."""
    return []

# (key, label, value text, provenances of the values the text shows: any assumption marks the cell)
PARAMETERS = [
    ("city", "城市", lambda v: f"{v.city}（{v.region}）", _no_provenance),
    ("period", "保险期间", lambda v: f"{v.period[0]} 至 {v.period[1]}", _section("period")),
    ("pricing", "定价方式", lambda v: "统一定价" if v.pricing == "flat" else "差异化定价", _section("regulation")),
    ("premium", "保费", _premium_range, lambda v: [b.amount.prov for b in v.bands]),
    ("bands", "保费档位", lambda v: "；".join(f"{b.name} {format_yuan(b.amount.fen)}" for b in v.bands),
     lambda v: [b.amount.prov for b in v.bands]),
    ("eligibility", "参保条件", lambda v: ("须参加基本医保" if v.basic_insurance_required else "不限")
     + ("，欠费暂停待遇" if v.suspend_when_basic_in_arrears else ""), lambda v: [v.eligibility_prov]),
    ("waiting_period", "等待期", waiting_period_text,
     lambda v: [v.waiting_period.prov] if v.waiting_period else []),
    ("in_policy_deductible", "目录内起付线", lambda v: _covers_text(v, "in_policy_self_pay", _deductible_text),
     _covers_provs("in_policy_self_pay", _deductible_provs)),
    ("in_policy_ratio", "目录内比例", lambda v: _covers_text(v, "in_policy_self_pay", _ratio_text),
     _covers_provs("in_policy_self_pay", _ratio_provs)),
    ("out_of_policy_deductible", "目录外起付线", lambda v: _covers_text(v, "out_of_policy_self_pay", _deductible_text),
     _covers_provs("out_of_policy_self_pay", _deductible_provs)),
    ("out_of_policy_ratio", "目录外比例", lambda v: _covers_text(v, "out_of_policy_self_pay", _ratio_text),
     _covers_provs("out_of_policy_self_pay", _ratio_provs)),
    ("drug_ratio", "特药比例", lambda v: _covers_text(v, None, _ratio_text),
     _covers_provs(None, _ratio_provs)),
    ("caps", "封顶线", lambda v: "；".join(f"{p.name} {format_yuan(p.amount.fen)} 元"
                                          for p in v.scheme_layer.caps.values()) or "不封顶",
     lambda v: [p.amount.prov for p in v.scheme_layer.caps.values()]),
    ("drugs", "特药目录", lambda v: f"{sum(len(d) for d in v.drug_lists.values())} 种" if v.drug_lists else "无",
     lambda v: [d.prov for drugs in v.drug_lists.values() for d in drugs.values()]),
    ("care", "保障的就医类型", lambda v: "、".join(vocab.CARE[c] for c in sorted(
        {c for l in v.scheme_layer.liabilities for c in l.care}, key=list(vocab.CARE).index)),
     lambda v: [l.care_choice.prov for l in v.scheme_layer.liabilities]),
    ("insurers", "共保体", lambda v: f"{v.insurers[0].name} 主承保，共 {len(v.insurers)} 家", _section("insurers")),
    ("one_stop", "一站式结算", lambda v: ("是" if v.one_stop else "否") + (
        f"（仅限“{v.hospital_lists[v.one_stop_at].name}”名单内）" if v.one_stop_at in v.hospital_lists else ""),
     lambda v: [_choice(v, "one_stop").prov]),
    ("pre_existing_conditions", "列名的既往症", lambda v: "、".join(c.name for c in v.pre_existing_conditions.values())
     or "不分病种", lambda v: [c.prov for c in v.pre_existing_conditions.values()]),
    ("exclusions", "责任免除", lambda v: "；".join(e.name for e in v.exclusions) or "未列", lambda v: [e.prov for e in v.exclusions]),
    ("hospital_lists", "医院名单", lambda v: "；".join(f"{h.name} {len(h.hospitals)} 家" for h in v.hospital_lists.values())
     or "无", lambda v: [h.prov for h in v.hospital_lists.values()]),
    ("surplus", "结余滚存", surplus_text,
     lambda v: [v.surplus.rolls_over.prov] if v.surplus else []),
    ("no_application", "免申即赔", no_application_text,
     lambda v: [v.service.no_application.prov] if v.service and v.service.no_application else []),
    ("payment_deadlines", "赔款到账时限", lambda v: "；".join(deadline_text(d) for d in v.service.deadlines)
     if v.service and v.service.deadlines else "来源未说明",
     lambda v: [d.prov for d in v.service.deadlines] if v.service else []),
    ("assumptions", "假设数值", lambda v: f"{len(assumptions(v))} 项", _no_provenance),
]


def _assumed_reasons(provenances) -> list[str]:
    """The distinct reasons of the assumed values among these provenances, in order."""
    reasons: list[str] = []
    for prov in provenances:
        if prov.is_assumption and prov.assumed not in reasons:
            reasons.append(prov.assumed)
    return reasons


def parameter_rows(versions: list[Version]) -> list[dict]:
    """One row per parameter, one value per version. `assumed` marks a value that rests on at least one
    assumption (not on a source); `reasons` says which; `marked` is the value with 【假设】 in front, for text exports."""
    rows = []
    for key, label, describe, provenances in PARAMETERS:
        values = [describe(v) for v in versions]
        reasons = [_assumed_reasons(provenances(v)) for v in versions]
        rows.append({"key": key, "label": label, "values": values, "assumed": [bool(r) for r in reasons],
                     "reasons": reasons,
                     "marked": [f"{ASSUMED_MARK}{value}" if r else value for value, r in zip(values, reasons)]})
    return rows


# ── payouts ───────────────────────────────────────────────────────────────────────────────────

def by_plan(versions: list[Version]) -> list[Version]:
    """Versions as they are compared: a version that declares plans, plan by plan."""
    return [plan for version in versions for plan in (version.plans or (version,))]


def _enrolled(version: Version) -> dict:
    """What a person writes to be insured under this version's plan (nothing for a version without plans)."""
    return {"plan": version.plan} if version.plan else {}


# A standard profile names no hospital: under a version with hospital lists it is treated at one on none of them.
UNLISTED_HOSPITAL = "PROFILE-UNLISTED"
UNLISTED_NOTE = "就诊医院按不在方案医院名单内计算"


def profile_claim(profile: dict, version: Version) -> dict:
    """A standard profile as a claim on the first day of the version's period, under the version's plan (at a
    hospital on none of the version's lists, where it has lists)."""
    member = {"id": f"profile-{profile['id']}", **profile["member"], **_enrolled(version)}
    where = {"hospital": UNLISTED_HOSPITAL} if version.hospital_lists and "hospital" not in profile["claim"] else {}
    return {"claim_id": f"profile-{profile['id']}", "member": member, "date": version.period[0], **where,
            **profile["claim"]}


def _no_tick() -> None:
    pass


def settle_each(version: Version, claims: list[dict], paths: dict | None = None) -> list[tuple[int, int, str]]:
    """Each claim with fresh accumulators: (paid, patient remainder, eligibility outcome).  On the vectorised
    path when it can settle them, else on the rules path; `paths` (if given) records which, by version key."""
    parsed = [parse_claim(claim) for claim in claims]
    try:
        settled = settle_apart(version, parsed)
        path = {"path": "vectorised", "reason": ""}
        results = [(int(settled.paid[i]), int(settled.patient_remainder[i]), OUTCOMES[settled.outcome[i]])
                   for i in range(len(parsed))]
    except Unsupported as exc:
        path = {"path": "rules", "reason": str(exc)}
        results = [(s.paid_fen, s.patient_remainder_fen, s.eligibility.outcome)
                   for s in (adjudicate(claim, version, trace=False) for claim in parsed)]
    if paths is not None:
        paths[version.key] = path
    return results


def profile_payouts(versions: list[Version], profiles: list[dict] | None = None, tick=_no_tick,
                    paths: dict | None = None) -> list[dict]:
    """Each standard profile's payout under each version, with the patient's remainder and the paid share."""
    profiles = profiles if profiles is not None else standard_profiles()["profiles"]
    columns = []
    for version in versions:
        columns.append(settle_each(version, [profile_claim(p, version) for p in profiles], paths))
        for _ in profiles:
            tick()
    rows = []
    for k, profile in enumerate(profiles):
        cells = []
        for version, (paid, remainder, outcome) in zip(versions, (column[k] for column in columns)):
            total = paid + remainder
            cells.append({"paid_fen": paid, "remainder_fen": remainder,
                          "ratio": str((Decimal(paid) / total).quantize(Decimal("0.0001"))) if total else "0",
                          "eligibility": outcome, "note": _profile_note(outcome, version)})
        in_fen, out_fen = (yuan_to_fen(profile["claim"].get(k, 0)) for k in ("in_policy_self_pay", "out_of_policy_self_pay"))
        items_fen = sum(yuan_to_fen(item["amount"]) for item in profile["claim"].get("items", []))
        rows.append({"id": profile["id"], "name": profile["name"], "in_policy_fen": in_fen,
                     "out_of_policy_fen": out_fen, "items_fen": items_fen, "total_fen": in_fen + out_fen + items_fen,
                     "cells": cells})
    return rows


def _profile_note(outcome: str, version: Version) -> str:
    if outcome != "eligible":
        return vocab.ELIGIBILITY_OUTCOMES[outcome]
    return UNLISTED_NOTE if version.hospital_lists else ""


def benefit_curve(version: Version, totals_fen: list[int], out_share: Decimal = Decimal("0.4"),
                  care: str = "inpatient", age: int = 50, tick=_no_tick, paths: dict | None = None) -> list[int]:
    """Payout for a single claim of each total self-pay, split in-policy / out-of-policy by out_share."""
    claims = []
    for total in totals_fen:
        out_fen = apply_ratio(total, out_share)
        claims.append({"claim_id": "curve", "member": {"id": "curve", "age": age, **_enrolled(version)},
                       "date": version.period[0], "care": care, "hospital_level": 3,
                       "in_policy_self_pay": Decimal(total - out_fen) / 100,
                       "out_of_policy_self_pay": Decimal(out_fen) / 100})
    paid = [fen for fen, _, _ in settle_each(version, claims, paths)]
    for _ in totals_fen:
        tick()
    return paid


def default_bill_sizes(top_yuan: int = 1_000_000, steps: int = 40) -> list[int]:
    return [top_yuan * 100 * i // steps for i in range(steps + 1)]


def graded_bill_sizes() -> list[int]:
    """Bill sizes in fen for benefit curves: dense where deductibles set schemes apart (every 5,000 yuan up to
    50,000, every 10,000 to 100,000), then every 50,000 to 500,000 and every 100,000 to 2,000,000, past the
    common caps (1–1.5 million)."""
    yuan = [*range(0, 50_000, 5_000), *range(50_000, 100_000, 10_000), *range(100_000, 500_000, 50_000),
            *range(500_000, 2_000_001, 100_000)]
    return [y * 100 for y in yuan]


def premium_grid(versions: list[Version], persons: list[dict] | None = None, tick=_no_tick) -> list[dict]:
    """Each standard person's band and premium under each version; `assumed` when that premium is an assumption."""
    persons = persons if persons is not None else standard_profiles()["persons"]
    rows = []
    for person in persons:
        data = {k: v for k, v in person.items() if k not in ("id", "name")}
        cells = []
        for version in versions:
            q = quote(parse_person({**data, **_enrolled(version)}), version, trace=False)
            band = next((b for b in version.bands if b.id == q.band), None)
            cells.append({"band": q.band, "band_name": q.band_name, "premium_fen": q.premium_fen,
                          "self_pay_fen": sum(p["fen"] for p in q.payers if p["payer"] in ("self", "personal_account")),
                          "eligibility": q.eligibility.outcome,
                          "assumed": bool(band and band.amount.prov.is_assumption)})
            tick()
        rows.append({"id": person["id"], "name": person["name"], "cells": cells})
    return rows


def comparison_steps(n_versions: int, n_sizes: int) -> int:
    """How many single evaluations (claims and quotes) `compare` runs: the unit of its progress reports."""
    data = standard_profiles()
    return n_versions * (len(data["profiles"]) + len(data["persons"]) + n_sizes)


def compare(versions: list[Version], bill_sizes: list[int] | None = None, progress=None) -> dict:
    """Everything an analyst needs to compare schemes, JSON-ready (amounts in fen).

    `progress(done, total)` is called after each evaluation, so a caller comparing many versions can
    show how far it is (the curves are most of the work: one claim per bill size and version)."""
    versions = by_plan(versions)
    sizes = bill_sizes or graded_bill_sizes()
    total, done = comparison_steps(len(versions), len(sizes)), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    paths: dict = {}  # version key → the path that settled its claims (the same for profiles and curves)
    return {
        "versions": [{"key": v.key, "name": f"{v.product_name} {v.id}" + (f" {v.plan_name}" if v.plan else ""),
                      "city": v.city, "ruleset": v.ruleset_name,
                      "period": list(v.period)} for v in versions],
        "parameters": parameter_rows(versions),
        "profiles": profile_payouts(versions, tick=tick, paths=paths),
        "premiums": premium_grid(versions, tick=tick),
        "curves": {"bill_fen": sizes, "out_of_policy_share": "0.4",
                   "paid_fen": [benefit_curve(v, sizes, tick=tick, paths=paths) for v in versions]},
        "paths": paths,
    }
