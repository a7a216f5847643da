"""Login hardening: failed logins counted in the database, and a session generation per user.

- `login_throttle`: recent failed logins per user name tried and per client address, with the time until
  which further attempts are refused. In the database (not in a process's memory) so that every process of
  the admin counts the same failures.
- `users.session_generation`: part of what the session cookie names as its user; raising it (logout,
  a new password, a new role) ends every session of that user, copies of the cookie included.

Revision ID: 0004_auth
Revises: 0003_drop_policy
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_auth"
down_revision = "0003_drop_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_login_throttle_last_failure_at", "login_throttle", ["last_failure_at"])
    op.add_column("users", sa.Column("session_generation", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    op.drop_column("users", "session_generation")
    op.drop_index("ix_login_throttle_last_failure_at", "login_throttle")
    op.drop_table("login_throttle")
