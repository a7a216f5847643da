"""docs/new-city.md, done as written: every shell command of the page run in a fresh folder (the admin started
and stopped), then the admin's steps of the page — import the scaffold as a draft, submit, approve, export —
so the page a product manager follows stays true."""
from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from engine import load_product_text
from engine.load import parse_text

from .conftest import REPO, Browser, version_row

PAGE = (REPO / "docs" / "new-city.md").read_text(encoding="utf-8")
SERVES = "Ctrl+C"  # a command the page says runs until stopped


def commands() -> list[tuple[str, str]]:
    """(command, its comment) of every line of the page's ```sh blocks, in page order."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", PAGE, re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("  #")
            if command.strip():
                found.append((command.strip(), comment))
    return found


@pytest.fixture
def folder(tmp_path):
    """A folder laid out like the repository root for the page's commands: `.venv` is the repository's."""
    root = tmp_path / "root"  # beside the admin fixtures' own products/ copy
    root.mkdir()
    (root / ".venv").symlink_to(REPO / ".venv")
    return root


def _run(command: str, folder) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=folder, capture_output=True, text=True, timeout=600)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serves(command: str, folder) -> None:
    """Start the command, wait for the address it prints, fetch the login page there, stop it."""
    port = _free_port()
    env = {**os.environ, "HMB_PORT": str(port), "HMB_DATABASE_URL": f"sqlite:///{folder / 'admin.db'}"}
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=folder, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        printed = ""
        deadline = time.monotonic() + 300
        while f"127.0.0.1:{port}" not in printed and time.monotonic() < deadline and server.poll() is None:
            printed += server.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in printed, printed
        for _attempt in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"nothing answers on port {port}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()


def test_every_command_of_the_page_works_as_written(folder):
    assert len(commands()) >= 6
    for command, comment in commands():
        if SERVES in comment:
            _serves(command, folder)
            continue
        result = _run(command, folder)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"


def test_the_admin_steps_of_the_page(app, session, folder):
    scaffold = next(command for command, _ in commands() if " new " in command)
    assert _run(scaffold, folder).returncode == 0
    scheme = folder / "drafts" / "xiaogan.yaml"
    text = scheme.read_text(encoding="utf-8")

    pm, reviewer = Browser(app, "pm"), Browser(app, "reviewer")
    assert "/products/import" in PAGE and 'href="/products/import"' in pm.get("/").get_data(as_text=True)
    upload = pm.post("/products/import", {"files": [(io.BytesIO(text.encode("utf-8")), scheme.name)]},
                     content_type="multipart/form-data")
    assert upload.status_code == 200, upload.get_data(as_text=True)
    draft = version_row(session, "xiaogan", "2025")
    assert draft.status == "draft"
    page = pm.get(f"/versions/{draft.id}").get_data(as_text=True)
    assert "待替换：" in page and 'class="ref assumed"' in page  # the placeholders shown as assumptions

    assert pm.post(f"/versions/{draft.id}/submit", {"row_version": draft.row_version}).status_code == 302
    submitted = version_row(session, "xiaogan", "2025")
    assert submitted.status == "in_review"
    assert reviewer.get(f"/versions/{draft.id}/review").status_code == 200
    approved = reviewer.post(f"/versions/{draft.id}/approve", {"row_version": submitted.row_version,
                                                               "effective_from": "2025-01-01",
                                                               "effective_to": "2025-12-31"})
    assert approved.status_code == 302
    assert version_row(session, "xiaogan", "2025").status == "published"

    assert "/products/xiaogan/export.yaml" in PAGE
    exported = pm.get("/products/xiaogan/export.yaml").get_data(as_text=True)
    assert parse_text(exported).data == parse_text(text).data
    assert [v.id for v in load_product_text(exported).versions] == ["2025"]
    products = folder / "products"  # the page's last step: the file and its cases into products/
    products.mkdir()
    (products / "xiaogan.yaml").write_text(exported, encoding="utf-8")
    (products / "xiaogan.cases.yaml").write_bytes((folder / "drafts" / "xiaogan.cases.yaml").read_bytes())
    ran = _run(".venv/bin/hmb cases products/xiaogan.cases.yaml", folder)
    assert ran.returncode == 0, ran.stdout + ran.stderr
