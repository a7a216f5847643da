"""Background jobs in the database, so the admin can run as several processes behind one address.

A comparison, an impact report or an import started through one web process is run by a thread of that
process, which writes its progress, heartbeat and result here; any other process answers the polls.
One live (queued or running) job per work and user: a partial unique index, which SQLite and PostgreSQL
both have, settles two processes starting the same work at the same moment.

Revision ID: 0003_jobs
Revises: 0004_auth
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0003_jobs"
down_revision = "0004_auth"
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(200), nullable=False),
        sa.Column("page", sa.Text(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("runner", sa.String(128), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("heartbeat_at", tz, nullable=False),
        sa.Column("finished_at", tz, nullable=True),
        sa.Column("expires_at", tz, nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_status"),
        sa.CheckConstraint("done >= 0 AND total >= 0", name="ck_jobs_progress"),
    )
    op.create_index("ix_jobs_kind_key", "jobs", ["kind", "key"])
    op.create_index("ix_jobs_expires_at", "jobs", ["expires_at"])
    op.create_index("uq_jobs_live_work", "jobs", ["kind", "key", "owner_id"], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    op.drop_table("jobs")  # its indexes go with it
