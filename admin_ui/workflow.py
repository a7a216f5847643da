"""Review workflow: submit → approve (publish with an effective period) or send back → retire."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from .auth import requires
from .db import db
from .guard import run_step
from .i18n import _
from .services import Invalid, approve, retire, send_back, submit_for_review

bp = Blueprint("workflow", __name__)


def _row_version() -> int:
    try:
        return int(request.form.get("row_version", ""))
    except ValueError:
        abort(400)


def _date(name: str) -> date:
    try:
        return date.fromisoformat(request.form.get(name, ""))
    except ValueError:
        raise Invalid(_("请填写有效日期（YYYY-MM-DD）")) from None


def _run(row_id: int, action, done: str):
    """Run a service call; its refusal is shown with a way back to the version page."""
    return run_step(action, done, url_for("catalogue.version", row_id=row_id))


@bp.post("/versions/<int:row_id>/submit")
@requires("draft.submit")
def submit(row_id: int):
    return _run(row_id, lambda: submit_for_review(db(), current_user, row_id, _row_version()),
                _("已提交审核。"))


@bp.post("/versions/<int:row_id>/approve")
@requires("review")
def approve_version(row_id: int):
    return _run(row_id, lambda: approve(db(), current_user, row_id, _row_version(), _date("effective_from"),
                                        _date("effective_to"), request.form.get("comment", "")),
                _("已审批并发布。发布后该版本不可再修改。"))


@bp.post("/versions/<int:row_id>/send-back")
@requires("review")
def send_back_version(row_id: int):
    return _run(row_id, lambda: send_back(db(), current_user, row_id, _row_version(), request.form.get("comment", "")),
                _("已退回修改。"))


@bp.post("/versions/<int:row_id>/retire")
@requires("retire")
def retire_version(row_id: int):
    return _run(row_id, lambda: retire(db(), current_user, row_id, _row_version(), request.form.get("comment", "")),
                _("已停用。"))
