"""What a user can do to a scheme version, as plain functions over a Session (the routes stay thin).

Each function checks the role, the status and the row version it was given (optimistic concurrency),
changes the row, writes the audit event and commits — or raises a WorkflowError and changes nothing.
A later JSON API calls the same functions.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import SchemeError, sandbox

from . import audit
from .i18n import legacy_label
from .models import ROLES, Product, SchemeVersion, User, utcnow
from .schemes import Analysis, check_draft, next_year_text

PERMISSIONS: dict[str, set[str]] = {
    "view": set(ROLES),
    "simulate": set(ROLES),
    "draft.create": {"product_manager", "admin"},
    "draft.edit": {"product_manager", "admin"},
    "draft.submit": {"product_manager", "admin"},
    "review": {"reviewer", "admin"},  # approve (= publish with an effective period) or send back
    # A finding on a check of the review (signoff.py). Not the admin: an admin's way past an open violation is an
    # override with a reason ("publish.override"), never a 符合 that needs none.
    "findings.record": {"reviewer", "regulator"},
    "publish.override": {"admin"},
    "retire": {"admin"},
    "audit.view": {"reviewer", "regulator", "admin"},
    "tokens.manage": {"admin"},  # issue and revoke API tokens (tokens.py)
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


# ── the engine's view of a stored version ─────────────────────────────────────────────────────

def check_stored(row: SchemeVersion) -> Analysis:
    """check_draft of a row's stored text, from a cache of its own.

    Why not rely on schemes.analyse's cache: the editor's live validation sends a new text at every pause in
    typing, and each one takes a place in that cache; after an editing session every stored version has
    been pushed out, and each page that shows one (version, simulator, editor) re-parses and re-validates
    it — 35–200 ms a version. Stored texts change only when a draft is saved, so this cache, keyed by the
    text itself, sees no churn from typing; a published text never changes, so neither does its entry.
    """
    return _check_stored(row.yaml_text, row.product_id, row.version_id)


def is_legacy(row: SchemeVersion) -> bool:
    """A stored text the current scheme language refuses although it validated when it was stored: it keeps the
    engine hash it got then (every published version has one), and check_stored now finds issues. Published
    under an older release, it is never rewritten: it stays readable, and a new draft copied from it is fixed."""
    return row.content_hash is not None and not check_stored(row).ok


def refusal(row: SchemeVersion) -> str:
    """Why an evaluation of the row cannot run, for the API's error (its issues go beside it)."""
    if not is_legacy(row):
        return "该版本未通过校验"
    if row.frozen:
        return "该版本按旧版方案语言发布，当前校验未通过：已发布的文本不会修改，请复制为新草稿，按所列问题修正后提交审核"
    return "该版本按旧版方案语言保存，当前校验未通过：请按所列问题修正"


def refused_words(row: SchemeVersion, otherwise: str) -> str:
    """Why a page or a job cannot evaluate the row, in the user's language: a text an older release stored is
    said to be one (its page lists the issues and the way out); any other refusal keeps the caller's words."""
    if not is_legacy(row):
        return otherwise
    return legacy_label(row)


@lru_cache(maxsize=256)  # every version of every product, with room for drafts' saved texts
def _check_stored(text: str, product_id: str, version_id: str) -> Analysis:
    return check_draft(text, product_id, version_id)


def evaluate_stored(row: SchemeVersion, operation: str, payload, progress=None) -> dict:
    """engine.sandbox.run on a stored, valid version; the other stored versions an operation needs (impact's
    "previous", compare's "others") are given in the payload as rows.

    All of them frozen: in this process. Any other (draft, in review): all in the sandbox's worker. Why:
    durable-rules never frees a compiled ruleset, and every saved draft text compiles a new one.
    """
    if all(r.frozen for r in (row, *_rows_in(payload))):
        return sandbox.run(operation, check_stored(row).product, row.version_id,
                           _rows_as(payload, lambda r: check_stored(r).version), progress)
    return sandbox.evaluate_draft(operation, row.yaml_text, row.version_id,
                                  _rows_as(payload, lambda r: {"text": r.yaml_text, "version": r.version_id}), progress)


def _rows_in(payload) -> list[SchemeVersion]:
    values = payload.values() if isinstance(payload, dict) else ()
    return [r for v in values for r in (v if isinstance(v, list) else [v]) if isinstance(r, SchemeVersion)]


def _rows_as(payload, convert):
    """The payload with each row in it (a value, or an item of a list value) converted."""
    if not isinstance(payload, dict):
        return payload
    one = lambda v: convert(v) if isinstance(v, SchemeVersion) else v  # noqa: E731
    return {k: [one(x) for x in v] if isinstance(v, list) else one(v) for k, v in payload.items()}


# ── drafts ────────────────────────────────────────────────────────────────────────────────────

def latest_version(session: Session, product_id: str) -> SchemeVersion | None:
    rows = session.scalars(select(SchemeVersion).where(SchemeVersion.product_id == product_id)).all()
    if not rows:
        return None
    published = [r for r in rows if r.status in ("published", "retired")] or rows
    return max(published, key=lambda r: (r.period_start or date.min, r.id))


