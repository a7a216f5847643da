"""The admin's tables, as SQLAlchemy 2.0 typed models.

A SchemeVersion row holds one *self-contained single-version product document*: the product header,
sources and drug lists, and exactly one entry under `versions:`. Why that and not the whole product file:
- the engine validates and hashes it as it is, so the line numbers the editor shows are the engine's own;
- its engine hash (`engine.model.content_hash`: product info, sources, the drug lists it uses, the version)
  is the same as that version's hash in the full file, so "this row is immutable" means exactly
  "the results of this version cannot change";
- editing next year's draft can never touch a published sibling year.

Immutability of published rows is enforced by database triggers (see the first migration), not only here.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (JSON, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        event, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE
from werkzeug.security import check_password_hash, generate_password_hash

from .db import Base

ROLES = ("product_manager", "reviewer", "regulator", "admin")
STATUSES = ("draft", "in_review", "published", "retired")
FROZEN_STATUSES = ("published", "retired")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('product_manager', 'reviewer', 'regulator', 'admin')",
                                      name="ck_users_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Part of the session's user id (get_id): raising it ends every session of the user, every copy of the
    # cookie included. Raised on logout and whenever the password or the role changes (events below).
    session_generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    def set_password(self, password: str, method: str = "scrypt") -> None:
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        self.session_generation = (self.session_generation or 1) + 1

    # Flask-Login's user protocol
    @property
    def is_active(self) -> bool:
        return self.active

    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        """"<id>:<generation>": Flask-Login keeps it in the session; auth.load_user refuses an old generation."""
        return f"{self.id}:{self.session_generation}"


@event.listens_for(User.password_hash, "set", active_history=True)
@event.listens_for(User.role, "set", active_history=True)
def _credentials_changed(user: User, value, old, _initiator) -> None:
    # Whatever code path changes a password or a role (a page, a script, the shell), the sessions opened
    # under the old one end. A new user (no old value yet) has none to end.
    if old not in (NO_VALUE, NEVER_SET) and value != old:
        user.end_sessions()


class LoginThrottle(Base):
    """Recent failed logins per user name tried (`user:NAME`) and per client address (`addr:IP`).

    In the database, so every process of the admin counts the same failures (credentials.py decides).
    """

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_last_failure_at", "last_failure_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the YAML product.id, e.g. "xianhuibao"
    name: Mapped[str] = mapped_column(String(128))
    city: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list["SchemeVersion"]] = relationship(back_populates="product",
                                                           order_by="SchemeVersion.period_start")


class SchemeVersion(Base):
    __tablename__ = "scheme_versions"
    __table_args__ = (
        UniqueConstraint("product_id", "version_id", name="uq_scheme_versions_product_version"),
        CheckConstraint("status IN ('draft', 'in_review', 'published', 'retired')", name="ck_scheme_versions_status"),
        # Only a draft may be unfinished; anything under review or published has a valid, hashed text.
        CheckConstraint("status = 'draft' OR content_hash IS NOT NULL", name="ck_scheme_versions_hash"),
        CheckConstraint("status NOT IN ('published', 'retired') OR (effective_from IS NOT NULL AND "
                        "effective_to IS NOT NULL AND effective_from <= effective_to)",
                        name="ck_scheme_versions_effective"),
        Index("ix_scheme_versions_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    version_id: Mapped[str] = mapped_column(String(64))  # the YAML versions[0].id, e.g. "2024"
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    yaml_text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))  # engine hash; NULL while a draft does not validate
    period_start: Mapped[date | None] = mapped_column(Date)  # the version's policy period, from the YAML
    period_end: Mapped[date | None] = mapped_column(Date)
    effective_from: Mapped[date | None] = mapped_column(Date)  # set on publishing
    effective_to: Mapped[date | None] = mapped_column(Date)
    origin: Mapped[str] = mapped_column(String(256))  # "import:products/x.yaml" or "copy:<product>@<version>"
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # from then on it is known
    # When it stopped being offered (published → retired); set once, in that same UPDATE (migration 0002).
    # Its rules still govern claims dated in its effective period: see services.rules_in_force.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # NULL: imported from a product file
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_comment: Mapped[str | None] = mapped_column(Text)
    # Optimistic concurrency: every UPDATE checks and bumps it (SQLAlchemy version_id_col).
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    product: Mapped[Product] = relationship(back_populates="versions")
    creator: Mapped[User | None] = relationship(foreign_keys=[created_by])
    updater: Mapped[User | None] = relationship(foreign_keys=[updated_by])
    submitter: Mapped[User | None] = relationship(foreign_keys=[submitted_by])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewed_by])

    __mapper_args__ = {"version_id_col": row_version}

    @property
    def key(self) -> str:
        return f"{self.product_id}@{self.version_id}"

    @property
    def frozen(self) -> bool:
        return self.status in FROZEN_STATUSES

    def snapshot(self) -> dict:
        """What the audit log keeps of a version before and after a change (the text itself by its hash)."""
        from .schemes import text_digest

        return {"status": self.status, "row_version": self.row_version, "content_hash": self.content_hash,
                "text_sha256": text_digest(self.yaml_text), "lines": self.yaml_text.count("\n") + 1,
                "effective_from": _iso(self.effective_from), "effective_to": _iso(self.effective_to),
                **({"retired_at": self.retired_at.isoformat()} if self.retired_at else {})}


@event.listens_for(SchemeVersion, "before_update")
def _retiring_records_when(_mapper, _connection, row: SchemeVersion) -> None:
    # The database refuses a retired row without retired_at; whichever code path retires, it says when.
    if row.status == "retired" and row.retired_at is None:
        row.retired_at = utcnow()


class AuditEvent(Base):
    """Append-only (a trigger refuses UPDATE and DELETE): who did what to which object, before and after."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # NULL: the system (import on start)
    username: Mapped[str] = mapped_column(String(64), index=True)  # kept as text so the log reads on its own
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128), index=True)  # e.g. "xianhuibao@2024"
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


