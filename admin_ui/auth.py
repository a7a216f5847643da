"""Login (Flask-Login), the language switch, and the role check used by every blueprint."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from sqlalchemy import select

from . import audit
from .db import db
from .i18n import LANGUAGES, _
from .models import User
from .services import can

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = None  # the login page says it already


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


@login_manager.unauthorized_handler
def unauthorized():
    # The editor's fetch needs a JSON answer it can show, not the login page's HTML.
    if request.path.startswith("/api/"):
        return {"ok": False, "error": _("请先登录")}, 401
    return redirect(url_for("auth.login", next=request.full_path))


def requires(permission: str):
    """Login required, then the permission (services.PERMISSIONS) — 403 otherwise."""
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not can(current_user, permission):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an open redirect would let a phishing link borrow our login page.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("catalogue.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("catalogue.index"))
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        user = db().scalar(select(User).where(User.username == username))
        if user is not None and user.active and user.check_password(request.form.get("password", "")):
            login_user(user)
            session.permanent = False
            audit.record(db(), user, "user.login", "user", user.username)
            db().commit()
            return redirect(_safe_next(request.args.get("next")))
        audit.record(db(), None, "user.login_failed", "user", username[:64])
        db().commit()
        flash(_("用户名或密码不正确"), "error")
    return render_template("login.html")


@bp.post("/logout")
@login_required
def logout():
    audit.record(db(), current_user, "user.logout", "user", current_user.username)
    db().commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))
