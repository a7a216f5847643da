"""Login required, roles enforced, CSRF on every form, safe cookies."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from admin_ui.models import AuditEvent

from .conftest import TOKEN, Browser, version_row

PAGES = ["/", "/versions/1", "/versions/1/yaml", "/versions/1/simulate", "/audit"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_needs_a_login(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_posts_need_a_login_too(app):
    client = app.test_client()
    client.get("/login")
    assert client.post("/api/validate", json={"yaml": "a: 1"}).status_code in (400, 401)
    app.config["WTF_CSRF_ENABLED"] = False  # even without CSRF in the way, the login check refuses
    try:
        for url in ("/products/xianhuibao/next-draft", "/versions/1/approve", "/versions/1/edit"):
            response = client.post(url, json={"yaml": "a: 1"})
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        response = client.post("/api/validate", json={"yaml": "a: 1"})
        assert response.status_code == 401 and response.get_json()["ok"] is False
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


def test_wrong_password_is_refused_and_logged(app, session):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "pm", "password": "nope", "csrf_token": token})
    assert response.status_code == 200 and "用户名或密码不正确" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.login_failed")).all()
    assert [e.object_id for e in failed] == ["pm"]


def test_passwords_are_hashed(session):
    from admin_ui.config import defaults
    from admin_ui.models import User
    assert defaults()["PASSWORD_HASH_METHOD"] == "scrypt"  # the tests' cheap method is theirs alone
    user = session.scalar(select(User).where(User.username == "pm"))
    assert "pm-demo" not in user.password_hash and user.check_password("pm-demo")


def test_roles(app, session):
    regulator, pm, reviewer = Browser(app, "regulator"), Browser(app, "pm"), Browser(app, "reviewer")
    assert regulator.get("/versions/1").status_code == 200
    assert regulator.get("/versions/1/simulate").status_code == 200
    assert regulator.get("/audit").status_code == 200
    assert regulator.post("/products/xianhuibao/next-draft").status_code == 403
    assert reviewer.post("/products/xianhuibao/next-draft").status_code == 403
    assert pm.get("/audit").status_code == 403
    assert pm.post("/products/xianhuibao/next-draft").status_code == 302
    draft = version_row(session, "xianhuibao", "2024")
    assert reviewer.get(f"/versions/{draft.id}/edit").status_code == 403
    assert regulator.post(f"/versions/{draft.id}/edit", {"yaml_text": "x", "row_version": 1}).status_code == 403
    assert regulator.post(f"/versions/{draft.id}/submit", {"row_version": 1}).status_code == 403
    assert pm.post("/versions/1/approve", {"row_version": 1, "effective_from": "2023-01-01",
                                           "effective_to": "2023-12-31"}).status_code == 403
    assert pm.post("/versions/1/retire", {"row_version": 1}).status_code == 403
    assert reviewer.post("/versions/1/retire", {"row_version": 1}).status_code == 403
    page = regulator.get("/").get_data(as_text=True)
    assert "建立下一年度草稿" not in page  # the button is not offered to a role that may not use it


def test_csrf_refuses_a_post_without_token(app, session):
    pm = Browser(app, "pm")
    response = pm.client.post("/products/xianhuibao/next-draft", data={})
    assert response.status_code == 400
    assert version_row(session, "xianhuibao", "2024") is None
    assert pm.client.post("/api/validate", json={"yaml": "a: 1"}).status_code == 400  # fetch must send X-CSRFToken
    assert pm.validate("a: 1").status_code == 200
    bad = pm.client.post("/products/xianhuibao/next-draft", data={"csrf_token": "forged"})
    assert bad.status_code == 400


def test_login_form_needs_the_token(app):
    client = app.test_client()
    response = client.post("/login", data={"username": "pm", "password": "pm-demo"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_session_cookie_is_httponly_and_lax(app):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "pm", "password": "pm-demo", "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_does_not_redirect_off_site(app):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login?next=//evil.example/x", data={"username": "pm", "password": "pm-demo",
                                                                  "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_logout_is_a_post_with_token(app):
    pm = Browser(app, "pm")
    assert pm.client.get("/logout").status_code == 405
    assert pm.post("/logout").status_code == 302
    assert pm.get("/").status_code == 302
