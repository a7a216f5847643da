"""A published version cannot change: not through any route, not by an ORM UPDATE, not by SQL — the database refuses."""
from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import delete, inspect, text, update
from sqlalchemy.exc import IntegrityError

from admin_ui.migrate import alembic_config
from admin_ui.models import AuditEvent, SchemeVersion

from .conftest import Browser, version_row


@pytest.fixture
def published(session):
    return version_row(session, "xianhuibao", "2023")


def test_no_route_changes_a_published_version(app, published, session):
    before = (published.yaml_text, published.content_hash, published.status, published.row_version)
    pm, reviewer, admin = Browser(app, "pm"), Browser(app, "reviewer"), Browser(app, "admin")
    url = f"/versions/{published.id}"
    form = {"yaml_text": "format: hmb-scheme/1\n", "row_version": published.row_version}
    assert pm.post(f"{url}/edit", form).status_code == 409
    assert admin.post(f"{url}/edit", form).status_code == 409
    assert pm.get(f"{url}/edit").status_code == 302  # the editor is not even shown
    assert pm.post(f"{url}/submit", {"row_version": published.row_version}).status_code == 409
    dates = {"row_version": published.row_version, "effective_from": "2020-01-01", "effective_to": "2030-12-31"}
    assert reviewer.post(f"{url}/approve", dates).status_code == 409
    assert reviewer.post(f"{url}/send-back", {"row_version": published.row_version, "comment": "改"}).status_code == 409
    for method in ("delete", "put", "patch"):
        assert getattr(admin.client, method)(url).status_code == 405
    row = version_row(session, "xianhuibao", "2023")
    assert (row.yaml_text, row.content_hash, row.status, row.row_version) == before


@pytest.mark.parametrize("column, value", [
    ("yaml_text", "format: hmb-scheme/1\n"), ("content_hash", "0" * 64), ("effective_to", date(2030, 12, 31)),
    ("version_id", "2099"), ("reviewed_by", 1)])
def test_the_database_refuses_an_orm_update(published, session, column, value):
    setattr(published, column, value)
    with pytest.raises(IntegrityError, match="immutable"):
        session.commit()
    session.rollback()
    assert getattr(version_row(session, "xianhuibao", "2023"), column) != value


def test_the_database_refuses_raw_sql(published, session):
    with pytest.raises(IntegrityError, match="immutable"):
        session.execute(text("UPDATE scheme_versions SET yaml_text = 'x' WHERE id = :id"), {"id": published.id})
    session.rollback()
    with pytest.raises(IntegrityError, match="immutable"):
        session.execute(update(SchemeVersion).where(SchemeVersion.id == published.id).values(content_hash="x"))
    session.rollback()


def test_a_published_version_cannot_be_deleted(published, session):
    session.delete(published)
    with pytest.raises(IntegrityError, match="cannot be deleted"):
        session.commit()
    session.rollback()
    with pytest.raises(IntegrityError, match="cannot be deleted"):
        session.execute(delete(SchemeVersion).where(SchemeVersion.id == published.id))
    session.rollback()
    assert version_row(session, "xianhuibao", "2023") is not None


def test_status_moves_from_published_to_retired_only(published, session):
    published.status = "draft"
    with pytest.raises(IntegrityError, match="retired"):
        session.commit()
    session.rollback()
    published = version_row(session, "xianhuibao", "2023")
    published.status = "retired"
    session.commit()  # allowed
    published.status = "published"
    with pytest.raises(IntegrityError, match="retired"):
        session.commit()
    session.rollback()
    retired = version_row(session, "xianhuibao", "2023")
    retired.yaml_text = "x"
    with pytest.raises(IntegrityError, match="immutable"):
        session.commit()  # retired is still frozen
    session.rollback()


def test_retire_through_the_page(app, published, session):
    admin = Browser(app, "admin")
    assert admin.post(f"/versions/{published.id}/retire", {"row_version": published.row_version,
                                                           "comment": "新年度已发布"}).status_code == 302
    assert version_row(session, "xianhuibao", "2023").status == "retired"


def test_a_draft_may_be_changed_and_deleted(draft, session):
    draft.yaml_text = draft.yaml_text + "\n# note\n"
    session.commit()
    session.delete(draft)
    session.commit()
    assert version_row(session, "xianhuibao", "2024") is None


def test_the_audit_log_is_append_only(app, session):
    event = session.query(AuditEvent).first()
    event.comment = "rewritten"
    with pytest.raises(IntegrityError, match="append-only"):
        session.commit()
    session.rollback()
    with pytest.raises(IntegrityError, match="append-only"):
        session.execute(delete(AuditEvent))
    session.rollback()


def test_the_unused_policies_table_is_dropped_and_a_downgrade_restores_it(app, session):
    """0003_drop_policy: nothing wrote policies, so the table and its guard go; down to 0002 brings them back."""
    config, engine = alembic_config(), app.extensions["hmb_engine"]
    session.close()
    assert "policies" not in inspect(engine).get_table_names()
    for revision, step, present in (("0002", command.downgrade, True), ("head", command.upgrade, False)):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
        assert ("policies" in inspect(engine).get_table_names()) is present
    assert version_row(session, "xianhuibao", "2023").status == "published"  # nothing else touched
