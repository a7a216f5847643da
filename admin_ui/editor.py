"""The YAML editor of a draft: live validation (JSON endpoint) and saving with optimistic concurrency."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .auth import requires
from .db import db, get_or_404
from .guard import refused
from .i18n import N_, _
from .models import SchemeVersion
from .schemes import check_draft, normalise_newlines, text_digest
from .services import Conflict, check_stored, get_version, save_draft, unified_diff

bp = Blueprint("editor", __name__)

MAX_TEXT = 1_000_000  # characters; a real scheme file is a few tens of thousands

# The editor's help beside the issues: how to write the terms a product manager looks up most (the full language:
# docs/scheme-language.md). Examples are YAML as written, not translated.
HELP = [
    (N_("版本继承（extends）"), 'extends: "2024"',
     N_("在产品文件中，一个版本只写与所继承版本不同之处：映射逐键合并，带 id 的列表按 id 合并（同 id 整条代替，"
        "{id: X, remove: true} 删除），其他值整个代替，键: null 删除。后台每行只存一个版本，导入时存合并后的版本，"
        "所以这里的草稿不能写 extends。")),
    (N_("结余滚存（surplus）"),
     "surplus:\n  rolls_over: true\n  to: next_period\n  source: {doc: …, clause: …, quote: …}",
     N_("rolls_over 写 true、false 或 unknown（来源未说明）；to 写 next_period（下一保险期）或 next_cycle（下一承办周期）。"
        "有来源才是已声明，假设的按未知处理，合规审查的结余滚存检查读它。")),
    (N_("理赔服务（service）"),
     "service:\n  no_application: {value: true, scope: 异地就医, since: 2025-07-31}\n"
     "  payment_deadlines:\n    - {id: in-province, name: 省内, days: 3, unit: days}\n  source: {doc: …, clause: …, quote: …}",
     N_("免申即赔（no_application）写 true、false 或 unknown；赔款到账时限按 id 列出，unit 写 days（天）或 "
        "working_days（工作日）。它们不改变金额，在解释、差异、比较和合规审查中显示。")),
]


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
                               check=check_stored(row), help=HELP)
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
                               conflict=exc.message, theirs=theirs, diff=diff, help=HELP), 409
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
