"""Benchmark: claims per second on the rules path, the vectorised path and GoRules zen-engine, same claims;
and a backtest of a city's year.

    .venv/bin/python bench/portfolio.py [--product products/zaohuibao.yaml --year 2025] [--claims N] [--json]

First a backtest (engine/backtest.py) of the version on --population (a 1.4-million-member year of
populations/zaozhuang.yaml): wall-clock and CPU seconds, and the process's peak resident memory after it
(nothing larger has run before it, so that peak is the backtest's, interpreter included).

Then one run generates N claims of one policy year (engine.vector.sample: many members with several claims
each, amounts around every deductible, cap and segment boundary, special drugs) and settles:
- the vectorised path: all N, with annual accumulators per member across their claims (best of --repeat);
- the rules path (`evaluate.adjudicate`, trace off, decision memo on): the first --rules-claims of them,
  accumulators carried per member;
- zen-engine's fast path (`ZenEngine` with a static loader, one `evaluate(key, ctx)` a claim) on a decision-table
  graph equivalent to the version's bands and its scheme's ratio routing: the first --zen-claims.  It decides
  band, liability and rate only (no amounts, no accumulators); the run checks its decisions agree with the
  vectorised path's.
Figures are claims per wall-clock second and per CPU-second of this process; the machine's load average is
printed with them, since on a shared machine the wall-clock figure moves with everyone else's work.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import load_product  # noqa: E402
from engine.conditions import AgeRange, Condition, Flag, PreExisting  # noqa: E402
from engine.backtest import backtest  # noqa: E402
from engine.evaluate import adjudicate  # noqa: E402
from engine.population import load_population  # noqa: E402
from engine.vector import compile_version, settlement_order  # noqa: E402
from engine.vector.columns import VALUES  # noqa: E402
from engine.vector.sample import random_batch, to_claims  # noqa: E402


def timed(run) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def rules_path(claims, version) -> None:
    accumulators: dict[str, dict] = {}
    for claim in claims:
        accumulators[claim.member.id] = adjudicate(claim, version, accumulators.get(claim.member.id),
                                                   trace=False).accumulators


# ── zen-engine: the version's bands and routing as a JSON decision model ─────────────────────────

def zen_cell(clause) -> str:
    """One clause of a condition as a zen unary test (this benchmark's own translation, for comparison only)."""
    if isinstance(clause, AgeRange):
        lo, hi = clause.lo, clause.hi
        return f"[{lo}..{hi}]" if lo is not None and hi is not None else f">= {lo}" if lo is not None else f"<= {hi}"
    if isinstance(clause, Flag) or (isinstance(clause, PreExisting) and clause.wanted is not None):
        return "true" if clause.wanted else "false"
    if isinstance(clause, PreExisting):  # named conditions: a set test this comparison does not translate
        raise SystemExit("bench/portfolio.py: zen-engine tables for named pre-existing conditions are not written; "
                         "choose a version without them")
    return ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in clause.matched)


def zen_table(table_id: str, rows: list[tuple[list[dict], dict]], outputs: list[str], dims: list[str]) -> dict:
    rules = []
    for i, (whens, values) in enumerate(rows):
        cells = {dim: "" for dim in dims}
        for when in whens:
            for clause in when.clauses:
                cells[clause.key] = zen_cell(clause)
        rules.append({"_id": f"{table_id}{i}", **cells, **{f"o_{k}": json.dumps(v) for k, v in values.items()}})
    rules.append({"_id": f"{table_id}-otherwise", **{d: "" for d in dims}, **{f"o_{k}": '"none"' for k in outputs}})
    return {"id": table_id, "name": table_id, "type": "decisionTableNode",
            "content": {"hitPolicy": "first", "inputs": [{"id": d, "name": d, "field": d} for d in dims],
                        "outputs": [{"id": f"o_{k}", "name": k, "field": k} for k in outputs], "rules": rules}}


