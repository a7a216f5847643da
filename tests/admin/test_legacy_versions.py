"""A database from an earlier release keeps working after an upgrade: versions whose stored text the current
scheme language refuses (a bare string `source:`, a YAML tag the loader now refuses…) open on every page.

The database is seeded as an old release would have left it: rows written through the models directly, a
published version with the engine hash of its day, then the app started again on it with the current code.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from admin_ui.models import Product, SchemeVersion
from admin_ui.schemes import analyse, next_year_text, split_versions

from .conftest import XIANHUIBAO, Browser, bearer, version_row
from .test_api import CLAIM, envelope_of

LEGACY = "按旧版方案语言发布，当前校验未通过"
CURRENT_2023 = split_versions(*(lambda a: (a.doc, a.product))(analyse(XIANHUIBAO.read_text(encoding="utf-8"))))["2023"]
CITATION = "source: {doc: hubei-guidance, clause: 二(一), quote: 保费与个人疾病风险脱钩}"
# Each: the stored text, and the (line, path, code) the current engine reports first.
REFUSED = {
    "bare-source": (CURRENT_2023.replace(CITATION, "source: hubei-guidance 二(一) 保费与个人疾病风险脱钩", 1),
                    (71, "versions[0].regulation.source", "provenance.bare_source")),
    "yaml-tag": (CURRENT_2023.replace('- id: "2023"', '- id: !year "2023"', 1), (58, "（文档根）", "yaml.tag")),
}


def text_of(response) -> str:
    body = response.get_data(as_text=True)
    main = re.search(r"<main[^>]*>(.*?)</main>", body, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main.group(1) if main else body))


def upgraded(make_app, tmp_path, kind: str):
    """(app, row id, stored text, first issue): 咸惠保 2023 published by an old release, the app upgraded since."""
    text, first = REFUSED[kind]
    empty = tmp_path / "nothing-to-import"
    empty.mkdir()
    old = make_app(PRODUCTS_DIR=str(empty))
    with old.extensions["hmb_sessions"]() as session:
        session.add(Product(id="xianhuibao", name="咸惠保", city="咸宁市", region="湖北省"))
        row = SchemeVersion(product_id="xianhuibao", version_id="2023", name="咸惠保（首年）", status="published",
                            yaml_text=text, content_hash="9" * 64,  # the hash the old engine gave it
                            period_start=date(2023, 1, 1), period_end=date(2023, 12, 31),
                            effective_from=date(2023, 1, 1), effective_to=date(2023, 12, 31),
                            origin="import:products/xianhuibao.yaml", published_at=datetime(2023, 1, 1, tzinfo=timezone.utc))
        session.add(row)
        session.commit()
        row_id = row.id
    app = make_app()  # the current code on that database, importing today's products/xianhuibao.yaml
    report = app.extensions["hmb_import_report"]
    assert [c for f in report.files for c in f.conflicts] == [
        "xianhuibao@2023 文件内容与已发布版本不同（已发布版本不可修改；如需修改请建立新版本）"]
    return app, row_id, text, first


@pytest.fixture(params=sorted(REFUSED))
def legacy(request, make_app, tmp_path, products_copy):
    return upgraded(make_app, tmp_path, request.param)


def assert_says_legacy(text: str, first: tuple) -> None:
    line, path, code = first
    assert LEGACY in text
    assert f"第 {line} 行 {path}" in text  # each issue located: line, path, then the message


def test_the_version_page_says_it_was_published_under_the_older_language(legacy):
    app, row_id, stored, first = legacy
    pm, regulator = Browser(app, "pm"), Browser(app, "regulator")
    page = pm.get(f"/versions/{row_id}")
    assert page.status_code == 200
    assert_says_legacy(text_of(page), first)
    copy_button = f'name="source" value="{row_id}"'
    assert copy_button in page.get_data(as_text=True)
    assert copy_button not in regulator.get(f"/versions/{row_id}").get_data(as_text=True)  # a regulator cannot draft
    assert pm.get(f"/versions/{row_id}/yaml").get_data(as_text=True) == stored  # readable, as stored


def test_the_product_list_marks_it_and_offers_no_simulator(legacy):
    app, row_id, _stored, _first = legacy
    page = Browser(app, "regulator").get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<a class="badge legacy" href="/versions/{row_id}#legacy" title="{LEGACY}">旧版方案语言</a>' in html
    assert f"/versions/{row_id}/simulate" not in html


def test_the_english_page_says_so_too(legacy):
    app, row_id, _stored, _first = legacy
    pm = Browser(app, "pm")
    pm.get("/lang/en")
    assert "Published under an older edition of the scheme language" in text_of(pm.get(f"/versions/{row_id}"))


PAGES = ["", "/simulate", "/changes", "/changes?impact=1", "/backtest", "/backtest?run=1&population=zaozhuang.yaml",
         "/review", "/whatif", "/whatif?run=1"]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_that_needs_a_valid_scheme_says_why_it_cannot_run(legacy, page):
    app, row_id, _stored, first = legacy
    response = Browser(app, "regulator").get(f"/versions/{row_id}{page}")
    assert response.status_code == 200
    assert_says_legacy(text_of(response), first)


def test_the_simulator_form_posted_anyway_says_why(legacy):
    app, row_id, _stored, first = legacy
    response = Browser(app, "regulator").post(f"/versions/{row_id}/simulate", {"age": "60", "date": "2023-06-01"})
    assert response.status_code == 200
    assert_says_legacy(text_of(response), first)


def test_background_work_and_downloads_are_refused_with_the_reason(legacy):
    app, row_id, _stored, first = legacy
    user = Browser(app, "regulator")
    for answer in (user.get(f"/versions/{row_id}/changes/impact.json"),
                   user.get(f"/versions/{row_id}/backtest.json?population=zaozhuang.yaml"),
                   user.post(f"/versions/{row_id}/whatif/jobs")):  # the reason, as the pages give it
        assert answer.status_code == 409 and answer.get_json()["error"] == LEGACY, answer.get_json()
    pdf = user.get(f"/versions/{row_id}/review.pdf")
    assert pdf.status_code == 422 and LEGACY in text_of(pdf) and f"第 {first[0]} 行" in text_of(pdf)
    for download in ("/compare.csv", "/compare.xlsx"):
        answer = user.get(f"{download}?v={row_id}")
        assert answer.status_code == 409 and "xianhuibao@2023" in text_of(answer)
    compared = user.get(f"/compare?v={row_id}")
    assert compared.status_code == 200 and "以下版本未通过校验，未参加比较" in text_of(compared)
    export = user.get("/products/xianhuibao/export.yaml")
    assert export.status_code == 409 and "xianhuibao@2023 的文本按旧版方案语言写成" in text_of(export)


def test_the_api_answers_with_the_error_envelope_and_a_documented_status(legacy):
    app, row_id, stored, first = legacy
    client, auth = app.test_client(), bearer(app, "regulator")
    detail = client.get(f"/api/v1/versions/{row_id}", headers=auth).get_json()
    assert (detail["valid"], detail["legacy"], detail["explained"]) == (False, True, None)
    assert (detail["issues"][0]["line"], detail["issues"][0]["path"], detail["issues"][0]["code"]) == first
    assert client.get(f"/api/v1/versions/{row_id}/yaml", headers=auth).get_data(as_text=True) == stored
    document = client.get("/api/v1/openapi.json").get_json()
    for method, path, url, body in (
            ("post", "/api/v1/versions/{row_id}/quote", f"/api/v1/versions/{row_id}/quote", {"age": 30}),
            ("post", "/api/v1/versions/{row_id}/adjudicate", f"/api/v1/versions/{row_id}/adjudicate", CLAIM),
            ("get", "/api/v1/versions/{row_id}/review", f"/api/v1/versions/{row_id}/review", None),
            ("get", "/api/v1/compare", f"/api/v1/compare?v={row_id}", None)):
        answer = client.open(url, method=method.upper(), json=body, headers=auth)
        refused = envelope_of(answer, 409)
        assert refused["error"].startswith("该版本按旧版方案语言发布，当前校验未通过"), url
        assert (refused["issues"][0]["line"], refused["issues"][0]["code"]) == (first[0], first[2])
        assert "409" in document["paths"][path][method]["responses"], path


def test_copy_into_a_new_draft_and_fix_it(legacy):
    """The way out: copy the version into next year's draft, fix the issues; the published text never changes.
    The fixed draft's pages then work beside the legacy version they follow."""
    app, row_id, stored, _first = legacy
    pm = Browser(app, "pm")
    copied = pm.post("/products/xianhuibao/next-draft", {"source": str(row_id)})
    assert copied.status_code == 302 and copied.headers["Location"].endswith("/edit")
    with app.extensions["hmb_sessions"]() as session:
        draft = version_row(session, "xianhuibao", "2024")
        assert (draft.status, draft.origin, draft.content_hash) == ("draft", "copy:xianhuibao@2023", None)
        draft_id, row_version = draft.id, draft.row_version
    editor = pm.get(f"/versions/{draft_id}/edit")
    assert editor.status_code == 200 and "2024" in text_of(editor)
    _year, fixed = next_year_text(CURRENT_2023)
    saved = pm.post(f"/versions/{draft_id}/edit", {"yaml_text": fixed, "row_version": str(row_version)})
    assert saved.status_code == 302, text_of(saved)
    with app.extensions["hmb_sessions"]() as session:
        assert version_row(session, "xianhuibao", "2024").content_hash is not None  # it validates now
        legacy_row = session.get(SchemeVersion, row_id)
        assert (legacy_row.yaml_text, legacy_row.row_version, legacy_row.status) == (stored, 1, "published")

    version_page = text_of(pm.get(f"/versions/{draft_id}"))
    assert "上一版本 xianhuibao@2023 按旧版方案语言发布，当前校验未通过，无法按含义比较" in version_page
    changes = pm.get(f"/versions/{draft_id}/changes")
    assert changes.status_code == 200 and "按旧版方案语言发布，当前校验未通过：无法按含义比较" in text_of(changes)
    impact = pm.get(f"/versions/{draft_id}/changes/impact.json")  # it is the version followed that is refused
    assert impact.status_code == 409 and impact.get_json()["error"] == LEGACY
    review = pm.get(f"/versions/{draft_id}/review")
    assert review.status_code == 200 and "未计入的已发布版本：咸惠保（首年）（xianhuibao@2023）" in text_of(review)
    api_review = app.test_client().get(f"/api/v1/versions/{draft_id}/review", headers=bearer(app, "regulator"))
    assert api_review.status_code == 200
    assert [v["key"] for v in api_review.get_json()["left_out"]] == ["xianhuibao@2023"]
    simulated = pm.get(f"/versions/{draft_id}/simulate")
    assert simulated.status_code == 200 and LEGACY not in text_of(simulated)


def test_a_text_the_loader_no_longer_reads_is_copied_as_it_is(make_app, tmp_path, products_copy):
    app, row_id, stored, _first = upgraded(make_app, tmp_path, "yaml-tag")
    assert Browser(app, "pm").post("/products/xianhuibao/next-draft", {"source": str(row_id)}).status_code == 302
    with app.extensions["hmb_sessions"]() as session:
        draft = version_row(session, "xianhuibao", "2024")
        assert (draft.yaml_text, draft.status, draft.content_hash) == (stored, "draft", None)


def test_next_draft_refuses_a_version_of_another_product(legacy):
    app, row_id, _stored, _first = legacy
    pm = Browser(app, "pm")
    assert pm.post("/products/nowhere/next-draft", {"source": str(row_id)}).status_code == 404
    assert pm.post("/products/xianhuibao/next-draft", {"source": "99999999999999"}).status_code == 404
