"""The job registry (admin_ui/jobs.py): jobs live in the database, so any web process answers for a job another
one runs — with its progress and its result — and a job whose process died is reported failed.

Two `create_app` instances on one database stand for two web processes; the last tests start two real
servers on loopback. The app here imports 咸惠保 (2023) and 枣惠保 (2023–2025).
"""
from __future__ import annotations

import io
import threading
import time

import pytest
from sqlalchemy import select

from admin_ui import comparison
from admin_ui.jobs import DEAD, JobState, Jobs, Work, key_of
from admin_ui.models import Job, User
from engine import compare as engine_compare

from .conftest import Browser, version_row
from .test_compare import products_copy  # noqa: F401 — the app imports 咸惠保 and 枣惠保
from .test_files import _new_product


@pytest.fixture
def second(app, make_app):
    """Another web process: a second app on the same database."""
    return make_app(DATABASE_URL=app.config["DATABASE_URL"])


@pytest.fixture
def ids(session) -> list[str]:
    """咸惠保 2023 and 枣惠保 2025, as the comparison form sends them."""
    return [str(version_row(session, "xianhuibao", "2023").id), str(version_row(session, "zaohuibao", "2025").id)]


@pytest.fixture
def held(monkeypatch):
    """engine.compare (what the sandbox's `run` calls) held after its first progress report until released;
    `calls` counts the comparisons computed."""
    reported, release, calls = threading.Event(), threading.Event(), []
    real = engine_compare.compare

    def compare(versions, bill_sizes=None, progress=None):
        calls.append(len(versions))

        def report(done, total):
            progress(done, total)
            if not reported.is_set():
                reported.set()
                release.wait(20)
        return real(versions, bill_sizes, progress=report)

    monkeypatch.setattr(engine_compare, "compare", compare)
    yield reported, release, calls
    release.set()


