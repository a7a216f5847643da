"""Import products/*.yaml as published versions on start: idempotent, keyed by the engine's content hash.

A file that is missing, half-written or invalid is reported (file, line, message) and skipped; the
others still import. A published version whose file has changed since is never overwritten (the
database would refuse anyway): it is reported as a conflict, to be made a new version instead.
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
from .models import Product, SchemeVersion, utcnow
from .schemes import analyse, split_versions


@dataclass
class FileReport:
    file: str
    product_id: str = ""
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # human-readable, one per version
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
    result = FileReport(shown)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # e.g. removed or being rewritten while we read
        result.issues = [{"line": 0, "column": 0, "path": "", "code": "file.unreadable", "message": str(exc)}]
        return result
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
    _upsert_product(session, product, shown)
    for version in product.versions:
        _import_version(session, result, version, texts[version.id], shown)
    return result


def _upsert_product(session: Session, product, shown: str) -> None:
    row = session.get(Product, product.id)
    if row is None:
        session.add(Product(id=product.id, name=product.name, city=product.city, region=product.region,
                            source_file=shown))
        session.commit()


def _import_version(session: Session, result: FileReport, version, text: str, shown: str) -> None:
    existing = session.scalar(select(SchemeVersion).where(SchemeVersion.product_id == version.product_id,
                                                          SchemeVersion.version_id == version.id))
    if existing is not None:
        _compare(result, existing, version, text)
        return
    start, end = (date.fromisoformat(d) for d in version.period)
    now = utcnow()
    row = SchemeVersion(product_id=version.product_id, version_id=version.id, name=version.name,
                        status="published", yaml_text=text, content_hash=version.content_hash,
                        period_start=start, period_end=end, effective_from=start, effective_to=end,
                        origin=f"import:{shown}", recorded_at=now, updated_at=now, published_at=now)
    session.add(row)
    try:
        session.flush()
        audit.record(session, None, "version.import", "scheme_version", row.key, None, row.snapshot(),
                     comment=f"从 {shown} 导入并发布")
        session.commit()
        result.imported.append(version.id)
    except IntegrityError:  # another process imported it at the same moment
        session.rollback()
        existing = session.scalar(select(SchemeVersion).where(SchemeVersion.product_id == version.product_id,
                                                              SchemeVersion.version_id == version.id))
        if existing is None:
            raise
        _compare(result, existing, version, text)


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
