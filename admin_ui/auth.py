"""Login (Flask-Login), the language switch, and the role check used by every blueprint.

The session names its user as "<id>:<session generation>" (User.get_id). Logout, a new password and a new
role raise the generation, so every copy of an older session cookie stops working at its next request.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user

from . import audit
from .api_errors import envelope
from .credentials import Throttled, authenticate
from .db import db
from .guard import refused
from .i18n import LANGUAGES, _
from .models import User
from .services import can

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = None  # the login page says it already


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _sep, generation = session_id.partition(":")
    user = db().get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or generation != str(user.session_generation):
        return None  # a session of before the last logout, password or role change: over
    return user


@login_manager.unauthorized_handler
def unauthorized():
    # The editor's fetch needs a JSON answer it can show, not the login page's HTML.
    if request.path.startswith("/api/"):
        return envelope(401, _("请先登录"))  # the one error envelope of everything under /api/
    return redirect(url_for("auth.login", next=request.full_path))


def requires(permission: str):
    """Login required, then the permission (services.PERMISSIONS) — 403 otherwise."""
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not can(current_user, permission):
                refused(f"permission {permission}")
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
        try:
            user = authenticate(db(), request.form.get("username", "").strip(), request.form.get("password", ""),
                                request.remote_addr, via="web")
        except Throttled as blocked:
            flash(blocked.message(), "error")
            return render_template("login.html"), 429, {"Retry-After": str(blocked.retry_after)}
        if user is not None:
            login_user(user)
            session.permanent = False
            audit.record(db(), user, "user.login", "user", user.username, after={"address": request.remote_addr})
            db().commit()
            return redirect(_safe_next(request.args.get("next")))
        flash(_("用户名或密码不正确"), "error")
    return render_template("login.html")


@bp.post("/logout")
@login_required
def logout():
    user = db().get(User, current_user.id)
    user.end_sessions()  # every copy of this session, wherever it was copied to, ends now
    audit.record(db(), user, "user.logout", "user", user.username)
    db().commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))
