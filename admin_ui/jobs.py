"""Background work a page starts and then polls — a comparison, an impact report, an import — kept in the
database (the `jobs` table), so the admin can run as several processes behind one address: a job started
through one process is polled, and its result shown, through any other.

One set of rules for every kind of work:
- **Key**: a digest of what determines the work (`key_of`: a comparison's content hashes, an import's files…).
- **Deduplication**: the same work asked again by the same user while its job lives shares that job (a partial
  unique index settles a race between processes). A finished result of *reusable* work — the same key always
  gives the same answer, as for a comparison — answers anyone who asks for that work again.
- **Owner**: only the user who started a job may poll it.
- **Progress**: done of total steps and a short message, written by the work as it goes.
- **Result**: JSON (amounts in integer fen), or an error message.
- **Where it runs**: in a thread of the process that accepted it (the work may hand over to the sandbox's
  worker process). That process writes a heartbeat while the job lives; an unfinished job without one for
  `JOB_STALE_SECONDS` is reported failed — its process died — never polled for ever.
- **Expiry**: a job is deleted `JOB_KEEP_SECONDS` after its last heartbeat or its end.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from flask import Flask, current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .i18n import N_, _
from .models import LIVE_JOB_STATUSES, Job, utcnow
from .services import as_utc

log = logging.getLogger(__name__)

JOBS_MAX = 100  # live jobs at once, all processes together: more are refused and the page works in the request
SYNC_WAIT_SECONDS = 150  # a request waiting for a job gives up after this; the sandbox itself after 120 s
PROGRESS_INTERVAL = 0.2  # seconds between two progress writes of one job; the heartbeat writes what is left
DEAD = N_("处理该任务的进程已停止响应（没有心跳），任务未能完成。请重新开始。")


def key_of(*parts) -> str:
    """The key of a piece of work: a digest of what determines it (strings, numbers, lists of them)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Work:
    """What a page asks to have done. `run(progress)` returns the result as JSON-able data; it runs in an
    app context of its own. `progress(done, total=None, message=None)` reports how far it is."""

    kind: str  # "compare", "impact", "import"
    key: str
    total: int
    run: Callable[[Callable], Any]
    page: str = ""  # where the browser goes when the job is done
    reusable: bool = True  # False: the answer depends on when it runs (an import), so a finished one is not reused


@dataclass(frozen=True)
class JobState:
    """A job as read from the database."""

    id: str
    kind: str
    owner_id: int | None
    status: str  # queued → running → done | failed
    done: int
    total: int
    message: str
    page: str
    result: Any
    error: str

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int | None:
        return self.done * 100 // self.total if self.total else None

    @property
    def error_shown(self) -> str:
        return _(self.error) if self.error == DEAD else self.error  # the job's own errors are the engine's words

    def as_json(self) -> dict:
        return {"id": self.id, "status": self.status, "finished": self.finished, "done": self.done,
                "total": self.total, "percent": self.percent, "message": self.message, "error": self.error_shown,
                "page": self.page}

    @classmethod
    def of(cls, row: Job) -> JobState:
        return cls(row.id, row.kind, row.owner_id, row.status, row.done, row.total, row.message, row.page,
                   row.result, row.error)


class JobFailed(Exception):
    pass


@dataclass
class _Progress:
    """This process's latest word on a job it runs, written at most every PROGRESS_INTERVAL."""

    done: int = 0
    total: int = 0
    message: str = ""
    written: float = 0.0
    dirty: bool = False


