"""The audit log page: newest first, searchable by user, action and object."""
from __future__ import annotations

import json

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from .auth import requires
from .db import db
from .export import csv_response
from .models import AuditEvent

bp = Blueprint("audit_log", __name__)

PAGE = 200


def _filtered():
    filters = {k: request.args.get(k, "").strip() for k in ("user", "action", "object")}
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    for column, value in ((AuditEvent.username, filters["user"]), (AuditEvent.action, filters["action"]),
                          (AuditEvent.object_id, filters["object"])):
        if value:
            query = query.where(func.lower(column).contains(value.lower(), autoescape=True))
    return filters, query


@bp.get("/audit")
@requires("audit.view")
def index():
    filters, query = _filtered()
    events = db().scalars(query.limit(PAGE)).all()
    actions = db().scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    return render_template("audit.html", events=events, filters=filters, actions=actions, limit=PAGE)


@bp.get("/audit.csv")
@requires("audit.view")
def download():
    """Every matching event (no page limit), before/after as JSON text."""
    _, query = _filtered()
    rows = ([e.id, e.at.isoformat(), e.username, e.action, e.object_type, e.object_id, e.comment or "",
             _json(e.before), _json(e.after)] for e in db().scalars(query))
    return csv_response("hmb-audit.csv", ["id", "at_utc", "user", "action", "object_type", "object", "comment",
                                          "before", "after"], rows)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