def poll(user: Browser, url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = user.get(url).get_json()
        if state["finished"]:
            return state
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def user_id(session, username: str) -> int:
    return session.scalar(select(User.id).where(User.username == username))


# ── two processes, one database: all three pages ──────────────────────────────────────────────

def test_a_comparison_started_in_one_process_is_followed_and_shown_by_another(app, second, ids, held, monkeypatch):
    reported, release, calls = held
    here, there = Browser(app, "regulator"), Browser(second, "regulator")
    steps = engine_compare.comparison_steps(2, len(comparison.graded_bill_sizes()))  # claims and quotes of two
    job = here.post("/compare/jobs", data={"v": ids}).get_json()
    assert reported.wait(10)
    during = there.get(job["poll"]).get_json()
    assert (during["id"], during["status"], during["done"], during["total"]) == (job["id"], "running", 1, steps)
    assert Browser(second, "pm").get(job["poll"]).status_code == 404  # only its owner polls it, everywhere
    release.set()
    done = poll(there, job["poll"])
    assert (done["status"], done["done"], done["total"], done["error"]) == ("done", steps, steps, "")
    monkeypatch.setattr(comparison, "evaluate_stored", lambda *args: pytest.fail("computed again"))
    page = there.get(done["page"]).get_data(as_text=True)  # the other process shows the stored result
    assert 'data-paid-fen="18880000"' in page  # the cancer inpatient under 咸惠保 2023: 188,800 yuan
    assert calls == [2]


def test_an_impact_started_in_one_process_is_finished_and_drawn_by_another(app, second, session):
    row = version_row(session, "zaohuibao", "2025")
    url = f"/versions/{row.id}/changes"
    here, there = Browser(app, "pm"), Browser(second, "pm")
    started = here.get(url + "/impact.json").get_json()
    assert started["status"] in ("queued", "running", "done")
    deadline = time.monotonic() + 60
    while (state := there.get(url + "/impact.json").get_json())["status"] not in ("done", "failed"):
        assert state["id"] == started["id"]  # the other process joins the job, it does not start its own
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["id"] == started["id"] and state["status"] == "done" and state["percent"] == 100
    assert state["result"]["population"]["old"]["members"] == app.config["IMPACT_POPULATION"]
    assert "保费收入（元）" in there.get(url).get_data(as_text=True)  # the page shows it at once


def test_an_import_started_in_one_process_is_reported_by_another(app, second, session):
    here, there = Browser(app, "pm"), Browser(second, "pm")
    started = here.client.post("/products/import/jobs", content_type="multipart/form-data",
                               headers={"X-CSRFToken": here.token},
                               data={"files": [(io.BytesIO(_new_product().encode("utf-8")), "new.yaml")]})
    assert started.status_code == 202
    state = poll(there, started.get_json()["poll"])
    assert (state["status"], state["done"], state["total"]) == ("done", 1, 1)
    report = there.get(state["page"]).get_data(as_text=True)
    assert "xianning-new@2023" in report
    assert version_row(session, "xianning-new", "2023").status == "draft"
    assert Browser(second, "pm2").get(state["page"]).status_code == 404


# ── the rules, on the registry itself ─────────────────────────────────────────────────────────

class Gate:
    """Work that reports one step, then waits to be let through; counts its runs."""

    def __init__(self, key: str = "k", reusable: bool = True, kind: str = "test"):
        self.runs, self.started, self.release = 0, threading.Event(), threading.Event()
        self.work = Work(kind, key_of(key), 2, self.run, reusable=reusable)

    def run(self, progress):
        self.runs += 1
        progress(1, message="half")
        self.started.set()
        assert self.release.wait(20)
        return {"paid_fen": 123_45, "runs": self.runs}


def registry(app, stale: float = 30, keep: float = 600) -> Jobs:
    """Another process's registry on the app's database."""
    return Jobs(app.extensions["hmb_sessions"], app, threads=2, stale_seconds=stale, keep_seconds=keep)


def finished(jobs: Jobs, job_id: str, timeout: float = 20) -> JobState:
    job = jobs.wait(job_id, timeout)
    assert job is not None and job.finished
    return job


def test_the_same_work_asked_twice_shares_one_job(app, session):
    jobs, pm, pm2 = registry(app), user_id(session, "pm"), user_id(session, "pm2")
    gate = Gate()
    first = jobs.start(gate.work, pm)
    assert gate.started.wait(10)
    assert registry(app).start(gate.work, pm).id == first.id  # asked again, through another process
    gate.release.set()
    done = finished(jobs, first.id)
    assert (done.status, done.result, gate.runs) == ("done", {"paid_fen": 12345, "runs": 1}, 1)
    assert jobs.start(gate.work, pm).id == first.id  # reusable work: the finished job answers
    theirs = jobs.start(gate.work, pm2)  # another user: a finished job of their own, not computed again
    assert theirs.id != first.id and theirs.owner_id == pm2 and theirs.status == "done"
    assert theirs.result == done.result and gate.runs == 1


def test_work_whose_answer_depends_on_when_it_runs_is_shared_only_while_it_runs(app, session):
    jobs, pm = registry(app), user_id(session, "pm")
    gate = Gate(reusable=False, kind="import")
    first = jobs.start(gate.work, pm)
    assert gate.started.wait(10) and jobs.start(gate.work, pm).id == first.id
    gate.release.set()
    finished(jobs, first.id)
    again = jobs.start(gate.work, pm)
    assert again.id != first.id and finished(jobs, again.id).result == {"paid_fen": 12345, "runs": 2}


def test_a_job_reports_its_progress_and_only_to_its_owner(app, session):
    jobs, pm = registry(app), user_id(session, "pm")
    gate = Gate()
    job = jobs.start(gate.work, pm)
    assert gate.started.wait(10)
    seen = registry(app).owned(job.id, pm)
    assert (seen.status, seen.done, seen.total, seen.message, seen.percent) == ("running", 1, 2, "half", 50)
    assert registry(app).owned(job.id, user_id(session, "pm2")) is None
    gate.release.set()
    assert (finished(jobs, job.id).done, finished(jobs, job.id).message) == (2, "")


def test_a_failed_job_says_why_and_is_not_reused(app, session):
    jobs, pm = registry(app), user_id(session, "pm")

    def broken(progress):
        raise ValueError("第 3 行：起付线不能为负数")

    work = Work("test", key_of("broken"), 1, broken)
    job = finished(jobs, jobs.start(work, pm).id)
    assert (job.status, job.error, job.result) == ("failed", "第 3 行：起付线不能为负数", None)
    assert jobs.start(work, pm).id != job.id  # asked again: a new try


def test_an_expired_job_is_gone_and_then_deleted(app, session):
    jobs, pm = registry(app, keep=2), user_id(session, "pm")  # room for a loaded machine before the first look
    gate = Gate()
    gate.release.set()
    job = finished(jobs, jobs.start(gate.work, pm).id)
    assert jobs.owned(job.id, pm) is not None
    time.sleep(2.1)
    assert jobs.owned(job.id, pm) is None and jobs.result_for("test", gate.work.key) is None
    assert session.get(Job, job.id) is not None  # still stored until the next start sweeps it
    jobs.start(Work("test", key_of("other"), 1, lambda progress: {}), pm)
    session.expire_all()
    assert session.get(Job, job.id) is None


def test_a_job_whose_process_stopped_beating_is_reported_failed(app, session):
    """The running process beats every stale/6 seconds: with its own threshold of an hour it beats every 10
    minutes, so a reader whose threshold is 0.5 s sees what it would see of a process that died.  (Whether the
    job is running is asked with an ordinary threshold: a loaded machine may take 0.5 s to get there.)"""
    pm = user_id(session, "pm")
    gate = Gate()
    job = registry(app, stale=3600).start(gate.work, pm)
    assert gate.started.wait(10)
    assert registry(app).owned(job.id, pm).status == "running"
    time.sleep(0.6)
    dead = registry(app, stale=0.5).owned(job.id, pm)
    assert (dead.status, dead.error) == ("failed", DEAD)
    gate.release.set()


def test_a_job_whose_process_beats_is_not_taken_for_dead(app, session):
    pm = user_id(session, "pm")
    gate = Gate()
    runner = registry(app, stale=3)  # beats every 0.5 s: a loaded machine may delay a beat, not six
    job = runner.start(gate.work, pm)
    assert gate.started.wait(10)
    reader = registry(app, stale=3)
    for _ in range(40):  # 4 s: longer than the threshold
        assert reader.owned(job.id, pm).status == "running"
        time.sleep(0.1)
    gate.release.set()
    assert finished(runner, job.id).status == "done"
