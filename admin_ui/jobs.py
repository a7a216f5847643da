"""Background work a page starts and then polls: a comparison of many versions, an import of many files.

A job belongs to the user who started it (nobody else can poll it) and reports `done` of `total` steps;
its result stays in memory for a while for the page that shows it. In this process only: behind several
web processes a poll may miss its job, and the pages then fall back to doing the work in the request.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import current_app

log = logging.getLogger(__name__)

JOB_SECONDS = 600  # how long a job and its result are kept
JOBS_MAX = 100  # jobs at once: more are refused, and the page does the work in the request


@dataclass
class Job:
    id: str
    user_id: int
    total: int
    page: str = ""  # where the browser goes when the job is done
    done: int = 0
    finished: bool = False
    error: str = ""
    result: Any = field(default=None, repr=False)
    started: float = field(default_factory=time.monotonic)

    def progress(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total

    def as_dict(self) -> dict:
        return {"id": self.id, "done": self.done, "total": self.total, "finished": self.finished,
                "error": self.error, "page": self.page}


class Jobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def start(self, user_id: int, total: int, work: Callable[[Job], Any], page: str = "",
              name: str = "job") -> Job | None:
        """Run `work(job)` in a thread; its return value becomes job.result. None when too many are running."""
        job = Job(secrets.token_urlsafe(12), user_id, total, page)
        with self._lock:
            now = time.monotonic()
            for old in [j for j in self._jobs.values() if now - j.started > JOB_SECONDS]:
                del self._jobs[old.id]
            if len(self._jobs) >= JOBS_MAX:
                return None
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), daemon=True, name=f"{name}-{job.id}").start()
        return job

    def get(self, job_id: str, user_id: int) -> Job | None:
        """The job, if it exists and `user_id` started it."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.user_id == user_id else None

    @staticmethod
    def _run(job: Job, work: Callable[[Job], Any]) -> None:
        try:
            job.result = work(job)
            job.done = job.total  # whatever the work reported last
        except Exception as exc:  # noqa: BLE001 — reported to the page, which then does the work itself
            log.exception("background job %s failed", job.id)
            job.error = str(exc) or type(exc).__name__
        finally:
            job.finished = True


def jobs() -> Jobs:
    """This app's registry (created with the app: tests get one each)."""
    return current_app.extensions.setdefault("hmb_jobs", Jobs())
