"""Evaluate drafts in a worker process.

durable-rules can never delete a ruleset, and every edited draft compiles a new one (its name carries
the content hash).  In a long-running admin that would grow without end, so drafts are evaluated in a
worker process that is replaced after a fixed number of tasks: its rulesets die with it.  Published
versions, which never change, are evaluated in the calling process as usual.
"""
from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

TASKS_PER_WORKER = 50  # bounds the rulesets a worker can accumulate
TIMEOUT_SECONDS = 60

_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None


def _pool() -> ProcessPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            # spawn: a fresh interpreter, never a fork of a process whose durable-rules host holds state
            context = multiprocessing.get_context("spawn")
            _POOL = ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=TASKS_PER_WORKER)
        return _POOL


def _evaluate(operation: str, text: str, version_id: str, payload) -> dict:
    """Runs in the worker: load the draft text, then quote, adjudicate or run cases."""
    from . import adjudicate, load_product_text, parse_claim, parse_person, quote
    from .cases import run_case

    version = load_product_text(text, "<草稿>").version(version_id)
    if operation == "quote":
        return quote(parse_person(payload), version).as_dict()
    if operation == "adjudicate":
        return adjudicate(parse_claim(payload), version).as_dict()
    if operation == "cases":
        product = load_product_text(text, "<草稿>")
        return {"results": [run_case(product, case).as_dict() for case in payload]}
    if operation == "impact":  # payload: previous_text, previous_version, population, seed, claims
        from .impact import impact

        previous = load_product_text(payload["previous_text"], "<上一版本>").version(payload["previous_version"])
        return impact(previous, version, payload.get("population", 5000), payload.get("seed", 2025),
                      payload.get("claims"))
    raise ValueError(f"unknown operation {operation!r}")


def evaluate_draft(operation: str, text: str, version_id: str, payload) -> dict:
    """quote / adjudicate / cases / impact on a draft's text, in the worker; SchemeError and InputError come back
    as raised.  (Progress callbacks do not cross the process boundary: the caller shows the task as running.)"""
    return _pool().submit(_evaluate, operation, text, version_id, payload).result(TIMEOUT_SECONDS)


def shutdown() -> None:
    global _POOL
    with _LOCK:
        if _POOL is not None:
            _POOL.shutdown(cancel_futures=True)
            _POOL = None
