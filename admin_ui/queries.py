"""What the pages read from the database, by name: the views stay thin and hold no query of their own.

Plain functions over a Session, like services.py (whose functions change things); each returns rows in the
order the page shows them.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import FROZEN_STATUSES, AuditEvent, Finding, Product, PublishOverride, SchemeVersion


# ── products and versions ─────────────────────────────────────────────────────────────────────

def all_products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.id)))


def valid_versions(session: Session) -> list[SchemeVersion]:
    """Every version whose text validates (it has an engine hash), by product, then period."""
    return list(session.scalars(select(SchemeVersion).where(SchemeVersion.content_hash.is_not(None))
                                .order_by(SchemeVersion.product_id, SchemeVersion.period_start)))


def product_versions(session: Session, product_id: str, statuses: Iterable[str]) -> list[SchemeVersion]:
    """The product's versions in these statuses, by period start."""
    return list(session.scalars(select(SchemeVersion).where(
        SchemeVersion.product_id == product_id, SchemeVersion.status.in_(tuple(statuses)))
        .order_by(SchemeVersion.period_start, SchemeVersion.version_id)))


def version_by_key(session: Session, product_id: str, version_id: str) -> SchemeVersion | None:
    """The version "product@version"."""
    return session.scalar(select(SchemeVersion).where(SchemeVersion.product_id == product_id,
                                                      SchemeVersion.version_id == version_id))


def latest_frozen_before(session: Session, row: SchemeVersion) -> SchemeVersion | None:
    """The latest published (or since retired) version of the row's product whose period starts earlier."""
    if row.period_start is None:
        return None
    return session.scalar(select(SchemeVersion).where(
        SchemeVersion.product_id == row.product_id, SchemeVersion.id != row.id,
        SchemeVersion.status.in_(FROZEN_STATUSES), SchemeVersion.period_start < row.period_start)
        .order_by(SchemeVersion.period_start.desc(), SchemeVersion.id.desc()).limit(1))


# ── the audit log ─────────────────────────────────────────────────────────────────────────────

def audit_events(session: Session, user: str = "", action: str = "", object_id: str = "",
                 limit: int | None = None) -> Iterable[AuditEvent]:
    """Events newest first whose user, action and object contain the given texts (any case); all of them
    when `limit` is None, read as they are iterated."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    for column, value in ((AuditEvent.username, user), (AuditEvent.action, action), (AuditEvent.object_id, object_id)):
        if value:
            query = query.where(func.lower(column).contains(value.lower(), autoescape=True))
    return session.scalars(query.limit(limit) if limit is not None else query)


def audit_actions(session: Session) -> list[str]:
    """The actions the log holds, for the filter's list."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


# ── sign-off: findings and publishing overrides ───────────────────────────────────────────────

def findings_up_to(session: Session, row: SchemeVersion) -> list[Finding]:
    """Every finding on the row and on its product's versions whose period starts earlier, oldest first (the
    history a version's sign-off is read from: its own findings, and those it may carry)."""
    earlier = SchemeVersion.period_start < row.period_start if row.period_start else SchemeVersion.id == row.id
    return list(session.scalars(select(Finding).join(Finding.version).where(
        SchemeVersion.product_id == row.product_id, (SchemeVersion.id == row.id) | earlier)
        .order_by(Finding.id)))


def overrides_of(session: Session, row_id: int) -> list[PublishOverride]:
    """An admin's reasons to publish the version despite open violations, oldest first."""
    return list(session.scalars(select(PublishOverride).where(PublishOverride.scheme_version_id == row_id)
                                .order_by(PublishOverride.id)))
