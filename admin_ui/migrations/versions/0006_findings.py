"""Sign-off: people's findings on the checks of a version's review, and admins' reasons to publish despite open
violations (admin_ui/signoff.py). Both tables are append-only, like the audit log: a finding changed is a new
row naming the one it replaces, so nothing is overwritten and the history stays.

Revision ID: 0006_findings
Revises: 0005_api_tokens
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_findings"
down_revision = "0005_api_tokens"
branch_labels = None
depends_on = None

FIRST = sa.text("replaces_id IS NULL")
TABLES = ("findings", "publish_overrides")


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scheme_version_id", sa.Integer(), sa.ForeignKey("scheme_versions.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("regime_id", sa.String(64), nullable=False),
        sa.Column("check_id", sa.String(64), nullable=False),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("values_hash", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", tz, nullable=False),
        sa.Column("replaces_id", sa.Integer(), sa.ForeignKey("findings.id"), nullable=True, unique=True),
        sa.CheckConstraint("outcome IN ('complies', 'fails', 'incomplete')", name="ck_findings_outcome"),
        sa.CheckConstraint("outcome = 'complies' OR length(trim(comment)) > 0", name="ck_findings_comment"),
    )
    op.create_index("ix_findings_scheme_version_id", "findings", ["scheme_version_id"])
    op.create_index("ix_findings_check", "findings", ["regime_id", "check_id"])
    op.create_index("uq_findings_first", "findings", ["scheme_version_id", "regime_id", "check_id"], unique=True,
                    sqlite_where=FIRST, postgresql_where=FIRST)
    op.create_table(
        "publish_overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scheme_version_id", sa.Integer(), sa.ForeignKey("scheme_versions.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", tz, nullable=False),
        sa.CheckConstraint("length(trim(reason)) > 0", name="ck_publish_overrides_reason"),
    )
    op.create_index("ix_publish_overrides_scheme_version_id", "publish_overrides", ["scheme_version_id"])
    _append_only(op.get_bind().dialect.name)


def _append_only(dialect: str) -> None:
    for table in TABLES:
        message = f"hmb: {table} are append-only"
        if dialect == "sqlite":
            for event in ("UPDATE", "DELETE"):
                op.execute(f"""
                    CREATE TRIGGER trg_{table}_no_{event.lower()} BEFORE {event} ON {table}
                    BEGIN SELECT RAISE(ABORT, '{message}'); END""")
            continue
        op.execute(f"""
            CREATE FUNCTION hmb_{table}_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation';
            END $$""")
        op.execute(f"""
            CREATE TRIGGER trg_{table}_guard BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION hmb_{table}_guard()""")


def downgrade() -> None:
    for table in TABLES:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_guard ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS hmb_{table}_guard()")
        op.drop_table(table)  # SQLite drops a table's triggers and indexes with it