def create_next_draft(session: Session, user: User, product_id: str, source_id: int | None = None) -> SchemeVersion:
    """Next year's draft: a copy of the latest version (or of the version `source_id` of this product) with id,
    name, period and enrolment moved on a year."""
    require(user, "draft.create")
    if session.get(Product, product_id) is None:
        raise NotFound("没有这个产品")
    source = latest_version(session, product_id) if source_id is None else session.get(SchemeVersion, source_id)
    if source is None or source.product_id != product_id:
        raise Invalid("该产品还没有任何版本可复制" if source_id is None else "该产品没有这个版本")
    new_id, text = _next_year_copy(source)
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


def _next_year_copy(source: SchemeVersion) -> tuple[str, str]:
    """(new version id, text) of next year's copy. A stored text the loader no longer reads (a legacy text: see
    is_legacy) is copied as it is, under the next year of its stored period: the editor then lists what to fix,
    the version id and period among them."""
    try:
        return next_year_text(source.yaml_text)
    except (SchemeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        if source.period_start is None:
            raise Invalid("该版本的文本无法读取，也没有记录保险期间，无法复制") from exc
        return str(source.period_start.year + 1), source.yaml_text


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
    """Approve = publish with an effective period. From then on the database refuses any change but retiring.
    Refused while the review has an open 违规 verdict that no admin's override covers (signoff.py)."""
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
    from .signoff import ensure_publishable  # signoff.py builds on this module: imported here, not at the top

    ensure_publishable(session, row)  # no open 违规 verdict, or an admin's override of it
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
    row.status = "retired"
    row.retired_at = row.updated_at = utcnow()  # the database insists a retired row says when (migration 0002)
    session.flush()
    audit.record(session, user, "version.retire", "scheme_version", row.key, before, row.snapshot(), comment or None)
    _commit(session)
    return row


# ── which rules applied to a claim dated D, as known on K ─────────────────────────────────────
#
# Two time axes, both already frozen on a published row: the effective period (valid time: which claim
# dates the rules govern) and published_at (record time: from when the platform knew them). A claim dated D,
# asked as known on K, is judged by the versions whose period contains D and that were published by K;
# if more than one (a version retired and then replaced for part of its dates), the one published last
# supersedes the others for those dates. Retiring alone does not end a version's rules: it stops new sales,
# and policies already sold under it are still settled by it, so a retired version with no successor for D
# still answers for D. Policies stay pinned to the version they were sold under whatever this says.

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # "known on 2024-03-01" means by the end of that day in China


def as_utc(moment: datetime) -> datetime:
    # SQLite hands back the stored UTC wall time without its zone; PostgreSQL an aware datetime.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def known_by(known_on: date | datetime) -> datetime:
    """The instant K stands for: a date is the end of that day in China; a datetime is taken as it is."""
    if isinstance(known_on, datetime):
        return as_utc(known_on)
    return datetime.combine(known_on, time.max, LOCAL_TZ).astimezone(timezone.utc)


@dataclass(frozen=True)
class RulesAnswer:
    product_id: str
    claim_date: date
    known_on: date | datetime
    cutoff: datetime  # known_on as a UTC instant
    version: SchemeVersion | None  # the answer: None when nothing covering D had been published by K
    covering: list[SchemeVersion] = field(default_factory=list)  # ever published with D in period, oldest first

    def known(self, row: SchemeVersion) -> bool:
        return row.published_at is not None and as_utc(row.published_at) <= self.cutoff

    def retired(self, row: SchemeVersion) -> bool:
        """Retired (no longer offered) as known on K — its rules still apply to its dates."""
        return row.retired_at is not None and as_utc(row.retired_at) <= self.cutoff

    @property
    def superseded(self) -> list[SchemeVersion]:
        """Versions known by K that also cover D, replaced for D by the answer."""
        return [r for r in self.covering if self.known(r) and r is not self.version]

    @property
    def published_later(self) -> list[SchemeVersion]:
        """Versions covering D that were published only after K (the answer today may differ)."""
        return [r for r in self.covering if not self.known(r)]


def versions_covering(session: Session, product_id: str, claim_date: date) -> list[SchemeVersion]:
    """Every version ever published (published or retired now) whose effective period contains the date,
    in the order the platform learnt of them."""
    rows = session.scalars(select(SchemeVersion).where(
        SchemeVersion.product_id == product_id, SchemeVersion.published_at.is_not(None),
        SchemeVersion.effective_from <= claim_date, SchemeVersion.effective_to >= claim_date)).all()
    return sorted(rows, key=lambda r: (as_utc(r.published_at), r.id))


def explain_rules(session: Session, product_id: str, claim_date: date, known_on: date | datetime) -> RulesAnswer:
    """rules_in_force with what it weighed: every version covering D and whether it was known by K."""
    if session.get(Product, product_id) is None:
        raise NotFound("没有这个产品")
    cutoff = known_by(known_on)
    covering = versions_covering(session, product_id, claim_date)
    known = [r for r in covering if as_utc(r.published_at) <= cutoff]
    return RulesAnswer(product_id, claim_date, known_on, cutoff, known[-1] if known else None, covering)


def rules_in_force(session: Session, product_id: str, claim_date: date,
                   known_on: date | datetime) -> SchemeVersion | None:
    """The version whose rules applied to a claim dated claim_date, as the platform knew it on known_on."""
    return explain_rules(session, product_id, claim_date, known_on).version
