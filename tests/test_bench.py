"""The benchmarks still run: each script in bench/, at a small size, exits 0 and prints its figures as JSON.

The figures themselves are the scripts' business (they print them; no test times anything). This only keeps a
change to the engine from breaking a benchmark unnoticed, as a condition class once broke bench/portfolio.py.
bench/load.py needs Locust (`pip install -e '.[load]'`), which CI does not install.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT

RUNS = {
    "portfolio.py": (["--claims", "20000", "--rules-claims", "200", "--zen-claims", "200", "--repeat", "1"],
                     {"vectorised", "rules", "zen", "ratios", "backtest"}),
    "claims.py": (["--claims", "300"], {"raw_post_per_s", "claims_per_s_memo_trace_off"}),
    "whatif.py": (["--residents", "20000"], {"candidates", "grid_seconds", "peak_rss_mb"}),
    "backtest_io.py": (["--residents", "20000", "--workers", "1"], {"extract_csv_seconds", "dask_equals_one_process"}),
    "admin_pages.py": (["-n", "1", "--warmup", "0", "--edits", "1", "--session-edits", "1"], {"pages", "overall"}),
}


@pytest.mark.parametrize("script", sorted(RUNS))
def test_the_benchmark_runs_and_prints_its_figures(script):
    args, keys = RUNS[script]
    run = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout)
    assert keys <= set(figures), sorted(figures)


def test_every_benchmark_is_run_here_but_the_load_test():
    assert {p.name for p in (ROOT / "bench").glob("*.py")} - set(RUNS) == {"load.py"}
