"""Load: many people using the admin at once, over loopback, through the production server.

Starts `python -m admin_ui` (Waitress) on a free loopback port with a fresh SQLite database and the three
products imported, then drives it with Locust (https://locust.io), in this process:

1. **Steady load**: --users people (default 50), each logged in as one of the demo roles, each making a
   request every 1–2 s for --seconds (default 60) over the pages — product list, version pages, the
   simulator (page and a POSTed claim), the comparison, the rules-in-force question, the audit log — and,
   when the server can issue API tokens, the JSON API (product list, a version, a quote).
   Targets: 0 errors, p95 ≤ 100 ms.
2. **Saturation**: users with no pause, in steps (--steps, default 2,4,8,16), --step-seconds each (default
   15); reports each step's request rate and p95 and the highest rate at which p95 stayed ≤ 200 ms.

Bounded: it sends requests only to 127.0.0.1, stops by itself after the steady run and the steps, and
stops the server it started. Prints its figures (add --json for machine output); it is not a test.

    .venv/bin/pip install -e '.[load]'
    .venv/bin/python bench/load.py [--users 50] [--seconds 60] [--steps 2,4,8,16] [--step-seconds 15] [--json]
"""
from __future__ import annotations

import gevent  # noqa: I001 — Locust's gevent must patch sockets before anything else imports them
from locust import HttpUser, between, constant, task
from locust.env import Environment

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOKEN = re.compile(r'name="csrf[-_]token" (?:content|value)="([^"]+)"')
ROLES = (("pm", "pm-demo"), ("reviewer", "reviewer-demo"), ("regulator", "regulator-demo"), ("admin", "admin-demo"))
CLAIM = {"claim_id": "load-1", "member": {"id": "m1", "age": 60}, "date": "2025-06-01", "care": "inpatient",
         "hospital_level": 3, "in_policy_self_pay": "30000", "out_of_policy_self_pay": "20000"}
STEADY_P95_MS, SATURATION_P95_MS = 100, 200


