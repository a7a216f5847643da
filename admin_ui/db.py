"""The database: one SQLAlchemy engine per app, one session per request (closed at teardown).

Plain SQLAlchemy 2.0 rather than Flask-SQLAlchemy: the models are ordinary typed declarative
classes that a later JSON API, a CLI or a batch job can use without a Flask app.
"""
from __future__ import annotations

from typing import TypeVar

from flask import Flask, abort, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


T = TypeVar("T")


def make_engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLite ignores foreign keys unless asked, per connection; WAL lets readers work while one writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def init_app(app: Flask, url: str) -> None:
    engine = make_engine(url)
    app.extensions["hmb_engine"] = engine
    app.extensions["hmb_sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_engine() -> Engine:
    return current_app.extensions["hmb_engine"]


def new_session() -> Session:
    return current_app.extensions["hmb_sessions"]()


def db() -> Session:
    """The session of the current request (or app context)."""
    if "hmb_session" not in g:
        g.hmb_session = new_session()
    return g.hmb_session


def get_or_404(model: type[T], ident) -> T:
    """The row, or the 404 page (Flask-SQLAlchemy's idiom)."""
    row = db().get(model, ident)
    if row is None:
        abort(404)
    return row


def _close_session(_exc) -> None:
    session = g.pop("hmb_session", None)
    if session is not None:
        session.close()
