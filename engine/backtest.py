"""Backtest: a version's year on a synthetic population (engine/population.py), or on a real claims extract
(engine/claims_extract.py), settled on the vectorised path — in this process or on Dask (engine/distributed.py).

Premium income by band and by payer, claims by liability, the claims ratio and the regime's minimum, each
plan's members, premium, claims and claims ratio (a version with plans), the distribution of payouts, the share of members paid, the co-insurers' split of premiums and claims,
and the population's figures next to what the sources say (`calibration:` in the population file).
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Callable

import numpy as np

from . import vocab
from .model import Version
from .money import apply_ratio, format_yuan, percent, split_by_shares
from .population import PopulationSpec, draw_year
from .vector import BatchSettlement, ClaimBatch, MemberBatch, VectorVersion, compile_version
from .vector.fen import member_pieces

if TYPE_CHECKING:
    from .claims_extract import Extract

STEPS = 20  # pieces the claims are settled in when progress is reported

# Payout bands in yuan (lower bounds), about twice to five times apart: most claims are small, a few very large.
PAYOUT_BUCKETS = [0, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 300_000, 500_000]


def backtest(version: Version, spec: PopulationSpec, residents_count: int | None = None,
             extract: Extract | None = None, settle: Callable[[ClaimBatch], BatchSettlement] | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """The whole report, JSON-ready: amounts in fen, ratios as decimal strings.

    residents_count: a smaller (or larger) population of the same shape, e.g. for a quick look.
    extract: a real claims extract (engine.claims_extract) instead of the population's modelled claims; who
    enrolled, in which band and for what premium still comes from the population file.
    settle: how the claims are settled (default: in this process; engine.distributed settles on Dask).
    progress(done, total): told as the claims are settled, piece by piece (in this process)."""
    compiled = compile_version(version)  # Unsupported: a population year on the rules path would take hours
    if residents_count is not None:
        spec = spec.resized(residents_count)
    year = draw_year(spec, version, compiled, with_claims=extract is None)
    premiums, insured = year.premiums, year.insured
    batch = extract.batch if extract else year.batch
    settled = (settle or (settle_in_steps(compiled, progress) if progress else compiled.adjudicate))(batch)
    claimants = MemberBatch(batch.person_columns(), batch.plan, batch.plan_ids)
    claim_band = compiled.quote(claimants).band  # the band each claimant is priced in
    premium_fen = int(premiums.premium[insured].sum())
    paid_fen = int(settled.paid.sum())
    return {
        "version": version.key, "population": spec.data["name"], "seed": spec.seed,
        "residents": spec.residents, "insured": int(insured.sum()),
        "claims_source": ({"kind": "extract", "file": extract.file, "members": extract.members} if extract
                          else {"kind": "population"}),
        "premium": _premium_report(version, premiums, insured, claim_band, settled.paid),
        "claims": {"count": len(batch), "paid_count": int((settled.paid > 0).sum()), "paid_fen": paid_fen,
                   "by_liability": {key: int(paid.sum()) for key, (_, paid) in settled.by_liability.items()},
                   "liability_names": version.liability_names(),
                   "claims_ratio": _ratio(paid_fen, premium_fen)},
        "by_plan": _plan_report(version, year.people.members, premiums, insured, batch, settled),
        "minimum_claims_ratio": _minimum(version, premium_fen, paid_fen),
        "payouts": _distribution(settled.paid),
        "members_paid": _members_paid(batch.member, settled.paid, int(insured.sum())),
        "insurers": [{"insurer": i.name, "lead": i.lead, "share": str(i.share.value), "premium_fen": p, "paid_fen": c}
                     for i, p, c in zip(version.insurers, split_by_shares(premium_fen, settled.shares),
                                        settled.insurer_totals())],
        "calibration": _calibration(spec, int(insured.sum()), paid_fen, int(settled.paid.max(initial=0))),
        "assumptions": spec.assumptions(),
    }


def partitions(batch: ClaimBatch, count: int) -> list[tuple[int, int]]:
    """(start, end) of about `count` pieces of a batch in settlement order, each cut where a new member begins:
    a member's deductibles and caps fill across their claims, so their claims are never in two pieces."""
    return member_pieces(batch.member, -(-len(batch) // max(count, 1)))


def settle_in_steps(compiled: VectorVersion, progress: Callable[[int, int], None], steps: int = STEPS):
    """A `settle` that reports progress: the batch settled piece by piece (members whole), joined in order."""
    def settle(batch: ClaimBatch) -> BatchSettlement:
        cuts = partitions(batch, steps)
        pieces = []
        for done, (lo, hi) in enumerate(cuts, 1):
            pieces.append(compiled.adjudicate(batch.slice(lo, hi)))
            progress(done, len(cuts))
        return BatchSettlement.join(pieces, batch.claim_ids)
    return settle


def _premium_report(version: Version, premiums, insured: np.ndarray, claim_band: np.ndarray, paid: np.ndarray) -> dict:
    """Premium income by band (with what that band's claims were paid, and their ratio) and by payer."""
    bands = {}
    for i, (key, name, _) in enumerate(version.priced_bands()):
        mine = insured & (premiums.band == i)
        premium, band_paid = int(premiums.premium[mine].sum()), int(paid[claim_band == i].sum())
        bands[key] = {"name": name, "members": int(mine.sum()), "premium_fen": premium,
                      "paid_fen": band_paid, "claims_ratio": _ratio(band_paid, premium)}
    payers: dict[str, int] = {}
    for k, subsidy in enumerate(version.subsidies):
        payers[subsidy.payer] = payers.get(subsidy.payer, 0) + int(premiums.subsidies[insured, k].sum())
    payers["self"] = payers.get("self", 0) + int(premiums.remainder[insured].sum())
    return {"total_fen": int(premiums.premium[insured].sum()), "by_band": bands,
            "by_payer": {p: {"label": vocab.PAYERS[p], "fen": fen} for p, fen in payers.items()}}


def _plan_report(version: Version, members: MemberBatch, premiums, insured: np.ndarray, batch: ClaimBatch,
                 settled: BatchSettlement) -> dict:
    """Per plan (a version with plans; else empty): members insured, premium income, claims, what they were
    paid in all and by liability, and the claims ratio.  The plans add up to the totals."""
    plans = {}
    member_plan = members.plan_codes()
    claim_plan = _plan_ids(batch)
    for k, plan in enumerate(version.plans):
        mine = insured & (member_plan == k)
        claimed = claim_plan == plan.plan
        premium, paid = int(premiums.premium[mine].sum()), int(settled.paid[claimed].sum())
        plans[plan.plan] = {"name": plan.plan_name, "members": int(mine.sum()), "premium_fen": premium,
                            "claims": int(claimed.sum()), "paid_count": int((settled.paid[claimed] > 0).sum()),
                            "paid_fen": paid, "claims_ratio": _ratio(paid, premium),
                            "by_liability": {key: int(fen[claimed].sum())
                                             for key, (routed, fen) in settled.by_liability.items()
                                             if routed[claimed].any()}}
    return plans


def _plan_ids(batch: ClaimBatch) -> np.ndarray:
    """Each claim's plan id (None without plans)."""
    return np.array(batch.plan_ids, dtype=object)[batch.plan_codes()]


def _ratio(numerator: int, denominator: int) -> str:
    return str((Decimal(numerator) / denominator).quantize(Decimal("0.0001"))) if denominator else "0"


def _minimum(version: Version, premium_fen: int, paid_fen: int) -> dict | None:
    """Against the regime's minimum claims ratio: what falls short of it rolls over to the next year."""
    minimum = version.limits.get("claims_ratio_min")
    if minimum is None:
        return None
    required = apply_ratio(premium_fen, minimum.value, "down")
    return {"ratio": str(minimum.value), "required_fen": required, "shortfall_fen": max(required - paid_fen, 0),
            "clause": minimum.prov.ref()}


def _distribution(paid: np.ndarray) -> dict:
    positive = np.sort(paid[paid > 0])
    edges = [b * 100 for b in PAYOUT_BUCKETS]
    counts = np.histogram(positive, bins=[*edges, np.iinfo(np.int64).max])[0] if len(positive) else [0] * len(edges)
    quantiles = {f"p{q}": int(positive[min(len(positive) - 1, len(positive) * q // 100)]) if len(positive) else 0
                 for q in (50, 90, 99)}
    return {**quantiles, "max_fen": int(positive[-1]) if len(positive) else 0,
            "buckets": [{"from_yuan": b, "claims": int(c)} for b, c in zip(PAYOUT_BUCKETS, counts)]}


def _members_paid(member: np.ndarray, paid: np.ndarray, insured: int) -> dict:
    count = len(np.unique(member[paid > 0]))
    return {"members": count, "share": _ratio(count, insured)}


def _calibration(spec: PopulationSpec, insured: int, paid_fen: int, largest_fen: int) -> list[dict]:
    """What the sources say next to what this population gives (a year of this version)."""
    modelled = {"insured": insured, "claims_total_yuan": paid_fen // 100, "largest_claim_yuan": largest_fen // 100}
    rows = []
    for key, figure in spec.data.get("calibration", {}).items():
        years = figure.get("per_years", 1)
        rows.append({"figure": key, "source": figure.get("source") or f"假设：{figure.get('assumed')}",
                     "stated": int(figure["value"]), "per_year": int(figure["value"] / years),
                     "modelled": modelled.get(key)})
    return rows


def backtest_lines(report: dict) -> list[str]:
    """The report in plain Chinese, for the terminal."""
    premium, claims = report["premium"], report["claims"]
    lines = [f"{report['version']} 在“{report['population']}”（种子 {report['seed']}）上的一年：",
             f"居民 {report['residents']:,} 人，参保 {report['insured']:,} 人"]
    source = report["claims_source"]
    if source["kind"] == "extract":
        lines.append(f"理赔取自明细 {source['file']}（{source['members']:,} 人）；参保与保费按人群文件")
    lines.append(f"保费收入 {format_yuan(premium['total_fen'])} 元")
    lines += [f"  {b['name']}：{b['members']:,} 人，{format_yuan(b['premium_fen'])} 元，赔付 {format_yuan(b['paid_fen'])} 元，"
              f"赔付率 {percent(Decimal(b['claims_ratio']))}" for b in premium["by_band"].values()]
    lines += [f"  {p['label']}：{format_yuan(p['fen'])} 元" for p in premium["by_payer"].values()]
    if report["by_plan"]:
        lines.append("按方案：")
        lines += [f"  {p['name']}（{plan}）：{p['members']:,} 人，保费 {format_yuan(p['premium_fen'])} 元，理赔 {p['claims']:,} 件，"
                  f"赔付 {format_yuan(p['paid_fen'])} 元，赔付率 {percent(Decimal(p['claims_ratio']))}"
                  for plan, p in report["by_plan"].items()]
    lines.append(f"理赔 {claims['count']:,} 件，赔付 {claims['paid_count']:,} 件，共 {format_yuan(claims['paid_fen'])} 元，"
                 f"赔付率 {percent(Decimal(claims['claims_ratio']))}")
    lines += [f"  {claims['liability_names'][key]}：{format_yuan(fen)} 元" for key, fen in claims["by_liability"].items()]
    minimum = report["minimum_claims_ratio"]
    if minimum:
        lines.append(f"最低赔付率 {percent(Decimal(minimum['ratio']))}：应赔 {format_yuan(minimum['required_fen'])} 元，"
                     f"差额 {format_yuan(minimum['shortfall_fen'])} 元结转下一年度（{minimum['clause']}）")
    payouts = report["payouts"]
    lines.append(f"单笔赔付：中位数 {format_yuan(payouts['p50'])} 元，P90 {format_yuan(payouts['p90'])} 元，"
                 f"P99 {format_yuan(payouts['p99'])} 元，最高 {format_yuan(payouts['max_fen'])} 元")
    lines.append("  " + "；".join(f"{b['from_yuan']:,} 元起 {b['claims']:,} 件" for b in payouts["buckets"]))
    paid = report["members_paid"]
    lines.append(f"获赔人数 {paid['members']:,}，占参保人数 {percent(Decimal(paid['share']))}")
    lines += [f"{'主承保' if i['lead'] else '共保'} {i['insurer']}（{percent(Decimal(i['share']))}）：保费 "
              f"{format_yuan(i['premium_fen'])} 元，赔付 {format_yuan(i['paid_fen'])} 元" for i in report["insurers"]]
    lines.append("与来源对照：")
    lines += [f"  {c['figure']}：来源 {c['per_year']:,}（{c['source']}），本人群 {c['modelled']:,}"
              for c in report["calibration"]]
    lines.append(f"假设 {len(report['assumptions'])} 项（--json 列出全部）")
    return lines
