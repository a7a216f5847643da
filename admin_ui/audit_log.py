"""The audit log page: newest first, searchable by user, action and object."""
from __future__ import annotations

import json

from flask import Blueprint, render_template, request

from .auth import requires
from .db import db
from .export import csv_response
from .queries import audit_actions, audit_events

bp = Blueprint("audit_log", __name__)

PAGE = 200


def _filters() -> dict[str, str]:
    return {k: request.args.get(k, "").strip() for k in ("user", "action", "object")}


def _events(filters: dict[str, str], limit: int | None = None):
    return audit_events(db(), filters["user"], filters["action"], filters["object"], limit)


@bp.get("/audit")
@requires("audit.view")
def index():
    filters = _filters()
    return render_template("audit.html", events=list(_events(filters, PAGE)), filters=filters,
                           actions=audit_actions(db()), limit=PAGE)


@bp.get("/audit.csv")
@requires("audit.view")
def download():
    """Every matching event (no page limit), before/after as JSON text."""
    rows = ([e.id, e.at.isoformat(), e.username, e.action, e.object_type, e.object_id, e.comment or "",
             _json(e.before), _json(e.after)] for e in _events(_filters()))
    return csv_response("hmb-audit.csv", ["id", "at_utc", "user", "action", "object_type", "object", "comment",
                                          "before", "after"], rows)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
