"""Evaluate drafts in a worker process.

durable-rules can never delete a ruleset, and every edited draft compiles a new one (its name carries
the content hash).  In a long-running admin that would grow without end, so drafts are evaluated in a
worker process that is replaced after a fixed number of tasks: its rulesets die with it.  Published
versions, which never change, are evaluated in the calling process by the same `run`.

Progress crosses the process boundary through one queue handed to each worker when it starts: the
worker puts (task id, progress arguments), a thread here passes them to the caller's callback.
"""
from __future__ import annotations

import multiprocessing
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Callable

TASKS_PER_WORKER = 50  # bounds the rulesets a worker can accumulate
TIMEOUT_SECONDS = 120  # a comparison of many versions on every profile takes tens of seconds

_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None
_QUEUE = None  # here: the progress queue the pump thread reads; in a worker: where its progress goes
_LISTENERS: dict[str, tuple[Callable, threading.Event]] = {}  # task id → (callback, set when it has all)


# ── what is evaluated: the same code here and in the worker ──────────────────────────────────

def run(operation: str, product, version_id: str, payload, progress: Callable | None = None) -> dict:
    """quote / adjudicate / cases / impact / compare on one version of a loaded product, as plain data
    (cases: {"results": [engine.cases.CaseResult…]}, frozen dataclasses that pickle as they are).

    Payloads: quote → person dict; adjudicate → claim dict; cases → list of case dicts; impact →
    {"previous": Version, "population", "seed", "claims"}; compare → {"others": [Version…]} (compared
    after this version, in order); review → {"text": the version's YAML, "others": [the product's other
    Versions], "population"}; backtest → {"population": a population file's path, "residents"}.  `progress`
    receives what engine.impact / engine.compare / engine.backtest report.
    """
    from . import adjudicate, parse_claim, parse_person, quote
    from .cases import run_case

    version = product.version(version_id)
    if operation == "quote":
        return quote(parse_person(payload), version).as_dict()
    if operation == "adjudicate":
        return adjudicate(parse_claim(payload), version).as_dict()
    if operation == "cases":
        return {"results": [run_case(product, case) for case in payload]}
    if operation == "impact":
        from .impact import impact

        return impact(payload["previous"], version, payload.get("population", 5000), payload.get("seed", 2025),
                      payload.get("claims"), progress=progress)
    if operation == "backtest":
        from .backtest import backtest
        from .population import load_population

        return backtest(version, load_population(payload["population"]), payload.get("residents"),
                        progress=progress)
    if operation == "compare":
        from .compare import compare

        return compare([version, *payload["others"]], progress=progress)
    if operation == "review":
        from .review.report import review_report

        return review_report(payload["text"], product, version, payload["others"], payload.get("population", 2000))
    raise ValueError(f"unknown operation {operation!r}")


def _worker_start(queue) -> None:
    global _QUEUE
    _QUEUE = queue


@lru_cache(maxsize=16)
def _load(text: str):
    """In the worker: a draft's text parsed and validated once (35–200 ms), not at every claim simulated on it.
    A product is immutable; the cache dies with the worker."""
    from . import load_product_text

    return load_product_text(text, "<草稿>")


def _evaluate(operation: str, text: str, version_id: str, payload, task_id: str | None) -> dict:
    """Runs in the worker: payload entries given as {"text", "version"} are loaded into Versions first."""
    def loaded(item):
        if isinstance(item, dict) and set(item) == {"text", "version"}:
            return _load(item["text"]).version(item["version"])
        return item

    if operation == "impact":
        payload = {**payload, "previous": loaded(payload["previous"])}
    elif operation in ("compare", "review"):
        payload = {**payload, "others": [loaded(item) for item in payload["others"]]}
    report = (lambda *args: _QUEUE.put((task_id, args))) if task_id else None
    try:
        return run(operation, _load(text), version_id, payload, report)
    finally:
        if task_id:
            _QUEUE.put((task_id, None))  # the last report: the caller may stop listening


# ── the pool, and progress coming back from it ────────────────────────────────────────────────

def _pool() -> ProcessPoolExecutor:
    global _POOL, _QUEUE
    with _LOCK:
        if _POOL is None:
            # spawn: a fresh interpreter, never a fork of a process whose durable-rules host holds state
            context = multiprocessing.get_context("spawn")
            _QUEUE = context.SimpleQueue()
            threading.Thread(target=_pump, args=(_QUEUE,), daemon=True, name="hmb-sandbox-progress").start()
            _POOL = ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=TASKS_PER_WORKER,
                                        initializer=_worker_start, initargs=(_QUEUE,))
        return _POOL


def _pump(queue) -> None:
    while (message := queue.get()) is not None:
        task_id, args = message
        callback, complete = _LISTENERS.get(task_id, (None, None))
        if args is None and complete is not None:
            complete.set()
        elif callback is not None:
            callback(*args)


def evaluate_draft(operation: str, text: str, version_id: str, payload, progress: Callable | None = None) -> dict:
    """`run` on a draft's text, in the worker; SchemeError and InputError come back as raised.

    Versions in the payload (impact's previous, compare's others) go as {"text": …, "version": …}.
    """
    if progress is None:
        return _pool().submit(_evaluate, operation, text, version_id, payload, None).result(TIMEOUT_SECONDS)
    task_id, complete = uuid.uuid4().hex, threading.Event()
    _LISTENERS[task_id] = (progress, complete)
    try:
        result = _pool().submit(_evaluate, operation, text, version_id, payload, task_id).result(TIMEOUT_SECONDS)
        complete.wait(5)  # results and reports travel on different pipes: let the last reports arrive
        return result
    finally:
        _LISTENERS.pop(task_id, None)


def shutdown() -> None:
    global _POOL, _QUEUE
    with _LOCK:
        if _POOL is not None:
            _POOL.shutdown(cancel_futures=True)
            _QUEUE.put(None)  # ends the pump thread
            _POOL = _QUEUE = None
