"""Claims of the same members settled at the same time from several processes, on a SQLite file and on
PostgreSQL (when HMB_TEST_POSTGRES_URL is set): no deductible or cap is used twice, each claim id is paid
once, a reused id with other content is refused.

What the ledger ends with must be what settling the same claims one after another, in the order they were
committed, gives.  Commit order: a member's settlements take turns on the member's locked row and each
inserts its settled claim while holding it, so per member the settled claims' ids follow commit order
(across members the order does not matter: they share no pool).
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import time

import pytest
from sqlalchemy import create_engine, select

import ledger_worker as worker
from engine import parse_claim
from engine.accumulators import PoolKind
from engine.ledger import Ledger, LedgerBase, SettledClaimRow, request_hash
from engine.settle import InMemory

PROCESSES = 4
GIVE_UP_SECONDS = 600  # a stuck process fails the test instead of hanging it
POSTGRES_URL = os.environ.get("HMB_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("HMB_TEST_POSTGRES_URL is not set")
    engine = create_engine(POSTGRES_URL)
    LedgerBase.metadata.drop_all(engine)  # the ledger's own tables only
    yield POSTGRES_URL
    LedgerBase.metadata.drop_all(engine)
    engine.dispose()


def run_processes(url: str) -> list[tuple]:
    Ledger(url).engine.dispose()  # the tables exist before the processes start
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no inherited connections or locks
    start, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=worker.settle_from_process, args=(url, p, start, results))
                 for p in range(PROCESSES)]
    for process in processes:
        process.start()
    outcomes, deadline = [], time.monotonic() + GIVE_UP_SECONDS
    while len(outcomes) < PROCESSES * worker.CLAIMS_PER_PROCESS and time.monotonic() < deadline:
        try:
            outcomes.append(results.get(timeout=1))
        except queue.Empty:
            if not any(p.is_alive() for p in processes) and results.empty():
                break  # a process died: say so below rather than wait
    for process in processes:
        process.join(timeout=max(deadline - time.monotonic(), 1))
        if process.is_alive():  # stuck: end it, and fail
            process.terminate()
            process.join()
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    assert len(outcomes) == PROCESSES * worker.CLAIMS_PER_PROCESS
    return outcomes


def test_concurrent_processes_settle_as_one_after_another_in_commit_order(url):
    version = worker.test_version()
    outcomes = run_processes(url)
    ledger = Ledger(url)
    with ledger.engine.connect() as conn:
        stored = conn.execute(select(SettledClaimRow.claim_id, SettledClaimRow.member_id, SettledClaimRow.paid_fen,
                                     SettledClaimRow.request_hash).order_by(SettledClaimRow.id)).all()

    # each claim id is stored once; every id submitted was either settled or refused
    assert len(stored) == len({row.claim_id for row in stored})
    submitted = {(p, data["claim_id"]): parse_claim(data) for p in range(PROCESSES) for data in worker.claims_of(p)}
    assert {claim_id for _, claim_id in submitted} == {row.claim_id for row in stored}

    # the same content under one id: paid once, the others told it was already settled, with the same amount
    by_id = {row.claim_id: row for row in stored}
    for i in range(worker.SHARED_IDS):
        shared = [o for o in outcomes if o[1] == f"shared-{i}"]
        assert sorted(o[4] for o in shared) == [False] + [True] * (PROCESSES - 1)
        assert {o[3] for o in shared} == {by_id[f"shared-{i}"].paid_fen}
    # other content under one id: one settled, the rest refused with the reason
    for i in range(worker.CLASHING_IDS):
        clash = [o for o in outcomes if o[1] == f"clash-{i}"]
        assert sorted(o[2] for o in clash) == ["paid"] + ["refused"] * (PROCESSES - 1)
        assert all(o[3] == "claim.id_reused" and "不能重复使用" in o[4] for o in clash if o[2] == "refused")

    # settled again one after another, in commit order, in memory: the same payments and accumulators
    winners = {(claim.claim_id, request_hash(claim)): claim for claim in submitted.values()}
    book = InMemory()
    for row in stored:
        again, _ = book.settle(winners[(row.claim_id, row.request_hash)], version, trace=False)
        assert again["paid_fen"] == row.paid_fen, row.claim_id
    pools = version.scheme_layer
    for member in worker.MEMBERS:
        accumulators = ledger.accumulators(version, member)
        assert accumulators == book.accumulators(version, member)
        # never more than the pools hold, and these claims do reach them (or the test would prove little)
        for key, fen in accumulators.items():
            if key.kind is PoolKind.DEDUCTIBLE:
                assert fen == pools.deductibles[key.pool].amount.fen
            elif key.kind is PoolKind.CAP:
                assert fen <= pools.caps[key.pool].amount.fen
        assert accumulators[next(k for k in accumulators if k.pool == "total")] == pools.caps["total"].amount.fen
        assert sum(row.paid_fen for row in stored if row.member_id == member) <= pools.caps["total"].amount.fen
    ledger.engine.dispose()