JOB_STATUSES = ("queued", "running", "done", "failed")
LIVE_JOB_STATUSES = ("queued", "running")


class Job(Base):
    """Background work a page started and polls: a comparison, an impact report, an import (admin_ui/jobs.py).

    In the database, so that any of several web processes can answer a poll for a job another one runs.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_status"),
        CheckConstraint("done >= 0 AND total >= 0", name="ck_jobs_progress"),
        Index("ix_jobs_kind_key", "kind", "key"),
        # One live job per work and user, whichever process is asked: the database settles a race between two.
        Index("uq_jobs_live_work", "kind", "key", "owner_id", unique=True,
              sqlite_where=text("status IN ('queued', 'running')"),
              postgresql_where=text("status IN ('queued', 'running')")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "compare", "impact", "import"
    key: Mapped[str] = mapped_column(String(64))  # digest of what determines the work (jobs.key_of)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))  # NULL: nobody polls it
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(200), default="")  # what the work says it is doing
    page: Mapped[str] = mapped_column(Text, default="")  # where the browser goes when it is done
    result: Mapped[dict | list | None] = mapped_column(JSON)  # amounts in integer fen
    error: Mapped[str] = mapped_column(Text, default="")
    runner: Mapped[str] = mapped_column(String(128))  # the process running it: "host:pid:token"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ApiToken(Base):
    """A machine's credential for the JSON API, issued by an admin to a named integration (tokens.py).

    Only the SHA-256 of the secret is kept: the secret is shown once, when it is made. The integration acts as
    its own user (`user`, role fixed at creation, no usable password), so the audit log and the four-eyes rule
    name it like any person.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the secret's first characters, to tell tokens apart
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # NULL: the command line
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


FINDING_OUTCOMES = ("complies", "fails", "incomplete")  # 符合 / 不符合 / 需补充


class Finding(Base):
    """A person's finding on one check of a version's review (signoff.py): 符合, 不符合 or 需补充, with a comment.

    Append-only (a trigger refuses UPDATE and DELETE): a changed mind is a new row naming the one it replaces, so
    the history stays. `replaces_id` is unique and a version's first finding on a check is unique too, so two
    people answering the same finding at once cannot both succeed: the history is one line.
    The hashes say what the finding was about: the check as the regime file wrote it and the scheme values it
    looked at. A later version (or a draft edited since) sees the finding as carried only while both are the same.
    """

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint("outcome IN ('complies', 'fails', 'incomplete')", name="ck_findings_outcome"),
        CheckConstraint("outcome = 'complies' OR length(trim(comment)) > 0", name="ck_findings_comment"),
        Index("ix_findings_check", "regime_id", "check_id"),
        Index("uq_findings_first", "scheme_version_id", "regime_id", "check_id", unique=True,
              sqlite_where=text("replaces_id IS NULL"), postgresql_where=text("replaces_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_version_id: Mapped[int] = mapped_column(ForeignKey("scheme_versions.id", ondelete="RESTRICT"), index=True)
    regime_id: Mapped[str] = mapped_column(String(64))
    check_id: Mapped[str] = mapped_column(String(64))
    definition_hash: Mapped[str] = mapped_column(String(64))  # engine.review Check.digest
    values_hash: Mapped[str] = mapped_column(String(64))  # engine.review Verdict.values_digest
    verdict: Mapped[str] = mapped_column(String(16))  # the engine's verdict when the finding was recorded
    outcome: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"), unique=True)

    version: Mapped[SchemeVersion] = relationship()
    user: Mapped[User] = relationship()

    def snapshot(self) -> dict:
        """What the audit log keeps of it."""
        return {"id": self.id, "check": f"{self.regime_id}/{self.check_id}", "verdict": self.verdict,
                "outcome": self.outcome, "comment": self.comment, "definition_hash": self.definition_hash,
                "values_hash": self.values_hash}


class PublishOverride(Base):
    """An admin's reason to publish a version despite open 违规 verdicts (signoff.py). Append-only.

    It covers the open checks it lists, on the text it was recorded for (`content_hash`): a verdict that opens
    afterwards, or an edited text, needs a reason of its own.
    """

    __tablename__ = "publish_overrides"
    __table_args__ = (CheckConstraint("length(trim(reason)) > 0", name="ck_publish_overrides_reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_version_id: Mapped[int] = mapped_column(ForeignKey("scheme_versions.id", ondelete="RESTRICT"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    checks: Mapped[list] = mapped_column(JSON)  # [{"regime", "check", "name", "verdict"}…] open when recorded
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship()
