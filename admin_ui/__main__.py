"""`python -m admin_ui`: migrate, import the product files, print the address and demo logins, serve.

Host and port from HMB_HOST (default 127.0.0.1) and HMB_PORT or PORT (default 5000); served by Waitress with
HMB_THREADS worker threads (default 8).
"""
from __future__ import annotations

import os
import sys

from waitress import serve

from . import create_app
from .startup import DEMO_USERS


def main() -> None:
    app = create_app()
    host = os.environ.get("HMB_HOST", "127.0.0.1")
    port = int(os.environ.get("HMB_PORT") or os.environ.get("PORT") or 5000)
    report = app.extensions["hmb_import_report"]
    print("惠民保方案管理 · admin", flush=True)
    print(f"数据库: {app.config['DATABASE_URL']}")
    print(f"方案文件导入 ({app.config['PRODUCTS_DIR']}):")
    print("\n".join(report.lines()) or "  （没有方案文件）")
    if app.config["DEMO_USERS"]:
        print("演示账号 (demo logins — for a local demo only; HMB_DEMO_USERS=0 turns them off):")
        for username, name, role, password in DEMO_USERS:
            print(f"  {username:<10} 密码 {password:<15} {name}")
    print(f"地址: http://{host}:{port}/", flush=True)
    sys.stdout.flush()
    # Waitress: a production WSGI server in pure Python (no C build, runs where durable-rules runs), threaded —
    # the admin's background jobs (comparison, impact) live in this one process, so one process it is.
    serve(app, host=host, port=port, threads=int(os.environ.get("HMB_THREADS", 8)), ident="hmb-admin")


if __name__ == "__main__":
    main()
