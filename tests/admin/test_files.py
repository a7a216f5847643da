"""Whole product files in the browser: upload as drafts (validated, all or nothing), export that round-trips."""
from __future__ import annotations

import io
import re
import shutil
import time
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from admin_ui import importer
from admin_ui.models import AuditEvent, Product, SchemeVersion, User
from admin_ui.schemes import analyse
from engine import load_product_text, parse_text, resolve_versions

from .conftest import REPO, XIANHUIBAO, Browser, version_row

# A comment each file keeps through import and export: the header's, and for 枣惠保 a separator between versions
# (cut with the 2023 item, not with the header; 2024 and 2025 extend the year before, so they are stored and
# exported resolved, written out as YAML).
KNOWN_COMMENTS = {"xianhuibao": "# 咸惠保 —— 咸宁市惠民型商业补充医疗保险",
                  "ganzhou": "# 赣州惠民保 —— 赣州市普惠型商业补充医疗保险（首年）",
                  "zaohuibao": "  # ───────────────────────────── 2023 ─────────────────────────────"}


def _counts(session) -> dict[str, int]:
    session.expire_all()
    return {model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Product, SchemeVersion, AuditEvent)}


def _upload(user: Browser, *files: tuple[str, str | bytes], **form):
    sent = [(io.BytesIO(body.encode("utf-8") if isinstance(body, str) else body), name) for name, body in files]
    return user.post("/products/import", {"files": sent, **form}, content_type="multipart/form-data")


def _new_product(text: str | None = None) -> str:
    """咸惠保's file as another city's product (id and name changed): nothing of it is stored yet."""
    text = text if text is not None else XIANHUIBAO.read_text(encoding="utf-8")
    assert "  id: xianhuibao\n  name: 咸惠保\n" in text
    return text.replace("  id: xianhuibao\n  name: 咸惠保\n", "  id: xianning-new\n  name: 咸宁新惠保\n")


def _with_a_second_year(text: str) -> str:
    start = text.index('  - id: "2023"')
    second = text[start:].replace('id: "2023"', 'id: "2024"').replace("2023-", "2024-").replace("2022-12", "2023-12")
    return text + "\n  # 第二年\n" + second


def _live_product(name: str) -> str:
    """The repository's products/NAME.yaml, which must validate (tests/test_golden_cases.py says why when not)."""
    text = (REPO / "products" / f"{name}.yaml").read_text(encoding="utf-8")
    assert analyse(text).ok, f"products/{name}.yaml does not validate"
    return text


# ── export ────────────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("name", sorted(KNOWN_COMMENTS))
def test_export_of_each_product_reimports_to_the_same_hashes_and_keeps_comments(name, make_app, products_copy,
                                                                                  tmp_path):
    original = _live_product(name)
    (products_copy / f"{name}.yaml").write_text(original, encoding="utf-8")
    app = make_app()
    with app.extensions["hmb_sessions"]() as session:
        stored = session.scalars(select(SchemeVersion).where(SchemeVersion.product_id == name)
                                 .order_by(SchemeVersion.period_start)).all()
    assert stored and all(r.status == "published" for r in stored)
    response = Browser(app, "regulator").get(f"/products/{name}/export.yaml")
    assert response.status_code == 200
    exported = response.get_data(as_text=True)
    assert KNOWN_COMMENTS[name] in exported.splitlines()
    again = load_product_text(exported)
    assert [(v.id, v.content_hash) for v in again.versions] == [(r.version_id, r.content_hash) for r in stored]
    # the file as the platform imported it: the same document, version for version (each version resolved)
    assert resolve_versions(parse_text(exported))[0].data == resolve_versions(parse_text(original))[0].data
    assert exported.splitlines()[0] == original.splitlines()[0]  # the header's comments too
    assert [v.content_hash for v in again.versions] == [v.content_hash for v in load_product_text(original).versions]
    # and importing it again (into a fresh platform, as drafts) stores the same versions with the same hashes
    fresh = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}", IMPORT_PRODUCTS=False)
    assert _upload(Browser(fresh, "pm"), (f"{name}.yaml", exported)).status_code == 200
    with fresh.extensions["hmb_sessions"]() as session:
        rows = session.scalars(select(SchemeVersion).order_by(SchemeVersion.period_start)).all()
        assert [(r.version_id, r.content_hash, r.yaml_text) for r in rows] == \
            [(r.version_id, r.content_hash, r.yaml_text) for r in stored]


