"""What happens when the app starts: migrate, demo users, import the product files."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import get_engine, new_session
from .importer import ImportReport, import_products
from .migrate import upgrade
from .models import User

# One user per role, for a local demo only (HMB_DEMO_USERS=0 turns them off). Printed on start.
DEMO_USERS = (
    ("pm", "王敏", "product_manager", "pm-demo"),
    ("pm2", "李强", "product_manager", "pm2-demo"),
    ("reviewer", "张华", "reviewer", "reviewer-demo"),
    ("regulator", "陈静", "regulator", "regulator-demo"),
    ("admin", "系统管理员", "admin", "admin-demo"),
)


def prepare(app: Flask) -> None:
    if app.config["AUTO_MIGRATE"]:
        upgrade(get_engine())
    with new_session() as session:
        if app.config["DEMO_USERS"]:
            ensure_demo_users(session, app.config["PASSWORD_HASH_METHOD"])
        report = import_products(session, app.config["PRODUCTS_DIR"]) if app.config["IMPORT_PRODUCTS"] else ImportReport()
    app.extensions["hmb_import_report"] = report


def ensure_demo_users(session: Session, method: str = "scrypt") -> None:
    """Create the demo users that do not exist yet; never touch an existing user's password."""
    known = set(session.scalars(select(User.username)))
    for username, name, role, password in DEMO_USERS:
        if username not in known:
            user = User(username=username, display_name=name, role=role)
            user.set_password(password, method)
            session.add(user)
    session.commit()
