"""Configuration: defaults here, overridden by environment variables (HMB_*), then by create_app(config)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _flag(name: str, default: bool | None) -> bool | None:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "off", "")


def defaults() -> dict:
    """Settings read at app creation time, so tests can set the environment before create_app."""
    return {
        # None → sqlite file in the instance folder (decided in create_app, where the folder is known).
        "DATABASE_URL": os.environ.get("HMB_DATABASE_URL"),
        "PRODUCTS_DIR": os.environ.get("HMB_PRODUCTS_DIR", str(REPO_ROOT / "products")),
        "POPULATIONS_DIR": os.environ.get("HMB_POPULATIONS_DIR", str(REPO_ROOT / "populations")),
        "AUTO_MIGRATE": _flag("HMB_AUTO_MIGRATE", True),
        "IMPORT_PRODUCTS": _flag("HMB_IMPORT_PRODUCTS", True),
        # Demo users (one per role, known passwords) are for a local demo only: HMB_DEMO_USERS=0 in production.
        "DEMO_USERS": _flag("HMB_DEMO_USERS", True),
        "SECRET_KEY": os.environ.get("HMB_SECRET_KEY"),
        "DEFAULT_LANGUAGE": "zh",
        # werkzeug.security method for new password hashes; tests use a cheap one to run fast.
        "PASSWORD_HASH_METHOD": "scrypt",
        # Cookies: not readable by scripts, not sent on cross-site POSTs; sent over HTTPS only when served
        # over HTTPS: HMB_SECURE_COOKIES, else HMB_URL_SCHEME=https (create_app sets the *_COOKIE_SECURE).
        "PREFERRED_URL_SCHEME": os.environ.get("HMB_URL_SCHEME", "http"),
        "SECURE_COOKIES": _flag("HMB_SECURE_COOKIES", None),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session; an editor may stay open for hours
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,  # a scheme file is a few tens of KB
        # Members of the reference population the changes page prices and claims under both versions
        # (engine.impact's default); tests set a small one.
        "IMPACT_POPULATION": int(os.environ.get("HMB_IMPACT_POPULATION", 5000)),
        # Background jobs (admin_ui/jobs.py): threads per process that run them; how long a running job may go
        # without its process's heartbeat before it is reported failed; how long a job is kept afterwards.
        "JOB_THREADS": int(os.environ.get("HMB_JOB_THREADS", 4)),
        "JOB_STALE_SECONDS": float(os.environ.get("HMB_JOB_STALE_SECONDS", 30)),
        "JOB_KEEP_SECONDS": float(os.environ.get("HMB_JOB_KEEP_SECONDS", 600)),
    }
