"""Gunicorn settings: the admin as several worker processes behind one address, for production.

    .venv/bin/gunicorn -c python:admin_ui.gunicorn_conf

Every worker builds the app with `create_app()` and shares with the others only the database (HMB_DATABASE_URL)
and the session key (HMB_SECRET_KEY): the background jobs live in the database, so any worker answers a poll
for a job another one runs. Environment: HMB_HOST, HMB_PORT (or PORT), HMB_WORKERS (default 4), HMB_THREADS
(threads per worker, default 8); the app's own settings as in admin_ui/README.md.
"""
from __future__ import annotations

import os
import subprocess
import sys

wsgi_app = "admin_ui:create_app()"
bind = f"{os.environ.get('HMB_HOST', '127.0.0.1')}:{os.environ.get('HMB_PORT') or os.environ.get('PORT') or 5000}"
workers = int(os.environ.get("HMB_WORKERS", 4))
# Threaded workers: each answers several requests at once and runs its own background jobs beside them, and
# a request that waits for a long job (the no-JavaScript comparison) does not stop the worker's heartbeat.
worker_class = "gthread"
threads = int(os.environ.get("HMB_THREADS", 8))
proc_name = "hmb-admin"
accesslog = "-"


def on_starting(server) -> None:
    """Before any worker starts: migrate, create the demo users and import the product files once, in a fresh
    process (workers doing it at the same moment would race to create the tables), printing the import report."""
    done = subprocess.run([sys.executable, "-m", "admin_ui", "--prepare-only"], check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python -m admin_ui --prepare-only failed (exit status {done.returncode})")
