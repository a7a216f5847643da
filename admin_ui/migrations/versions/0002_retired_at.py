"""Record when a version was retired, so "which rules applied to a claim dated D, as known on K" is answerable.

A scheme version already keeps both time axes but one: its effective period (valid time, frozen on
publishing) and when the platform learnt of it (`published_at`, frozen too). What was missing is when it
stopped being offered: retiring only flipped the status. This adds `scheme_versions.retired_at` and
extends the immutability triggers so that it is set exactly once, in the same UPDATE that moves a
published version to retired, and never changes afterwards; a retired row must say when; nothing else
may carry it. Rows retired before this migration take the time of their audit event (or their last update).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Unchanged from 0001: a published or retired row never changes these.
FROZEN_COLUMNS = ("yaml_text", "content_hash", "product_id", "version_id", "name", "period_start", "period_end",
                  "effective_from", "effective_to", "recorded_at", "published_at", "created_by", "reviewed_by")

MSG_FROZEN = "hmb: a published scheme version is immutable"
MSG_RETIRED_AT = "hmb: retired_at is set once, when a published scheme version is retired"
MSG_RETIRED_WHEN = "hmb: a retired scheme version must record when it was retired (retired_at)"

# retired_at may change only from NULL, and only in the UPDATE that moves published → retired.
SQLITE_RETIRED_AT_MOVES = ("NEW.retired_at IS NOT OLD.retired_at AND NOT (OLD.status = 'published' "
                           "AND NEW.status = 'retired' AND OLD.retired_at IS NULL)")
SQLITE_RETIRED_WITHOUT_WHEN = "NEW.status = 'retired' AND NEW.retired_at IS NULL"


def upgrade() -> None:
    op.add_column("scheme_versions", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    _backfill()
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        op.execute(_postgresql_guard(with_retired_at=True))
        op.execute("DROP TRIGGER trg_scheme_versions_guard ON scheme_versions")
        op.execute("""
            CREATE TRIGGER trg_scheme_versions_guard BEFORE INSERT OR UPDATE OR DELETE ON scheme_versions
            FOR EACH ROW EXECUTE FUNCTION hmb_scheme_versions_guard()""")
    else:
        raise RuntimeError(f"no immutability triggers written for {dialect}; add them before using it")


def _backfill() -> None:
    # The 0001 triggers do not look at the new column, so this UPDATE of retired rows passes them.
    op.execute("""
        UPDATE scheme_versions SET retired_at = COALESCE(
            (SELECT MAX(a.at) FROM audit_events a WHERE a.action = 'version.retire'
               AND a.object_id = scheme_versions.product_id || '@' || scheme_versions.version_id),
            updated_at)
        WHERE status = 'retired' AND retired_at IS NULL""")


def _sqlite_upgrade() -> None:
    op.execute(f"""
        CREATE TRIGGER trg_scheme_versions_retired_at BEFORE UPDATE ON scheme_versions
        FOR EACH ROW WHEN {SQLITE_RETIRED_AT_MOVES}
        BEGIN SELECT RAISE(ABORT, '{MSG_RETIRED_AT}'); END""")
    op.execute(f"""
        CREATE TRIGGER trg_scheme_versions_retired_when BEFORE UPDATE ON scheme_versions
        FOR EACH ROW WHEN {SQLITE_RETIRED_WITHOUT_WHEN}
        BEGIN SELECT RAISE(ABORT, '{MSG_RETIRED_WHEN}'); END""")
    op.execute(f"""
        CREATE TRIGGER trg_scheme_versions_retired_insert BEFORE INSERT ON scheme_versions
        FOR EACH ROW WHEN ({SQLITE_RETIRED_WITHOUT_WHEN})
                       OR (NEW.status <> 'retired' AND NEW.retired_at IS NOT NULL)
        BEGIN SELECT RAISE(ABORT, '{MSG_RETIRED_AT}'); END""")


def _postgresql_guard(with_retired_at: bool) -> str:
    """The 0001 guard function, plus (when asked) the retired_at rules; CREATE OR REPLACE keeps the name."""
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)
    insert_rule = update_rule = ""
    if with_retired_at:
        insert_rule = f"""
          IF TG_OP = 'INSERT' THEN
            IF (NEW.status = 'retired') IS DISTINCT FROM (NEW.retired_at IS NOT NULL) THEN
              RAISE EXCEPTION '{MSG_RETIRED_AT}' USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
          END IF;"""
        update_rule = f"""
          IF NEW.retired_at IS DISTINCT FROM OLD.retired_at AND NOT (OLD.status = 'published'
              AND NEW.status = 'retired' AND OLD.retired_at IS NULL) THEN
            RAISE EXCEPTION '{MSG_RETIRED_AT}' USING ERRCODE = 'restrict_violation';
          END IF;
          IF NEW.status = 'retired' AND NEW.retired_at IS NULL THEN
            RAISE EXCEPTION '{MSG_RETIRED_WHEN}' USING ERRCODE = 'restrict_violation';
          END IF;"""
    return f"""
        CREATE OR REPLACE FUNCTION hmb_scheme_versions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN{insert_rule}
          IF TG_OP = 'DELETE' THEN
            IF OLD.status IN ('published', 'retired') THEN
              RAISE EXCEPTION 'hmb: a published scheme version cannot be deleted' USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN OLD;
          END IF;
          IF OLD.status IN ('published', 'retired') THEN
            IF {changed} THEN
              RAISE EXCEPTION '{MSG_FROZEN}' USING ERRCODE = 'restrict_violation';
            END IF;
            IF NOT (NEW.status = OLD.status OR (OLD.status = 'published' AND NEW.status = 'retired')) THEN
              RAISE EXCEPTION 'hmb: a published scheme version may only move to retired'
                USING ERRCODE = 'restrict_violation';
            END IF;
          END IF;{update_rule}
          RETURN NEW;
        END $$"""


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("trg_scheme_versions_retired_at", "trg_scheme_versions_retired_when",
                        "trg_scheme_versions_retired_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER trg_scheme_versions_guard ON scheme_versions")
        op.execute(_postgresql_guard(with_retired_at=False))
        op.execute("""
            CREATE TRIGGER trg_scheme_versions_guard BEFORE UPDATE OR DELETE ON scheme_versions
            FOR EACH ROW EXECUTE FUNCTION hmb_scheme_versions_guard()""")
    op.drop_column("scheme_versions", "retired_at")  # SQLite ≥ 3.35 drops a column in place (no table rebuild)
