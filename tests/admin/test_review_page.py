"""The review report in the admin: a page of every version (every role), its PDF, and the API's JSON, which
gives the same verdicts as `hmb review --json`."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from engine.cli import main

from .conftest import REPO, version_row
from .conftest import bearer


@pytest.fixture
def app(make_app, products_copy):
    """The admin with all three products (the shared fixture has 咸惠保 only)."""
    for name in ("ganzhou.yaml", "zaohuibao.yaml"):
        shutil.copy(REPO / "products" / name, products_copy / name)
    return make_app()


def verdicts(report: dict) -> list[tuple]:
    return [(r["id"], c["id"], c["verdict"]) for r in report["regimes"] for c in r["checks"]]


def test_every_role_sees_the_review_of_a_version(app, browser, session):
    row = version_row(session, "ganzhou", "2024")
    for role in ("regulator", "pm", "reviewer"):
        page = browser(role).get(f"/versions/{row.id}/review")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "赣州市普惠型商业补充医疗保险实施方案" in html and "第一年保费原则上不超过100元" in html
        assert "需人工确认的事项" in html and "标准案例试算" in html
    assert f'/versions/{row.id}/review"' in browser("regulator").get(f"/versions/{row.id}").get_data(as_text=True)


def test_the_review_pdf_is_served(app, browser, session):
    row = version_row(session, "xianhuibao", "2023")
    response = browser("regulator").get(f"/versions/{row.id}/review.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF")


def test_the_api_gives_the_same_verdicts_as_the_command_line(app, session, products_copy):
    row = version_row(session, "zaohuibao", "2025")
    response = app.test_client().get(f"/api/v1/versions/{row.id}/review", headers=bearer(app, "regulator"))
    assert response.status_code == 200
    cli = CliRunner().invoke(main, ["review", str(products_copy / "zaohuibao.yaml"), "--year", "2025", "--json"])
    assert cli.exit_code == 0, cli.output
    assert verdicts(response.get_json()) == verdicts(json.loads(cli.output))
    assert response.get_json()["changes"]["previous"] == "zaohuibao@2024"
    assert app.test_client().get(f"/api/v1/versions/{row.id}/review").status_code == 401


def test_a_draft_is_reviewed_in_the_sandbox(app, browser, draft):
    page = browser("pm").get(f"/versions/{draft.id}/review")
    assert page.status_code == 200
    assert "湖北省惠民型商业医疗保险指导意见" in page.get_data(as_text=True)
