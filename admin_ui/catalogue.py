"""Products and their versions: the list, one version in plain Chinese, its text, next year's draft."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from engine.explain import ASSUMED_MARK, describe_version

from .auth import requires
from .db import db
from .i18n import _
from .models import Product, SchemeVersion
from .schemes import check_draft
from .services import Conflict, WorkflowError, create_next_draft, get_version, unified_diff

bp = Blueprint("catalogue", __name__)


@bp.get("/")
@requires("view")
def index():
    products = db().scalars(select(Product).order_by(Product.id)).all()
    report = current_app.extensions.get("hmb_import_report")
    return render_template("products.html", products=products, report=report)


@bp.get("/versions/<int:row_id>")
@requires("view")
def version(row_id: int):
    row = _row(row_id)
    check = check_draft(row.yaml_text, row.product_id, row.version_id)
    explained = describe_version(check.version) if check.ok else None
    previous = _previous(row)
    changes = unified_diff(previous.yaml_text, row.yaml_text, (previous.key, row.key)) if previous else ""
    return render_template("version.html", row=row, check=check, explained=explained, assumed_mark=ASSUMED_MARK,
                           previous=previous, changes=changes)


@bp.get("/versions/<int:row_id>/yaml")
@requires("view")
def version_yaml(row_id: int):
    row = _row(row_id)
    return Response(row.yaml_text, mimetype="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{row.product_id}-{row.version_id}.yaml"'})


@bp.post("/products/<product_id>/next-draft")
@requires("draft.create")
def next_draft(product_id: str):
    try:
        row = create_next_draft(db(), current_user, product_id)
    except Conflict as exc:
        flash(exc.message, "error")
        if exc.row_id:
            return redirect(url_for("catalogue.version", row_id=exc.row_id))
        return redirect(url_for("catalogue.index"))
    except WorkflowError as exc:
        abort(exc.status, exc.message)
    flash(_("已建立 {key} 草稿（复制自最新版本），请修改后提交审核。", key=row.key), "ok")
    return redirect(url_for("editor.edit", row_id=row.id))


def _row(row_id: int) -> SchemeVersion:
    try:
        return get_version(db(), row_id)
    except WorkflowError:
        abort(404)


def _previous(row: SchemeVersion) -> SchemeVersion | None:
    """The version a reviewer compares with: the latest one of the same product that starts before this one."""
    if row.period_start is None:
        return None
    return db().scalar(select(SchemeVersion).where(
        SchemeVersion.product_id == row.product_id, SchemeVersion.id != row.id,
        SchemeVersion.period_start < row.period_start).order_by(SchemeVersion.period_start.desc()).limit(1))