def zen_graph(version) -> dict:
    whens = [b.when for b in version.bands] + [w for l in version.scheme_layer.liabilities for row in l.rows
                                                for w in (l.when, row.when)]
    dims = [d for d in VALUES if d == "care" or any(d in w.keys for w in whens)]  # only what the tables read
    tables = [zen_table("band", [([b.when], {"band": b.id}) for b in version.bands], ["band"], dims)]
    for covers in ("in_policy_self_pay", "out_of_policy_self_pay"):
        rows = [([Condition.parse({"care": list(l.care)}), l.when, row.when],
                 {f"{covers}_liability": l.id, f"{covers}_rate": str(row.rate.value) if row.rate else "segments"})
                for l in version.scheme_layer.liabilities if l.covers == covers for row in l.rows]
        tables.append(zen_table(covers, rows, [f"{covers}_liability", f"{covers}_rate"], dims))
    nodes = [{"id": "in", "name": "claim", "type": "inputNode"}, *tables,
             {"id": "out", "name": "decision", "type": "outputNode"}]
    edges = [e for t in tables for e in ({"id": f"in-{t['id']}", "sourceId": "in", "targetId": t["id"], "type": "edge"},
                                         {"id": f"{t['id']}-out", "sourceId": t["id"], "targetId": "out",
                                          "type": "edge"})]
    return {"nodes": nodes, "edges": edges}


def zen_context(claim) -> dict:
    point = claim.member.point(claim.date)
    return {**point, "care": claim.care, "hospital_level": claim.hospital_level}


def zen_path(claims, version):
    import zen  # zen-engine: pip install zen-engine (a benchmark comparison, not a dependency of the platform)

    engine = zen.ZenEngine({"loader": {"type": "static", "content": {"scheme": zen_graph(version)}}})
    contexts = [zen_context(c) for c in claims]
    engine.evaluate("scheme", contexts[0])  # load and compile once, outside the timing
    return lambda: [engine.evaluate("scheme", ctx)["result"] for ctx in contexts]


