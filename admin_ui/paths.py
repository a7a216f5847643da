"""Where the admin keeps its files when nothing else is configured."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def instance_path() -> Path:
    return Path(os.environ.get("HMB_INSTANCE_PATH", REPO_ROOT / "instance"))


def default_database_url() -> str:
    return os.environ.get("HMB_DATABASE_URL") or f"sqlite:///{instance_path() / 'hmb-admin.db'}"
