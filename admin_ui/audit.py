"""The audit log: every change is written in the same transaction as the change itself."""
from __future__ import annotations

from sqlalchemy.orm import Session

from .models import AuditEvent, User

SYSTEM = "system"
ANONYMOUS = "anonymous"  # a request from nobody logged in (a failed login, a refused request)


def record(session: Session, user: User | None, action: str, object_type: str, object_id: str,
           before: dict | None = None, after: dict | None = None, comment: str | None = None,
           actor: str = SYSTEM) -> AuditEvent:
    """`actor` names who acted when `user` is None: the system (import on start) or an anonymous request."""
    event = AuditEvent(user_id=user.id if user else None, username=user.username if user else actor,
                       action=action, object_type=object_type, object_id=object_id, before=before, after=after,
                       comment=comment)
    session.add(event)
    return event
