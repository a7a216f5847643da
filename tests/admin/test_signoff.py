"""Sign-off of a review (admin_ui/signoff.py): findings by role, their history and audit, findings carried to the
next version or opened again (rule changed, values changed), and publishing refused while a 违规 verdict is open
unless a finding resolves it or an admin records why — on the pages and through the API.

Products: 赣州惠民保 (2023 and 2024 published on import). Its co-insurer term check (ganzhou-2023/coinsurer-term,
违规 unless the term is 3 years) is the one the tests move: a 2025 draft with a 2-year term breaks it.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from admin_ui import services
from admin_ui.models import AuditEvent, Finding, PublishOverride, User
from engine.review import regimes as regime_files
from engine.review.report import render_html

from .conftest import REPO, Browser, bearer, products_folder, version_row

TERM = ("ganzhou-2023", "coinsurer-term")
ROLLOVER = ("ganzhou-2023", "surplus-rollover")  # an item for a person to confirm (需人工确认)


@pytest.fixture
def products_copy(tmp_path):
    return products_folder(tmp_path, "ganzhou.yaml")


def record(who: Browser, row_id: int, check: tuple, outcome: str, comment: str = "", replaces=""):
    return who.post(f"/versions/{row_id}/review/findings", {"regime": check[0], "check": check[1],
                                                             "outcome": outcome, "comment": comment,
                                                             "replaces": str(replaces)})


def review_json(app, row_id: int, role: str = "regulator") -> dict:
    response = app.test_client().get(f"/api/v1/versions/{row_id}/review", headers=bearer(app, role))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def check_of(report: dict, check: tuple) -> dict:
    regime = next(r for r in report["regimes"] if r["id"] == check[0])
    return next(c for c in regime["checks"] if c["id"] == check[1])


def events(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def user(session, name: str) -> User:
    return session.scalar(select(User).where(User.username == name))


@pytest.fixture
def draft_2025(app, browser, session):
    """ganzhou@2025, a draft by pm (a copy of 2024)."""
    assert browser("pm").post("/products/ganzhou/next-draft").status_code == 302
    return version_row(session, "ganzhou", "2025")


def edit(session, row, old: str, new: str):
    assert old in row.yaml_text
    row, result = services.save_draft(session, user(session, "pm"), row.id, row.yaml_text.replace(old, new, 1),
                                      row.row_version)
    assert result.ok, result.issues
    return row


def in_review_with_a_violation(session, draft):
    """The 2025 draft with a 2-year co-insurer term (违规 under the Ganzhou plan 四(二)), submitted for review."""
    row = edit(session, draft, "term_years: 3", "term_years: 2")
    return services.submit_for_review(session, user(session, "pm"), row.id, row.row_version)


def approve(who: Browser, row, session):
    row = version_row(session, row.product_id, row.version_id)
    return who.post(f"/versions/{row.id}/approve", {"row_version": row.row_version, "effective_from": "2025-01-01",
                                                    "effective_to": "2025-12-31"})


# ── roles ─────────────────────────────────────────────────────────────────────────────────────

def test_regulators_and_reviewers_record_findings_product_managers_and_admins_do_not(app, browser, session):
    row = version_row(session, "ganzhou", "2024")
    assert record(browser("regulator"), row.id, TERM, "complies").status_code == 302
    assert record(browser("reviewer"), row.id, ROLLOVER, "incomplete", "请提供结余滚存的约定").status_code == 302
    for role in ("pm", "admin"):
        assert record(browser(role), row.id, ROLLOVER, "complies", replaces="").status_code == 403
    api = app.test_client().post(f"/api/v1/versions/{row.id}/findings", headers=bearer(app, "product_manager"),
                                 json={"regime": TERM[0], "check": TERM[1], "outcome": "complies"})
    assert api.status_code == 403 and api.get_json()["ok"] is False
    session.expire_all()
    assert [(f.check_id, f.outcome, f.user.username) for f in session.scalars(select(Finding).order_by(Finding.id))] \
        == [("coinsurer-term", "complies", "regulator"), ("surplus-rollover", "incomplete", "reviewer")]


def test_findings_are_shown_on_the_page_in_the_report_and_in_the_api(app, browser, session):
    row = version_row(session, "ganzhou", "2024")
    regulator = browser("regulator")
    assert record(regulator, row.id, ROLLOVER, "incomplete", "请补充结余滚存的书面约定").status_code == 302
    page = regulator.get(f"/versions/{row.id}/review").get_data(as_text=True)
    assert page.count("请补充结余滚存的书面约定") == 2  # the sign-off table and the report's 审查意见 column
    assert "审查签署" in page and 'name="replaces"' in page
    finding = check_of(review_json(app, row.id), ROLLOVER)["finding"]
    assert (finding["state"], finding["label"], finding["by_user"], finding["comment"]) == (
        "recorded", "需补充", "regulator", "请补充结余滚存的书面约定")
    with app.app_context():
        from admin_ui import signoff
        from admin_ui.db import db

        html = render_html(signoff.report_of(db(), db().get(type(row), row.id)))
    assert "<th class=\"c-finding\">审查意见</th>" in html and "请补充结余滚存的书面约定" in html
    assert "form" not in html  # the report is a document: the forms are the page's


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils not installed")
def test_the_pdf_report_has_the_findings_and_the_override(app, browser, session, draft_2025, tmp_path):
    row = in_review_with_a_violation(session, draft_2025)
    assert record(browser("regulator"), row.id, ROLLOVER, "incomplete", "请补充结余滚存约定").status_code == 302
    assert browser("admin").post(f"/versions/{row.id}/override", {"reason": "过渡期安排"}).status_code == 302
    pdf = tmp_path / "review.pdf"
    pdf.write_bytes(browser("pm").get(f"/versions/{row.id}/review.pdf").get_data())
    text = "".join(subprocess.run(["pdftotext", "-enc", "UTF-8", pdf, "-"], capture_output=True, text=True,
                                  check=True).stdout.split())
    for part in ("审查意见", "需补充", "请补充结余滚存约定", "审查签署", "放行发布", "过渡期安排", "尚无意见"):
        assert part in text, part


def test_a_finding_other_than_complies_needs_a_comment(app, browser, session):
    row = version_row(session, "ganzhou", "2024")
    for outcome in ("fails", "incomplete"):
        response = record(browser("regulator"), row.id, TERM, outcome, "   ")
        assert response.status_code == 422 and "须写明意见" in response.get_data(as_text=True)
    assert record(browser("regulator"), row.id, TERM, "doubtful", "?").status_code == 422
    assert record(browser("regulator"), row.id, ("ganzhou-2023", "no-such-check"), "complies").status_code == 404
    assert session.scalars(select(Finding)).all() == []


# ── history and audit ─────────────────────────────────────────────────────────────────────────

def test_a_changed_finding_is_a_new_record_and_the_old_one_stays_in_the_history_and_the_audit_log(
        app, browser, session):
    row = version_row(session, "ganzhou", "2024")
    regulator = browser("regulator")
    assert record(regulator, row.id, ROLLOVER, "incomplete", "缺少结余滚存约定").status_code == 302
    first = session.scalar(select(Finding))
    assert record(regulator, row.id, ROLLOVER, "complies", "已见承办协议第 7 条", replaces=first.id).status_code == 302
    session.expire_all()
    rows = session.scalars(select(Finding).order_by(Finding.id)).all()
    assert [(f.outcome, f.replaces_id) for f in rows] == [("incomplete", None), ("complies", first.id)]
    shown = check_of(review_json(app, row.id), ROLLOVER)["finding"]
    assert (shown["outcome"], shown["replaces"]) == ("complies", rows[1].id)
    assert [(h["outcome"], h["comment"]) for h in shown["history"]] == [("incomplete", "缺少结余滚存约定")]
    recorded = events(session, "finding.record")
    assert [e.username for e in recorded] == ["regulator", "regulator"] and recorded[0].before is None
    assert recorded[1].object_id == "ganzhou@2024"
    assert (recorded[1].before["outcome"], recorded[1].before["id"]) == ("incomplete", first.id)
    assert (recorded[1].after["outcome"], recorded[1].after["check"]) == ("complies", "ganzhou-2023/surplus-rollover")
    page = regulator.get(f"/versions/{row.id}/review").get_data(as_text=True)
    assert "此前的意见（1 条）" in page and "缺少结余滚存约定" in page


def test_findings_cannot_be_overwritten_in_the_database(app, browser, session):
    row = version_row(session, "ganzhou", "2024")
    assert record(browser("regulator"), row.id, TERM, "complies").status_code == 302
    for statement in ("UPDATE findings SET outcome = 'fails', comment = 'x'", "DELETE FROM findings"):
        with pytest.raises(IntegrityError):
            session.execute(text(statement))
        session.rollback()


def test_a_finding_answering_one_that_was_replaced_meanwhile_is_a_conflict(app, browser, session):
    row = version_row(session, "ganzhou", "2024")
    regulator, reviewer = browser("regulator"), browser("reviewer")
    assert record(regulator, row.id, TERM, "complies").status_code == 302  # the reviewer's page still showed none
    response = record(reviewer, row.id, TERM, "fails", "承办期不符")
    assert response.status_code == 409 and "已被他人更新" in response.get_data(as_text=True)
    assert [f.user.username for f in session.scalars(select(Finding))] == ["regulator"]


# ── carried to the next version ───────────────────────────────────────────────────────────────

def test_an_earlier_versions_finding_is_carried_while_the_rule_and_the_values_are_the_same(
        app, browser, session, draft_2025):
    earlier = version_row(session, "ganzhou", "2024")
    assert record(browser("regulator"), earlier.id, TERM, "complies", "承办协议约定 3 年").status_code == 302
    finding = check_of(review_json(app, draft_2025.id), TERM)["finding"]
    assert (finding["state"], finding["holds"], finding["from"]["key"]) == ("carried", True, "ganzhou@2024")
    assert (finding["by_user"], finding["comment"], finding["replaces"]) == ("regulator", "承办协议约定 3 年", None)
    page = browser("pm").get(f"/versions/{draft_2025.id}/review").get_data(as_text=True)
    assert f"沿用自{earlier.name}的意见" in page
    assert session.scalar(select(Finding).where(Finding.scheme_version_id == draft_2025.id)) is None  # no new record


def test_a_carried_finding_opens_again_when_the_values_change(app, browser, session, draft_2025):
    earlier = version_row(session, "ganzhou", "2024")
    assert record(browser("regulator"), earlier.id, TERM, "complies", "承办期 3 年").status_code == 302
    edit(session, draft_2025, "term_years: 3", "term_years: 2")
    check = check_of(review_json(app, draft_2025.id), TERM)
    assert check["verdict"] == "违规"
    assert (check["finding"]["state"], check["finding"]["holds"]) == ("reopened", False)
    assert [r["code"] for r in check["finding"]["reopened"]] == ["values_changed"]
    page = browser("regulator").get(f"/versions/{draft_2025.id}/review").get_data(as_text=True)
    assert "需重新审查" in page and "检查所看的方案取值已改变" in page


PRICING = ("declared", "pricing-as-declared")  # 枣惠保 2024 and 2025 declare the same pricing and vary premiums


@pytest.fixture
def zaozhuang(products_copy):
    shutil.copy(REPO / "products" / "zaohuibao.yaml", products_copy / "zaohuibao.yaml")


def test_a_carried_finding_opens_again_when_the_rule_changes(zaozhuang, app, browser, session, tmp_path,
                                                             monkeypatch):
    earlier, later = version_row(session, "zaohuibao", "2024"), version_row(session, "zaohuibao", "2025")
    assert record(browser("regulator"), earlier.id, PRICING, "complies").status_code == 302
    assert check_of(review_json(app, later.id), PRICING)["finding"]["state"] == "carried"
    changed = tmp_path / "regimes"
    shutil.copytree(regime_files.REGIMES_DIR, changed)
    declared = changed / "declared.yaml"
    declared.write_text(declared.read_text(encoding="utf-8").replace(
        "violation: {all: [{pricing: flat}, {premium_varies: true}]}",
        "violation: {all: [{pricing: {in: [flat]}}, {premium_varies: true}]}"), encoding="utf-8")
    monkeypatch.setattr(regime_files, "REGIMES_DIR", changed)  # published versions are reviewed in this process
    check = check_of(review_json(app, later.id), PRICING)
    assert check["verdict"] == "符合"  # the same verdict, by another rule: a person looks again
    assert [r["code"] for r in check["finding"]["reopened"]] == ["rule_changed"]


# ── publishing ────────────────────────────────────────────────────────────────────────────────

def test_an_open_violation_keeps_a_version_from_being_published(app, browser, session, draft_2025):
    row = in_review_with_a_violation(session, draft_2025)
    reviewer = browser("reviewer")
    version_page = reviewer.get(f"/versions/{row.id}").get_data(as_text=True)
    assert "1 项违规结论尚未经审查确认为“符合”，不能发布。" in version_page
    response = approve(reviewer, row, session)
    assert response.status_code == 422
    refusal = response.get_data(as_text=True)
    assert "不能发布" in refusal and "主承保机构和共保体承办期每期 3 年" in refusal
    assert version_row(session, "ganzhou", "2025").status == "in_review"
    # a finding other than 符合 leaves it open
    assert record(browser("regulator"), row.id, TERM, "fails", "承办期仅 2 年").status_code == 302
    assert approve(reviewer, row, session).status_code == 422


def test_a_complies_finding_resolves_the_violation_and_the_version_is_published(app, browser, session, draft_2025):
    row = in_review_with_a_violation(session, draft_2025)
    assert record(browser("regulator"), row.id, TERM, "complies", "市医保局批准首期 2 年").status_code == 302
    assert approve(browser("reviewer"), row, session).status_code == 302
    assert version_row(session, "ganzhou", "2025").status == "published"


def test_an_admin_records_why_and_the_version_may_be_published(app, browser, session, draft_2025):
    row = in_review_with_a_violation(session, draft_2025)
    admin = browser("admin")
    assert admin.post(f"/versions/{row.id}/override", {"reason": " "}).status_code == 422
    assert browser("regulator").post(f"/versions/{row.id}/override", {"reason": "x"}).status_code == 403
    assert admin.post(f"/versions/{row.id}/override", {"reason": "过渡期，下一年度改回 3 年"}).status_code == 302
    override = session.scalar(select(PublishOverride))
    assert [c["check"] for c in override.checks] == ["coinsurer-term"] and override.user.username == "admin"
    event = events(session, "version.override")[-1]
    assert (event.username, event.comment, event.object_id) == ("admin", "过渡期，下一年度改回 3 年", "ganzhou@2025")
    assert approve(browser("reviewer"), row, session).status_code == 302
    published = version_row(session, "ganzhou", "2025")
    assert published.status == "published"
    assert "过渡期，下一年度改回 3 年" in browser("pm").get(f"/versions/{row.id}").get_data(as_text=True)
    signoff = review_json(app, row.id)["signoff"]
    assert signoff["uncovered"] == [] and signoff["overrides"][0]["reason"] == "过渡期，下一年度改回 3 年"
    assert "放行发布" in browser("pm").get(f"/versions/{row.id}/review").get_data(as_text=True)


def test_an_override_covers_only_the_violations_open_when_it_was_recorded(app, browser, session, draft_2025):
    row = in_review_with_a_violation(session, draft_2025)
    assert browser("admin").post(f"/versions/{row.id}/override", {"reason": "过渡期"}).status_code == 302
    reviewer = browser("reviewer")
    # sent back and edited: another text, so the override no longer applies
    row = version_row(session, "ganzhou", "2025")
    assert reviewer.post(f"/versions/{row.id}/send-back", {"row_version": row.row_version,
                                                            "comment": "请调整"}).status_code == 302
    row = edit(session, version_row(session, "ganzhou", "2025"), "term_years: 2", "term_years: 4")
    services.submit_for_review(session, user(session, "pm"), row.id, row.row_version)
    assert approve(reviewer, row, session).status_code == 422


def test_the_api_refuses_to_publish_with_the_open_violations_as_issues_and_takes_findings_and_overrides(
        app, session, draft_2025):
    row = in_review_with_a_violation(session, draft_2025)
    client, reviewer = app.test_client(), bearer(app, "reviewer")
    approval = {"row_version": row.row_version, "effective_from": "2025-01-01", "effective_to": "2025-12-31"}
    refused = client.post(f"/api/v1/versions/{row.id}/approve", json=approval, headers=reviewer)
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["ok"] is False and "不能发布" in body["error"]
    assert [(i["code"], i["path"]) for i in body["issues"]] == [("review.open_violation", "ganzhou-2023/coinsurer-term")]
    override = client.post(f"/api/v1/versions/{row.id}/override", json={"reason": "过渡期"}, headers=bearer(app, "admin"))
    assert override.status_code == 201 and override.get_json()["checks"][0]["check"] == "coinsurer-term"
    finding = client.post(f"/api/v1/versions/{row.id}/findings", headers=bearer(app, "regulator"),
                          json={"regime": TERM[0], "check": TERM[1], "outcome": "fails", "comment": "2 年"})
    assert finding.status_code == 201 and (finding.get_json()["label"], finding.get_json()["by"]) == ("不符合",
                                                                                                      "api:test-regulator")
    stale = client.post(f"/api/v1/versions/{row.id}/findings", headers=bearer(app, "regulator", "other"),
                        json={"regime": TERM[0], "check": TERM[1], "outcome": "complies"})
    assert stale.status_code == 409  # it did not name the finding it answers
    published = client.post(f"/api/v1/versions/{row.id}/approve", json=approval, headers=reviewer)
    assert published.status_code == 200 and published.get_json()["status"] == "published"
