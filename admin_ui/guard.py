"""Request guards around every view: the Origin check, and refused requests written to the audit log.

- **Origin.** A state-changing request (POST, PUT, PATCH, DELETE) must come from a page of this site: its
  Origin header, else its Referer, must name this app's own origin (scheme, host and port). CSRF tokens
  already guard the forms; this is a second, independent lock, and the only one of the API (exempt from
  CSRF, but a browser that once answered its Basic prompt would send the credentials cross-site). A request
  that names no origin at all passes only on the API, where scripts (curl, requests) send none; browsers
  send Origin on every such request.
- **Audit.** Every answer 403 or 409 is an audit event (`request.refused`): who, the method and path,
  the address and the reason (`g.refusal_reason` where the refusing code gave one).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, flash, g, redirect, render_template, request
from flask_login import current_user

from . import audit
from .api_errors import API_PREFIX as API_ERRORS_PREFIX, envelope
from .db import db
from .i18n import _
from .services import WorkflowError

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDITED_STATUSES = frozenset({403, 409})
API_PREFIX = "/api/v1/"


def init_app(app: Flask) -> None:
    app.before_request(check_origin)
    app.after_request(audit_refusal)


def check_origin():
    if request.method not in STATE_CHANGING:
        return None
    claimed = request.headers.get("Origin") or _origin_of(request.headers.get("Referer"))
    if claimed == own_origin() or (claimed is None and request.path.startswith(API_PREFIX)):
        return None
    refused(f"origin {claimed or 'missing'} is not {own_origin()}")
    message = _("请求不是从本站页面发出的，已拒绝。")
    if request.path.startswith(API_ERRORS_PREFIX):
        return envelope(403, message)
    return render_template("error.html", code=403, message=message), 403


def refused(reason: str) -> None:
    """Say why this request is refused, for its audit event."""
    g.refusal_reason = reason


def own_origin() -> str:
    """scheme://host[:port] as this request reached the app (behind a proxy: as the proxy forwards it)."""
    return f"{request.scheme}://{request.host}"


def _origin_of(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def audit_refusal(response):
    if response.status_code in AUDITED_STATUSES:
        user = _acting_user()
        session = db()
        session.rollback()  # whatever the refused request left unfinished is not to be committed with this
        reason = g.get("refusal_reason") or response.status
        audit.record(session, user, "request.refused", "request", f"{request.method} {request.path}"[:128],
                     actor=audit.ANONYMOUS, after={"status": response.status_code, "address": request.remote_addr,
                                                   "reason": reason}, comment=reason)
        session.commit()
    return response


def _acting_user():
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user
    return current_user._get_current_object() if current_user and current_user.is_authenticated else None


def run_step(action, done: str, back: str, then: str | None = None):
    """A form's step through the services (a workflow step, a finding, an override): on success `done` is
    flashed and the browser goes to `then` (else `back`); on refusal the session is rolled back, the reason goes
    to the audit event, and an error page says why, linking `back` (403, 404, 409 and 422 keep their status)."""
    try:
        action()
    except WorkflowError as exc:
        db().rollback()
        refused(exc.message)
        return render_template("error.html", code=exc.status, message=exc.message, issues=exc.issues,
                               back=back), exc.status
    flash(done, "ok")
    return redirect(then or back)
