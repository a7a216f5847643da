"""The draft editor: live validation with the right line, and two editors saving the same draft."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from admin_ui import services
from admin_ui.models import AuditEvent, SchemeVersion, User

from .conftest import Browser, version_row


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def test_live_validation_points_at_the_broken_line(app, draft):
    pm = Browser(app, "pm")
    broken = draft.yaml_text.replace("ratio: {value: 0.8,", "ratio: {value: 8,")
    body = pm.validate(broken, draft.id).get_json()
    assert body["ok"] is False
    issue = next(i for i in body["issues"] if "ratio" in i["path"])
    assert issue["line"] == _line_of(broken, "ratio: {value: 8,")
    assert "不能大于 1" in issue["message"]  # Chinese, with the hint for ratios


def test_live_validation_shows_a_semantic_problem_beside_a_schema_error(app, draft):
    """The band overlap is not hidden until `cap: 50万` is fixed: both are shown at once, each at its line."""
    broken = _replace_once(draft.yaml_text, "cap: {value: 500000,", "cap: {value: 50万,")
    broken = _replace_once(broken, "care: [chronic_outpatient, major_outpatient]",
                           "care: [chronic_outpatient, major_outpatient, inpatient]")
    body = Browser(app, "pm").validate(broken, draft.id).get_json()
    shown = {(i["code"], i["line"]) for i in body["issues"]}
    assert shown == {("schema.number_text", _line_of(broken, "cap: {value: 50万,")),
                     ("liability.overlap", _line_of(broken, "care: [chronic_outpatient, major_outpatient, inpatient]"))}
    overlap = next(i for i in body["issues"] if i["code"] == "liability.overlap")
    assert "门诊慢特病个人自付" in overlap["message"] and "chronic_outpatient" not in overlap["message"]


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_live_validation_of_a_yaml_syntax_error(app, draft):
    lines = draft.yaml_text.split("\n")
    at = next(i for i, line in enumerate(lines) if "name: 咸惠保" in line) + 1
    lines[at - 1] = "  name: [咸惠保"
    body = Browser(app, "pm").validate("\n".join(lines), draft.id).get_json()
    assert body["ok"] is False and body["issues"][0]["code"] == "yaml.syntax"
    assert body["issues"][0]["line"] >= at


def test_live_validation_of_a_good_text(app, draft):
    body = Browser(app, "pm").validate(draft.yaml_text, draft.id).get_json()
    assert body == {"ok": True, "issues": [], "digest": body["digest"],
                    "summary": {"key": "xianhuibao@2024", "name": draft.name, "content_hash": draft.content_hash,
                                "period": ["2024-01-01", "2024-12-31"]}}


def test_a_draft_keeps_its_product_and_version_id(app, draft):
    renamed = draft.yaml_text.replace('id: "2024"', 'id: "2025"')
    body = Browser(app, "pm").validate(renamed, draft.id).get_json()
    assert [i["code"] for i in body["issues"]] == ["admin.version_id"]
    assert body["issues"][0]["line"] == _line_of(renamed, 'id: "2025"')


def test_crlf_from_the_browser_is_stored_as_lf(app, draft, session):
    Browser(app, "pm").post(f"/versions/{draft.id}/edit", {"yaml_text": draft.yaml_text.replace("\n", "\r\n"),
                                                           "row_version": draft.row_version})
    row = version_row(session, "xianhuibao", "2024")
    assert "\r" not in row.yaml_text and row.content_hash


def test_two_editors_the_second_gets_a_conflict_and_keeps_its_text(app, draft, session):
    pm, pm2 = Browser(app, "pm"), Browser(app, "pm2")
    opened = draft.row_version  # both opened the editor at this row version
    assert f'name="row_version" value="{opened}"' in pm2.get(f"/versions/{draft.id}/edit").get_data(as_text=True)
    first = draft.yaml_text.replace("value: 69,", "value: 79,")
    second = draft.yaml_text.replace("value: 18000,", "value: 15000,")
    assert pm.post(f"/versions/{draft.id}/edit", {"yaml_text": first, "row_version": opened}).status_code == 302

    response = pm2.post(f"/versions/{draft.id}/edit", {"yaml_text": second, "row_version": opened})
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "保存冲突" in page
    textarea = page[page.index('<textarea name="yaml_text"'):]
    assert html.escape("value: 15000,", quote=False) in textarea.split("</textarea>")[0]  # pm2's text is kept
    assert "value: 79," in page  # and pm's saved text is shown beside it
    row = version_row(session, "xianhuibao", "2024")
    assert row.yaml_text == first and row.row_version == opened + 1  # the first save stands
    saves = session.scalars(select(AuditEvent).where(AuditEvent.action == "version.save")).all()
    assert [e.username for e in saves] == ["pm"]

    # pm2 merges both changes and saves against the row version the conflict page gave it
    merged = first.replace("value: 18000,", "value: 15000,")
    assert f'name="row_version" value="{opened + 1}"' in page
    assert pm2.post(f"/versions/{draft.id}/edit", {"yaml_text": merged, "row_version": opened + 1}).status_code == 302
    assert version_row(session, "xianhuibao", "2024").yaml_text == merged


def test_a_race_between_check_and_write_is_caught_by_the_row_version(app, draft):
    """Both sessions read version N; the first commits; the second's UPDATE … WHERE row_version = N matches nothing."""
    sessions = app.extensions["hmb_sessions"]
    with sessions() as a, sessions() as b:
        user_a = a.scalar(select(User).where(User.username == "pm"))
        row_b = b.get(SchemeVersion, draft.id)
        user_b = b.scalar(select(User).where(User.username == "pm2"))
        services.save_draft(a, user_a, draft.id, draft.yaml_text + "\n# a\n", draft.row_version)
        row_b.yaml_text = draft.yaml_text + "\n# b\n"  # b still holds the old row version
        with pytest.raises(services.Conflict):
            services._commit(b)
        assert user_b.username == "pm2"
    with sessions() as check:
        assert check.get(SchemeVersion, draft.id).yaml_text.endswith("# a\n")


def test_the_editor_page_shows_line_numbers_and_issues(app, draft, session):
    pm = Browser(app, "pm")
    broken = draft.yaml_text.replace("ratio: {value: 0.8,", "ratio: {value: 8,")
    pm.post(f"/versions/{draft.id}/edit", {"yaml_text": broken, "row_version": draft.row_version})
    page = pm.get(f"/versions/{draft.id}/edit").get_data(as_text=True)
    line = _line_of(broken, "ratio: {value: 8,")
    assert f'data-line="{line}"' in page and "editor.js" in page and 'id="gutter"' in page
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page  # offline: nothing external


def test_live_validation_without_a_login_answers_in_the_api_envelope(app):
    import re

    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/api/validate", json={"yaml": "a: 1"}, headers={"X-CSRFToken": token})
    assert response.status_code == 401
    assert response.get_json() == {"ok": False, "error": "请先登录", "issues": []}
