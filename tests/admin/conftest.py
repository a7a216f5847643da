"""Fixtures for the admin: an app on a temporary SQLite file, with its own copy of the product files.

Tests use a copy of products/xianhuibao.yaml (complete) rather than the live products/ folder, where
other files are being written; one test imports the real folder. CSRF stays on: helpers send the token.

With HMB_TEST_POSTGRES_URL set (e.g. postgresql+psycopg://postgres@/hmb_test?host=/tmp/pg&port=55432), every
test built on the `app` fixture runs on PostgreSQL too; that database's public schema is wiped first.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text

from admin_ui import create_app
from admin_ui.models import SchemeVersion

REPO = Path(__file__).resolve().parents[2]
XIANHUIBAO = REPO / "products" / "xianhuibao.yaml"
PASSWORDS = {"pm": "pm-demo", "pm2": "pm2-demo", "reviewer": "reviewer-demo", "regulator": "regulator-demo",
             "admin": "admin-demo"}
TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def products_folder(tmp_path, *names: str) -> Path:
    """A folder of copies of these product files (a test's own products, when 咸惠保 alone is not it)."""
    folder = tmp_path / "products"
    folder.mkdir()
    for name in names:
        shutil.copy(REPO / "products" / name, folder / name)
    return folder


@pytest.fixture
def products_copy(tmp_path) -> Path:
    return products_folder(tmp_path, XIANHUIBAO.name)


def products_also(*files: Path):
    """A module's `products_copy`: 咸惠保 and these product files (`products_copy = products_also(...)`)."""
    @pytest.fixture
    def products_copy(products_copy: Path) -> Path:
        for file in files:
            shutil.copy(file, products_copy / file.name)
        return products_copy
    return products_copy


class SameSiteClient(FlaskClient):
    """Sends the Origin header a browser sends from a page of this site (guard.check_origin wants one)."""

    ORIGIN = "http://localhost"  # the test client's own origin

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ORIGIN"] = self.ORIGIN


@pytest.fixture
def make_app(tmp_path, products_copy):
    def make(**config):
        settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'admin.db'}", "PRODUCTS_DIR": str(products_copy),
                    "SECRET_KEY": "test-secret", "TESTING": True,
                    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", **config}  # cheap hashes: tests, not security
        app = create_app(settings)
        app.test_client_class = SameSiteClient
        return app
    return make


POSTGRES_URL = os.environ.get("HMB_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
def app(request, make_app):
    if request.param == "sqlite":
        return make_app()
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:  # a fresh schema: the migration (with its trigger functions) runs from zero
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return make_app(DATABASE_URL=POSTGRES_URL)


@pytest.fixture
def session(app):
    """A session of the test's own, outside any app context (a pushed context would be shared by requests)."""
    with app.extensions["hmb_sessions"]() as s:
        yield s


def login(client, username: str):
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORDS[username],
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


class Browser:
    """A logged-in test client that sends the CSRF token with every POST, as the pages do."""

    def __init__(self, app, username: str):
        self.client = login(app.test_client(), username)
        self.token = TOKEN.search(self.client.get("/").get_data(as_text=True)).group(1)

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, **kw):
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kw)

    def validate(self, text: str, version: int | None = None):
        return self.client.post("/api/validate", json={"yaml": text, "version": version},
                                headers={"X-CSRFToken": self.token})


@pytest.fixture
def browser(app):
    return lambda username: Browser(app, username)


def wait_for_job(user: Browser, url: str, seconds: float = 30) -> dict:
    """Poll a background job's status URL until it has finished."""
    for _ in range(int(seconds / 0.05)):
        status = user.get(url).get_json()
        if status["finished"]:
            return status
        time.sleep(0.05)
    raise AssertionError(f"the job at {url} did not finish")


def version_row(session, product_id: str, version_id: str) -> SchemeVersion:
    session.expire_all()
    return session.scalar(select(SchemeVersion).where(SchemeVersion.product_id == product_id,
                                                      SchemeVersion.version_id == version_id))


@pytest.fixture
def draft(app, browser, session):
    """A 2024 draft of 咸惠保, created by pm through the page."""
    pm = browser("pm")
    response = pm.post("/products/xianhuibao/next-draft")
    assert response.status_code == 302
    return version_row(session, "xianhuibao", "2024")


def bearer(app, role: str, name: str | None = None, days: int = 30) -> dict:
    """The Authorization header of a new API token for `role`, issued as the command line issues one."""
    from admin_ui import tokens
    from admin_ui.db import db

    with app.app_context():
        _token, secret = tokens.create(db(), None, name or f"test-{role}", role, days)
    return {"Authorization": f"Bearer {secret}"}
