"""A product file whose versions extend each other (`extends:`) in the admin: imported resolved, each version's
page, editor and changes work on the resolved version, and an `extends` written in the editor is a clear error.
The file is 枣惠保's (2024 extends 2023, 2025 extends 2024): the admin checks quotes against the repository's texts."""
from __future__ import annotations

import io

from sqlalchemy import select

from admin_ui.models import SchemeVersion
from engine import load_product, load_product_text, parse_text

from .conftest import REPO, Browser, version_row

FILE = REPO / "products" / "zaohuibao.yaml"
TEXT = FILE.read_text(encoding="utf-8")
INSURER = "中国人寿财产保险股份有限公司枣庄市中心支公司"  # written in 2023 only


def _import(app) -> None:
    pm = Browser(app, "pm")
    response = pm.post("/products/import", {"files": [(io.BytesIO(TEXT.encode("utf-8")), "zaohuibao.yaml")]},
                       content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)


def test_an_extending_file_is_imported_as_resolved_versions_with_the_files_hashes(app, session):
    _import(app)
    rows = session.scalars(select(SchemeVersion).where(SchemeVersion.product_id == "zaohuibao")
                           .order_by(SchemeVersion.period_start)).all()
    expected = [(v.id, v.content_hash) for v in load_product(FILE).versions]
    assert [(r.version_id, r.content_hash) for r in rows] == expected
    stored = rows[2].yaml_text  # 2025, two steps from what 2023 writes
    assert "extends" not in parse_text(stored).data["versions"][0]  # stands alone: resolved
    assert stored.startswith(TEXT.splitlines()[0] + "\n")  # the file's header comments kept
    assert load_product_text(stored).versions[0].content_hash == expected[2][1]


def _publish(app, session, version_id: str) -> None:
    row = version_row(session, "zaohuibao", version_id)
    assert Browser(app, "pm").post(f"/versions/{row.id}/submit", {"row_version": row.row_version}).status_code == 302
    row = version_row(session, "zaohuibao", version_id)
    approved = Browser(app, "reviewer").post(f"/versions/{row.id}/approve", {
        "row_version": row.row_version, "effective_from": row.period_start.isoformat(),
        "effective_to": row.period_end.isoformat(), "comment": "同意"})
    assert approved.status_code == 302


def test_the_version_changes_and_editor_pages_show_the_resolved_version(app, session):
    _import(app)
    _publish(app, session, "2024")  # the changes page compares with the previous published version
    row = version_row(session, "zaohuibao", "2025")
    regulator = Browser(app, "regulator")
    page = regulator.get(f"/versions/{row.id}").get_data(as_text=True)
    assert "0–50 周岁无既往症" in page and INSURER in page  # a band it writes and the insurer it inherits
    changes = regulator.get(f"/versions/{row.id}/changes").get_data(as_text=True)
    assert "18 周岁及以下未成年人" in changes and "免申即赔" in changes  # a band removed, the service declared
    editor = Browser(app, "pm").get(f"/versions/{row.id}/edit")
    assert editor.status_code == 200
    text = editor.get_data(as_text=True)
    assert "extends:" not in text.split("方案语言要点")[0] and INSURER in text  # the resolved text in the editor
    for term in ("版本继承（extends）", "结余滚存（surplus）", "理赔服务（service）"):  # and the help beside it
        assert term in text


def test_extends_written_in_the_editor_is_an_error_at_its_line(app, session):
    _import(app)
    row = version_row(session, "zaohuibao", "2025")
    text = row.yaml_text.replace("  - id: '2025'\n", "  - id: '2025'\n    extends: '2024'\n", 1)
    assert text != row.yaml_text
    body = Browser(app, "pm").validate(text, row.id).get_json()
    assert not body["ok"]
    [issue] = body["issues"]
    assert issue["code"] == "inherit.unknown" and "继承的版本“2024”不存在" in issue["message"]
    assert issue["line"] == text.splitlines().index("    extends: '2024'") + 1
