"""Import products/*.yaml as published versions on start: idempotent, keyed by the engine's content hash.

A file that is missing, half-written or invalid is reported (file, line, message) and skipped; the
others still import. A published version whose file has changed since is never overwritten (the
database would refuse anyway): it is reported as a conflict, to be made a new version instead.

The same path (import_text) takes a file uploaded in the browser (admin_ui/files.py): its new versions
become drafts instead, which reach publication only through review. Each file is one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import SchemeError

from . import audit
from .models import Product, SchemeVersion, User, utcnow
from .schemes import analyse, split_versions


@dataclass
class FileReport:
    file: str
    product_id: str = ""
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # human-readable, one per version
    rows: dict[str, int] = field(default_factory=dict)  # version id → SchemeVersion.id, of those imported
    issues: list[dict] = field(default_factory=list)  # why the file could not be read at all

    @property
    def ok(self) -> bool:
        return not self.issues and not self.conflicts


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def broken(self) -> list[FileReport]:
        return [f for f in self.files if not f.ok]

    def lines(self) -> list[str]:
        out = []
        for f in self.files:
            if f.issues:
                first = f.issues[0]
                more = f"（另有 {len(f.issues) - 1} 个问题）" if len(f.issues) > 1 else ""
                out.append(f"  ✗ {f.file}: 未导入 — 第 {first['line']} 行: {first['message']}{more}")
                continue
            parts = [f"新导入 {'、'.join(f.imported)}" if f.imported else "",
                     f"已存在 {'、'.join(f.unchanged)}" if f.unchanged else ""]
            out.append(f"  {'✓' if f.ok else '!'} {f.file}: {f.product_id} " + "；".join(p for p in parts if p))
            out += [f"      冲突：{c}" for c in f.conflicts]
        return out


def product_files(directory: Path) -> list[Path]:
    # Golden-case files (NAME.cases.yaml) sit beside the products; they are not schemes.
    return sorted(p for p in directory.glob("*.yaml") if not p.name.endswith(".cases.yaml"))


def import_products(session: Session, directory: str | Path) -> ImportReport:
    directory = Path(directory)
    report = ImportReport()
    for path in product_files(directory):
        shown = f"{directory.name}/{path.name}"
        try:
            report.files.append(import_file(session, path, shown))
        except Exception:
            session.rollback()
            raise
    return report


def import_file(session: Session, path: Path, shown: str) -> FileReport:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # e.g. removed or being rewritten while we read
        return unreadable(shown, str(exc))
    return import_text(session, text, shown)


def unreadable(shown: str, message: str) -> FileReport:
    return FileReport(shown, issues=[{"line": 0, "column": 0, "path": "", "code": "file.unreadable",
                                      "message": message}])


# How a new version is stored: (audit action, comment). Published from the products folder at start-up;
# a draft from an upload, to be published through review like any other draft.
STORED_AS = {"published": ("version.import", "从 {file} 导入并发布"),
             "draft": ("version.upload", "从上传的文件 {file} 导入为草稿")}


@dataclass(frozen=True)
class _How:
    status: str
    user: User | None
    origin: str
    shown: str


def import_text(session: Session, text: str, shown: str, status: str = "published", user: User | None = None,
                origin: str | None = None) -> FileReport:
    """One product file: validated whole, then its new versions stored as `status`, in one transaction.

    Nothing is stored when the file has any issue. Versions already stored with the same content are
    reported unchanged, those stored with other content are conflicts (never overwritten) and left out.
    """
    if status not in STORED_AS:
        raise ValueError(f"cannot import as {status!r}")
    result = FileReport(shown)
    analysis = analyse(text, shown)
    if not analysis.ok:
        result.issues = list(analysis.issues)
        return result
    product = analysis.product
    result.product_id = product.id
    try:
        texts = split_versions(analysis.doc, product)
    except SchemeError as exc:
        result.issues = [{"line": i.line, "column": i.column, "path": "", "code": i.code, "message": i.message}
                         for i in exc.issues]
        return result
    how = _How(status, user, origin or f"import:{shown}", shown)
    try:
        try:
            _store(session, result, product, texts, how)
        except IntegrityError:  # another process imported this file at the same moment: look again, once
            session.rollback()
            result.imported, result.unchanged, result.conflicts, result.rows = [], [], [], {}
            _store(session, result, product, texts, how)
        session.commit()
    except BaseException:
        session.rollback()  # nothing of the file stays behind, whatever the caller does next
        raise
    return result


def _store(session: Session, result: FileReport, product, texts: dict[str, str], how: _How) -> None:
    if session.get(Product, product.id) is None:
        session.add(Product(id=product.id, name=product.name, city=product.city, region=product.region,
                            source_file=how.shown))
    for version in product.versions:
        existing = session.scalar(select(SchemeVersion).where(SchemeVersion.product_id == version.product_id,
                                                              SchemeVersion.version_id == version.id))
        if existing is not None:
            _compare(result, existing, version, texts[version.id])
            continue
        row = _new_row(version, texts[version.id], how)
        session.add(row)
        session.flush()
        action, comment = STORED_AS[how.status]
        audit.record(session, how.user, action, "scheme_version", row.key, None, row.snapshot(),
                     comment=comment.format(file=how.shown))
        result.imported.append(version.id)
        result.rows[version.id] = row.id


def _new_row(version, text: str, how: _How) -> SchemeVersion:
    start, end = (date.fromisoformat(d) for d in version.period)
    now = utcnow()
    published = how.status == "published"
    user_id = how.user.id if how.user else None
    return SchemeVersion(product_id=version.product_id, version_id=version.id, name=version.name,
                         status=how.status, yaml_text=text, content_hash=version.content_hash,
                         period_start=start, period_end=end, effective_from=start if published else None,
                         effective_to=end if published else None, origin=how.origin, recorded_at=now,
                         updated_at=now, published_at=now if published else None, created_by=user_id,
                         updated_by=user_id)


def _compare(result: FileReport, existing: SchemeVersion, version, text: str) -> None:
    # Same text counts as unchanged even if the engine's hash recipe has changed since it was stored.
    if existing.content_hash == version.content_hash or existing.yaml_text == text:
        result.unchanged.append(version.id)
    elif existing.status in ("published", "retired"):
        result.conflicts.append(f"{existing.key} 文件内容与已发布版本不同（已发布版本不可修改；如需修改请建立新版本）")
    else:
        result.conflicts.append(f"{existing.key} 在管理后台中已有同编号的{_status_zh(existing.status)}，文件中的版本未导入")


def _status_zh(status: str) -> str:
    return {"draft": "草稿", "in_review": "审核中版本"}.get(status, status)
