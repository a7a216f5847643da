"""Initial tables, and the triggers that make published scheme versions and the audit log immutable.

The rules live in the database so that no route, script or direct ORM UPDATE can break them:
- a published or retired scheme version: its text, hash, identity, dates and approvals never change,
  it is never deleted, and its status moves published → retired only;
- the audit log is append-only;
- a policy is sold under a published version only, and stays pinned to it.
SQLite gets triggers with RAISE(ABORT); PostgreSQL gets trigger functions raising restrict_violation
(SQLSTATE 23001), so both surface as sqlalchemy.exc.IntegrityError.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Columns of a published row that must never change (status is checked separately: → retired only).
FROZEN_COLUMNS = ("yaml_text", "content_hash", "product_id", "version_id", "name", "period_start", "period_end",
                  "effective_from", "effective_to", "recorded_at", "published_at", "created_by", "reviewed_by")

MSG_FROZEN = "hmb: a published scheme version is immutable"
MSG_STATUS = "hmb: a published scheme version may only move to retired"
MSG_DELETE = "hmb: a published scheme version cannot be deleted"
MSG_AUDIT = "hmb: the audit log is append-only"
MSG_POLICY_VERSION = "hmb: a policy can only be sold under a published scheme version"
MSG_POLICY_PINNED = "hmb: a policy stays pinned to the version it was sold under"


def upgrade() -> None:
    _tables()
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_triggers()
    elif dialect == "postgresql":
        _postgresql_triggers()
    else:
        raise RuntimeError(f"no immutability triggers written for {dialect}; add them before using it")


def _tables() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.CheckConstraint("role IN ('product_manager', 'reviewer', 'regulator', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("city", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("source_file", sa.String(256), nullable=True),
        sa.Column("created_at", tz, nullable=False),
    )
    op.create_table(
        "scheme_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("product_id", sa.String(64), sa.ForeignKey("products.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("origin", sa.String(256), nullable=False),
        sa.Column("recorded_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.Column("published_at", tz, nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("updated_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("submitted_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("product_id", "version_id", name="uq_scheme_versions_product_version"),
        sa.CheckConstraint("status IN ('draft', 'in_review', 'published', 'retired')",
                           name="ck_scheme_versions_status"),
        sa.CheckConstraint("status = 'draft' OR content_hash IS NOT NULL", name="ck_scheme_versions_hash"),
        sa.CheckConstraint("status NOT IN ('published', 'retired') OR (effective_from IS NOT NULL AND "
                           "effective_to IS NOT NULL AND effective_from <= effective_to)",
                           name="ck_scheme_versions_effective"),
    )
    op.create_index("ix_scheme_versions_content_hash", "scheme_versions", ["content_hash"])
    create_policies_table()
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", tz, nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(128), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_username", "audit_events", ["username"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_index("ix_audit_events_object_id", "audit_events", ["object_id"])


def _sqlite_triggers() -> None:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_COLUMNS)
    op.execute(f"""
        CREATE TRIGGER trg_scheme_versions_frozen_update BEFORE UPDATE ON scheme_versions
        FOR EACH ROW WHEN OLD.status IN ('published', 'retired') AND ({changed})
        BEGIN SELECT RAISE(ABORT, '{MSG_FROZEN}'); END""")
    op.execute(f"""
        CREATE TRIGGER trg_scheme_versions_frozen_status BEFORE UPDATE OF status ON scheme_versions
        FOR EACH ROW WHEN (OLD.status = 'published' AND NEW.status NOT IN ('published', 'retired'))
                       OR (OLD.status = 'retired' AND NEW.status <> 'retired')
        BEGIN SELECT RAISE(ABORT, '{MSG_STATUS}'); END""")
    op.execute(f"""
        CREATE TRIGGER trg_scheme_versions_frozen_delete BEFORE DELETE ON scheme_versions
        FOR EACH ROW WHEN OLD.status IN ('published', 'retired')
        BEGIN SELECT RAISE(ABORT, '{MSG_DELETE}'); END""")
    op.execute(f"""
        CREATE TRIGGER trg_audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, '{MSG_AUDIT}'); END""")
    op.execute(f"""
        CREATE TRIGGER trg_audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, '{MSG_AUDIT}'); END""")
    create_policies_guard("sqlite")


def _postgresql_triggers() -> None:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)
    op.execute(f"""
        CREATE FUNCTION hmb_scheme_versions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            IF OLD.status IN ('published', 'retired') THEN
              RAISE EXCEPTION '{MSG_DELETE}' USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN OLD;
          END IF;
          IF OLD.status IN ('published', 'retired') THEN
            IF {changed} THEN
              RAISE EXCEPTION '{MSG_FROZEN}' USING ERRCODE = 'restrict_violation';
            END IF;
            IF NOT (NEW.status = OLD.status OR (OLD.status = 'published' AND NEW.status = 'retired')) THEN
              RAISE EXCEPTION '{MSG_STATUS}' USING ERRCODE = 'restrict_violation';
            END IF;
          END IF;
          RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER trg_scheme_versions_guard BEFORE UPDATE OR DELETE ON scheme_versions
        FOR EACH ROW EXECUTE FUNCTION hmb_scheme_versions_guard()""")
    op.execute(f"""
        CREATE FUNCTION hmb_audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION '{MSG_AUDIT}' USING ERRCODE = 'restrict_violation';
        END $$""")
    op.execute("""
        CREATE TRIGGER trg_audit_events_guard BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION hmb_audit_events_guard()""")
    create_policies_guard("postgresql")


# The policies table and its guard, apart: 0003_drop_policy drops them, and its downgrade makes them again here.

def create_policies_table() -> None:
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("policy_no", sa.String(64), nullable=False, unique=True),
        sa.Column("scheme_version_id", sa.Integer(), sa.ForeignKey("scheme_versions.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("member_id", sa.String(128), nullable=False),
        sa.Column("premium_fen", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_policies_scheme_version_id", "policies", ["scheme_version_id"])
    op.create_index("ix_policies_member_id", "policies", ["member_id"])


def create_policies_guard(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute(f"""
        CREATE TRIGGER trg_policies_published_only BEFORE INSERT ON policies
        FOR EACH ROW WHEN (SELECT status FROM scheme_versions WHERE id = NEW.scheme_version_id) IS NOT 'published'
        BEGIN SELECT RAISE(ABORT, '{MSG_POLICY_VERSION}'); END""")
        op.execute(f"""
        CREATE TRIGGER trg_policies_pinned BEFORE UPDATE OF scheme_version_id ON policies
        FOR EACH ROW WHEN NEW.scheme_version_id IS NOT OLD.scheme_version_id
        BEGIN SELECT RAISE(ABORT, '{MSG_POLICY_PINNED}'); END""")
        return
    op.execute(f"""
        CREATE FUNCTION hmb_policies_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            IF (SELECT status FROM scheme_versions WHERE id = NEW.scheme_version_id) IS DISTINCT FROM 'published' THEN
              RAISE EXCEPTION '{MSG_POLICY_VERSION}' USING ERRCODE = 'restrict_violation';
            END IF;
          ELSIF NEW.scheme_version_id IS DISTINCT FROM OLD.scheme_version_id THEN
            RAISE EXCEPTION '{MSG_POLICY_PINNED}' USING ERRCODE = 'restrict_violation';
          END IF;
          RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER trg_policies_guard BEFORE INSERT OR UPDATE ON policies
        FOR EACH ROW EXECUTE FUNCTION hmb_policies_guard()""")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table, trigger in (("scheme_versions", "trg_scheme_versions_guard"),
                               ("audit_events", "trg_audit_events_guard"), ("policies", "trg_policies_guard")):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        for function in ("hmb_scheme_versions_guard", "hmb_audit_events_guard", "hmb_policies_guard"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    for table in ("audit_events", "policies", "scheme_versions", "products", "users"):
        op.drop_table(table)  # SQLite drops a table's triggers with it
