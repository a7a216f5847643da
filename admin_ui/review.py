"""Regulator review of a version and its sign-off: `/versions/<id>/review` (page and PDF), the findings and the
publishing override recorded from it, and the same in `/api/v1/versions/<id>/review`, `…/findings`, `…/override`.

The report is engine.review's: the applicable regimes' checks run by the rules engine, the version reviewed among
its product's published and retired versions (first year, a change within a policy year, the changes since the
previous one). Like every evaluation of a stored text it runs through services.evaluate_stored: a draft's
rulesets live and die in the sandbox's worker. signoff.py adds each check's finding (recorded, carried from an
earlier version, or open again) and what still stands between the version and publishing.
"""
from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from engine.review.report import render_body, write_pdf_bytes

from . import signoff
from .api import ROW, api_route, valid_row
from .api_models import FindingAnswer, FindingRequest, OverrideAnswer, OverrideRequest
from .auth import requires
from .db import db, get_or_404
from .guard import run_step
from .i18n import _
from .models import SchemeVersion
from .openapi import link
from .services import check_stored, refused_words

bp = Blueprint("review", __name__)


@bp.get("/versions/<int:row_id>/review")
@requires("view")
def page(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    data = signoff.report_of(db(), row)
    body = Markup(render_body(data)) if data else None  # render_body escapes every value it inserts
    return render_template("review.html", row=row, check=check_stored(row), report=data, body=body,
                           checks=signoff.checks_of(data) if data else [])


@bp.get("/versions/<int:row_id>/review.pdf")
@requires("view")
def pdf(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    data = signoff.report_of(db(), row)
    if data is None:  # the same words as the page, the issues listed
        message = refused_words(row, _("本版本未通过校验，暂时无法审查。请先修正："))
        return render_template("error.html", code=422, message=message, issues=check_stored(row).issues,
                               back=url_for("review.page", row_id=row.id)), 422
    return Response(write_pdf_bytes(data), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="review-{row.product_id}-{row.version_id}.pdf"'})


@bp.post("/versions/<int:row_id>/review/findings")
@requires("findings.record")
def record_finding(row_id: int):
    form = request.form
    regime, check = form.get("regime", ""), form.get("check", "")
    replaces = form.get("replaces", "")
    return _run(row_id, lambda: signoff.record_finding(
        db(), current_user, row_id, regime, check, form.get("outcome", ""), form.get("comment", ""),
        int(replaces) if replaces.isdigit() else None), _("已记录审查意见。"), f"signoff-{regime}-{check}")


@bp.post("/versions/<int:row_id>/override")
@requires("publish.override")
def record_override(row_id: int):
    return _run(row_id, lambda: signoff.record_override(db(), current_user, row_id, request.form.get("reason", "")),
                _("已记录放行理由：审核员现在可以发布该版本。"), "signoff")


def _run(row_id: int, action, done: str, anchor: str):
    """A sign-off step; back on the review page, at the row or form it concerns."""
    return run_step(action, done, url_for("review.page", row_id=row_id),
                    url_for("review.page", row_id=row_id, _anchor=anchor))


# ── JSON API ──────────────────────────────────────────────────────────────────────────────────

# A stateful client (Schemathesis) records a finding on a check the review reported, not on made-up ids.
FIRST_CHECK = {"regime": "$response.body#/regimes/0/id", "check": "$response.body#/regimes/0/checks/0/id",
               "outcome": "complies"}

@api_route(f"/versions/{ROW}/review", "view", errors=(404, 409), ok={200: (
    None, "合规审查：适用规则逐项的结论（条款、原文、方案取值）与审查意见、需人工确认的事项、标准案例、变化（金额为分）")},
    links={200: {"finding": link("api_record_finding", row_id="$request.path.row_id", body=FIRST_CHECK)}})
def api_review(row_id: int):
    """The same verdicts as `hmb review --json`, with each check's finding and the sign-off (open violations,
    overrides) that only the database knows."""
    return signoff.report_of(db(), valid_row(row_id))


@api_route(f"/versions/{ROW}/findings", "findings.record", methods=("POST",), ok={201: FindingAnswer},
           errors=(404, 409), body=FindingRequest)
def api_record_finding(row_id: int, json: FindingRequest):
    """记录一项检查的审查意见（符合 / 不符合 / 需补充；后两者须写明意见）；replaces 为所见的当前意见编号，已被他人更新时 409"""
    finding = signoff.record_finding(db(), g.api_user, valid_row(row_id).id, json.regime, json.check, json.outcome,
                                     json.comment, json.replaces)
    return {"ok": True, **finding.snapshot(), "label": signoff.OUTCOME_LABELS[finding.outcome],
            "replaces": finding.replaces_id, "by": g.api_user.username}, 201


@api_route(f"/versions/{ROW}/override", "publish.override", methods=("POST",), ok={201: OverrideAnswer},
           errors=(404, 409), body=OverrideRequest)
def api_record_override(row_id: int, json: OverrideRequest):
    """系统管理员记录理由，放行审核中版本的未解决违规结论（仅限记录时未解决的各项、当前文本）"""
    override = signoff.record_override(db(), g.api_user, valid_row(row_id).id, json.reason)
    return {"ok": True, "id": override.id, "reason": override.reason, "checks": override.checks,
            "content_hash": override.content_hash, "by": g.api_user.username}, 201
