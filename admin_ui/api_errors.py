"""One error envelope for every answer of the JSON API that is not a success: {"ok": false, "error", "issues"}.

Whatever goes wrong under /api/ — a refusal of ours, a status Werkzeug raises (404 of an unknown path, 405,
413 of a body over MAX_CONTENT_LENGTH) or an exception nobody expected — the client gets JSON in this shape,
never an HTML page or a stack trace. An unexpected exception is logged with a random reference that the
answer repeats, so a client's report can be found in the log.
"""
from __future__ import annotations

import logging
import secrets

from flask import Flask, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
# What a status means when the code raising it says nothing more specific.
MESSAGES = {400: "请求格式错误", 401: "需要有效的 API 令牌（Authorization: Bearer …）", 403: "您的角色无权进行此操作",
            404: "没有这个对象", 405: "此地址不支持该请求方法", 409: "状态或行版本冲突", 413: "请求体过大",
            415: "请求体应为 JSON（Content-Type: application/json）", 422: "请求不符合接口说明",
            429: "请求过于频繁，请稍后再试", 500: "服务器内部错误，请把编号告诉管理员"}


class ApiError(Exception):
    def __init__(self, status: int, message: str = "", issues: list | tuple = (), headers: dict | None = None):
        super().__init__(message or MESSAGES.get(status, ""))
        self.status, self.message, self.issues = status, message or MESSAGES.get(status, ""), list(issues)
        self.headers = headers or {}


def envelope(status: int, message: str = "", issues: list | tuple = (), headers: dict | None = None, **extra):
    body = {"ok": False, "error": message or MESSAGES.get(status, ""), "issues": list(issues), **extra}
    return body, status, headers or {}


def api_error(exc: ApiError):
    from .guard import refused  # the reason of the audit event guard.py writes for a 403 or 409

    refused(exc.message)
    return envelope(exc.status, exc.message, exc.issues, exc.headers)


def http_error(exc: HTTPException):
    """Werkzeug's statuses (unknown path, wrong method, body too large…) in the envelope; Allow kept for a 405."""
    headers = {k: v for k, v in exc.get_headers() if k in ("Allow", "WWW-Authenticate", "Retry-After")}
    return envelope(exc.code or 500, MESSAGES.get(exc.code or 500, exc.name), headers=headers)


def unexpected_error(exc: Exception):
    if isinstance(exc, HTTPException):
        return http_error(exc)
    reference = secrets.token_hex(8)
    log.exception("API error %s on %s %s", reference, request.method, request.path)
    return envelope(500, f"{MESSAGES[500]}（编号 {reference}）", reference=reference)


def init_app(app: Flask) -> None:
    """Errors raised before any view is found (unknown path, wrong method): the envelope under /api/, by path.

    Those raised in the API's views are the blueprint's (api.py registers api_error and unexpected_error).
    """
    @app.errorhandler(HTTPException)
    def outside_the_views(exc: HTTPException):
        return http_error(exc) if request.path.startswith(API_PREFIX) else exc
