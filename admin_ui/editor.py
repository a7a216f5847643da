"""The YAML editor of a draft: live validation (JSON endpoint) and saving with optimistic concurrency."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .auth import requires
from .db import db, get_or_404
from .guard import refused
from .i18n import _
from .models import SchemeVersion
from .schemes import check_draft, normalise_newlines, text_digest
from .services import Conflict, check_stored, get_version, save_draft, unified_diff

bp = Blueprint("editor", __name__)

MAX_TEXT = 1_000_000  # characters; a real scheme file is a few tens of thousands


@bp.route("/versions/<int:row_id>/edit", methods=["GET", "POST"])
@requires("draft.edit")
def edit(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    if row.status != "draft":
        flash(_("只有草稿可以编辑；已发布的版本不可修改。"), "error")
        if request.method == "POST":
            abort(409)
        return redirect(url_for("catalogue.version", row_id=row.id))
    if request.method == "GET":
        return render_template("editor.html", row=row, text=row.yaml_text, row_version=row.row_version,
                               check=check_stored(row))
    text = normalise_newlines(request.form.get("yaml_text", ""))
    try:
        sent_version = int(request.form.get("row_version", ""))
    except ValueError:
        abort(400)
    try:
        row, result = save_draft(db(), current_user, row.id, text, sent_version)
    except Conflict as exc:
        # The user's text is sent back in the editor; the other save is shown beside it. Nothing is lost.
        db().rollback()
        refused(exc.message)
        theirs = get_version(db(), row_id)
        diff = unified_diff(theirs.yaml_text, text, (_("对方保存的版本"), _("您的文本")))
        return render_template("editor.html", row=theirs, text=text, row_version=theirs.row_version,
                               check=check_draft(text, theirs.product_id, theirs.version_id),
                               conflict=exc.message, theirs=theirs, diff=diff), 409
    if result.issues:
        flash(_("已保存；还有 {n} 个问题需要解决后才能提交审核。", n=len(result.issues)), "warn")
    else:
        flash(_("已保存，校验通过。"), "ok")
    return redirect(url_for("editor.edit", row_id=row.id))


@bp.post("/api/validate")
@requires("view")
def validate():
    """Live validation: {"yaml": text, "version": row id?} → {"ok", "issues": [{line, column, path, message…}]}."""
    payload = request.get_json(silent=True) or {}
    text = payload.get("yaml")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        return {"ok": False, "error": _("请求中应有 yaml 文本")}, 400
    product_id = version_id = None
    if isinstance(payload.get("version"), int):
        row = db().get(SchemeVersion, payload["version"])
        if row is not None:
            product_id, version_id = row.product_id, row.version_id
    result = check_draft(normalise_newlines(text), product_id, version_id)
    body = {"ok": result.ok, "issues": list(result.issues), "digest": text_digest(normalise_newlines(text))}
    if result.ok:
        version = result.version
        body["summary"] = {"key": version.key, "name": version.name, "content_hash": version.content_hash,
                           "period": list(version.period)}
    return body
