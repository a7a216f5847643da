"""Which rules applied to a claim dated D, as known on K: effective period × publication time, on both backends.

The story is told on a clock the test sets (services and the importer read the time through `utcnow`), so
"published on 2023-12-15" means exactly that. 咸惠保 2023 is imported (= published) on 2022-12-20.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from admin_ui import importer, services
from admin_ui.migrate import alembic_config
from admin_ui.models import AuditEvent, SchemeVersion, User

from .conftest import Browser, bearer, version_row

CHINA = services.LOCAL_TZ


class Clock:
    def __init__(self):
        self.now = datetime(2022, 12, 20, 10, 0, tzinfo=CHINA)

    def set(self, year: int, month: int, day: int, hour: int = 10) -> None:
        self.now = datetime(year, month, day, hour, 0, tzinfo=CHINA)

    def __call__(self) -> datetime:
        return self.now.astimezone(timezone.utc)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(services, "utcnow", clock)
    monkeypatch.setattr(importer, "utcnow", clock)
    return clock


@pytest.fixture
def app(clock, app):
    """The conftest app (SQLite, and PostgreSQL when configured), created after the clock is set."""
    return app


def user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def publish_next_year(session, clock, drafted: tuple, published: tuple) -> SchemeVersion:
    """pm drafts next year's version on one day; reviewer publishes it for its policy year on another."""
    clock.set(*drafted)
    row = services.create_next_draft(session, user(session, "pm"), "xianhuibao")
    row = services.submit_for_review(session, user(session, "pm"), row.id, row.row_version)
    clock.set(*published)
    return services.approve(session, user(session, "reviewer"), row.id, row.row_version,
                            row.period_start, row.period_end)


def retire(session, clock, row: SchemeVersion, day: tuple) -> SchemeVersion:
    clock.set(*day)
    return services.retire(session, user(session, "admin"), row.id, row.row_version, "新年度已发布")


def key(row: SchemeVersion | None) -> str | None:
    return row.key if row else None


def asked(session, claim: date, known_on) -> str | None:
    return key(services.rules_in_force(session, "xianhuibao", claim, known_on))


@pytest.fixture
def superseded(app, clock, session):
    """2024 published on 2023-12-15 for 2024; 2023 retired (no longer sold) on 2024-01-05."""
    v2024 = publish_next_year(session, clock, drafted=(2023, 11, 1), published=(2023, 12, 15))
    retire(session, clock, version_row(session, "xianhuibao", "2023"), (2024, 1, 5))
    return v2024


def test_a_version_superseded_by_next_years(superseded, session):
    today = date(2026, 6, 1)
    assert asked(session, date(2024, 3, 1), today) == "xianhuibao@2024"
    # last year's claim, asked today, is judged by last year's rules — retired or not
    assert asked(session, date(2023, 6, 1), today) == "xianhuibao@2023"
    assert asked(session, date(2023, 12, 31), today) == "xianhuibao@2023"
    assert asked(session, date(2024, 1, 1), today) == "xianhuibao@2024"


def test_asked_as_of_before_the_new_version_was_published(superseded, session):
    # On 2023-12-01 nothing covered 2024 yet: the answer then was "no rules on record" — and stays so.
    assert asked(session, date(2024, 3, 1), date(2023, 12, 1)) is None
    assert asked(session, date(2023, 6, 1), date(2023, 12, 1)) == "xianhuibao@2023"
    # A date K means the end of that day in China: published on the 15th at 10:00, known on the 15th.
    assert asked(session, date(2024, 3, 1), date(2023, 12, 14)) is None
    assert asked(session, date(2024, 3, 1), date(2023, 12, 15)) == "xianhuibao@2024"
    # Before the platform knew of any version at all
    assert asked(session, date(2023, 6, 1), date(2022, 12, 19)) is None


def test_a_datetime_k_is_taken_to_the_moment(superseded, session):
    published = datetime(2023, 12, 15, 10, 0, tzinfo=CHINA)
    assert asked(session, date(2024, 3, 1), published - timedelta(seconds=1)) is None
    assert asked(session, date(2024, 3, 1), published) == "xianhuibao@2024"


