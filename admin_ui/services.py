"""What a user can do to a scheme version, as plain functions over a Session (the routes stay thin).

Each function checks the role, the status and the row version it was given (optimistic concurrency),
changes the row, writes the audit event and commits — or raises a WorkflowError and changes nothing.
A later JSON API calls the same functions.
"""
from __future__ import annotations

import difflib
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import audit
from .models import ROLES, Product, SchemeVersion, User, utcnow
from .schemes import check_draft, next_year_text

PERMISSIONS: dict[str, set[str]] = {
    "view": set(ROLES),
    "simulate": set(ROLES),
    "draft.create": {"product_manager", "admin"},
    "draft.edit": {"product_manager", "admin"},
    "draft.submit": {"product_manager", "admin"},
    "review": {"reviewer", "admin"},  # approve (= publish with an effective period) or send back
    "retire": {"admin"},
    "audit.view": {"reviewer", "regulator", "admin"},
}


class WorkflowError(Exception):
    status = 400

    def __init__(self, message: str, issues: tuple = (), row_id: int | None = None):
        super().__init__(message)
        self.message = message
        self.issues = issues  # located engine issues, when the refusal is about the text
        self.row_id = row_id  # the row the user should look at instead, if any


class Forbidden(WorkflowError):
    status = 403


class NotFound(WorkflowError):
    status = 404


class Conflict(WorkflowError):
    """Someone else changed the row since it was read; the caller keeps what the user sent."""

    status = 409


class Invalid(WorkflowError):
    status = 422


def can(user: User | None, permission: str) -> bool:
    return user is not None and user.is_active and user.role in PERMISSIONS[permission]


def require(user: User, permission: str) -> None:
    if not can(user, permission):
        raise Forbidden("您的角色无权进行此操作")


def get_version(session: Session, row_id: int) -> SchemeVersion:
    row = session.get(SchemeVersion, row_id)
    if row is None:
        raise NotFound("没有这个版本")
    return row


def _expect(row: SchemeVersion, status: str | tuple, row_version: int | None) -> None:
    statuses = (status,) if isinstance(status, str) else status
    if row_version is not None and row.row_version != row_version:
        raise Conflict("该版本已被他人修改，请查看最新内容后再操作。")
    if row.status not in statuses:
        raise Conflict(f"该版本当前状态不允许此操作（{row.status}）")


def _commit(session: Session) -> None:
    try:
        session.commit()
    except StaleDataError as exc:  # the UPDATE … WHERE row_version = ? matched nothing: a concurrent change
        session.rollback()
        raise Conflict("该版本已被他人修改，请查看最新内容后再操作。") from exc


# ── drafts ────────────────────────────────────────────────────────────────────────────────────

def latest_version(session: Session, product_id: str) -> SchemeVersion | None:
    rows = session.scalars(select(SchemeVersion).where(SchemeVersion.product_id == product_id)).all()
    if not rows:
        return None
    published = [r for r in rows if r.status in ("published", "retired")] or rows
    return max(published, key=lambda r: (r.period_start or date.min, r.id))


def create_next_draft(session: Session, user: User, product_id: str) -> SchemeVersion:
    """Next year's draft: a copy of the latest version with id, name, period and enrolment moved on a year."""
    require(user, "draft.create")
    if session.get(Product, product_id) is None:
        raise NotFound("没有这个产品")
    source = latest_version(session, product_id)
    if source is None:
        raise Invalid("该产品还没有任何版本可复制")
    new_id, text = next_year_text(source.yaml_text)
    existing = session.scalar(select(SchemeVersion).where(SchemeVersion.product_id == product_id,
                                                          SchemeVersion.version_id == new_id))
    if existing is not None:
        raise Conflict(f"{product_id}@{new_id} 已存在", row_id=existing.id)
    row = SchemeVersion(product_id=product_id, version_id=new_id, status="draft", yaml_text=text,
                        origin=f"copy:{source.key}", created_by=user.id, updated_by=user.id)
    _apply_analysis(row, text)
    session.add(row)
    session.flush()
    audit.record(session, user, "version.create_draft", "scheme_version", row.key, None, row.snapshot(),
                 comment=f"复制自 {source.key}")
    _commit(session)
    return row


def _apply_analysis(row: SchemeVersion, text: str):
    """Store the text; keep the engine hash and the derived columns when it validates (NULL hash otherwise)."""
    result = check_draft(text, row.product_id, row.version_id)
    row.yaml_text = text
    version = result.version if result.ok else None
    row.content_hash = version.content_hash if version else None
    if version:
        row.name = version.name
        row.period_start, row.period_end = (date.fromisoformat(d) for d in version.period)
    elif not row.name:
        row.name = row.version_id
    return result


