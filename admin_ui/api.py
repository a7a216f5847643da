"""JSON API v1, described by OpenAPI 3.1 at /api/v1/openapi.json.

Machines authenticate with HTTP Basic (a user's name and password) on every request; the browser
session cookie is ignored here, which is why these routes may skip CSRF: a cross-site page cannot
make the browser send a Basic header of its choosing. Amounts are integer fen (`*_fen`); request
amounts are yuan as in the CLI, read as Decimal (never float). The routes call the same services as
the pages, so roles, four eyes, optimistic concurrency and the audit log apply unchanged.
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import wraps

from flask import Blueprint, g, request
from sqlalchemy import select

from engine import InputError
from engine.explain import describe_version

from . import services
from .credentials import Throttled, authenticate
from .db import db
from .guard import refused
from .models import Product, SchemeVersion, User
from .schemes import check_draft, text_digest

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    def __init__(self, status: int, message: str, issues: list | tuple = (), retry_after: int | None = None):
        super().__init__(message)
        self.status, self.message, self.issues, self.retry_after = status, message, list(issues), retry_after


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    refused(exc.message)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return {"ok": False, "error": exc.message, "issues": exc.issues}, exc.status, headers


@bp.errorhandler(services.WorkflowError)
def _workflow_error(exc: services.WorkflowError):
    db().rollback()
    refused(exc.message)
    return {"ok": False, "error": exc.message, "issues": list(exc.issues)}, exc.status


def _basic_user() -> User | None:
    """The user of the request's Basic credentials (throttled and audited: credentials.authenticate)."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return None
    try:
        return authenticate(db(), auth.username, auth.password or "", request.remote_addr, via="api")
    except Throttled as blocked:
        raise ApiError(429, blocked.message(), retry_after=blocked.retry_after) from None


def api_route(rule: str, permission: str, methods=("GET",)):
    """Route + Basic authentication + permission; the user is `g.api_user`."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = _basic_user()
            if user is None:
                return ({"ok": False, "error": "需要用户名和密码（HTTP Basic）"}, 401,
                        {"WWW-Authenticate": 'Basic realm="hmb-admin", charset="UTF-8"'})
            g.api_user = user  # before the permission check: a refusal is audited under this user
            if not services.can(user, permission):
                raise ApiError(403, "您的角色无权进行此操作")
            return view(*args, **kwargs)
        return bp.route(rule, methods=list(methods))(wrapped)
    return decorate


def _body() -> dict:
    try:
        data = json.loads(request.get_data(as_text=True) or "null", parse_float=Decimal)  # money stays exact
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"JSON 格式错误：{exc.msg}（第 {exc.lineno} 行第 {exc.colno} 列）") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "请求体应是一个 JSON 对象")
    return data


def _row(row_id: int) -> SchemeVersion:
    row = db().get(SchemeVersion, row_id)
    if row is None:
        raise ApiError(404, "没有这个版本")
    return row


def _engine_version(row: SchemeVersion):
    check = services.check_stored(row)
    if not check.ok:
        raise ApiError(422, "该版本未通过校验", check.issues)
    return check.version


def version_summary(row: SchemeVersion) -> dict:
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"id": row.id, "key": row.key, "product": row.product_id, "version": row.version_id, "name": row.name,
            "status": row.status, "content_hash": row.content_hash, "row_version": row.row_version,
            "period": [iso(row.period_start), iso(row.period_end)],
            "effective": [iso(row.effective_from), iso(row.effective_to)], "origin": row.origin,
            "review_comment": row.review_comment}


def _input_issues(exc: InputError) -> list[dict]:
    return [{"line": i.line, "column": i.column, "path": i.where, "code": i.code, "message": i.message}
            for i in exc.issues]


# ── read ──────────────────────────────────────────────────────────────────────────────────────

@api_route("/products", "view")
def products():
    rows = db().scalars(select(Product).order_by(Product.id)).all()
    return {"products": [{"id": p.id, "name": p.name, "city": p.city, "region": p.region,
                          "versions": [version_summary(v) for v in p.versions]} for p in rows]}


@api_route("/versions/<int:row_id>", "view")
def version(row_id: int):
    row = _row(row_id)
    check = services.check_stored(row)
    return {**version_summary(row), "valid": check.ok, "issues": list(check.issues),
            "explained": describe_version(check.version) if check.ok else None}


@api_route("/versions/<int:row_id>/yaml", "view")
def version_yaml(row_id: int):
    row = _row(row_id)
    return row.yaml_text, 200, {"Content-Type": "text/plain; charset=utf-8", "ETag": f'"{row.row_version}"'}


@api_route("/validate", "view", methods=("POST",))
def validate():
    data = _body()
    if not isinstance(data.get("yaml"), str):
        raise ApiError(400, "请求中应有 yaml 文本")
    result = check_draft(data["yaml"])
    return {"ok": result.ok, "issues": list(result.issues), "digest": text_digest(data["yaml"]),
            "content_hash": result.version.content_hash if result.ok and result.version else None}


# ── evaluate ──────────────────────────────────────────────────────────────────────────────────

@api_route("/versions/<int:row_id>/quote", "simulate", methods=("POST",))
def quote_person(row_id: int):
    row = _row(row_id)
    _engine_version(row)  # 422 with the issues when it does not validate
    try:
        return {"ok": True, **services.evaluate_stored(row, "quote", _body())}
    except InputError as exc:
        raise ApiError(422, "参保人信息有误", _input_issues(exc)) from exc


@api_route("/versions/<int:row_id>/adjudicate", "simulate", methods=("POST",))
def adjudicate_claim(row_id: int):
    """One claim, with empty accumulators (a simulation: nothing is settled or stored)."""
    row = _row(row_id)
    _engine_version(row)
    try:
        return {"ok": True, **services.evaluate_stored(row, "adjudicate", _body())}
    except InputError as exc:
        raise ApiError(422, "理赔信息有误", _input_issues(exc)) from exc


# ── which rules applied to a claim dated D, as known on K ──────────────────────────────────────

def _query_date(name: str, required: bool = True) -> date | None:
    value = request.args.get(name, "")
    if not value and not required:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(400, f"{name} 应为 YYYY-MM-DD") from exc


@api_route("/products/<product_id>/rules-in-force", "view")
def rules_in_force(product_id: str):
    """?claim_date=D&known_on=K (K defaults to now): the version published by K whose effective period holds D."""
    known_on = _query_date("known_on", required=False) or services.utcnow()
    answer = services.explain_rules(db(), product_id, _query_date("claim_date"), known_on)

    def summary(row):
        iso = lambda t: services.as_utc(t).isoformat() if t else None  # noqa: E731
        return {**version_summary(row), "published_at": iso(row.published_at), "retired_at": iso(row.retired_at),
                "retired_as_of_known_on": answer.retired(row)}

    return {"ok": True, "product": product_id, "claim_date": answer.claim_date.isoformat(),
            "known_on": answer.known_on.isoformat(), "known_by": answer.cutoff.isoformat(),
            "version": summary(answer.version) if answer.version else None,
            "superseded": [summary(r) for r in answer.superseded],
            "published_later": [summary(r) for r in answer.published_later]}


@api_route("/compare", "view")
def compare_versions():
    """Versions side by side (?v=row id, repeated): JSON with amounts in fen, or ?format=xlsx|csv as the page's download."""
    from . import comparison as comparing

    ids = request.args.getlist("v")
    if not ids or not all(i.isdigit() for i in ids):
        raise ApiError(400, "需要 v（版本编号，可重复，如 ?v=1&v=2）")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv", "xlsx"):
        raise ApiError(400, "format 应为 json、csv 或 xlsx")
    rows = [_row(int(i)) for i in dict.fromkeys(ids)]
    for row in rows:
        _engine_version(row)  # 422 with the issues when one does not validate
    columns, _broken = comparing.columns_of(rows)
    result = comparing.comparison(columns)
    if fmt == "xlsx":
        return comparing.comparison_xlsx(columns, result)
    if fmt == "csv":
        return comparing.comparison_csv(columns, result)
    return {"ok": True, **result, "versions": [{**entry, "id": row.id, "status": row.status}
                                                for entry, row in zip(result["versions"], rows)]}