def test_export_is_a_download_named_after_the_product(app):
    response = Browser(app, "regulator").get("/products/xianhuibao/export.yaml")
    assert response.headers["Content-Type"] == "application/yaml; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and 'filename="xianhuibao.yaml"' in disposition
    assert Browser(app, "regulator").get("/products/nothing/export.yaml").status_code == 404
    page = Browser(app, "regulator").get("/").get_data(as_text=True)
    assert 'href="/products/xianhuibao/export.yaml"' in page
    assert 'href="/products/xianhuibao/export.yaml?drafts=1"' in page


def test_drafts_are_exported_only_when_asked(app, session, draft):
    regulator = Browser(app, "regulator")
    published_only = regulator.get("/products/xianhuibao/export.yaml").get_data(as_text=True)
    assert [v.id for v in load_product_text(published_only).versions] == ["2023"]
    response = regulator.get("/products/xianhuibao/export.yaml?drafts=1")
    assert response.status_code == 200
    match = re.search(r"filename\*=UTF-8''(\S+)", response.headers["Content-Disposition"])
    assert unquote(match.group(1)) == "xianhuibao-含草稿.yaml"
    both = load_product_text(response.get_data(as_text=True))
    published = version_row(session, "xianhuibao", "2023")
    assert [(v.id, v.content_hash) for v in both.versions] == [("2023", published.content_hash),
                                                               ("2024", draft.content_hash)]


def test_versions_that_do_not_share_a_header_are_refused_with_409(app, session, draft):
    pm = Browser(app, "pm")
    text = draft.yaml_text.replace("  name: 咸惠保\n", "  name: 咸惠保二代\n", 1)
    saved = pm.post(f"/versions/{draft.id}/edit", {"yaml_text": text, "row_version": draft.row_version})
    assert saved.status_code == 302
    assert version_row(session, "xianhuibao", "2024").content_hash  # the draft still validates on its own
    response = pm.get("/products/xianhuibao/export.yaml?drafts=1")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "xianhuibao@2023" in page and "product.name" in page and "xianhuibao@2024" in page
    assert pm.get("/products/xianhuibao/export.yaml").status_code == 200  # the published versions alone still do


def test_a_draft_that_does_not_validate_is_not_exported(app, session, draft):
    pm = Browser(app, "pm")
    pm.post(f"/versions/{draft.id}/edit", {"yaml_text": "format: hmb-scheme/1\n", "row_version": draft.row_version})
    assert version_row(session, "xianhuibao", "2024").content_hash is None
    response = pm.get("/products/xianhuibao/export.yaml?drafts=1")
    assert response.status_code == 409 and "xianhuibao@2024" in response.get_data(as_text=True)


# ── import ────────────────────────────────────────────────────────────────────────────────────

