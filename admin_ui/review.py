"""Regulator review of a version: `/versions/<id>/review` (page and PDF) and `GET /api/v1/versions/<id>/review`.

Read-only, open to every role.  The report is engine.review's: the applicable regimes' checks run by the rules
engine, the version reviewed among its product's published and retired versions (first year, a change within
a policy year, the changes since the previous one).  Like every evaluation of a stored text it runs through
services.evaluate_stored: a draft's rulesets live and die in the sandbox's worker.
"""
from __future__ import annotations

from flask import Blueprint, Response, render_template
from markupsafe import Markup

from engine.review.report import render_body, render_html, write_pdf_bytes

from . import queries
from .api import ROW, api_route, valid_row
from .auth import requires
from .db import db, get_or_404
from .models import FROZEN_STATUSES, SchemeVersion
from .services import check_stored, evaluate_stored

bp = Blueprint("review", __name__)


def report_of(row: SchemeVersion) -> dict | None:
    """The review report of a valid version; None when it does not validate."""
    if not check_stored(row).ok:
        return None
    others = [v for v in queries.product_versions(db(), row.product_id, FROZEN_STATUSES) if v.id != row.id]
    return evaluate_stored(row, "review", {"text": row.yaml_text, "others": list(others)})


@bp.get("/versions/<int:row_id>/review")
@requires("view")
def page(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    data = report_of(row)
    body = Markup(render_body(data)) if data else None  # render_body escapes every value it inserts
    return render_template("review.html", row=row, check=check_stored(row), report=data, body=body)


@bp.get("/versions/<int:row_id>/review.pdf")
@requires("view")
def pdf(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    data = report_of(row)
    if data is None:
        return render_template("error.html", code=422, message=check_stored(row).issues[0]["message"]), 422
    return Response(write_pdf_bytes(data), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="review-{row.product_id}-{row.version_id}.pdf"'})


@api_route(f"/versions/{ROW}/review", "view", errors=(404, 409), ok={200: (
    None, "合规审查：适用规则逐项的结论（条款、原文、方案取值）、需人工确认的事项、标准案例、变化（金额为分）")})
def api_review(row_id: int):
    """The same verdicts for machines: the report as JSON (amounts in fen)."""
    return report_of(valid_row(row_id))