def test_a_mid_year_replacement_supersedes_only_from_its_publication(superseded, app, clock, session):
    """2024 withdrawn on 2024-06-10; a corrected 2024b for 2024-07-01 … 12-31 published on 2024-06-20."""
    v2024 = version_row(session, "xianhuibao", "2024")
    clock.set(2024, 6, 1)
    corrected = v2024.yaml_text.replace('id: "2024"', 'id: "2024b"').replace("value: 69,", "value: 79,")
    draft = SchemeVersion(product_id="xianhuibao", version_id="2024b", status="draft", yaml_text=corrected,
                          name="2024b", origin=f"copy:{v2024.key}", created_by=user(session, "pm").id)
    session.add(draft)
    session.commit()
    draft = services.save_draft(session, user(session, "pm"), draft.id, corrected, draft.row_version)[0]
    draft = services.submit_for_review(session, user(session, "pm"), draft.id, draft.row_version)
    reviewer = user(session, "reviewer")
    with pytest.raises(services.Invalid, match="重叠"):  # two published versions may not share a day
        services.approve(session, reviewer, draft.id, draft.row_version, date(2024, 7, 1), date(2024, 12, 31))
    session.rollback()
    retire(session, clock, v2024, (2024, 6, 10))
    clock.set(2024, 6, 20)
    services.approve(session, reviewer, draft.id, draft.row_version, date(2024, 7, 1), date(2024, 12, 31))

    august, march = date(2024, 8, 1), date(2024, 3, 1)
    assert asked(session, august, date(2024, 6, 1)) == "xianhuibao@2024"  # before: the old answer
    withdrawn = services.explain_rules(session, "xianhuibao", august, date(2024, 6, 15))
    assert key(withdrawn.version) == "xianhuibao@2024" and withdrawn.retired(withdrawn.version)
    assert [key(r) for r in withdrawn.published_later] == ["xianhuibao@2024b"]
    after = services.explain_rules(session, "xianhuibao", august, date(2024, 6, 25))
    assert key(after.version) == "xianhuibao@2024b"
    assert [key(r) for r in after.superseded] == ["xianhuibao@2024"]
    assert asked(session, march, date(2026, 1, 1)) == "xianhuibao@2024"  # the correction does not reach March


def test_retired_at_is_recorded_once_by_the_retirement(superseded, app, session):
    v2023 = version_row(session, "xianhuibao", "2023")
    assert services.as_utc(v2023.retired_at) == datetime(2024, 1, 5, 10, tzinfo=CHINA)
    v2023.retired_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(IntegrityError, match="retired_at"):
        session.commit()
    session.rollback()
    v2024 = version_row(session, "xianhuibao", "2024")
    v2024.retired_at = datetime(2030, 1, 1, tzinfo=timezone.utc)  # a published row cannot claim a retirement
    with pytest.raises(IntegrityError, match="retired_at"):
        session.commit()
    session.rollback()
    with pytest.raises(IntegrityError, match="retired_at"):  # retiring by hand must say when
        session.execute(text("UPDATE scheme_versions SET status = 'retired' WHERE id = :id"), {"id": v2024.id})
    session.rollback()
    assert version_row(session, "xianhuibao", "2024").status == "published"


def test_the_migration_backfills_retired_at_from_the_audit_log(superseded, app, session):
    """Down to 0001 (the column goes) and up again: a version retired before 0002 gets its audit event's time."""
    config = alembic_config()
    engine = app.extensions["hmb_engine"]
    session.close()
    for revision, step in (("0001", command.downgrade), ("head", command.upgrade)):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    retired = version_row(session, "xianhuibao", "2023")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "version.retire",
                                                    AuditEvent.object_id == "xianhuibao@2023"))
    assert services.as_utc(retired.retired_at) == services.as_utc(event.at)
    assert version_row(session, "xianhuibao", "2024").retired_at is None


def test_the_page_and_the_api_answer_the_same(superseded, app):
    page = Browser(app, "regulator").get("/rules?product=xianhuibao&claim_date=2024-03-01&known_on=2023-12-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "截至 2023-12-01 当日，平台上还没有生效期包含 2024-03-01 的已发布版本。" in html
    assert "按今天所知，适用的是" in html and "xianhuibao@2024" in html

    auth = bearer(app, "regulator")
    client = app.test_client()
    url = "/api/v1/products/xianhuibao/rules-in-force"
    before = client.get(f"{url}?claim_date=2024-03-01&known_on=2023-12-01", headers=auth).get_json()
    assert before["version"] is None and [v["key"] for v in before["published_later"]] == ["xianhuibao@2024"]
    last_year = client.get(f"{url}?claim_date=2023-06-01&known_on=2026-06-01", headers=auth).get_json()
    assert last_year["version"]["key"] == "xianhuibao@2023" and last_year["version"]["retired_as_of_known_on"]
    assert client.get(f"{url}?claim_date=2023-13-01", headers=auth).status_code == 422
    assert client.get("/api/v1/products/nothing/rules-in-force?claim_date=2023-06-01", headers=auth).status_code == 404
    assert client.get(f"{url}?claim_date=2023-06-01").status_code == 401
