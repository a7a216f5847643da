"""Checking a user name and password: throttled, the same work whatever the name, audited.

`authenticate` is the one door for passwords: the login form and the API's HTTP Basic both call it.
- **Throttling.** Failed logins are counted per user name tried and per client address, in the database
  (`login_throttle`) so every process of the admin counts the same ones. From the FREE_FAILURES-th failure of
  one key on (the 5th of a name, the 20th of an address: an office behind one address has many users),
  each failure blocks that key for a delay that doubles, from FIRST_DELAY up to MAX_DELAY. A blocked attempt is refused without
  looking at the password (`Throttled`, which says until when). A count starts again after WINDOW without
  failures (such rows are deleted); a successful login clears its name's count, never the address's.
- **No name enumeration.** An unknown or inactive name is checked against a dummy hash made with the
  configured method, so it costs the same one hash as a known name: the answer time tells nothing.
- **Audit.** Every failure and every blocked attempt is an audit event: the name tried, the address,
  the channel (web or api) and the reason. The reason stays in the log; the user only hears
  "wrong name or password".
"""
from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit
from .i18n import _
from .models import LoginThrottle, User, utcnow
from .services import LOCAL_TZ, as_utc

FREE_FAILURES = {"user": 5, "addr": 20}
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)
WINDOW = timedelta(hours=1)


def now() -> datetime:
    """The clock the throttle reads (tests move it)."""
    return utcnow()


class Throttled(Exception):
    """Too many failures for this name or address: no attempt before `until`."""

    def __init__(self, until: datetime):
        super().__init__(f"login blocked until {until.isoformat()}")
        self.until = until

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait (HTTP Retry-After), at least 1."""
        return max(1, math.ceil((self.until - now()).total_seconds()))

    def message(self) -> str:
        """When the user may try again, as a clock time in China and in seconds from now."""
        at = self.until.astimezone(LOCAL_TZ).strftime("%H:%M:%S")
        return _("登录失败次数过多，请在 {at}（{seconds} 秒后）再试。", at=at, seconds=self.retry_after)


def authenticate(session: Session, username: str, password: str, address: str | None, via: str) -> User | None:
    """The active user with this name and password, or None (the failure counted and audited).

    Raises Throttled while the name or the address is blocked. `via` says which door ("web", "api") for the
    audit log. Commits its own writes (counts, audit events).
    """
    address = address or "unknown"
    keys = (_key("user", username), _key("addr", address))
    blocked = _blocked_until(session, keys)
    if blocked is not None:
        _audit(session, "user.login_throttled", username, address, via, "throttled", until=blocked.isoformat())
        session.commit()
        raise Throttled(blocked)
    user = session.scalar(select(User).where(User.username == username))
    known = user is not None and user.active
    # Exactly one hash check on every path: the user's own hash, or the dummy one.
    matches = check_password_hash(user.password_hash if known else dummy_hash(), password)
    if known and matches:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0]))
        session.commit()
        return user
    for key in keys:
        _count_failure(session, key)
    _forget_old_failures(session)
    reason = "wrong password" if known else ("inactive user" if user is not None else "unknown user")
    _audit(session, "user.login_failed", username, address, via, reason)
    session.commit()
    return None


def dummy_hash(method: str | None = None) -> str:
    """A hash of a random password with the configured method (what an unknown name is checked against)."""
    return _dummy_hash(method or current_app.config["PASSWORD_HASH_METHOD"])


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(24), method=method)


def _key(kind: str, value: str) -> str:
    return f"{kind}:{value[:128]}"


def _blocked_until(session: Session, keys: tuple[str, ...]) -> datetime | None:
    moment = now()
    until = session.scalar(select(LoginThrottle.blocked_until).where(
        LoginThrottle.key.in_(keys), LoginThrottle.blocked_until > moment).order_by(
        LoginThrottle.blocked_until.desc()).limit(1))
    return as_utc(until) if until is not None else None


def _count_failure(session: Session, key: str) -> None:
    """One more failure of `key` in one statement (no lost count between processes), then its block."""
    moment = now()
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[session.get_bind().dialect.name]
    table = LoginThrottle.__table__
    statement = insert(table).values(key=key, failures=1, last_failure_at=moment, blocked_until=None)
    statement = statement.on_conflict_do_update(index_elements=[table.c.key], set_={
        # A long quiet spell forgives the earlier failures.
        "failures": case((table.c.last_failure_at < moment - WINDOW, 1), else_=table.c.failures + 1),
        "last_failure_at": moment,
    }).returning(table.c.failures)
    failures = session.execute(statement).scalar_one()
    free = FREE_FAILURES[key.split(":", 1)[0]]
    if failures >= free:
        session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
            blocked_until=moment + delay_after(failures, free)))


def _forget_old_failures(session: Session) -> None:
    # A row quiet for WINDOW counts from zero again and its block (≤ MAX_DELAY < WINDOW) is over: it is
    # dead weight. Dropping such rows keeps the table as small as the last hour's failures, whatever names
    # an attacker invents.
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now() - WINDOW))


def delay_after(failures: int, free: int) -> timedelta:
    """How long a key is blocked after its `failures`-th failure: doubling from the `free`-th, capped."""
    return min(FIRST_DELAY * 2 ** min(failures - free, 32), MAX_DELAY)


def _audit(session: Session, action: str, username: str, address: str, via: str, reason: str, **extra) -> None:
    audit.record(session, None, action, "user", username[:128] or "—", actor=audit.ANONYMOUS,
                 after={"address": address, "via": via, "reason": reason, **extra}, comment=reason)
