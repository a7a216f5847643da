"""The backtest on a Dask cluster (a LocalCluster of two worker processes) equals the single-process run to the
fen: every figure of the report, and every claim's settlement, with members never split across partitions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.distributed")  # the [dask] extra: scripts/setup installs it, so CI runs this

import dask  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from engine import load_product  # noqa: E402
from engine.backtest import backtest, partitions  # noqa: E402
from engine.claims_extract import load_extract  # noqa: E402
from engine.cli import main  # noqa: E402
from engine.distributed import dask_client, settle_on  # noqa: E402
from engine.population import draw_year, load_population  # noqa: E402
from engine.vector import compile_version  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VERSION = load_product(ROOT / "products" / "zaohuibao.yaml").version("2025")
SPEC = load_population(ROOT / "populations" / "zaozhuang.yaml").resized(60_000)


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def batch():
    return draw_year(SPEC, VERSION, compile_version(VERSION)).batch


def test_partitions_never_split_a_member(batch):
    cuts = partitions(batch, 37)
    assert len(cuts) > 30 and cuts[0][0] == 0 and cuts[-1][1] == len(batch)
    assert all(hi == lo for (_, hi), (lo, _) in zip(cuts, cuts[1:]))  # contiguous, nothing left out
    assert all(batch.member[lo - 1] != batch.member[lo] for lo, _ in cuts[1:])
    assert (np.diff(batch.member) == 0).sum() > 100  # many members claim more than once: a split would show


def test_every_claim_settles_as_in_one_process(client, batch):
    local = compile_version(VERSION).adjudicate(batch)
    seen = []
    remote = settle_on(client, VERSION, 37, lambda done, total: seen.append((done, total)))(batch)
    for name in ("outcome", "paid", "patient_remainder"):
        assert np.array_equal(getattr(remote, name), getattr(local, name)), name
    for table in ("by_liability", "layers"):
        mine, theirs = getattr(remote, table), getattr(local, table)
        assert mine.keys() == theirs.keys()
        assert all(np.array_equal(a, b) for key in mine for a, b in zip(mine[key], theirs[key])), table
    assert np.array_equal(remote.insurers, local.insurers)
    assert seen[-1][0] == seen[-1][1] == len(seen) > 30  # one progress report per partition


def test_the_backtest_report_is_identical(client):
    on_dask = backtest(VERSION, SPEC, settle=settle_on(client, VERSION, 11))
    assert on_dask == backtest(VERSION, SPEC)
    assert on_dask["claims"]["paid_fen"] > 0 and on_dask["claims"]["count"] > 1000


def test_an_extract_on_dask_is_identical(client):
    extract = load_extract(ROOT / "examples" / "claims-extract.csv", VERSION)
    small = SPEC.resized(2000)
    assert backtest(VERSION, small, extract=extract, settle=settle_on(client, VERSION, 3)) == \
        backtest(VERSION, small, extract=extract)


def test_backtest_command_on_a_running_scheduler(client):
    """--scheduler ADDRESS: the command joins an existing cluster (here the fixture's, on loopback)."""
    args = ["backtest", "products/zaohuibao.yaml", "--year", "2025", "--population", "populations/zaozhuang.yaml",
            "--residents", "20000", "--json"]
    alone = CliRunner().invoke(main, args)
    on_cluster = CliRunner().invoke(main, [*args, "--scheduler", client.scheduler.address, "--partitions", "5"])
    assert alone.exit_code == on_cluster.exit_code == 0, on_cluster.output
    assert json.loads(on_cluster.output) == json.loads(alone.output)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):  # nobody listens there: fail fast
        nobody = CliRunner().invoke(main, [*args, "--scheduler", "tcp://127.0.0.1:9"])
    assert nobody.exit_code == 1 and json.loads(nobody.output)["errors"][0]["code"] == "backtest.dask"


def test_a_version_with_plans_on_dask_is_identical(client):
    """Members in two plans (the population's plan_choice): partitions carry each claim's plan."""
    two_plans = load_product(ROOT / "tests" / "fixtures" / "two-plans.yaml").version("2025")
    spec = SPEC.resized(30_000)
    batch = draw_year(spec, two_plans, compile_version(two_plans)).batch
    remote = settle_on(client, two_plans, 9)(batch)
    local = compile_version(two_plans).adjudicate(batch)
    assert np.array_equal(remote.paid, local.paid) and remote.by_liability.keys() == local.by_liability.keys()
    on_dask = backtest(two_plans, spec, settle=settle_on(client, two_plans, 7))
    assert on_dask == backtest(two_plans, spec)
    assert len(on_dask["by_plan"]) == 2 and all(p["paid_fen"] > 0 for p in on_dask["by_plan"].values())
