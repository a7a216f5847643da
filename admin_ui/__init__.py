"""The admin web application for 惠民保 schemes: create_app(config) builds it (Flask app factory).

On creation it migrates the database (Alembic), creates the demo users if asked, and imports
products/*.yaml as published versions; `python -m admin_ui` then serves it.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, g, render_template, request
from flask_babel import Babel
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from engine.money import format_yuan, yuan_to_fen

from . import db as database
from . import jobs
from .api_errors import API_PREFIX, envelope
from .config import defaults
from .guard import refused
from .i18n import (LANGUAGES, N_, _, action_label, current_language, legacy_label, path_label, role_label,
                   status_label)
from .paths import instance_path
from .services import as_utc, can

csrf = CSRFProtect()
# configure_jinja=False: templates call our `_` (registered below: str.format placeholders, like the Python
# code) and nothing else; Flask-Babel's would add jinja2.ext.i18n, a second `_` and {% trans %} with %-style.
babel = Babel(configure_jinja=False)
CHINA = ZoneInfo("Asia/Shanghai")


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(instance_path()))
    app.config.update(defaults())
    app.config.update(config or {})
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or _instance_secret(Path(app.instance_path))
    _secure_cookies(app)
    if not app.config["DATABASE_URL"]:
        _instance_folder(Path(app.instance_path))
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'hmb-admin.db'}"
    database.init_app(app, app.config["DATABASE_URL"])
    jobs.init_app(app)
    csrf.init_app(app)
    # translations/ beside this file (Flask-Babel's default directory); i18n.py says how strings get there.
    babel.init_app(app, default_locale=app.config["DEFAULT_LANGUAGE"], locale_selector=current_language)
    _register(app)
    with app.app_context():
        from .startup import prepare
        prepare(app)
    return app


def _secure_cookies(app: Flask) -> None:
    """Cookies only over HTTPS when the app is served over HTTPS (SECURE_COOKIES, else PREFERRED_URL_SCHEME)."""
    secure = app.config["SECURE_COOKIES"]
    if secure is None:
        secure = app.config["PREFERRED_URL_SCHEME"] == "https"
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = secure


def _instance_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# the admin's database and secret key: never commit\n*\n", encoding="utf-8")
    return path


def _instance_secret(path: Path) -> str:
    """A random key kept in the instance folder, so sessions survive a restart (HMB_SECRET_KEY overrides)."""
    file = _instance_folder(path) / "secret_key"
    if not file.exists():
        file.write_text(secrets.token_hex(32), encoding="utf-8")
        file.chmod(0o600)
    return file.read_text(encoding="utf-8").strip()


def _register(app: Flask) -> None:
    from . import (api, api_errors, audit_log, auth, backtests, catalogue, changes, compare, credentials, editor, files,
                   guard, review, simulator, tokens, whatif, workflow)

    auth.login_manager.init_app(app)
    guard.init_app(app)
    credentials.dummy_hash(app.config["PASSWORD_HASH_METHOD"])  # made now, so no first unknown name pays for it
    for module in (auth, catalogue, editor, workflow, simulator, compare, changes, backtests, audit_log, files, review,
                   tokens, whatif, api):
        app.register_blueprint(module.bp)
    csrf.exempt(api.bp)  # bearer tokens only there, never the session cookie: see api.py
    api_errors.init_app(app)
    app.cli.add_command(tokens.cli)
    app.jinja_env.globals.update(_=_, can=lambda permission: can(current_user, permission),
                                 status_label=status_label, role_label=role_label, action_label=action_label,
                                 path_label=path_label, legacy_label=legacy_label, LANGUAGES=LANGUAGES,
                                 current_language=current_language)
    app.jinja_env.filters["yuan"] = lambda fen: format_yuan(int(fen)) if fen is not None else ""
    app.jinja_env.filters["yuan_text"] = lambda yuan: format_yuan(yuan_to_fen(yuan))  # "54509" → "54,509.00"
    app.jinja_env.filters["pretty"] = _pretty
    # as_utc: SQLite returns stored UTC times without their zone; astimezone would take them for server-local.
    app.jinja_env.filters["local"] = lambda dt, seconds=False: as_utc(dt).astimezone(CHINA).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") if dt else ""

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("error.html", code=400, message=_("表单已过期或缺少安全令牌，请刷新页面后重试。")), 400

    for code, message in ((403, N_("您的角色无权进行此操作。")), (404, N_("页面不存在。")),
                          (409, N_("该版本的状态或内容已变化。"))):
        app.register_error_handler(code, _error_page(code, message))

    @app.after_request
    def security_headers(response):
        # Everything is served from here (no CDN): a strict policy costs nothing and blocks injected scripts.
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; style-src 'self'; "
                                    "img-src 'self' data:; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _pretty(value, drop: tuple = ()) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in drop}
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def _error_page(code: int, message: str):
    def handler(error):
        if not g.get("refusal_reason"):
            refused(error.description)
        if request.path.startswith(API_PREFIX):
            return envelope(code)
        return render_template("error.html", code=code, message=_(message)), code
    return handler