def test_uploading_a_new_product_creates_drafts_and_publishes_nothing(app, session):
    before = _counts(session)
    published = session.scalar(select(func.count()).select_from(SchemeVersion)
                               .where(SchemeVersion.status.in_(("published", "retired"))))
    pm = Browser(app, "pm")
    assert 'href="/products/import"' in pm.get("/").get_data(as_text=True)
    response = _upload(pm, ("xianning-new.yaml", _with_a_second_year(_new_product())))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    session.expire_all()
    product = session.get(Product, "xianning-new")
    assert product is not None and product.name == "咸宁新惠保" and product.source_file == "xianning-new.yaml"
    rows = session.scalars(select(SchemeVersion).where(SchemeVersion.product_id == "xianning-new")
                           .order_by(SchemeVersion.version_id)).all()
    pm_user = session.scalar(select(User).where(User.username == "pm"))
    assert [r.version_id for r in rows] == ["2023", "2024"]
    for row in rows:
        assert row.status == "draft" and row.origin == "upload:xianning-new.yaml"
        assert row.published_at is None and row.effective_from is None and row.effective_to is None
        assert row.created_by == pm_user.id and row.content_hash == analyse(row.yaml_text).version.content_hash
        assert "# 咸惠保" in row.yaml_text  # cut from the file: comments kept
        assert f'href="/versions/{row.id}"' in page  # the report links to each new draft
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "version.upload")).all()
    assert sorted(e.object_id for e in events) == ["xianning-new@2023", "xianning-new@2024"]
    assert {e.username for e in events} == {"pm"} and all("xianning-new.yaml" in e.comment for e in events)
    assert session.scalar(select(func.count()).select_from(SchemeVersion)
                          .where(SchemeVersion.status.in_(("published", "retired")))) == published
    assert _counts(session)["SchemeVersion"] == before["SchemeVersion"] + 2
    # a draft like any other: it goes to review from here
    assert pm.post(f"/versions/{rows[0].id}/submit", {"row_version": rows[0].row_version}).status_code == 302
    assert version_row(session, "xianning-new", "2023").status == "in_review"


def test_pasted_text_imports_under_the_name_given(app, session):
    response = Browser(app, "pm").post("/products/import", {"yaml_text": _new_product().replace("\n", "\r\n"),
                                                            "filename": "C:\\Users\\pm\\新方案.yaml"})
    assert response.status_code == 200
    row = version_row(session, "xianning-new", "2023")
    assert row.status == "draft" and row.origin == "upload:新方案.yaml" and "\r" not in row.yaml_text


def test_a_broken_file_shows_every_error_with_its_line_and_saves_nothing(app, session):
    text = _with_a_second_year(_new_product())
    second = text.index('id: "2024"')
    broken = text[:second] + text[second:].replace("value: 69,", "value: -5,", 1).replace("    insurers:",
                                                                                             "    insurer:", 1)
    issues = analyse(broken).issues
    assert len(issues) >= 2 and all(i["line"] > text[:second].count("\n") for i in issues)  # all in the 2nd year
    pm = Browser(app, "pm")  # (signing in is an audit event of its own)
    before = _counts(session)
    response = _upload(pm, ("xianning-new.yaml", broken))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    items = re.findall(r"<li>(.*?)</li>", page[page.index('id="import-report"'):page.index("</section>")], re.S)
    shown = [re.sub(r"<[^>]+>", "", item) for item in items]
    for issue in issues:  # every one, with its line and path, not only the first
        assert any(f"第 {issue['line']} 行" in s and issue["path"] in s and issue["message"].replace("'", "&#39;") in s
                   for s in shown), issue
    assert _counts(session) == before  # not even the valid 2023 version, nor the product
    assert session.get(Product, "xianning-new") is None