def zen_agrees(decisions: list[dict], settled, version, batch, plan) -> int:
    """How many of zen's band and routing decisions equal the vectorised path's."""
    columns = batch.columns
    n = len(decisions)
    band = plan.band(batch.person_columns(), len(batch))[:n]
    layer = next(p for p in plan.layers if p.layer.kind == "scheme")
    routes = {c: layer.route(c, columns, len(batch)) for c in ("in_policy_self_pay", "out_of_policy_self_pay")}
    agree = 0
    for i, decision in enumerate(decisions):
        same = decision["band"] == (version.bands[band[i]].id if band[i] >= 0 else "none")
        for covers, (liability, row) in routes.items():
            j, k = int(liability[i]), int(row[i])
            want = layer.liabilities[j].liability if j >= 0 else None
            rate = want.rows[k].rate if want else None
            same &= decision[f"{covers}_liability"] == (want.id if want else "none")
            same &= decision[f"{covers}_rate"] == ((str(rate.value) if rate else "segments") if want else "none")
        agree += bool(same)
    return agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product", default="products/zaohuibao.yaml")
    parser.add_argument("--year", default="2025")
    parser.add_argument("--claims", type=int, default=4_000_000, help="claims for the vectorised path")
    parser.add_argument("--rules-claims", type=int, default=20_000)
    parser.add_argument("--zen-claims", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="threads for the vectorised path")
    parser.add_argument("--chunk", type=int, default=None, help="claims a piece on the vectorised path")
    parser.add_argument("--population", default="populations/zaozhuang.yaml", help="backtest population ('' skips)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    version = load_product(args.product).version(args.year)
    if version.plans:  # zen-engine's table here is one set of bands and routes
        parser.error(f"{version.key} has plans; the comparison with zen-engine takes a version without them")
    plan = compile_version(version)
    load_before = os.getloadavg()
    year = backtest_figures(version, args.population) if args.population else None
    batch = random_batch(version, args.claims, seed=2026, catalogue=plan.catalogue)
    chunk = {"chunk": args.chunk} if args.chunk else {}
    runs = [timed(lambda: plan.adjudicate(batch, workers=args.workers, **chunk)) for _ in range(args.repeat)]
    settled, vec_wall, vec_cpu = min(runs, key=lambda r: r[1])
    prefix = settlement_order(to_claims(batch.slice(0, max(args.rules_claims, args.zen_claims))))
    _, rules_wall, rules_cpu = timed(lambda: rules_path(prefix[:args.rules_claims], version))
    decisions, zen_wall, zen_cpu = timed(zen_path(prefix[:args.zen_claims], version))
    agree = zen_agrees(decisions, settled, version, batch, plan)

    def rate(n, seconds):
        return round(n / seconds) if seconds else None

    figures = {
        "version": version.key, "claims": args.claims, "members": int(batch.member[-1]) + 1 if len(batch) else 0,
        "load_average": [round(x, 2) for x in (*load_before, *os.getloadavg())][:6], "cpus": os.cpu_count(),
        "paid_fen": int(settled.paid.sum()), "claims_paid": int((settled.paid > 0).sum()),
        "vectorised": {"claims": args.claims, "per_s": rate(args.claims, vec_wall),
                       "per_cpu_s": rate(args.claims, vec_cpu), "workers": args.workers},
        "rules": {"claims": args.rules_claims, "per_s": rate(args.rules_claims, rules_wall),
                  "per_cpu_s": rate(args.rules_claims, rules_cpu)},
        "zen": {"claims": args.zen_claims, "per_s": rate(args.zen_claims, zen_wall),
                "per_cpu_s": rate(args.zen_claims, zen_cpu), "agrees_with_vectorised": agree},
    }
    v, r, z = figures["vectorised"], figures["rules"], figures["zen"]
    figures["ratios"] = {"vectorised/rules": round(v["per_s"] / r["per_s"], 1),
                         "vectorised/zen": round(v["per_s"] / z["per_s"], 1),
                         "zen/rules": round(z["per_s"] / r["per_s"], 2)}
    figures["ratios_per_cpu_s"] = {"vectorised/rules": round(v["per_cpu_s"] / r["per_cpu_s"], 1),
                                   "vectorised/zen": round(v["per_cpu_s"] / z["per_cpu_s"], 1),
                                   "zen/rules": round(z["per_cpu_s"] / r["per_cpu_s"], 2)}
    figures["backtest"] = year
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    print(f"{version.key}: {args.claims:,} claims of {figures['members']:,} members, "
          f"{figures['claims_paid']:,} paid; load average {figures['load_average'][:3]} on {figures['cpus']} CPUs")
    print(f"{'path':<12}{'claims':>12}{'claims/s':>14}{'claims/CPU-s':>16}")
    for name, f in (("vectorised", v), ("rules", r), ("zen-engine", z)):
        print(f"{name:<12}{f['claims']:>12,}{f['per_s']:>14,}{f['per_cpu_s']:>16,}")
    print("ratios per second:     " + ", ".join(f"{k} {x}×" for k, x in figures["ratios"].items()))
    print("ratios per CPU-second: " + ", ".join(f"{k} {x}×" for k, x in figures["ratios_per_cpu_s"].items()))
    print(f"zen-engine decisions equal to the vectorised path's: {agree:,} of {args.zen_claims:,}")
    if year:
        print(f"backtest of {year['population']}: {year['insured']:,} insured of {year['residents']:,} residents, "
              f"{year['claims']:,} claims; {year['wall_s']} s ({year['cpu_s']} CPU-s), "
              f"peak memory {year['peak_rss_mb']:,} MB")


def backtest_figures(version, population: str) -> dict:
    """A year of the version on the population: seconds and the process's peak resident memory after it."""
    spec = load_population(population)
    report, wall, cpu = timed(lambda: backtest(version, spec))
    return {"population": spec.data["name"], "residents": report["residents"], "insured": report["insured"],
            "claims": report["claims"]["count"], "paid_fen": report["claims"]["paid_fen"],
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}  # Linux: kilobytes


if __name__ == "__main__":
    main()
