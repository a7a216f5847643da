"""Backtest input and output at city size: a claims extract read and checked (CSV and Parquet), and the backtest
settled in one process and on a local Dask cluster, on the same population's claims.

    .venv/bin/python bench/backtest_io.py [--residents 3500000] [--workers 2] [--json]

The claims are the population's own (populations/zaozhuang.yaml), written out as an extract with Polars; each
figure is one run's wall-clock seconds (on a shared machine they move with everyone else's work).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import load_product  # noqa: E402
from engine.backtest import backtest  # noqa: E402
from engine.claims_extract import load_extract  # noqa: E402
from engine.distributed import dask_client, settle_on  # noqa: E402
from engine.population import draw_year, load_population  # noqa: E402
from engine.vector import compile_version  # noqa: E402
from engine.vector.columns import PERSON_DIMS, VALUES  # noqa: E402


def extract_frame(batch) -> pl.DataFrame:
    """A ClaimBatch as extract rows (codes decoded, amounts in fen, one item a row)."""
    def decoded(dim, codes):
        return pl.Series(dim, [str(v).lower() for v in VALUES[dim]]).gather(codes)

    n = len(batch)
    day = pl.Series(batch.date).cast(pl.String).str.strptime(pl.Date, "%Y%m%d").dt.to_string("%Y-%m-%d")
    columns = {"claim_id": [f"c{i:08d}" for i in range(n)], "member_id": [f"m{m:08d}" for m in batch.member],
               "age": batch.age_ref, "date": day, "care": decoded("care", batch.columns["care"]),
               "hospital_level": pl.Series([1, 2, 3, None]).gather(batch.columns["hospital_level"]),
               "in_policy_self_pay_fen": batch.in_policy, "out_of_policy_self_pay_fen": batch.out_of_policy}
    columns.update({dim: decoded(dim, batch.columns[dim]) for dim in PERSON_DIMS if dim != "age"})
    columns["item_code"] = pl.Series(batch.drug_codes).gather(batch.drug_code[:, 0])
    columns["item_indication"] = pl.Series(batch.drug_indications).gather(batch.drug_indication[:, 0])
    columns["item_amount_fen"] = batch.drug_fen[:, 0]
    items = ("item_code", "item_indication", "item_amount_fen")
    return pl.DataFrame(columns).with_columns(pl.when(pl.col("item_amount_fen") > 0).then(pl.col(c)).alias(c)
                                              for c in items)


def timed(work):
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=3_500_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    version = load_product(ROOT / "products" / "zaohuibao.yaml").version("2025")
    spec = load_population(ROOT / "populations" / "zaozhuang.yaml").resized(args.residents)
    batch = draw_year(spec, version, compile_version(version)).batch
    figures = {"residents": args.residents, "claims": len(batch), "cpus": os.cpu_count(),
               "load_average": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as folder:
        frame = extract_frame(batch)
        for suffix, write in (("csv", frame.write_csv), ("parquet", frame.write_parquet)):
            path = Path(folder) / f"extract.{suffix}"
            write(path)
            extract, seconds = timed(lambda: load_extract(path, version))
            assert len(extract.batch) == len(batch)
            figures[f"extract_{suffix}_seconds"] = round(seconds, 2)
            figures[f"extract_{suffix}_claims_per_second"] = int(len(batch) / seconds)
            figures[f"extract_{suffix}_megabytes"] = round(path.stat().st_size / 1e6, 1)
    alone, seconds = timed(lambda: backtest(version, spec))
    figures["backtest_one_process_seconds"] = round(seconds, 2)
    with dask_client(workers=args.workers) as client:
        on_dask, seconds = timed(lambda: backtest(version, spec, settle=settle_on(client, version)))
    figures["backtest_dask_seconds"] = round(seconds, 2)  # the cluster's start not counted
    figures["dask_equals_one_process"] = on_dask == alone
    figures["dask_workers"] = args.workers
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:38} {value:>14,}" if isinstance(value, (int, float)) and not isinstance(value, bool)
                  else f"{key:38} {value!s:>14}")


if __name__ == "__main__":
    main()
