"""Login and sessions under attack: throttling, no name enumeration, revocation, Origin, Secure cookies, audit."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from admin_ui import credentials
from admin_ui.config import defaults
from admin_ui.models import AuditEvent, LoginThrottle, User

from .conftest import PASSWORDS, TOKEN, Browser, login, version_row


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand: delays are checked to the second without waiting."""
    class Clock:
        moment = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)

        def advance(self, seconds: float) -> None:
            self.moment += timedelta(seconds=seconds)

    clock = Clock()
    monkeypatch.setattr(credentials, "now", lambda: clock.moment)
    return clock


def attempt(client, username: str, password: str):
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def events(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


# ── throttling ─────────────────────────────────────────────────────────────────────────────────

def test_a_name_waits_after_five_failures_and_longer_after_each_next(app, clock):
    client = app.test_client()
    for _ in range(5):
        assert attempt(client, "pm", "wrong").status_code == 200
    blocked = attempt(client, "pm", PASSWORDS["pm"])  # even the right password: not now
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "1"
    assert "登录失败次数过多" in blocked.get_data(as_text=True) and "1 秒后" in blocked.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not logged in
    for delay in (1, 2, 4, 8):  # each failure after the fifth doubles the wait
        clock.advance(delay)
        assert attempt(client, "pm", "wrong").status_code == 200
        assert attempt(client, "pm", "wrong").headers["Retry-After"] == str(2 * delay)
    clock.advance(16)
    assert attempt(client, "pm", PASSWORDS["pm"]).status_code == 302


def test_the_delay_is_capped(clock):
    free = credentials.FREE_FAILURES["user"]
    assert credentials.delay_after(free, free) == timedelta(seconds=1)
    assert credentials.delay_after(free + 3, free) == timedelta(seconds=8)
    assert credentials.delay_after(free + 1000, free) == credentials.MAX_DELAY == timedelta(minutes=15)


def test_the_message_says_when_in_china_time_and_in_english(app, clock):
    client = app.test_client()
    for _ in range(5):
        attempt(client, "pm", "wrong")
    page = attempt(client, "pm", "wrong").get_data(as_text=True)
    assert "请在 09:00:01（1 秒后）再试" in page  # 01:00:01 UTC is 09:00:01 in China
    client.get("/lang/en")
    assert "Try again at 09:00:01 (in 1 s)" in attempt(client, "pm", "wrong").get_data(as_text=True)


def test_a_success_clears_the_names_count(app, clock):
    client = app.test_client()
    for _ in range(4):
        attempt(client, "pm", "wrong")
    assert attempt(client, "pm", PASSWORDS["pm"]).status_code == 302
    client = app.test_client()
    for _ in range(4):
        assert attempt(client, "pm", "wrong").status_code == 200
    assert attempt(client, "pm", PASSWORDS["pm"]).status_code == 302  # 8 failures, never 5 in a row


def test_failures_an_hour_old_are_forgiven(app, clock):
    client = app.test_client()
    for _ in range(4):
        attempt(client, "pm", "wrong")
    clock.advance(credentials.WINDOW.total_seconds() + 1)
    for _ in range(4):
        assert attempt(client, "pm", "wrong").status_code == 200
    assert attempt(client, "pm", PASSWORDS["pm"]).status_code == 302


def test_rows_quiet_for_the_window_are_deleted(app, session, clock):
    client = app.test_client()
    attempt(client, "invented-name", "x")
    clock.advance(credentials.WINDOW.total_seconds() + 1)
    attempt(from_address(app, "198.51.100.3"), "pm", "wrong")
    session.expire_all()
    assert set(session.scalars(select(LoginThrottle.key))) == {"user:pm", "addr:198.51.100.3"}


def test_an_address_trying_many_names_is_throttled_and_others_are_not(app, clock):
    attacker = from_address(app, "203.0.113.7")
    for n in range(credentials.FREE_FAILURES["addr"]):
        assert attempt(attacker, f"guess{n}", "x").status_code == 200
    assert attempt(attacker, "pm", PASSWORDS["pm"]).status_code == 429  # a new name does not help
    assert attempt(from_address(app, "198.51.100.2"), "pm", PASSWORDS["pm"]).status_code == 302


def test_api_basic_is_throttled_with_429_and_retry_after(app, clock):
    client = app.test_client()
    for _ in range(5):
        assert client.get("/api/v1/products", headers=basic("regulator", "wrong")).status_code == 401
    response = client.get("/api/v1/products", headers=basic("regulator", PASSWORDS["regulator"]))
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert "登录失败次数过多" in response.get_json()["error"]
    clock.advance(1)
    assert client.get("/api/v1/products", headers=basic("regulator", PASSWORDS["regulator"])).status_code == 200


def test_the_web_and_the_api_share_one_count(app, clock):
    client = app.test_client()
    for _ in range(3):
        client.get("/api/v1/products", headers=basic("pm", "wrong"))
    for _ in range(2):
        attempt(client, "pm", "wrong")
    assert attempt(client, "pm", PASSWORDS["pm"]).status_code == 429


def test_processes_share_the_count_through_the_database(app, make_app, clock):
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        other = make_app(DATABASE_URL=app.config["DATABASE_URL"], IMPORT_PRODUCTS=False)
    else:
        other = make_app(IMPORT_PRODUCTS=False)  # a second app on the same file: another process's view
    for _ in range(5):
        attempt(app.test_client(), "pm", "wrong")
    assert attempt(other.test_client(), "pm", PASSWORDS["pm"]).status_code == 429


def test_failed_and_throttled_logins_are_audited_with_name_address_and_reason(app, session, clock):
    client = from_address(app, "203.0.113.9")
    attempt(client, "nobody", "x")
    for _ in range(5):
        attempt(client, "pm", "wrong")
    client.get("/api/v1/products", headers=basic("pm", "wrong"))  # blocked by now
    from_address(app, "203.0.113.10").get("/api/v1/products", headers=basic("reviewer", "wrong"))
    failed = events(session, "user.login_failed")
    assert [(e.username, e.object_id, e.after["address"], e.after["via"], e.after["reason"]) for e in failed] == (
        [("anonymous", "nobody", "203.0.113.9", "web", "unknown user")]
        + [("anonymous", "pm", "203.0.113.9", "web", "wrong password")] * 5
        + [("anonymous", "reviewer", "203.0.113.10", "api", "wrong password")])
    throttled = events(session, "user.login_throttled")
    assert [(e.object_id, e.after["via"], e.after["address"]) for e in throttled] == [("pm", "api", "203.0.113.9")]


# ── the same work for every name ───────────────────────────────────────────────────────────────

@pytest.fixture
def hashing(monkeypatch):
    """Every key derivation werkzeug runs (pbkdf2 or scrypt), with its cost parameters."""
    calls = []
    real_pbkdf2, real_scrypt = hashlib.pbkdf2_hmac, hashlib.scrypt

    def pbkdf2(name, password, salt, iterations, *args):
        calls.append(("pbkdf2", name, iterations))
        return real_pbkdf2(name, password, salt, iterations, *args)

    def scrypt(password, *, salt, n, r, p, maxmem=0, dklen=64):
        calls.append(("scrypt", n, r, p))
        return real_scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", pbkdf2)
    monkeypatch.setattr(hashlib, "scrypt", scrypt)
    return calls


def _work(client, hashing, username: str, via: str) -> list:
    if via == "web":
        token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
        hashing.clear()
        client.post("/login", data={"username": username, "password": "wrong", "csrf_token": token})
    else:
        hashing.clear()
        client.get("/api/v1/products", headers=basic(username, "wrong"))
    return list(hashing)


@pytest.mark.parametrize("via", ["web", "api"])
def test_unknown_inactive_and_known_names_cost_the_same_hashing(app, session, hashing, via):
    session.scalar(select(User).where(User.username == "pm2")).active = False
    session.commit()
    client = app.test_client()
    known, unknown, inactive = (_work(client, hashing, name, via) for name in ("pm", "no-such-user", "pm2"))
    assert known == unknown == inactive == [("pbkdf2", "sha256", 1000)]


def test_with_scrypt_an_unknown_name_is_checked_against_a_dummy_scrypt_hash(make_app, hashing):
    app = make_app(PASSWORD_HASH_METHOD="scrypt", IMPORT_PRODUCTS=False)
    client = app.test_client()
    known, unknown = _work(client, hashing, "pm", "web"), _work(client, hashing, "no-such-user", "web")
    assert known == unknown == [("scrypt", 2 ** 15, 8, 1)]
    assert credentials.dummy_hash("scrypt").startswith("scrypt:")


# ── sessions end on the server ─────────────────────────────────────────────────────────────────

def _copy_session(source: FlaskClient, app) -> FlaskClient:
    copy = app.test_client()
    copy.set_cookie("session", source.get_cookie("session").value)
    return copy


def test_logout_ends_every_copy_of_the_session(app):
    pm = Browser(app, "pm")
    stolen = _copy_session(pm.client, app)
    assert stolen.get("/").status_code == 200  # the copy works while the session lives
    assert pm.post("/logout").status_code == 302
    response = stolen.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("change", ["password", "role"])
def test_a_password_or_role_change_ends_the_users_sessions(app, session, change):
    reviewer = Browser(app, "reviewer")
    other_browser = login(app.test_client(), "reviewer")
    user = session.scalar(select(User).where(User.username == "reviewer"))
    if change == "password":
        user.set_password("a new one", "pbkdf2:sha256:1000")
    else:
        user.role = "regulator"
    session.commit()
    for client in (reviewer.client, other_browser):
        assert client.get("/").status_code == 302
    if change == "password":
        assert attempt(app.test_client(), "reviewer", "a new one").status_code == 302


def test_other_changes_keep_the_session(app, session):
    pm = Browser(app, "pm")
    user = session.scalar(select(User).where(User.username == "pm"))
    user.role = user.role  # the same role again
    user.display_name = "王敏敏"
    session.commit()
    assert pm.get("/").status_code == 200


def test_a_session_of_another_users_generation_is_refused(app):
    pm = Browser(app, "pm")
    assert pm.get("/").status_code == 200
    with pm.client.session_transaction() as cookie:
        user_id, _sep, generation = cookie["_user_id"].partition(":")
        cookie["_user_id"] = user_id  # an old-style cookie without a generation
    assert pm.get("/").status_code == 302


# ── Origin ─────────────────────────────────────────────────────────────────────────────────────

def test_a_post_from_another_site_is_refused_and_audited(app, session):
    pm = Browser(app, "pm")
    response = pm.post("/products/xianhuibao/next-draft", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "不是从本站页面发出的" in response.get_data(as_text=True)
    assert version_row(session, "xianhuibao", "2024") is None  # no draft was made
    refused = events(session, "request.refused")[-1]
    assert (refused.username, refused.object_id) == ("pm", "POST /products/xianhuibao/next-draft")
    assert "https://evil.example" in refused.after["reason"] and refused.after["status"] == 403


@pytest.mark.parametrize("headers, status", [
    ({"Origin": "http://localhost"}, 302),
    ({"Origin": "http://localhost:8080"}, 403),  # another port is another origin
    ({"Origin": "https://localhost"}, 403),  # and another scheme
    ({"Origin": "null"}, 403),  # a sandboxed frame or a data: page
    ({"Origin": "", "Referer": "http://localhost/versions/1"}, 302),  # no Origin: the Referer's origin counts
    ({"Origin": "", "Referer": "http://evil.example/localhost/"}, 403),
    ({"Origin": ""}, 403),  # a browser form always names one; nothing at all is refused
])
def test_origin_or_referer_must_be_this_site(app, headers, status):
    pm = Browser(app, "pm")
    pm.client.environ_base.pop("HTTP_ORIGIN")
    headers = {k: v for k, v in headers.items() if v}
    assert pm.post("/products/xianhuibao/next-draft", headers=headers).status_code == status


def test_the_login_form_checks_origin_too(app):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "pm", "password": PASSWORDS["pm"], "csrf_token": token},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and client.get("/").status_code == 302


def test_api_scripts_without_origin_pass_but_a_foreign_origin_is_refused(app):
    client = app.test_client()
    client.environ_base.pop("HTTP_ORIGIN")
    body = {"yaml": "a: 1"}
    assert client.post("/api/v1/validate", json=body, headers=basic("pm", PASSWORDS["pm"])).status_code == 200
    foreign = client.post("/api/v1/validate", json=body,
                          headers={**basic("pm", PASSWORDS["pm"]), "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.get_json()["ok"] is False


def test_reads_need_no_origin(app):
    pm = Browser(app, "pm")
    pm.client.environ_base.pop("HTTP_ORIGIN")
    assert pm.get("/", headers={"Origin": "https://evil.example"}).status_code == 200


# ── Secure cookies ─────────────────────────────────────────────────────────────────────────────

def _login_cookie(app) -> str:
    client = app.test_client()
    response = attempt(client, "pm", PASSWORDS["pm"])
    return response.headers["Set-Cookie"]


def test_cookies_are_secure_when_served_over_https(make_app):
    assert "Secure" not in _login_cookie(make_app(IMPORT_PRODUCTS=False))
    https = make_app(IMPORT_PRODUCTS=False, PREFERRED_URL_SCHEME="https")
    assert https.config["SESSION_COOKIE_SECURE"] is True
    assert "; Secure" in _login_cookie(https)
    forced_off = make_app(IMPORT_PRODUCTS=False, PREFERRED_URL_SCHEME="https", SECURE_COOKIES=False)
    assert forced_off.config["SESSION_COOKIE_SECURE"] is False


def test_secure_cookies_from_the_environment(monkeypatch):
    monkeypatch.setenv("HMB_SECURE_COOKIES", "1")
    assert defaults()["SECURE_COOKIES"] is True
    monkeypatch.setenv("HMB_SECURE_COOKIES", "0")
    assert defaults()["SECURE_COOKIES"] is False
    monkeypatch.delenv("HMB_SECURE_COOKIES")
    monkeypatch.setenv("HMB_URL_SCHEME", "https")
    assert defaults()["SECURE_COOKIES"] is None and defaults()["PREFERRED_URL_SCHEME"] == "https"


# ── refusals in the audit log ──────────────────────────────────────────────────────────────────

def test_a_refused_role_is_audited_with_the_permission(app, session):
    regulator = from_address(app, "192.0.2.5")
    login(regulator, "regulator")
    token = TOKEN.search(regulator.get("/").get_data(as_text=True)).group(1)
    assert regulator.post("/products/xianhuibao/next-draft", data={"csrf_token": token}).status_code == 403
    event = events(session, "request.refused")[-1]
    assert (event.username, event.object_id, event.after) == (
        "regulator", "POST /products/xianhuibao/next-draft",
        {"status": 403, "address": "192.0.2.5", "reason": "permission draft.create"})


def test_a_conflict_is_audited_with_its_reason(app, session, draft):
    pm = Browser(app, "pm")
    response = pm.post(f"/versions/{draft.id}/edit", {"yaml_text": draft.yaml_text, "row_version": 99})
    assert response.status_code == 409
    event = events(session, "request.refused")[-1]
    assert event.username == "pm" and event.after["status"] == 409 and event.object_id.endswith("/edit")
    assert event.after["reason"] and event.after["reason"] != "409 CONFLICT"


def test_api_refusals_are_audited_with_the_api_user(app, session):
    client = app.test_client()
    response = client.post("/api/v1/products/xianhuibao/drafts", headers=basic("regulator", PASSWORDS["regulator"]))
    assert response.status_code == 403
    event = events(session, "request.refused")[-1]
    assert (event.username, event.object_id) == ("regulator", "POST /api/v1/products/xianhuibao/drafts")
    assert event.after["reason"] == response.get_json()["error"]
