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
from alembic import context, op
from alembic.script import ScriptDirectory

revision = "0003_drop_policy"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("policies")  # its indexes and, on both databases, its triggers go with it
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS hmb_policies_guard()")


def downgrade() -> None:
    initial = ScriptDirectory.from_config(context.config).get_revision("0001").module
    initial.create_policies_table()
    initial.create_policies_guard(op.get_bind().dialect.name)
