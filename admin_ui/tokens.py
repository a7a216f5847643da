"""API tokens: how machines (an insurer's or a regulator's system) authenticate to the JSON API.

An admin issues a token to a named integration with one role, for a number of days — on the page /tokens or
with `flask --app admin_ui tokens create NAME --role regulator --days 90`. The secret (256 random bits) is
shown once; the database keeps its SHA-256, which is enough to recognise it and useless to a reader of the
database. A token can be revoked; it expires by itself. Issuing, revoking and every refused token are audit
events; every accepted use sets `last_used_at`.

The integration acts as a user of its own, `api:NAME`, with the role and no usable password (it cannot log
in to the pages), so the audit log and the four-eyes rule treat its actions as anyone's.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .auth import requires
from .db import db
from .i18n import _
from .models import ROLES, ApiToken, User, utcnow
from .services import as_utc

PREFIX = "hmb_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,47}")  # fits users.username after "api:"
MAX_DAYS = 366  # a token outlives no budget year: it is re-issued, not forgotten
NO_PASSWORD = "!"  # not a werkzeug hash: no password ever matches it


class TokenError(ValueError):
    pass


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create(session: Session, by: User | None, name: str, role: str, days: int) -> tuple[ApiToken, str]:
    """A new token for integration `name` (created with `role` on its first token); the secret, once."""
    if not NAME.fullmatch(name):
        raise TokenError(_("集成名称只能包含字母、数字、点、下划线和连字符（最多 48 个字符）"))
    if role not in ROLES:
        raise TokenError(_("没有这个角色：{role}", role=role))
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(_("有效天数应在 1 到 {n} 之间", n=MAX_DAYS))
    user = _integration_user(session, name, role)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, secret_sha256=digest(secret), prefix=secret[:12], created_by=by.id if by else None,
                     expires_at=utcnow() + timedelta(days=days))
    session.add(token)
    session.flush()
    audit.record(session, by, "api_token.create", "api_token", f"{user.username}#{token.id}", None, describe(token))
    session.commit()
    return token, secret


def _integration_user(session: Session, name: str, role: str) -> User:
    username = f"api:{name}"
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, display_name=name, role=role, password_hash=NO_PASSWORD)
        session.add(user)
    elif user.role != role:
        raise TokenError(_("集成 {name} 的角色是 {role}；换角色请用新的集成名称", name=name, role=user.role))
    return user


def revoke(session: Session, by: User | None, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise TokenError(_("没有这个令牌"))
    if token.revoked_at is None:
        before = describe(token)
        token.revoked_at = utcnow()
        audit.record(session, by, "api_token.revoke", "api_token", f"{token.user.username}#{token.id}", before,
                     describe(token))
        session.commit()
    return token


def authenticate(session: Session, secret: str) -> tuple[User | None, str]:
    """The integration's user for a presented secret, or None and why; a refusal is audited, a use recorded."""
    token = session.scalar(select(ApiToken).where(ApiToken.secret_sha256 == digest(secret)))
    now = utcnow()
    reason = ("unknown" if token is None else "revoked" if token.revoked_at is not None
              else "expired" if as_utc(token.expires_at) <= now else "inactive" if not token.user.active else "")
    if reason:
        object_id = f"{token.user.username}#{token.id}" if token else secret[:12]
        audit.record(session, None, "api_token.refused", "api_token", object_id, comment=reason, actor=audit.ANONYMOUS)
        session.commit()
        return None, reason
    token.last_used_at = now
    session.commit()
    return token.user, ""


def describe(token: ApiToken) -> dict:
    iso = lambda t: as_utc(t).isoformat() if t else None  # noqa: E731
    return {"id": token.id, "integration": token.user.display_name, "username": token.user.username,
            "role": token.user.role, "prefix": token.prefix, "created_at": iso(token.created_at),
            "expires_at": iso(token.expires_at), "revoked_at": iso(token.revoked_at),
            "last_used_at": iso(token.last_used_at)}


def listing(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


# ── the admin's page ──────────────────────────────────────────────────────────────────────────

bp = Blueprint("tokens", __name__)


@bp.route("/tokens", methods=["GET", "POST"])
@requires("tokens.manage")
def index():
    secret, form = None, {"name": "", "role": "regulator", "days": "90"}
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in form}
        try:
            _token, secret = create(db(), current_user, form["name"], form["role"],
                                    int(form["days"]) if form["days"].isdigit() else 0)
        except TokenError as exc:
            db().rollback()
            flash(str(exc), "error")
    # The secret is in this answer only: never stored, never redirected through a URL or the session.
    return render_template("tokens.html", tokens=listing(db()), secret=secret, form=form, roles=ROLES,
                           max_days=MAX_DAYS, now=utcnow(), as_utc=as_utc)


@bp.post("/tokens/<int(min=1, max=2147483647):token_id>/revoke")
@requires("tokens.manage")
def revoke_page(token_id: int):
    try:
        token = revoke(db(), current_user, token_id)
    except TokenError:
        abort(404)
    flash(_("令牌 {prefix}… 已撤销。", prefix=token.prefix), "ok")
    return redirect(url_for("tokens.index"))


# ── the command line: flask --app admin_ui tokens … ───────────────────────────────────────────

cli = AppGroup("tokens", help="API tokens for machines: create, list, revoke.")


@cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="the integration's role")
@click.option("--days", type=click.IntRange(1, MAX_DAYS), default=90, show_default=True, help="days until it expires")
@click.option("--json", "as_json", is_flag=True, help="print the token and its record as JSON")
def create_command(name: str, role: str, days: int, as_json: bool) -> None:
    """Create a token for integration NAME; the secret is printed once and never again."""
    try:
        token, secret = create(db(), None, name, role, days)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"token": secret, **describe(token)}, ensure_ascii=False))
    else:
        click.echo(secret)
        click.echo(f"# {token.user.username} ({role}), id {token.id}, expires {describe(token)['expires_at']}", err=True)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines")
def list_command(as_json: bool) -> None:
    """Every token, newest first (never the secrets: they are not kept)."""
    for token in listing(db()):
        record = describe(token)
        click.echo(json.dumps(record, ensure_ascii=False) if as_json else
                   f"{record['id']:>4}  {record['prefix']}…  {record['username']:<24} {record['role']:<16} "
                   f"expires {record['expires_at']}  revoked {record['revoked_at'] or '-'}  "
                   f"last used {record['last_used_at'] or '-'}")


@cli.command("revoke")
@click.argument("token_id", type=click.IntRange(1))
def revoke_command(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `tokens list`): refused from the next request on."""
    try:
        revoke(db(), None, token_id)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {token_id}")
