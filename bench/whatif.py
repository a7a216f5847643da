"""Benchmark: a pricing what-if grid on a city-sized population (engine/whatif.py).

    .venv/bin/python bench/whatif.py [--product products/zaohuibao.yaml --year 2025]
                                     [--population populations/zaozhuang.yaml] [--residents N] [--no-take-up] [--json]

One run draws the population's year once (residents, take-up, claims: `whatif.prepare`), then evaluates a grid
of 100 candidates — deductible (5 values) × the first ratio of the first liability by group (5) × the first
non-subsidised band's premium (4) — each settled on the same claims, with its break-even premium and, where the
version declares a minimum claims ratio, its target premium. With the population's take-up model (default),
a candidate whose premium rises loses members and their claims, and its premiums for a ratio are found again
until they hold still. Printed: the population, the time to draw it, the grid's time and candidates per second,
the peak resident memory, the load average (the machine is shared: wall-clock figures move with it), and the
best candidates. Target (issue 11): 100 candidates on a 1.4-million-member year in ≤ 60 s.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.load import load_file  # noqa: E402
from engine.population import load_population  # noqa: E402
from engine.whatif import default_target, grid, parameters, prepare  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def axes(version) -> list:
    """100 candidates around the version's own values."""
    known = parameters(version)
    deductible = next(p for n, p in known.items() if n.startswith("deductible.") and p.current > 0)
    ratio = next(p for n, p in known.items() if n.startswith("ratio."))
    premium = max((p for n, p in known.items() if n.startswith("premium.")), key=lambda p: p.current)
    step = max(deductible.current // 4, 100_000)
    return [(deductible, [deductible.current + k * step for k in range(-2, 3)]),
            (ratio, [min(Decimal(1), ratio.current + Decimal(k) / 20) for k in range(-2, 3)]),
            (premium, [premium.current * k // 100 for k in (90, 100, 110, 125)])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--product", default=str(ROOT / "products" / "zaohuibao.yaml"))
    parser.add_argument("--year", default="2025")
    parser.add_argument("--population", default=str(ROOT / "populations" / "zaozhuang.yaml"))
    parser.add_argument("--residents", type=int, help="another population size (the file's shares kept)")
    parser.add_argument("--no-take-up", action="store_true", help="leave out the population's take-up model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    year = prepare(load_file(args.product), args.year, load_population(args.population), args.residents,
                   respond=not args.no_take_up)
    drawn = time.perf_counter() - started
    grid_axes = axes(year.version)
    started, cpu = time.perf_counter(), time.process_time()
    report = grid(year, grid_axes, target=default_target(year.version))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    candidates = len(report["candidates"])
    figures = {
        "version": year.version.key, "residents": year.spec.residents, "insured": len(year.who),
        "claims": len(year.batch), "take_up_model": year.response is not None,
        "draw_seconds": round(drawn, 2), "candidates": candidates, "grid_seconds": round(seconds, 2),
        "grid_cpu_seconds": round(cpu_seconds, 2), "candidates_per_second": round(candidates / seconds, 2),
        "rules_path_candidates": sum(r.get("path") == "rules" for r in report["candidates"]),
        "invalid_candidates": sum("errors" in r for r in report["candidates"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{figures['version']} on {year.spec.data['name']}: {figures['residents']:,} residents, "
          f"{figures['insured']:,} insured, {figures['claims']:,} claims "
          f"(take-up model {'on' if figures['take_up_model'] else 'off'})")
    print(f"drawn once in {drawn:.2f} s")
    print(f"grid: {candidates} candidates in {seconds:.2f} s wall ({cpu_seconds:.2f} s CPU), "
          f"{figures['candidates_per_second']} candidates/s; target ≤ 60 s")
    print(f"  {figures['rules_path_candidates']} on the rules path, {figures['invalid_candidates']} invalid; "
          f"peak RSS {figures['peak_rss_mb']} MB; load average {figures['load_average']}")
    for row in report["candidates"][:3]:
        shown = ", ".join(f"{c['parameter']}={c['shown']}" for c in row["changes"])
        print(f"  #{row['candidate']} {shown}: claims ratio {row.get('claims_ratio')}, premium {row.get('premium_fen')} fen")


if __name__ == "__main__":
    main()
