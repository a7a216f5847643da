"""Drop the `policies` table and its guard: nothing in the platform ever sold, stored or read a policy.

0001 created it for policies pinned to the version they were sold under, but no route, command or job
wrote a row; only tests did. A table nothing writes promises a rule the platform does not keep, so it
goes. What it stood for holds without it: a claim names the version year it is settled under, and that
version, once published, never changes (the scheme_versions triggers). When sales are built, the table
comes back with the code that writes it.

Downgrade restores the table and its triggers as 0001 made them (empty: the rows are gone).

Revision ID: 0003_drop_policy
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "0003_drop_policy"
down_revision = "0002"
branch_labels = None
depends_on = None

MSG_POLICY_VERSION = "hmb: a policy can only be sold under a published scheme version"
MSG_POLICY_PINNED = "hmb: a policy stays pinned to the version it was sold under"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("policies")  # its indexes and, on both databases, its triggers go with it
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS hmb_policies_guard()")


def downgrade() -> None:
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
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(f"""
            CREATE TRIGGER trg_policies_published_only BEFORE INSERT ON policies
            FOR EACH ROW WHEN (SELECT status FROM scheme_versions WHERE id = NEW.scheme_version_id) IS NOT 'published'
            BEGIN SELECT RAISE(ABORT, '{MSG_POLICY_VERSION}'); END""")
        op.execute(f"""
            CREATE TRIGGER trg_policies_pinned BEFORE UPDATE OF scheme_version_id ON policies
            FOR EACH ROW WHEN NEW.scheme_version_id IS NOT OLD.scheme_version_id
            BEGIN SELECT RAISE(ABORT, '{MSG_POLICY_PINNED}'); END""")
    elif dialect == "postgresql":
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