def test_an_unreadable_upload_is_reported(app, session):
    pm = Browser(app, "pm")
    before = _counts(session)
    response = _upload(pm, ("latin1.yaml", "名称".encode("gbk")), ("notes.txt", "a: 1"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "latin1.yaml" in page and "UTF-8" in page and "notes.txt" in page and ".yaml" in page
    assert _counts(session) == before


def test_uploading_the_same_file_again_reports_it_unchanged(app, session):
    pm = Browser(app, "pm")
    before = _counts(session)
    response = _upload(pm, ("xianhuibao.yaml", XIANHUIBAO.read_bytes()))  # what start-up imported
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "已存在且内容相同，未改动：2023" in page and "新建草稿" not in page
    assert _counts(session) == before
    _upload(pm, ("xianning-new.yaml", _new_product()))
    after_first = _counts(session)
    again = _upload(pm, ("xianning-new.yaml", _new_product())).get_data(as_text=True)
    assert "已存在且内容相同，未改动：2023" in again and _counts(session) == after_first


def test_a_version_stored_with_other_content_is_a_conflict_and_left_alone(app, session, draft):
    stored_2023 = version_row(session, "xianhuibao", "2023").yaml_text
    stored_2024 = draft.yaml_text
    text = XIANHUIBAO.read_text(encoding="utf-8").replace("value: 69,", "value: 79,", 1)
    three = _with_a_second_year(text)  # 2023 changed (published), 2024 differs from the draft, 2025 new
    start = three.index('  - id: "2024"')
    three += "\n" + three[start:].replace('id: "2024"', 'id: "2025"').replace("2024-", "2025-").replace("2023-12",
                                                                                                         "2024-12")
    response = _upload(Browser(app, "pm"), ("xianhuibao-next.yaml", three))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "xianhuibao@2023 文件内容与已发布版本不同" in page
    assert "xianhuibao@2024 在管理后台中已有同编号的草稿" in page
    assert version_row(session, "xianhuibao", "2023").yaml_text == stored_2023
    assert version_row(session, "xianhuibao", "2024").yaml_text == stored_2024
    new = version_row(session, "xianhuibao", "2025")
    assert new.status == "draft" and f'href="/versions/{new.id}"' in page


def test_only_those_who_create_drafts_may_import(app, session):
    before = _counts(session)
    for username in ("regulator", "reviewer"):
        user = Browser(app, username)
        assert user.get("/products/import").status_code == 403
        assert _upload(user, ("xianning-new.yaml", _new_product())).status_code == 403
        assert 'href="/products/import"' not in user.get("/").get_data(as_text=True)
    assert _counts(session)["SchemeVersion"] == before["SchemeVersion"]
    assert Browser(app, "admin").get("/products/import").status_code == 200


def test_the_import_needs_the_csrf_token(app, session):
    pm = Browser(app, "pm")
    for data in ({}, {"csrf_token": "forged"}):
        response = pm.client.post("/products/import", content_type="multipart/form-data",
                                  data={**data, "files": [(io.BytesIO(_new_product().encode()), "x.yaml")]})
        assert response.status_code == 400
    assert session.get(Product, "xianning-new") is None
    assert _upload(pm, ("x.yaml", _new_product())).status_code == 200  # with the token it goes through


def test_nothing_sent_and_too_much_sent_are_explained(app, session):
    pm = Browser(app, "pm")
    assert pm.post("/products/import", {"yaml_text": "  "}).status_code == 400
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = _upload(pm, ("big.yaml", XIANHUIBAO.read_bytes()))
    assert response.status_code == 413 and "上传的内容超过 4 KB 上限" in response.get_data(as_text=True)


def test_one_file_is_one_transaction(app, session, monkeypatch):
    """A failure half-way through a file (here the second version's audit event) leaves none of it behind."""
    before = _counts(session)
    real, calls = importer.audit.record, []

    def failing(*args, **kwargs):
        calls.append(args[4])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(importer.audit, "record", failing)
    with app.extensions["hmb_sessions"]() as other:
        with pytest.raises(RuntimeError):
            importer.import_text(other, _with_a_second_year(_new_product()), "x.yaml", status="draft")
        other.commit()  # a caller carrying on with the same session commits nothing of the file
    monkeypatch.undo()
    assert calls == ["xianning-new@2023", "xianning-new@2024"]
    assert _counts(session) == before and session.get(Product, "xianning-new") is None


def test_several_files_at_once_each_get_their_result(app, session):
    zaohuibao = _live_product("zaohuibao")
    ganzhou = _live_product("ganzhou")
    response = _upload(Browser(app, "pm"), ("zaohuibao.yaml", zaohuibao), ("broken.yaml", "format: hmb-scheme/1\n"),
                       ("ganzhou.yaml", ganzhou))
    assert response.status_code == 422  # one of them has problems
    page = response.get_data(as_text=True)
    assert "共 3 个文件：2 个已处理，1 个有问题未导入。" in page
    assert page.index("zaohuibao.yaml") < page.index("broken.yaml") < page.index("ganzhou.yaml")
    session.expire_all()
    assert [r.status for r in session.scalars(select(SchemeVersion).where(SchemeVersion.product_id == "zaohuibao"))] \
        == ["draft"] * len(load_product_text(zaohuibao).versions)
    assert version_row(session, "ganzhou", load_product_text(ganzhou).versions[0].id).status == "draft"


def test_start_up_import_stays_published(tmp_path, make_app, products_copy):
    """The upload shares the start-up importer's path; that one still publishes, as the system user."""
    shutil.copy(XIANHUIBAO, products_copy / "again.yaml")  # the same product twice: the second is all unchanged
    app = make_app()
    report = app.extensions["hmb_import_report"]
    assert [(f.imported, f.unchanged) for f in report.files] == [(["2023"], []), ([], ["2023"])]
    with app.extensions["hmb_sessions"]() as session:
        row = version_row(session, "xianhuibao", "2023")
        assert row.status == "published" and row.origin == "import:products/again.yaml" and row.published_at
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "version.import"))
        assert event.username == "system" and event.comment == "从 products/again.yaml 导入并发布"


