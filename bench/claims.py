"""Benchmark: claims per second on the rules path, trace on and off, against a raw durable-rules post loop.

Two rules paths are measured: "posted" (every decision posted to durable-rules) and "memo" (the
engine's default: a repeated event is answered from the per-ruleset decision memo).

    .venv/bin/python bench/claims.py [--claims N] [--product products/xianhuibao.yaml --year 2023]

The baseline is measured in the same run: a bare durable-rules ruleset with one rule and a
catch-all, one `post` per message.  The figures that matter are the ratios, since the machine
and its load vary between runs.  Prints a table and, with --json, a JSON object.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import adjudicate, load_product, parse_claim  # noqa: E402
from engine.rules import MEMO, _SyncHost  # noqa: E402

CARES = ["inpatient", "inpatient", "inpatient", "emergency", "day_surgery", "chronic_outpatient"]


def make_claims(n: int, year: int, seed: int = 7) -> list:
    """A reproducible mix of settled claims: mostly inpatient, amounts from small to large."""
    rng = random.Random(seed)
    claims = []
    for i in range(n):
        in_policy = rng.choice([0, rng.randint(1_000, 20_000), rng.randint(20_000, 200_000)])
        out_policy = rng.choice([0, rng.randint(1_000, 50_000), rng.randint(50_000, 400_000)])
        claims.append(parse_claim({
            "claim_id": f"bench-{i}",
            "member": {"id": f"m{i % 5000}", "age": rng.randint(0, 95), "pre_existing": rng.random() < 0.2,
                       "low_income": "dibao" if rng.random() < 0.05 else "none"},
            "date": f"{year}-06-15", "care": rng.choice(CARES), "hospital_level": rng.randint(1, 3),
            "in_policy_self_pay": in_policy, "out_of_policy_self_pay": out_policy,
        }))
    return claims


def raw_post_rate(n: int) -> float:
    """Bare durable-rules: one rule + catch-all, one post per message (the engine's floor)."""
    host = _SyncHost()
    hits = []
    host.set_rulesets({"bench_raw": {
        "r": {"all": [{"m": {"$and": [{"t": "x"}, {"$gte": {"age": 19}}]}}], "pri": 1, "run": lambda c: hits.append(1)},
        "otherwise": {"all": [{"m": {"t": "x"}}], "pri": 9, "run": lambda c: hits.append(0)},
    }})
    start = time.perf_counter()
    for i in range(n):
        host.post("bench_raw", {"t": "x", "age": i % 100})
    return n / (time.perf_counter() - start)


def claim_run(claims, version, trace: bool) -> tuple[float, list[float]]:
    latencies = []
    start = time.perf_counter()
    for claim in claims:
        t0 = time.perf_counter()
        adjudicate(claim, version, None, trace=trace)
        latencies.append(time.perf_counter() - t0)
    return len(claims) / (time.perf_counter() - start), latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--product", default="products/xianhuibao.yaml")
    parser.add_argument("--year", default="2023")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    version = load_product(args.product).version(args.year)
    claims = make_claims(args.claims, version.year())
    MEMO.enabled = False
    claim_run(claims[:500], version, False)  # warm-up: compile the ruleset
    raw = raw_post_rate(args.claims)
    figures = {"version": version.key, "claims": args.claims, "raw_post_per_s": round(raw)}
    for memo in (False, True):  # every decision posted to durable-rules, then repeated events memoised
        MEMO.enabled = memo
        for trace in (False, True):
            rate, latencies = claim_run(claims, version, trace)
            name = f"{'memo' if memo else 'posted'}_trace_{'on' if trace else 'off'}"
            figures[f"claims_per_s_{name}"] = round(rate)
            figures[f"ratio_to_raw_post_{name}"] = round(rate / raw, 3)
            figures[f"p50_ms_{name}"] = round(statistics.median(latencies) * 1000, 3)
            figures[f"p99_ms_{name}"] = round(percentile(latencies, 0.99) * 1000, 3)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
