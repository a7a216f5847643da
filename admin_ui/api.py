"""JSON API v1 for machines; its OpenAPI 3.1 document, generated from these routes and `api_models`, is at
/api/v1/openapi.json. A client's guide: docs/api.md.

- Authentication: `Authorization: Bearer <token>` on every request (tokens.py), or a person's HTTP Basic
  through the login form's throttled check. The browser session cookie is ignored here, which is why these routes may skip CSRF: a cross-site page cannot make a browser send it.
- Requests are validated against the same models the document is generated from: a request that breaks the
  document is refused with 422 and one issue per field, before anything is read or written.
- Statuses: 422 means "the request breaks the document"; 409 means "well-formed, but the version's state or
  content refuses it" (a stale row_version, a status that does not allow the step, a text with issues, a claim
  outside the version's period…), with the engine's issues. Every error is one envelope (api_errors.py).
- Amounts are integer fen both ways. The routes call the same services as the pages, so roles, four eyes,
  optimistic concurrency and the audit log apply unchanged.
"""
from __future__ import annotations

import json
from functools import wraps

from flask import Blueprint, g, request
from werkzeug.routing import BaseConverter

from engine import InputError
from engine.explain import describe_version

from . import queries, services, tokens
from .api_errors import ApiError, api_error, envelope, unexpected_error
from .api_models import (MAX_ID, ApproveRequest, Claim, CompareQuery, Comparison, Person, Products, Quote, RetireRequest,
                         RowVersionRequest, RulesInForce, RulesQuery, SaveRequest, SendBackRequest, Settlement,
                         Validation, ValidateRequest, Version, VersionIssues, VersionSummary)
from .credentials import Throttled, authenticate
from .db import db
from .guard import refused
from .models import SchemeVersion
from .openapi import answers, document, link, spec
from .schemes import check_draft, text_digest

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ROW = "<row_id:row_id>"
PRODUCT = "<string(maxlength=64):product_id>"  # products.id is String(64)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hmb-admin", Basic realm="hmb-admin", charset="UTF-8"'}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RowIdConverter(BaseConverter):
    """A version's row id in a path. Any run of digits matches, and one beyond api_models.MAX_ID becomes 0, which
    names no row (404). Why not `int(min=1, max=…)`: a value it refuses makes Werkzeug answer a path that has
    another method's rule (GET and PUT …/yaml) with 405 instead of 404."""

    regex = r"\d+"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if 1 <= number <= MAX_ID else 0

    def to_url(self, value) -> str:
        return str(int(value))


bp.record_once(lambda state: state.app.url_map.converters.setdefault("row_id", RowIdConverter))
bp.register_error_handler(ApiError, api_error)
bp.register_error_handler(Exception, unexpected_error)  # logged with a reference; never a page or a trace


def api_route(rule: str, permission: str, methods=("GET",), *, ok: dict, errors: tuple = (), query=None,
              body=None, media: dict | None = None, links: dict | None = None):
    """Route + token + permission, then the request validated against its models; the user is `g.api_user`.

    Authentication comes first, so a client without a token learns nothing about what it sent.
    """
    def decorate(view):
        validated = spec.validate(query=query, json=body, resp=answers(
            ok, *errors, *((413, 415, 422) if body else ()), *((422,) if query else ()), media=media, links=links),
            # without a model to break, spectree's own "validation error" entry lands on 400 (already the envelope)
            validation_error_status=422 if query or body else 400, operation_id=view.__name__)(view)

        @wraps(validated)
        def wrapped(*args, **kwargs):
            g.api_user = _token_user()
            if not services.can(g.api_user, permission):
                raise ApiError(403)
            if body is not None:
                _json_body()
            return validated(*args, **kwargs)
        return bp.route(rule, methods=list(methods))(wrapped)
    return decorate