class Server:
    """The admin as it runs in production (python -m admin_ui, Waitress), on its own database."""

    def __init__(self):
        self.folder = tempfile.TemporaryDirectory(prefix="hmb-load-")
        self.port = _free_port()
        self.env = dict(os.environ, HMB_PORT=str(self.port), HMB_HOST="127.0.0.1",
                        HMB_DATABASE_URL=f"sqlite:///{self.folder.name}/admin.db", HMB_SECRET_KEY="load-test")
        self.process = None

    def __enter__(self) -> "Server":
        self.process = subprocess.Popen([sys.executable, "-m", "admin_ui"], cwd=REPO, env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.process.stdout:  # it prints its address once the products are imported
            if "http://127.0.0.1" in line:
                return self
        raise RuntimeError("the admin did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.folder.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api_token(self, role: str) -> str | None:
        """A bearer token from the admin's CLI, where the server has API tokens; else None (API not loaded)."""
        run = subprocess.run([sys.executable, "-m", "flask", "--app", "admin_ui", "tokens", "create", f"load-{role}",
                              "--role", role, "--days", "1"], cwd=REPO, env=self.env, capture_output=True, text=True)
        found = re.search(r"\b(hmb_[A-Za-z0-9_\-]{20,})\b", run.stdout)
        return found.group(1) if run.returncode == 0 and found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Person(HttpUser):
    """One person at the admin: logs in with a demo role and reads pages as people do."""

    wait_time = between(1, 2)
    api_token: str | None = None
    versions: list[str] = []
    ready = 0  # people logged in: the measurement starts when everyone is

    def on_start(self) -> None:
        self.client.headers["Origin"] = self.host.rstrip("/")  # as a browser on the admin's pages: POSTs need it
        username, password = random.choice(ROLES)
        self.role = username
        page = self.client.get("/login", name="/login").text
        self.client.post("/login", data={"username": username, "password": password,
                                         "csrf_token": TOKEN.search(page).group(1)}, name="/login [POST]")
        home = self.client.get("/", name="/").text
        self.csrf = TOKEN.search(home).group(1)
        Person.versions = Person.versions or sorted(set(re.findall(r'href="/versions/(\d+)"', home)))
        Person.ready += 1

    def _version(self) -> str:
        return random.choice(self.versions)

    @task(4)
    def version_page(self):
        self.client.get(f"/versions/{self._version()}", name="/versions/[id]")

    @task(2)
    def product_list(self):
        self.client.get("/", name="/")

    @task(2)
    def simulate(self):
        row = self._version()
        self.client.get(f"/versions/{row}/simulate", name="/versions/[id]/simulate")
        with self.client.post(f"/versions/{row}/simulate", name="/versions/[id]/simulate [POST]", catch_response=True,
                              data={"csrf_token": self.csrf, "mode": "json", "claim_json": json.dumps(CLAIM)}) as answer:
            if answer.status_code == 422:  # the claim's date lies outside this version's period: a right answer
                answer.success()

    @task(1)
    def compare(self):
        self.client.get("/compare", name="/compare")

    @task(1)
    def rules_in_force(self):
        self.client.get("/rules?product=zaohuibao&claim_date=2025-06-01", name="/rules")

    @task(1)
    def audit(self):
        if self.role != "pm":  # product managers may not read the audit log
            self.client.get("/audit", name="/audit")

    @task(3)
    def api(self):
        if not self.api_token:
            return
        headers = {"Authorization": f"Bearer {self.api_token}"}
        self.client.get("/api/v1/products", headers=headers, name="/api/v1/products")
        row = self._version()
        self.client.get(f"/api/v1/versions/{row}", headers=headers, name="/api/v1/versions/[id]")
        self.client.post(f"/api/v1/versions/{row}/quote", headers=headers, json={"age": 45},
                         name="/api/v1/versions/[id]/quote")


class Hurried(Person):
    """The same person with no pause between requests: to find where the server saturates."""

    wait_time = constant(0)


def run(user_class, host: str, users: int, seconds: float) -> dict:
    env = Environment(user_classes=[user_class], host=host)
    runner = env.create_local_runner()
    Person.ready = 0
    runner.start(users, spawn_rate=max(users, 1))
    deadline = time.monotonic() + 120
    while Person.ready < users and time.monotonic() < deadline:  # logins (scrypt) are not measured
        gevent.sleep(0.2)
    env.stats.reset_all()
    started = time.monotonic()
    gevent.sleep(seconds)
    elapsed = time.monotonic() - started
    total = env.stats.total
    figures = {"users": users, "seconds": round(elapsed, 1), "requests": total.num_requests,
               "failures": total.num_failures, "rps": round(total.num_requests / elapsed, 1),
               "p50_ms": total.get_response_time_percentile(0.5), "p95_ms": total.get_response_time_percentile(0.95),
               "p99_ms": total.get_response_time_percentile(0.99),
               "by_page": {name: {"requests": s.num_requests, "failures": s.num_failures,
                                  "p50_ms": s.get_response_time_percentile(0.5),
                                  "p95_ms": s.get_response_time_percentile(0.95)}
                           for (name, method), s in sorted(env.stats.entries.items())},
               "errors": [f"{e.method} {e.name}: {e.error} ×{e.occurrences}" for e in env.stats.errors.values()]}
    runner.quit()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--steps", default="2,4,8,16")
    parser.add_argument("--step-seconds", type=float, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with Server() as server:
        Person.api_token = server.api_token("regulator")
        steady = run(Person, server.url, args.users, args.seconds)
        steps = [run(Hurried, server.url, int(n), args.step_seconds) for n in args.steps.split(",")]
    within = [s for s in steps if s["failures"] == 0 and s["p95_ms"] <= SATURATION_P95_MS]
    result = {"steady": steady, "api_included": bool(Person.api_token), "saturation": steps,
              "highest_rps_at_p95_200ms": max((s["rps"] for s in within), default=None),
              "steady_met": steady["failures"] == 0 and steady["p95_ms"] <= STEADY_P95_MS}
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else _text(result))
    return 0


def _text(result: dict) -> str:
    steady = result["steady"]
    lines = [f"steady: {steady['users']} users, {steady['seconds']} s, {steady['requests']} requests "
             f"({steady['rps']}/s), {steady['failures']} failures, p50 {steady['p50_ms']} ms, "
             f"p95 {steady['p95_ms']} ms, p99 {steady['p99_ms']} ms — target 0 failures, p95 ≤ {STEADY_P95_MS} ms: "
             f"{'met' if result['steady_met'] else 'MISSED'}"
             f"{'' if result['api_included'] else ' (API not loaded: this server issues no API tokens)'}"]
    lines += [f"  {name:<36} {s['requests']:>6} req  {s['failures']:>3} fail  p50 {s['p50_ms']:>5} ms  "
              f"p95 {s['p95_ms']:>5} ms" for name, s in steady["by_page"].items()]
    lines += [f"  error: {e}" for e in steady["errors"]]
    lines.append("saturation (no pause between requests):")
    lines += [f"  {s['users']:>3} users: {s['rps']:>7}/s  p95 {s['p95_ms']:>5} ms  {s['failures']} failures"
              for s in result["saturation"]]
    lines.append(f"highest rate with p95 ≤ {SATURATION_P95_MS} ms: {result['highest_rps_at_p95_200ms']}/s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