def _files(*files: tuple[str, str]) -> list:
    return [(io.BytesIO(body.encode("utf-8")), name) for name, body in files]


def test_a_background_import_advances_file_by_file_then_shows_the_report(app, session):
    """What the page's script does: start the job, poll its progress, then open the report."""
    pm = Browser(app, "pm")
    started = pm.client.post("/products/import/jobs", content_type="multipart/form-data",
                             headers={"X-CSRFToken": pm.token},
                             data={"files": _files(("new.yaml", _new_product()), ("broken.yaml", "format: x\n"))})
    assert started.status_code == 202
    job = started.get_json()
    assert job["total"] == 2 and job["poll"].startswith("/products/import/jobs/")
    seen = []
    for _ in range(200):
        state = pm.get(job["poll"]).get_json()
        seen.append(state["done"])
        if state["finished"]:
            break
        time.sleep(0.02)
    assert state == {**state, "finished": True, "done": 2, "total": 2, "error": ""} and seen == sorted(seen)
    report = pm.get(state["page"])
    assert report.status_code == 422  # one of the two files has problems
    page = report.get_data(as_text=True)
    assert "共 2 个文件：1 个已处理，1 个有问题未导入。" in page and "xianning-new@2023" in page
    row = version_row(session, "xianning-new", "2023")
    assert row.status == "draft" and row.created_by == session.scalar(select(User.id).where(User.username == "pm"))
    assert Browser(app, "pm2").get(job["poll"]).status_code == 404  # a job is its owner's
    assert Browser(app, "pm2").get(state["page"]).status_code == 404


def test_a_background_import_needs_the_token_and_the_right(app, session):
    pm = Browser(app, "pm")
    body = {"files": _files(("new.yaml", _new_product()))}
    assert pm.client.post("/products/import/jobs", data=body, content_type="multipart/form-data").status_code == 400
    regulator = Browser(app, "regulator")
    assert regulator.client.post("/products/import/jobs", data={"files": _files(("new.yaml", _new_product()))},
                                 content_type="multipart/form-data",
                                 headers={"X-CSRFToken": regulator.token}).status_code == 403
    assert pm.client.post("/products/import/jobs", data={}, headers={"X-CSRFToken": pm.token}).status_code == 400
    assert session.get(Product, "xianning-new") is None