def _token_user():
    basic = request.authorization
    if basic is not None and basic.type == "basic" and basic.username:
        return _password_user(basic.username, basic.password or "")
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, headers=CHALLENGE)
    user, _reason = tokens.authenticate(db(), secret.strip())
    if user is None:
        raise ApiError(401, "令牌无效、已撤销或已过期",
                       headers={"WWW-Authenticate": 'Bearer realm="hmb-admin", error="invalid_token"'})
    return user


def _password_user(username: str, password: str):
    """A person's own script with HTTP Basic: the login form's check (credentials.authenticate), throttled and
    audited. Kept within v1 because v1 clients were built on it; machines use tokens (docs/api.md)."""
    try:
        user = authenticate(db(), username, password, request.remote_addr, via="api")
    except Throttled as blocked:
        raise ApiError(429, blocked.message(), headers={"Retry-After": str(blocked.retry_after)}) from None
    if user is None:
        raise ApiError(401, "用户名或密码不正确", headers=CHALLENGE)
    return user


def _json_body() -> None:
    """A body that is not JSON at all is a 415 or a 400 (with where the syntax breaks); its shape is the models'."""
    if not request.is_json:
        raise ApiError(415)
    try:
        json.loads(request.get_data(cache=True))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = {"line": exc.lineno, "column": exc.colno} if isinstance(exc, json.JSONDecodeError) else {}
        raise ApiError(400, "请求体不是合法的 JSON",
                       [{"code": "request.json", "message": str(exc), "path": "", "line": 0, "column": 0, **where}]) \
            from exc


@bp.errorhandler(services.WorkflowError)
def _workflow_error(exc: services.WorkflowError):
    """The services' refusals keep their status, but for Invalid: the request was well-formed, the version refused."""
    db().rollback()
    refused(exc.message)  # the reason of the audit event guard.py writes for a 403 or 409
    return envelope(409 if isinstance(exc, services.Invalid) else exc.status, exc.message, exc.issues)


def _row(row_id: int) -> SchemeVersion:
    row = db().get(SchemeVersion, row_id)
    if row is None:
        raise ApiError(404, "没有这个版本")
    return row


def valid_row(row_id: int) -> SchemeVersion:
    row = _row(row_id)
    check = services.check_stored(row)
    if not check.ok:
        raise ApiError(409, services.refusal(row), check.issues)
    return row


def version_summary(row: SchemeVersion) -> dict:
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"id": row.id, "key": row.key, "product": row.product_id, "version": row.version_id, "name": row.name,
            "status": row.status, "content_hash": row.content_hash, "row_version": row.row_version,
            "period": [iso(row.period_start), iso(row.period_end)],
            "effective": [iso(row.effective_from), iso(row.effective_to)], "origin": row.origin,
            "review_comment": row.review_comment}


def _evaluate(row_id: int, operation: str, data: dict, refusal: str) -> dict:
    row = valid_row(row_id)
    try:
        return {"ok": True, **services.evaluate_stored(row, operation, data)}
    except InputError as exc:  # well-formed, but not for this version (its period, its drug list, its payers…)
        raise ApiError(409, refusal, [{"line": i.line, "column": i.column, "path": i.where, "code": i.code,
                                       "message": i.message} for i in exc.issues]) from exc


# ── read ──────────────────────────────────────────────────────────────────────────────────────

# Links tell a stateful client (Schemathesis) where ids come from: a listed version, a new draft.
FIRST_VERSION, FIRST_PRODUCT = "$response.body#/products/0/versions/0/id", "$response.body#/products/0/id"


@api_route("/products", "view", ok={200: Products}, links={200: {
    "version": link("version", row_id=FIRST_VERSION), "yaml": link("version_yaml", row_id=FIRST_VERSION),
    "quote": link("quote_person", row_id=FIRST_VERSION), "adjudicate": link("adjudicate_claim", row_id=FIRST_VERSION),
    "rules": link("rules_in_force", product_id=FIRST_PRODUCT), "draft": link("create_draft", product_id=FIRST_PRODUCT),
    "review": link("api_review", row_id=FIRST_VERSION)}})
