"""`python -m admin_ui`: migrate, import the product files, print the address and demo logins, serve.

Host and port from HMB_HOST (default 127.0.0.1) and HMB_PORT or PORT (default 5000); served by Waitress, one
process with HMB_THREADS threads (default 8). `--prepare-only` stops after the import report: Gunicorn's
master runs it once before starting several worker processes (admin_ui/gunicorn_conf.py).
"""
from __future__ import annotations

import argparse
import os
import sys

from waitress import serve

from . import create_app
from .startup import DEMO_USERS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m admin_ui", description=__doc__.split("\n")[0])
    parser.add_argument("--prepare-only", action="store_true",
                        help="migrate, create the demo users and import the product files, then exit")
    args = parser.parse_args(argv)
    app = create_app()
    host = os.environ.get("HMB_HOST", "127.0.0.1")
    port = int(os.environ.get("HMB_PORT") or os.environ.get("PORT") or 5000)
    print_start_report(app)
    if args.prepare_only:
        return
    print(f"地址: http://{host}:{port}/", flush=True)
    sys.stdout.flush()
    # Waitress: a production WSGI server in pure Python (no C build, runs where durable-rules runs), threaded.
    # Several processes: Gunicorn (see admin_ui/README.md); the background jobs live in the database either way.
    serve(app, host=host, port=port, threads=int(os.environ.get("HMB_THREADS", 8)), ident="hmb-admin")


def print_start_report(app) -> None:
    report = app.extensions["hmb_import_report"]
    print("惠民保方案管理 · admin", flush=True)
    print(f"数据库: {app.config['DATABASE_URL']}")
    print(f"方案文件导入 ({app.config['PRODUCTS_DIR']}):")
    print("\n".join(report.lines()) or "  （没有方案文件）")
    if app.config["DEMO_USERS"]:
        print("演示账号 (demo logins — for a local demo only; HMB_DEMO_USERS=0 turns them off):")
        for username, name, role, password in DEMO_USERS:
            print(f"  {username:<10} 密码 {password:<15} {name}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
