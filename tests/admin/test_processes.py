"""The admin as several real processes on one database, over loopback: a job started through one server is
followed and shown through another; a job whose server was killed is reported failed; the production command
(Gunicorn with several workers, admin_ui/gunicorn_conf.py) serves the comparison end to end.

SQLite here, and PostgreSQL too when HMB_TEST_POSTGRES_URL is set (as the `app` fixture does).
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from admin_ui.jobs import DEAD
from admin_ui.models import Job, SchemeVersion
from engine.compare import comparison_steps, graded_bill_sizes

from .conftest import BACKENDS, PASSWORDS, POSTGRES_URL, REPO, TOKEN
from .test_compare import products_copy  # noqa: F401 — 咸惠保 and 枣惠保
GUNICORN = Path(sys.executable).with_name("gunicorn")


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path) -> str:
    """An empty database: the first server started on it migrates it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def products(products_copy) -> Path:
    """咸惠保 and 枣惠保 (test_compare's products_copy)."""
    return products_copy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One admin process (or a Gunicorn master with its workers) on a loopback port."""

    def __init__(self, command: list[str], database: str, products: Path, instance: Path, **settings: str):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "HMB_DATABASE_URL": database, "HMB_SECRET_KEY": "shared-test-secret",
               "HMB_PRODUCTS_DIR": str(products), "HMB_INSTANCE_PATH": str(instance), "HMB_HOST": "127.0.0.1",
               "HMB_PORT": str(self.port), "PYTHONUNBUFFERED": "1", **settings}
        self.log = instance.with_suffix(".log")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # its own group: a Gunicorn master and workers
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(self.base + "/login", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not answer: {self.log.read_text()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # no goodbye: as a crash or an OOM kill would
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def servers(database, products, tmp_path):
    started: list[Server] = []

    def start(*command: str, **settings: str) -> Server:
        server = Server(list(command), database, products, tmp_path / f"instance-{len(started)}", **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()



class Client:
    """A browser's cookie jar over several servers on 127.0.0.1 (cookies do not depend on the port)."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = ""

    def request(self, url: str, data: dict | None = None) -> tuple[int, str]:
        origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        headers = {"X-CSRFToken": self.token, "Origin": origin} if data is not None else {}
        try:
            with self.opener.open(urllib.request.Request(url, body, headers), timeout=30) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8")

    def json(self, url: str, data: dict | None = None) -> dict:
        status, body = self.request(url, data)
        assert status in (200, 202), (status, body)
        return json.loads(body)

    def login(self, server: Server, username: str) -> Client:
        token = TOKEN.search(self.request(server.base + "/login")[1]).group(1)
        self.token = token
        status, body = self.request(server.base + "/login", {"username": username, "password": PASSWORDS[username],
                                                              "csrf_token": token})
        assert status == 200 and "退出" in body, body  # redirected to the product list, signed in
        self.token = TOKEN.search(body).group(1)
        return self


def rows(database: str, query):
    engine = create_engine(database)
    try:
        with Session(engine) as session:
            return session.scalars(query).all()
    finally:
        engine.dispose()


def version_id(database: str, product: str, version: str) -> int:
    [row] = rows(database, select(SchemeVersion.id).where(SchemeVersion.product_id == product,
                                                          SchemeVersion.version_id == version))
    return row


def test_a_comparison_started_through_one_process_is_polled_and_shown_through_another(servers, database):
    one = servers(sys.executable, "-m", "admin_ui")
    other = servers(sys.executable, "-m", "admin_ui")  # started second: the database is migrated already
    client = Client().login(one, "regulator")
    ids = [version_id(database, "xianhuibao", "2023"), version_id(database, "zaohuibao", "2025")]
    job = client.json(one.base + "/compare/jobs", {"v": ids})
    steps = comparison_steps(2, len(graded_bill_sizes()))  # claims and quotes of the two versions
    deadline = time.monotonic() + 60
    while not (state := client.json(other.base + job["poll"]))["finished"]:
        assert state["id"] == job["id"] and state["total"] == steps
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (state["status"], state["done"], state["error"]) == ("done", steps, "")
    status, page = client.request(other.base + state["page"])
    assert status == 200 and 'data-paid-fen="18880000"' in page  # 咸惠保 2023's cancer inpatient: 188,800 yuan
    [stored] = rows(database, select(Job).where(Job.kind == "compare"))  # shown from the one result stored
    assert stored.id == job["id"] and stored.runner.split(":")[1] == str(one.process.pid)
    other_user = Client().login(other, "pm")
    assert other_user.request(other.base + job["poll"])[0] == 404  # only its owner polls it


def test_a_job_whose_process_was_killed_is_reported_failed_not_polled_for_ever(servers, database):
    settings = {"HMB_JOB_STALE_SECONDS": "2", "HMB_IMPACT_POPULATION": "200000"}  # minutes of work
    one = servers(sys.executable, "-m", "admin_ui", **settings)
    other = servers(sys.executable, "-m", "admin_ui", **settings)
    client = Client().login(one, "pm")
    url = f"/versions/{version_id(database, 'zaohuibao', '2025')}/changes/impact.json"
    job = client.json(one.base + url)
    poll = f"{other.base}{url}?job={job['id']}"
    deadline = time.monotonic() + 60
    while (state := client.json(poll))["done"] == 0:  # wait for the first progress: it is running over there
        assert state["status"] in ("queued", "running") and time.monotonic() < deadline
        time.sleep(0.1)
    one.kill()
    killed = time.monotonic()
    while (state := client.json(poll))["status"] == "running":
        assert time.monotonic() - killed < 10, "a dead job is still reported running"
        time.sleep(0.2)
    assert time.monotonic() - killed >= 1.5  # not before its heartbeat was really overdue (2 s)
    assert (state["status"], state["error"]) == ("failed", DEAD)
    assert client.request(f"{other.base}{url}?job=no-such-job")[0] == 404


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this environment")
def test_the_production_command_serves_jobs_from_several_workers(servers, database):
    """`gunicorn -c python:admin_ui.gunicorn_conf` with 3 workers: the master prepares the database once,
    then whichever worker answers each request, the comparison job is started, followed and shown."""
    server = servers(str(GUNICORN), "-c", "python:admin_ui.gunicorn_conf", HMB_WORKERS="3", HMB_THREADS="4")
    client = Client().login(server, "regulator")
    ids = [version_id(database, "xianhuibao", "2023"), version_id(database, "zaohuibao", "2025")]
    job = client.json(server.base + "/compare/jobs", {"v": ids})
    deadline = time.monotonic() + 60
    while not (state := client.json(server.base + job["poll"]))["finished"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (state["status"], state["done"]) == ("done", comparison_steps(2, len(graded_bill_sizes())))
    status, page = client.request(server.base + state["page"])
    assert status == 200 and 'data-paid-fen="18880000"' in page
    log = server.log.read_text()
    assert len(set(re.findall(r"Booting worker with pid: (\d+)", log))) == 3
    assert log.count("xianhuibao 新导入 2023") == 1  # imported once, by the master's preparation