def products():
    """产品及其全部版本"""
    rows = queries.all_products(db())
    return {"products": [{"id": p.id, "name": p.name, "city": p.city, "region": p.region,
                          "versions": [version_summary(v) for v in p.versions]} for p in rows]}


@api_route(f"/versions/{ROW}", "view", ok={200: Version}, errors=(404,))
def version(row_id: int):
    """一个版本：元数据、校验结果和通俗解释"""
    row = _row(row_id)
    check = services.check_stored(row)
    return {**version_summary(row), "valid": check.ok, "legacy": services.is_legacy(row), "issues": list(check.issues),
            "explained": describe_version(check.version) if check.ok else None}


@api_route(f"/versions/{ROW}/yaml", "view", ok={200: (None, "方案文本（YAML）；ETag 为行版本")}, errors=(404,),
           media={200: {"text/plain": {"schema": {"type": "string"}}}})
def version_yaml(row_id: int):
    """版本的 YAML 全文"""
    row = _row(row_id)
    return row.yaml_text, 200, {"Content-Type": "text/plain; charset=utf-8", "ETag": f'"{row.row_version}"'}


@api_route("/validate", "view", methods=("POST",), ok={200: Validation}, body=ValidateRequest)
def validate(json: ValidateRequest):
    """引擎校验一段方案文本：逐条问题（行、列、路径）；文本有问题时 ok 为 false，状态仍是 200"""
    result = check_draft(json.yaml)
    return {"ok": result.ok, "issues": list(result.issues), "digest": text_digest(json.yaml),
            "content_hash": result.version.content_hash if result.ok and result.version else None}


# ── evaluate ──────────────────────────────────────────────────────────────────────────────────

@api_route(f"/versions/{ROW}/quote", "simulate", methods=("POST",), ok={200: Quote}, errors=(404, 409), body=Person)
def quote_person(row_id: int, json: Person):
    """报价：资格、档位、保费（分）和缴费方"""
    return _evaluate(row_id, "quote", json.engine_input(), "参保人信息不适用于该版本")


@api_route(f"/versions/{ROW}/adjudicate", "simulate", methods=("POST",), ok={200: Settlement}, errors=(404, 409),
           body=Claim)
def adjudicate_claim(row_id: int, json: Claim):
    """模拟理赔（空累计，不入账）：赔付金额（分）、按责任、支付链和每一步计算过程"""
    return _evaluate(row_id, "adjudicate", json.engine_input(), "理赔信息不适用于该版本")


# ── which rules applied to a claim dated D, as known on K ──────────────────────────────────────

@api_route(f"/products/{PRODUCT}/rules-in-force", "view", ok={200: RulesInForce}, errors=(404,), query=RulesQuery)
def rules_in_force(product_id: str, query: RulesQuery):
    """就诊日期 D 的理赔适用哪个版本（按 K 日所知）：K 日前已发布、生效期包含 D 的版本中最后发布的一个"""
    answer = services.explain_rules(db(), product_id, query.claim_date, query.known_on or services.utcnow())

    def summary(row):
        iso = lambda t: services.as_utc(t).isoformat() if t else None  # noqa: E731
        return {**version_summary(row), "published_at": iso(row.published_at), "retired_at": iso(row.retired_at),
                "retired_as_of_known_on": answer.retired(row)}

    return {"ok": True, "product": product_id, "claim_date": answer.claim_date.isoformat(),
            "known_on": answer.known_on.isoformat(), "known_by": answer.cutoff.isoformat(),
            "version": summary(answer.version) if answer.version else None,
            "superseded": [summary(r) for r in answer.superseded],
            "published_later": [summary(r) for r in answer.published_later]}


