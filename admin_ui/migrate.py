"""Apply the Alembic migrations (admin_ui/migrations) to the app's database; called on start."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK = 0x686D62  # "hmb": the PostgreSQL advisory lock that lets one process at a time migrate


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Hosts starting at the same moment: one migrates, the others wait, then find nothing left to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": LOCK})
        config.attributes["connection"] = connection  # env.py uses it instead of opening its own
        command.upgrade(config, revision)
