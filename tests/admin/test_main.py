"""`python -m admin_ui`: migrates, imports, prints the address and the demo logins, serves."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

from .conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_m_admin_ui_serves_and_prints_logins(tmp_path, products_copy):
    port = _free_port()
    env = {**os.environ, "HMB_INSTANCE_PATH": str(tmp_path / "instance"), "HMB_PORT": str(port),
           "HMB_PRODUCTS_DIR": str(products_copy), "PYTHONUNBUFFERED": "1"}
    env.pop("HMB_DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "admin_ui"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("地址:"):
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in output, output
        assert "xianhuibao 新导入 2023" in output and "reviewer-demo" in output and "regulator-demo" in output
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    assert response.status == 200 and "登录" in response.read().decode("utf-8")
                    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
                    assert response.headers["Server"] == "hmb-admin"  # Waitress, not the development server
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("the server did not answer")
        assert (tmp_path / "instance" / "hmb-admin.db").exists()  # the SQLite default lives in the instance folder
        assert (tmp_path / "instance" / ".gitignore").read_text().strip().endswith("*")
    finally:
        server.terminate()
        server.wait(timeout=10)
