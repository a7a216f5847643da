"""Compare schemes side by side in one vocabulary: parameters, payouts on standard profiles,
benefit curves (payout against bill size) and premiums for standard persons.

Every payout here runs through the same rules path as a real claim (`evaluate.adjudicate`), with
fresh accumulators, so a comparison is exactly what each scheme would pay.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml

from . import conditions, vocab
from .evaluate import adjudicate, quote
from .explain import assumptions, ratio_phrase
from .inputs import parse_claim, parse_person
from .model import Liability, Version
from .money import apply_ratio, format_yuan

PROFILES_FILE = Path(__file__).with_name("profiles.yaml")


@lru_cache(maxsize=1)
def standard_profiles() -> dict:
    with PROFILES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# ── parameters ────────────────────────────────────────────────────────────────────────────────

def _covers_text(version: Version, covers: str, describe) -> str:
    layer = version.scheme_layer
    found = [l for l in layer.liabilities if l.covers == covers]
    if not found:
        return "不保"
    if len(found) == 1:
        return describe(layer, found[0])
    return "；".join(f"{'、'.join(vocab.CARE[c] for c in l.care)}：{describe(layer, l)}" for l in found)


def _ratio_text(_layer, liability: Liability) -> str:
    rows = liability.rows
    if len(rows) == 1:
        return ratio_phrase(rows[0]).removeprefix("按 ").removesuffix(" 赔付")
    return "；".join(f"{conditions.describe(r.when)} {ratio_phrase(r).removeprefix('按 ').removesuffix(' 赔付')}"
                     for r in rows)


def _deductible_text(layer, liability: Liability) -> str:
    pool = layer.deductibles[liability.deductible]
    shared = "（共用）" if not pool.id.endswith(".deductible") else ""
    return f"{format_yuan(pool.amount.fen)} 元{shared}" if pool.amount.fen else "无"


def _cap_text(layer, liability: Liability) -> str:
    if not liability.caps:
        return "不封顶"
    return "、".join(f"{format_yuan(layer.caps[c].amount.fen)} 元" for c in liability.caps)


def _premium_range(version: Version) -> str:
    amounts = sorted(b.amount.fen for b in version.bands)
    low, high = amounts[0], amounts[-1]
    return f"{format_yuan(low)} 元" if low == high else f"{format_yuan(low)}–{format_yuan(high)} 元"


PARAMETERS = [
    ("city", "城市", lambda v: f"{v.city}（{v.region}）"),
    ("period", "保险期间", lambda v: f"{v.period[0]} 至 {v.period[1]}"),
    ("pricing", "定价方式", lambda v: "统一定价" if v.pricing == "flat" else "差异化定价"),
    ("premium", "保费", _premium_range),
    ("bands", "保费档位", lambda v: "；".join(f"{b.name} {format_yuan(b.amount.fen)}" for b in v.bands)),
    ("eligibility", "参保条件", lambda v: ("须参加基本医保" if v.basic_insurance_required else "不限")
     + ("，欠费暂停待遇" if v.suspend_when_basic_in_arrears else "")),
    ("in_policy_deductible", "目录内起付线", lambda v: _covers_text(v, "in_policy_self_pay", _deductible_text)),
    ("in_policy_ratio", "目录内比例", lambda v: _covers_text(v, "in_policy_self_pay", _ratio_text)),
    ("out_of_policy_deductible", "目录外起付线", lambda v: _covers_text(v, "out_of_policy_self_pay", _deductible_text)),
    ("out_of_policy_ratio", "目录外比例", lambda v: _covers_text(v, "out_of_policy_self_pay", _ratio_text)),
    ("drug_ratio", "特药比例", lambda v: _covers_text(v, "special_drugs", _ratio_text)),
    ("caps", "封顶线", lambda v: "；".join(f"{p.name} {format_yuan(p.amount.fen)} 元"
                                          for p in v.scheme_layer.caps.values()) or "不封顶"),
    ("drugs", "特药目录", lambda v: f"{sum(len(d) for d in v.drug_lists.values())} 种" if v.drug_lists else "无"),
    ("care", "保障的就医类型", lambda v: "、".join(vocab.CARE[c] for c in sorted(
        {c for l in v.scheme_layer.liabilities for c in l.care}, key=list(vocab.CARE).index))),
    ("insurers", "共保体", lambda v: f"{v.insurers[0].name} 主承保，共 {len(v.insurers)} 家"),
    ("one_stop", "一站式结算", lambda v: "是" if v.one_stop else "否"),
    ("assumptions", "假设数值", lambda v: f"{len(assumptions(v))} 项"),
]


def parameter_rows(versions: list[Version]) -> list[dict]:
    return [{"key": key, "label": label, "values": [describe(v) for v in versions]}
            for key, label, describe in PARAMETERS]


# ── payouts ───────────────────────────────────────────────────────────────────────────────────

def profile_claim(profile: dict, version: Version) -> dict:
    """A standard profile as a claim on the first day of the version's period."""
    return {"claim_id": f"profile-{profile['id']}", "member": {"id": f"profile-{profile['id']}", **profile["member"]},
            "date": version.period[0], **profile["claim"]}