@api_route("/compare", "view", ok={200: (None, "比较结果：JSON（金额为分），或 format=csv / xlsx 时与页面相同的下载")},
           errors=(404, 409), query=CompareQuery, media={200: {
               "application/json": {"schema": Comparison.model_json_schema()},
               "text/csv": {"schema": {"type": "string", "description": "UTF-8（带 BOM），每个数值一行"}},
               XLSX: {"schema": {"type": "string", "contentMediaType": XLSX,
                                 "description": "工作表：参数、标准病例赔付、保费、收益曲线"}}}})
def compare_versions(query: CompareQuery):
    """并排比较版本：参数（含假设标记）、标准病例赔付、标准人群保费、收益曲线"""
    from . import comparison as comparing

    rows = [valid_row(i) for i in dict.fromkeys(query.v)]
    columns, _broken = comparing.columns_of(rows)
    result = comparing.comparison(columns)
    if query.format == "xlsx":
        return comparing.comparison_xlsx(columns, result)
    if query.format == "csv":
        return comparing.comparison_csv(columns, result)
    return {"ok": True, **result, "versions": [{**entry, "id": row.id, "status": row.status}
                                                for entry, row in zip(result["versions"], rows)]}


# ── write: the same workflow as the pages ─────────────────────────────────────────────────────

@api_route(f"/products/{PRODUCT}/drafts", "draft.create", methods=("POST",), ok={201: VersionSummary},
           errors=(404, 409), links={201: {name: link(operation, row_id="$response.body#/id") for name, operation in (
               ("version", "version"), ("save", "save_yaml"), ("submit", "submit"), ("quote", "quote_person"))}})
def create_draft(product_id: str):
    """复制最新版本，建立下一年度草稿（该年度已存在时 409）"""
    row = services.create_next_draft(db(), g.api_user, product_id)
    return version_summary(row), 201


@api_route(f"/versions/{ROW}/yaml", "draft.edit", methods=("PUT",), ok={200: VersionIssues}, errors=(404, 409),
           body=SaveRequest)
def save_yaml(row_id: int, json: SaveRequest):
    """保存草稿文本（行版本不符时 409；文本有问题也保存，issues 列出问题）"""
    row, result = services.save_draft(db(), g.api_user, row_id, json.yaml, json.row_version)
    return {**version_summary(row), "issues": list(result.issues)}


@api_route(f"/versions/{ROW}/submit", "draft.submit", methods=("POST",), ok={200: VersionSummary}, errors=(404, 409),
           body=RowVersionRequest)
def submit(row_id: int, json: RowVersionRequest):
    """提交审核（文本须通过校验）"""
    return version_summary(services.submit_for_review(db(), g.api_user, row_id, json.row_version))


@api_route(f"/versions/{ROW}/approve", "review", methods=("POST",), ok={200: VersionSummary}, errors=(404, 409),
           body=ApproveRequest)
def approve(row_id: int, json: ApproveRequest):
    """审批并发布，设定生效期间（不能审批自己起草、修改或提交的版本；生效期不能与已发布版本重叠）"""
    return version_summary(services.approve(db(), g.api_user, row_id, json.row_version, json.effective_from,
                                             json.effective_to, json.comment))


@api_route(f"/versions/{ROW}/send-back", "review", methods=("POST",), ok={200: VersionSummary}, errors=(404, 409),
           body=SendBackRequest)
def send_back(row_id: int, json: SendBackRequest):
    """退回修改（须写明意见）"""
    return version_summary(services.send_back(db(), g.api_user, row_id, json.row_version, json.comment))


@api_route(f"/versions/{ROW}/retire", "retire", methods=("POST",), ok={200: VersionSummary}, errors=(404, 409),
           body=RetireRequest)
def retire(row_id: int, json: RetireRequest):
    """停用已发布版本（不再销售；生效期内的理赔仍按它处理）"""
    return version_summary(services.retire(db(), g.api_user, row_id, json.row_version, json.comment))


@bp.get("/openapi.json")
def openapi():
    """The document itself needs no token: it is the contract a client reads before it has one."""
    return document()