def save_draft(session: Session, user: User, row_id: int, text: str, row_version: int):
    """Save a draft's text. A stale row_version is a Conflict: the caller shows both texts and loses neither."""
    require(user, "draft.edit")
    row = get_version(session, row_id)
    _expect(row, "draft", row_version)
    before = row.snapshot()
    old_text = row.yaml_text
    result = _apply_analysis(row, text)
    row.updated_by, row.updated_at = user.id, utcnow()
    session.flush()
    after = {**row.snapshot(), "issues": len(result.issues), "diff": unified_diff(old_text, text)}
    audit.record(session, user, "version.save", "scheme_version", row.key, before, after)
    _commit(session)
    return row, result


def unified_diff(old: str, new: str, labels: tuple[str, str] = ("before", "after"), limit: int = 20_000) -> str:
    text = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), *labels, n=1))
    return text if len(text) <= limit else text[:limit] + "\n…（差异过长，已截断）"


# ── review workflow ───────────────────────────────────────────────────────────────────────────

def submit_for_review(session: Session, user: User, row_id: int, row_version: int) -> SchemeVersion:
    require(user, "draft.submit")
    row = get_version(session, row_id)
    _expect(row, "draft", row_version)
    result = check_draft(row.yaml_text, row.product_id, row.version_id)
    if not result.ok:
        raise Invalid(f"还有 {len(result.issues)} 个问题未解决，不能提交审核", result.issues)
    before = row.snapshot()
    row.status, row.submitted_by, row.review_comment, row.updated_at = "in_review", user.id, None, utcnow()
    session.flush()
    audit.record(session, user, "version.submit", "scheme_version", row.key, before, row.snapshot())
    _commit(session)
    return row


def _not_own(row: SchemeVersion, user: User) -> None:
    # Four eyes: whoever wrote or submitted the text cannot approve it, whatever their role.
    if user.id in (row.created_by, row.updated_by, row.submitted_by):
        raise Forbidden("不能审批自己起草、修改或提交的版本")


def approve(session: Session, user: User, row_id: int, row_version: int, effective_from: date,
            effective_to: date, comment: str = "") -> SchemeVersion:
    """Approve = publish with an effective period. From then on the database refuses any change but retiring."""
    require(user, "review")
    row = get_version(session, row_id)
    _expect(row, "in_review", row_version)
    _not_own(row, user)
    if effective_from > effective_to:
        raise Invalid("生效日期不能晚于失效日期")
    result = check_draft(row.yaml_text, row.product_id, row.version_id)  # the engine may have tightened since
    if not result.ok:
        raise Invalid(f"当前引擎校验发现 {len(result.issues)} 个问题，不能发布", result.issues)
    _no_overlap(session, row, effective_from, effective_to)
    before = row.snapshot()
    row.status, row.reviewed_by, row.review_comment = "published", user.id, comment or None
    row.content_hash = result.version.content_hash
    row.effective_from, row.effective_to = effective_from, effective_to
    row.published_at = row.updated_at = utcnow()
    session.flush()
    audit.record(session, user, "version.publish", "scheme_version", row.key, before, row.snapshot(), comment or None)
    _commit(session)
    return row


def _no_overlap(session: Session, row: SchemeVersion, start: date, end: date) -> None:
    """Two published versions of one product in force on the same day would make a claim's rules ambiguous."""
    others = session.scalars(select(SchemeVersion).where(
        SchemeVersion.product_id == row.product_id, SchemeVersion.status == "published",
        SchemeVersion.id != row.id, SchemeVersion.effective_from <= end, SchemeVersion.effective_to >= start)).all()
    if others:
        keys = "、".join(f"{o.key}（{o.effective_from} 至 {o.effective_to}）" for o in others)
        raise Invalid(f"生效期与已发布版本重叠：{keys}")


def send_back(session: Session, user: User, row_id: int, row_version: int, comment: str) -> SchemeVersion:
    require(user, "review")
    if not comment.strip():
        raise Invalid("退回时请写明意见")
    row = get_version(session, row_id)
    _expect(row, "in_review", row_version)
    before = row.snapshot()
    row.status, row.review_comment, row.updated_at = "draft", comment.strip(), utcnow()
    session.flush()
    audit.record(session, user, "version.send_back", "scheme_version", row.key, before, row.snapshot(),
                 comment.strip())
    _commit(session)
    return row


def retire(session: Session, user: User, row_id: int, row_version: int, comment: str = "") -> SchemeVersion:
    require(user, "retire")
    row = get_version(session, row_id)
    _expect(row, "published", row_version)
    before = row.snapshot()
    row.status, row.updated_at = "retired", utcnow()
    session.flush()
    audit.record(session, user, "version.retire", "scheme_version", row.key, before, row.snapshot(), comment or None)
    _commit(session)
    return row