class Jobs:
    """The registry of one app: reads and writes the `jobs` table, runs this process's jobs in its threads."""

    def __init__(self, sessions: sessionmaker, app: Flask, threads: int, stale_seconds: float,
                 keep_seconds: float) -> None:
        self._sessions, self._app = sessions, app
        self.stale = timedelta(seconds=stale_seconds)
        self.keep = timedelta(seconds=keep_seconds)
        self.heartbeat_seconds = stale_seconds / 6  # several beats may be missed before a job counts as dead
        self.runner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:128]
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hmb-job")
        self._lock = threading.Lock()
        self._running: dict[str, _Progress] = {}  # the jobs this process runs (queued or running)
        self._beating: threading.Thread | None = None

    # ── asking ────────────────────────────────────────────────────────────────────────────────

    def start(self, work: Work, owner_id: int | None, here: bool = False) -> JobState | None:
        """The owner's job for this work: a live one, or a finished one of reusable work, else a new one run in
        a thread (`here`: in this thread, before returning). None when too many jobs are live."""
        with self._sessions() as session:
            self._purge(session)
            found = self._existing(session, work, owner_id)
            if found is not None:
                return found
            if session.scalar(select(func.count()).select_from(Job).where(Job.status.in_(LIVE_JOB_STATUSES))) >= JOBS_MAX:
                return None
            row = self._new_row(work, owner_id)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another process (or thread) started the same work for this user just now
                session.rollback()
                return self._existing(session, work, owner_id)
            job_id = row.id
        with self._lock:
            self._running[job_id] = _Progress(total=work.total)
        self._keep_beating()
        if here:
            self._run(job_id, work, in_context=True)
        else:
            self._executor.submit(self._run, job_id, work)
        return self.get(job_id)

    def owned(self, job_id: str, owner_id: int) -> JobState | None:
        """The job, if that user started it (what a poll may see)."""
        job = self.get(job_id)
        return job if job is not None and job.owner_id == owner_id else None

    def get(self, job_id: str) -> JobState | None:
        """The job, unless it has expired. A live job whose process stopped beating is failed here."""
        with self._sessions() as session:
            row = session.get(Job, job_id)
            if row is None or as_utc(row.expires_at) < utcnow():
                return None
            self._fail_if_dead(session, row)
            return JobState.of(row)

    def result_for(self, kind: str, key: str) -> Any:
        """The newest result of finished work of this kind and key, whoever asked for it; None if there is none."""
        with self._sessions() as session:
            return session.scalar(self._done(kind, key).with_only_columns(Job.result))

    def wait(self, job_id: str, timeout: float) -> JobState | None:
        """Poll the job until it has finished or `timeout` seconds have passed; its last state."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job is None or job.finished or time.monotonic() >= deadline:
                return job
            time.sleep(0.1)

    def result(self, work: Work, owner_id: int | None, timeout: float) -> Any:
        """The work's result: reused when it has one, else computed in this thread (or waited for while a job
        of the same user computes it). JobFailed when it failed or did not finish in time."""
        if work.reusable and (found := self.result_for(work.kind, work.key)) is not None:
            return found
        job = self.start(work, owner_id, here=True)
        if job is None:  # too many jobs: the request does the work itself, without a job
            return work.run(lambda *args, **kwargs: None)
        job = job if job.finished else self.wait(job.id, timeout)
        if job is None or job.status != "done":
            raise JobFailed(job.error_shown if job else _("任务已过期。"))
        return job.result

    # ── reading and writing the table ─────────────────────────────────────────────────────────

    def _existing(self, session: Session, work: Work, owner_id: int | None) -> JobState | None:
        mine = session.scalars(select(Job).where(Job.kind == work.kind, Job.key == work.key, Job.owner_id == owner_id,
                                                 Job.expires_at >= utcnow()).order_by(Job.created_at.desc())).all()
        for row in mine:
            self._fail_if_dead(session, row)
            if row.status in LIVE_JOB_STATUSES or (row.status == "done" and work.reusable):
                return JobState.of(row)
        if work.reusable:  # someone else's answer to the same work: a finished job of the owner's own, at once
            other = session.scalar(self._done(work.kind, work.key))
            if other is not None:
                row = self._new_row(work, owner_id, status="done", done=other.total, total=other.total,
                                    result=other.result, finished_at=utcnow())
                session.add(row)
                session.commit()
                return JobState.of(row)
        return None

    @staticmethod
    def _done(kind: str, key: str):
        return (select(Job).where(Job.kind == kind, Job.key == key, Job.status == "done", Job.expires_at >= utcnow())
                .order_by(Job.finished_at.desc()).limit(1))

    def _new_row(self, work: Work, owner_id: int | None, **values) -> Job:
        now = utcnow()
        return Job(**{"id": secrets.token_urlsafe(12), "kind": work.kind, "key": work.key, "owner_id": owner_id,
                      "status": "queued", "done": 0, "total": work.total, "message": "", "page": work.page,
                      "error": "", "runner": self.runner, "created_at": now, "heartbeat_at": now,
                      "expires_at": now + self.keep, **values})

    def _fail_if_dead(self, session: Session, row: Job) -> None:
        if row.status in LIVE_JOB_STATUSES and as_utc(row.heartbeat_at) < utcnow() - self.stale:
            log.warning("job %s (%s) lost its process %s", row.id, row.kind, row.runner)
            self._finish(session, row.id, status="failed", error=DEAD)
            session.refresh(row)

    def _finish(self, session: Session, job_id: str, **values) -> None:
        now = utcnow()
        session.execute(update(Job).where(Job.id == job_id).values(finished_at=now, heartbeat_at=now,
                                                                   expires_at=now + self.keep, **values))
        session.commit()

    def _purge(self, session: Session) -> None:
        """Expired jobs are deleted (a live one never expires while its process beats)."""
        session.execute(delete(Job).where(Job.expires_at < utcnow()))
        session.commit()

    # ── running this process's jobs ───────────────────────────────────────────────────────────

    def _run(self, job_id: str, work: Work, in_context: bool = False) -> None:
        with self._sessions() as session:
            session.execute(update(Job).where(Job.id == job_id).values(status="running", heartbeat_at=utcnow()))
            session.commit()
            try:
                if in_context:
                    result = work.run(self._reporter(job_id))
                else:
                    with self._app.app_context():  # a database session of its own, closed when the context ends
                        result = work.run(self._reporter(job_id))
                total = self._running[job_id].total
                self._finish(session, job_id, status="done", result=result, done=total, total=total,
                             message="")
            except Exception as exc:  # noqa: BLE001 — the job says what went wrong; the thread lives on
                log.exception("background job %s (%s) failed", job_id, work.kind)
                session.rollback()
                self._finish(session, job_id, status="failed", error=str(exc) or type(exc).__name__)
            finally:
                with self._lock:
                    self._running.pop(job_id, None)

    def _reporter(self, job_id: str) -> Callable:
        def progress(done: int, total: int | None = None, message: str | None = None) -> None:
            with self._lock:
                state = self._running[job_id]
                state.done, state.dirty = done, True
                state.total = total if total is not None else state.total
                state.message = message if message is not None else state.message
                due = time.monotonic() - state.written >= PROGRESS_INTERVAL
            if due:
                self._write_progress({job_id: state})
        return progress

    def _write_progress(self, states: dict[str, _Progress]) -> None:
        """Progress and heartbeat of jobs this process runs, in one transaction."""
        now = utcnow()
        with self._sessions() as session:
            for job_id, state in states.items():
                with self._lock:
                    values = {"heartbeat_at": now, "expires_at": now + self.keep}
                    if state.dirty:
                        values.update(done=min(state.done, state.total), total=state.total, message=state.message[:200])
                        state.dirty, state.written = False, time.monotonic()
                session.execute(update(Job).where(Job.id == job_id, Job.status.in_(LIVE_JOB_STATUSES)).values(**values))
            session.commit()

    def _keep_beating(self) -> None:
        with self._lock:
            if self._beating is None or not self._beating.is_alive():
                self._beating = threading.Thread(target=self._beat, daemon=True, name="hmb-job-heartbeat")
                self._beating.start()

    def _beat(self) -> None:
        """While this process runs jobs: their heartbeat (and any progress not yet written), every few seconds."""
        while True:
            time.sleep(self.heartbeat_seconds)
            with self._lock:
                if not self._running:
                    self._beating = None
                    return
                states = dict(self._running)
            try:
                self._write_progress(states)
            except Exception:  # noqa: BLE001 — a busy or unreachable database: try again at the next beat
                log.exception("could not write the jobs' heartbeat")


def init_app(app: Flask) -> None:
    config = app.config
    app.extensions["hmb_jobs"] = Jobs(app.extensions["hmb_sessions"], app, int(config["JOB_THREADS"]),
                                      float(config["JOB_STALE_SECONDS"]), float(config["JOB_KEEP_SECONDS"]))


def jobs() -> Jobs:
    """This app's registry (created with the app: tests get one each)."""
    return current_app.extensions["hmb_jobs"]


def poll_answer(start: Callable[[], JobState | None], finished: Callable[[JobState], dict]):
    """What a page's script polls: `?job=ID` reports that job (404 unless it is the user's own), so one that failed
    is said to have failed rather than started again; otherwise `start()` starts or joins the work. Once done,
    `finished(job)` adds what the page shows."""
    from flask import abort, request
    from flask_login import current_user

    if request.args.get("job"):
        job = jobs().owned(request.args["job"], current_user.id)
        if job is None:
            abort(404)
    else:
        job = start()
    if job is None:
        return {"status": "failed", "error": _("正在运行的计算任务太多，请稍后再试。")}, 503
    return {**job.as_json(), **(finished(job) if job.status == "done" else {})}
