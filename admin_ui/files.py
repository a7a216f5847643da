"""Whole product files in the browser: import (uploaded or pasted) as drafts, export as one file that round-trips.

Import goes through the start-up importer's own path (importer.import_text) with status "draft": the engine
validates the whole file first and nothing is stored when it has any issue; each new version becomes a
draft (publishing goes through review), versions already stored with the same content are reported
unchanged, a stored version with other content is a conflict and left alone. Each file is one transaction.
Several files are imported one after another; with JavaScript, as a background job whose bar advances file
by file (POST /products/import/jobs, polled), without it in the request. The report lists each file's result.

Export joins the stored single-version texts back into one product file (schemes.join_versions), checked by
parsing the result: every version must keep its stored content hash, or the answer is 409 saying why.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

from dataclasses import asdict
from hashlib import sha256

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from flask_login import current_user

from engine import SchemeError

from .auth import requires
from .db import db, get_or_404
from .i18n import _
from .importer import FileReport, import_text, unreadable
from .jobs import JobState, Work, jobs, key_of
from .models import FROZEN_STATUSES, STATUSES, Product, User
from .queries import product_versions
from .schemes import join_versions, normalise_newlines
from .services import is_legacy

bp = Blueprint("files", __name__)

SUFFIXES = (".yaml", ".yml")
PASTED = "pasted.yaml"  # the name a pasted text is shown and recorded under when none is given


# ── import ────────────────────────────────────────────────────────────────────────────────────

@bp.route("/products/import", methods=["GET", "POST"])
@requires("draft.create")
def upload():
    if request.method == "GET":
        return _page()
    sent = _sent()
    if not sent:
        return _page(error=_("请选择方案文件或粘贴方案文本。")), 400
    reports = [_import(name, data) for name, data in sent]
    return _page(reports=reports), 422 if any(r.issues for r in reports) else 200


@bp.errorhandler(413)
def too_large(_error):
    return _page(error=_("上传的内容超过 {size} 上限，请分批上传。", size=_limit())), 413


def _page(reports: list[FileReport] | None = None, error: str = "") -> str:
    return render_template("import.html", reports=reports, error=error, limit=_limit())


def _limit() -> str:
    """The app's MAX_CONTENT_LENGTH, as people write it ("2 MB")."""
    size = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return f"{size // 1048576} MB" if size >= 1048576 else f"{size // 1024} KB"


def _sent() -> list[tuple[str, bytes]]:
    """(file name, content) of each uploaded file, then of the pasted text if there is one."""
    sent = [(_file_name(f.filename), f.read()) for f in request.files.getlist("files") if f and f.filename]
    pasted = request.form.get("yaml_text", "")
    if pasted.strip():
        sent.append((_file_name(request.form.get("filename", "")) or PASTED, pasted.encode("utf-8")))
    return sent


def _file_name(name: str) -> str:
    # Only the last part of what the browser sends (some send a whole path), kept short for the origin column.
    return PurePosixPath(name.replace("\\", "/").strip()).name[:200]


def _import(name: str, data: bytes, user: User | None = None) -> FileReport:
    if not name.lower().endswith(SUFFIXES):
        return unreadable(name, _("只接受 .yaml 或 .yml 方案文件。"))
    try:
        text = normalise_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return unreadable(name, _("文件不是 UTF-8 编码的文本。"))
    return import_text(db(), text, name, status="draft", user=user or current_user._get_current_object(),
                       origin=f"upload:{name}")


# ── import in the background: the page's script shows a bar, file by file ──────────────────────

@bp.post("/products/import/jobs")
@requires("draft.create")
def start():
    """The same import as the form, as a job the page polls (CSRF-checked like every POST)."""
    sent = _sent()
    if not sent:
        return jsonify({"error": _("请选择方案文件或粘贴方案文本。")}), 400
    job = jobs().start(import_work(sent, current_user.id), current_user.id)
    if job is None:  # too many jobs: the script submits the form itself
        return jsonify({"error": "busy"}), 503
    return jsonify({**_status(job), "poll": url_for("files.job_status", job_id=job.id)}), 202


def import_work(sent: list[tuple[str, bytes]], user_id: int) -> Work:
    """The files imported one after another as `user_id`; its progress: one step per file. Keyed by the files
    themselves: sent twice while the first import runs, they are imported once. Its answer depends on what is
    stored when it runs, so a finished import is never reused."""
    def run(progress) -> list[dict]:
        user = db().get(User, user_id)
        reports = []
        for done, (name, data) in enumerate(sent, 1):
            reports.append(asdict(_import(name, data, user)))
            progress(done, message=name)
        return reports

    return Work("import", key_of(user_id, *((name, sha256(data).hexdigest()) for name, data in sent)), len(sent), run,
                reusable=False)


@bp.get("/products/import/jobs/<job_id>")
@requires("draft.create")
def job_status(job_id: str):
    return jsonify(_status(_job(job_id)))


@bp.get("/products/import/jobs/<job_id>/report")
@requires("draft.create")
def report(job_id: str):
    job = _job(job_id)
    if not job.finished:
        abort(409)
    if job.status == "failed":
        return _page(error=job.error_shown), 500
    reports = [FileReport(**r) for r in job.result]
    return _page(reports=reports), 422 if any(r.issues for r in reports) else 200


def _job(job_id: str) -> JobState:
    job = jobs().owned(job_id, current_user.id)
    if job is None:
        abort(404)
    return job


def _status(job: JobState) -> dict:
    return {**job.as_json(), "page": url_for("files.report", job_id=job.id)}


# ── export ────────────────────────────────────────────────────────────────────────────────────

@bp.get("/products/<product_id>/export.yaml")
@requires("view")
def export(product_id: str):
    """The product's published and retired versions as one product file; ?drafts=1 adds drafts and those in
    review. Ordered by period start; the header (product, sources, drug lists) is the latest version's."""
    product = get_or_404(Product, product_id)
    drafts = request.args.get("drafts") == "1"
    rows = product_versions(db(), product.id, STATUSES if drafts else FROZEN_STATUSES)
    if not rows:
        return _refuse(_("{product} 没有已发布或已停用的版本可导出（要导出草稿请选“含草稿”）。", product=product.id)
                       if not drafts else _("{product} 没有可导出的版本。", product=product.id))
    invalid = [r.key for r in rows if r.content_hash is None]
    if invalid:
        return _refuse(_("{keys} 未通过校验，不能导出；请先修正，或只导出已发布的版本。", keys="、".join(invalid)))
    legacy = [r.key for r in rows if is_legacy(r)]
    if legacy:  # joining verifies each version's hash by parsing the file, which the current language refuses
        return _refuse(_("{keys} 的文本按旧版方案语言写成，当前校验未通过，不能合并为一个方案文件；每个版本的文本可在其版本页“查看 YAML”下载。",
                         keys="、".join(legacy)))
    try:
        text = join_versions([r.yaml_text for r in rows], [r.content_hash for r in rows])
    except SchemeError as exc:
        return _refuse(_("这些版本不能合并为一个方案文件：") + "；".join(i.message for i in exc.issues))
    name, plain = ((f"{product.id}-含草稿.yaml", f"{product.id}-with-drafts.yaml") if drafts
                   else (f"{product.id}.yaml", f"{product.id}.yaml"))
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"  # RFC 6266: both
    return Response(text, content_type="application/yaml; charset=utf-8", headers={"Content-Disposition": disposition})


def _refuse(message: str):
    return render_template("error.html", code=409, message=message), 409