def profile_payouts(versions: list[Version], profiles: list[dict] | None = None) -> list[dict]:
    """Each standard profile's payout under each version, with the patient's remainder."""
    profiles = profiles if profiles is not None else standard_profiles()["profiles"]
    rows = []
    for profile in profiles:
        cells = []
        for version in versions:
            settled = adjudicate(parse_claim(profile_claim(profile, version)), version, trace=False)
            total = settled.paid_fen + settled.patient_remainder_fen
            cells.append({"paid_fen": settled.paid_fen, "remainder_fen": settled.patient_remainder_fen,
                          "ratio": str((Decimal(settled.paid_fen) / total).quantize(Decimal("0.0001"))) if total else "0",
                          "eligibility": settled.eligibility.outcome})
        rows.append({"id": profile["id"], "name": profile["name"], "cells": cells})
    return rows


def benefit_curve(version: Version, totals_fen: list[int], out_share: Decimal = Decimal("0.4"),
                  care: str = "inpatient", age: int = 50) -> list[int]:
    """Payout for a single claim of each total self-pay, split in-policy / out-of-policy by out_share."""
    paid = []
    for total in totals_fen:
        out_fen = apply_ratio(total, out_share)
        claim = {"claim_id": "curve", "member": {"id": "curve", "age": age}, "date": version.period[0], "care": care,
                 "hospital_level": 3, "in_policy_self_pay": Decimal(total - out_fen) / 100,
                 "out_of_policy_self_pay": Decimal(out_fen) / 100}
        paid.append(adjudicate(parse_claim(claim), version, trace=False).paid_fen)
    return paid


def default_bill_sizes(top_yuan: int = 1_000_000, steps: int = 40) -> list[int]:
    return [top_yuan * 100 * i // steps for i in range(steps + 1)]


def premium_grid(versions: list[Version], persons: list[dict] | None = None) -> list[dict]:
    persons = persons if persons is not None else standard_profiles()["persons"]
    rows = []
    for person in persons:
        data = {k: v for k, v in person.items() if k not in ("id", "name")}
        cells = []
        for version in versions:
            q = quote(parse_person(data), version, trace=False)
            cells.append({"band": q.band, "band_name": q.band_name, "premium_fen": q.premium_fen,
                          "self_pay_fen": sum(p["fen"] for p in q.payers if p["payer"] in ("self", "personal_account"))})
        rows.append({"id": person["id"], "name": person["name"], "cells": cells})
    return rows


def compare(versions: list[Version], bill_sizes: list[int] | None = None) -> dict:
    """Everything an analyst needs to compare schemes, JSON-ready (amounts in fen)."""
    sizes = bill_sizes or default_bill_sizes()
    return {
        "versions": [{"key": v.key, "name": f"{v.product_name} {v.id}", "city": v.city, "ruleset": v.ruleset_name}
                     for v in versions],
        "parameters": parameter_rows(versions),
        "profiles": profile_payouts(versions),
        "premiums": premium_grid(versions),
        "curves": {"bill_fen": sizes, "out_of_policy_share": "0.4",
                   "paid_fen": [benefit_curve(v, sizes) for v in versions]},
    }

