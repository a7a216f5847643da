"""The backtest's claims settled on a Dask cluster, partitioned by member (docs/dask.md).

A member's deductibles and caps fill across their claims in date order, so a member's claims never span two
partitions: the batch (already in settlement order) is cut only where a new member begins
(`backtest.partitions`).  Each partition is settled by `compile_version(version).adjudicate` on a worker —
the same code as in one process, each member's pools starting from zero — and the pieces are joined back in
order, so every figure equals the single-process run to the fen.

Dask is an optional dependency (`pip install -e '.[dask]'`), imported only when a cluster is asked for.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Iterator

from .backtest import partitions
from .model import Version
from .vector import BatchSettlement, ClaimBatch, compile_version

PIECES_PER_THREAD = 4  # a few partitions per worker thread, so a slow one does not hold up the end


@contextmanager
def dask_client(scheduler: str | None = None, workers: int = 2) -> Iterator:
    """A client of the cluster at `scheduler` (tcp://host:8786), or of a local cluster of `workers` processes
    on the loopback address (no dashboard), closed again afterwards."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the extra is installed where the tests run
        raise RuntimeError("Dask 未安装：pip install -e '.[dask]'") from exc
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def settle_on(client, version: Version, count: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> Callable[[ClaimBatch], BatchSettlement]:
    """A `settle` for engine.backtest: the batch's partitions settled on the cluster's workers, joined in order.
    `progress(done, total)` is told as partitions come back."""
    from dask.distributed import as_completed

    def settle(batch: ClaimBatch) -> BatchSettlement:
        compile_version(version)  # Unsupported here, before any work is sent
        threads = sum(client.nthreads().values()) or 1
        pieces = partitions(batch, count or threads * PIECES_PER_THREAD)
        shared = client.scatter(version, broadcast=True)
        futures = {client.submit(_settle_piece, shared, batch.slice(lo, hi), pure=False): k
                   for k, (lo, hi) in enumerate(pieces)}
        settled: list[BatchSettlement | None] = [None] * len(pieces)
        for done, future in enumerate(as_completed(futures), 1):
            settled[futures[future]] = future.result()  # a worker's error (InputError, Unsupported) is raised here
            if progress:
                progress(done, len(pieces))
        return BatchSettlement.join(settled, batch.claim_ids)

    return settle


def _settle_piece(version: Version, piece: ClaimBatch) -> BatchSettlement:
    """One partition on a worker, its claim ids left behind (the caller has them)."""
    return replace(compile_version(version).adjudicate(piece), claim_ids=None)
