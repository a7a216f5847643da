"""Draft → review → publish, send back with a comment, and four eyes: nobody approves their own draft."""
from __future__ import annotations

from sqlalchemy import select

from admin_ui.models import AuditEvent

from .conftest import Browser, version_row


def _events(session, action):
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_next_years_draft_copies_the_latest_version(draft, session):
    published = version_row(session, "xianhuibao", "2023")
    assert draft.status == "draft" and draft.version_id == "2024"
    assert (str(draft.period_start), str(draft.period_end)) == ("2024-01-01", "2024-12-31")
    assert draft.content_hash and draft.content_hash != published.content_hash
    assert "value: 69," in draft.yaml_text and "# 咸惠保" in draft.yaml_text  # a copy, comments kept
    created = _events(session, "version.create_draft")
    assert created[0].before is None and created[0].after["status"] == "draft"


def test_a_second_next_year_request_points_to_the_existing_draft(app, draft):
    response = Browser(app, "pm2").post("/products/xianhuibao/next-draft")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/versions/{draft.id}")


def test_full_workflow_with_audit_before_and_after(app, draft, session):
    pm, reviewer = Browser(app, "pm"), Browser(app, "reviewer")
    text, first = draft.yaml_text.replace("value: 69,", "value: 79,"), draft.row_version
    assert pm.post(f"/versions/{draft.id}/edit", {"yaml_text": text, "row_version": first}).status_code == 302
    saved = version_row(session, "xianhuibao", "2024")
    assert saved.yaml_text == text and saved.row_version == first + 1
    save = _events(session, "version.save")[-1]
    assert save.username == "pm" and save.before["text_sha256"] != save.after["text_sha256"]
    assert "-          amount: {value: 69" in save.after["diff"] and "+          amount: {value: 79" in save.after["diff"]

    assert pm.post(f"/versions/{draft.id}/submit", {"row_version": saved.row_version}).status_code == 302
    submitted = version_row(session, "xianhuibao", "2024")
    assert submitted.status == "in_review"
    event = _events(session, "version.submit")[-1]
    assert (event.before["status"], event.after["status"]) == ("draft", "in_review")

    response = reviewer.post(f"/versions/{draft.id}/approve", {
        "row_version": submitted.row_version, "effective_from": "2024-01-01", "effective_to": "2024-12-31",
        "comment": "同意"})
    assert response.status_code == 302
    published = version_row(session, "xianhuibao", "2024")
    assert published.status == "published" and published.reviewer.username == "reviewer"
    assert str(published.effective_from) == "2024-01-01" and published.published_at is not None
    event = _events(session, "version.publish")[-1]
    assert (event.before["status"], event.after["status"]) == ("in_review", "published")
    assert event.after["effective_to"] == "2024-12-31" and event.comment == "同意"
    assert "已发布" in pm.get("/").get_data(as_text=True)


def test_nobody_approves_their_own_draft(app, session):
    admin = Browser(app, "admin")  # admin may draft and review: the four-eyes rule still applies
    assert admin.post("/products/xianhuibao/next-draft").status_code == 302
    row = version_row(session, "xianhuibao", "2024")
    assert admin.post(f"/versions/{row.id}/submit", {"row_version": row.row_version}).status_code == 302
    row = version_row(session, "xianhuibao", "2024")
    response = admin.post(f"/versions/{row.id}/approve", {"row_version": row.row_version,
                                                          "effective_from": "2024-01-01", "effective_to": "2024-12-31"})
    assert response.status_code == 403 and "不能审批自己" in response.get_data(as_text=True)
    assert version_row(session, "xianhuibao", "2024").status == "in_review"
    assert not _events(session, "version.publish")


def test_a_reviewer_who_edited_cannot_approve_either(app, draft, session):
    from admin_ui import services
    from admin_ui.models import User
    reviewer = session.scalar(select(User).where(User.username == "reviewer"))
    draft = version_row(session, "xianhuibao", "2024")
    draft.updated_by = reviewer.id  # as if the reviewer had also written part of it
    session.commit()
    pm = Browser(app, "pm")
    assert pm.post(f"/versions/{draft.id}/submit", {"row_version": draft.row_version}).status_code == 302
    row = version_row(session, "xianhuibao", "2024")
    response = Browser(app, "reviewer").post(f"/versions/{row.id}/approve", {
        "row_version": row.row_version, "effective_from": "2024-01-01", "effective_to": "2024-12-31"})
    assert response.status_code == 403
    assert services.PERMISSIONS["review"] == {"reviewer", "admin"}


def test_send_back_needs_a_comment_and_shows_it(app, draft, session):
    pm, reviewer = Browser(app, "pm"), Browser(app, "reviewer")
    pm.post(f"/versions/{draft.id}/submit", {"row_version": draft.row_version})
    row = version_row(session, "xianhuibao", "2024")
    assert reviewer.post(f"/versions/{row.id}/send-back", {"row_version": row.row_version,
                                                           "comment": " "}).status_code == 422
    assert reviewer.post(f"/versions/{row.id}/send-back", {"row_version": row.row_version,
                                                           "comment": "起付线请给出来源"}).status_code == 302
    row = version_row(session, "xianhuibao", "2024")
    assert row.status == "draft" and row.review_comment == "起付线请给出来源"
    assert "起付线请给出来源" in pm.get(f"/versions/{row.id}/edit").get_data(as_text=True)
    assert _events(session, "version.send_back")[-1].comment == "起付线请给出来源"


def test_an_invalid_draft_cannot_be_submitted(app, draft, session):
    pm = Browser(app, "pm")
    broken = draft.yaml_text.replace("ratio: {value: 0.8,", "ratio: {value: 8,")
    pm.post(f"/versions/{draft.id}/edit", {"yaml_text": broken, "row_version": draft.row_version})
    row = version_row(session, "xianhuibao", "2024")
    assert row.content_hash is None  # stored (work in progress), but without a hash
    response = pm.post(f"/versions/{row.id}/submit", {"row_version": row.row_version})
    assert response.status_code == 422 and "不能提交审核" in response.get_data(as_text=True)
    assert version_row(session, "xianhuibao", "2024").status == "draft"


def test_effective_periods_of_published_versions_do_not_overlap(app, draft, session):
    Browser(app, "pm").post(f"/versions/{draft.id}/submit", {"row_version": draft.row_version})
    row = version_row(session, "xianhuibao", "2024")
    response = Browser(app, "reviewer").post(f"/versions/{row.id}/approve", {
        "row_version": row.row_version, "effective_from": "2023-06-01", "effective_to": "2024-12-31"})
    assert response.status_code == 422 and "xianhuibao@2023" in response.get_data(as_text=True)
    assert version_row(session, "xianhuibao", "2024").status == "in_review"


def test_the_reviewer_sees_what_changed_since_last_year(app, draft, session):
    pm = Browser(app, "pm")
    pm.post(f"/versions/{draft.id}/edit", {"yaml_text": draft.yaml_text.replace("value: 69,", "value: 79,"),
                                           "row_version": draft.row_version})
    row = version_row(session, "xianhuibao", "2024")
    pm.post(f"/versions/{row.id}/submit", {"row_version": row.row_version})
    page = Browser(app, "reviewer").get(f"/versions/{row.id}").get_data(as_text=True)
    assert "与上一版本“咸惠保（首年）”的差异" in page
    assert "档位“统一保费”保费：69.00 元 → <b>79.00 元</b>" in page  # by meaning, as on the changes page
    text_diff = page[page.index('<details class="text-diff">'):]  # the text, folded below
    assert "-          amount: {value: 69" in text_diff and "+          amount: {value: 79" in text_diff