# ── write: the same workflow as the pages ─────────────────────────────────────────────────────

def _row_version(data: dict) -> int:
    value = data.get("row_version")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, "需要 row_version（整数，读取版本时得到的行版本）")
    return value


@api_route("/products/<product_id>/drafts", "draft.create", methods=("POST",))
def create_draft(product_id: str):
    row = services.create_next_draft(db(), g.api_user, product_id)
    return version_summary(row), 201


@api_route("/versions/<int:row_id>/yaml", "draft.edit", methods=("PUT",))
def save_yaml(row_id: int):
    data = _body()
    if not isinstance(data.get("yaml"), str):
        raise ApiError(400, "请求中应有 yaml 文本")
    row, result = services.save_draft(db(), g.api_user, row_id, data["yaml"], _row_version(data))
    return {**version_summary(row), "issues": list(result.issues)}


@api_route("/versions/<int:row_id>/submit", "draft.submit", methods=("POST",))
def submit(row_id: int):
    return version_summary(services.submit_for_review(db(), g.api_user, row_id, _row_version(_body())))


@api_route("/versions/<int:row_id>/approve", "review", methods=("POST",))
def approve(row_id: int):
    data = _body()
    try:
        start, end = date.fromisoformat(data.get("effective_from", "")), date.fromisoformat(data.get("effective_to", ""))
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "effective_from / effective_to 应为 YYYY-MM-DD") from exc
    row = services.approve(db(), g.api_user, row_id, _row_version(data), start, end, str(data.get("comment", "")))
    return version_summary(row)


@api_route("/versions/<int:row_id>/send-back", "review", methods=("POST",))
def send_back(row_id: int):
    data = _body()
    return version_summary(services.send_back(db(), g.api_user, row_id, _row_version(data),
                                              str(data.get("comment", ""))))


@api_route("/versions/<int:row_id>/retire", "retire", methods=("POST",))
def retire(row_id: int):
    data = _body()
    return version_summary(services.retire(db(), g.api_user, row_id, _row_version(data),
                                           str(data.get("comment", ""))))


@bp.get("/openapi.json")
def openapi():
    from .openapi import document

    return document()
