"""Start-up: migrations applied, products imported idempotently as published versions, broken files reported."""
from __future__ import annotations

import shutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from admin_ui import create_app
from admin_ui.db import Base, get_engine, new_session
from admin_ui.models import AuditEvent, Product, SchemeVersion, User
from admin_ui.schemes import analyse
from engine import load_product

from .conftest import REPO, XIANHUIBAO, version_row


def test_fresh_start_imports_the_product_as_published(app, session):
    row = version_row(session, "xianhuibao", "2023")
    engine_version = load_product(XIANHUIBAO).version("2023")
    assert row.status == "published"
    assert row.content_hash == engine_version.content_hash
    assert (str(row.effective_from), str(row.effective_to)) == engine_version.period
    assert analyse(row.yaml_text).version.content_hash == engine_version.content_hash  # the stored text stands alone
    assert session.get(Product, "xianhuibao").city == "咸宁市"
    assert {u.role for u in session.scalars(select(User))} == {"product_manager", "reviewer", "regulator", "admin"}
    imported = session.scalars(select(AuditEvent).where(AuditEvent.action == "version.import")).all()
    assert [e.object_id for e in imported] == ["xianhuibao@2023"]
    assert imported[0].after["content_hash"] == engine_version.content_hash


def test_import_is_idempotent(make_app, app, session):
    again = make_app(DATABASE_URL=app.config["DATABASE_URL"])
    report = again.extensions["hmb_import_report"]
    assert report.files[0].unchanged == ["2023"] and not report.files[0].imported
    assert session.scalar(select(func.count()).select_from(SchemeVersion)) == 1


def test_the_real_products_folder_imports_without_crashing(tmp_path):
    """The repository's products/ (other files may be half-written right now): every file is imported or reported."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'real.db'}", "SECRET_KEY": "t",
                      "PRODUCTS_DIR": str(REPO / "products")})
    report = app.extensions["hmb_import_report"]
    names = {f.file.split("/")[-1] for f in report.files}
    assert "xianhuibao.yaml" in names and not any(n.endswith(".cases.yaml") for n in names)
    with app.app_context(), new_session() as session:
        for f in report.files:
            count = session.scalar(select(func.count()).select_from(SchemeVersion)
                                   .where(SchemeVersion.product_id == f.product_id))
            assert (count == len(f.imported) + len(f.unchanged)) if f.product_id else f.issues


def test_a_broken_file_is_reported_and_the_others_import(make_app, products_copy):
    (products_copy / "broken.yaml").write_text("format: hmb-scheme/1\nproduct:\n  id: broken\n  name: [unclosed\n",
                                               encoding="utf-8")
    (products_copy / "half.yaml").write_bytes(b"product:\n  name: \xe5\x92")  # cut mid-character while being written
    app = make_app()
    report = app.extensions["hmb_import_report"]
    broken = {f.file.split("/")[-1]: f for f in report.broken}
    assert set(broken) == {"broken.yaml", "half.yaml"}
    assert broken["broken.yaml"].issues[0]["line"] >= 4
    assert [f.imported for f in report.files if f.product_id == "xianhuibao"] == [["2023"]]
    from .conftest import Browser
    page = Browser(app, "regulator").get("/").get_data(as_text=True)
    assert "broken.yaml" in page and "half.yaml" in page and "咸惠保" in page


def test_a_changed_published_file_is_a_conflict_not_an_overwrite(make_app, app, session, products_copy):
    before = version_row(session, "xianhuibao", "2023").yaml_text
    path = products_copy / "xianhuibao.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("value: 69,", "value: 79,"), encoding="utf-8")
    report = make_app(DATABASE_URL=app.config["DATABASE_URL"]).extensions["hmb_import_report"]
    assert report.files[0].conflicts and "已发布" in report.files[0].conflicts[0]
    assert version_row(session, "xianhuibao", "2023").yaml_text == before


def test_a_file_with_several_versions_becomes_one_row_per_version(make_app, products_copy, tmp_path):
    text = XIANHUIBAO.read_text(encoding="utf-8")
    start = text.index('  - id: "2023"')
    second = text[start:].replace('id: "2023"', 'id: "2024"').replace("2023-", "2024-").replace("2022-12", "2023-12")
    (products_copy / "xianhuibao.yaml").write_text(text + "\n  # 第二年\n" + second, encoding="utf-8")
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'two.db'}")
    whole = load_product(products_copy / "xianhuibao.yaml")
    with app.app_context(), new_session() as session:
        rows = session.scalars(select(SchemeVersion).order_by(SchemeVersion.version_id)).all()
        assert [r.version_id for r in rows] == ["2023", "2024"]
        for row, version in zip(rows, whole.versions):
            alone = analyse(row.yaml_text)
            assert alone.ok and len(alone.product.versions) == 1
            assert alone.version.content_hash == version.content_hash == row.content_hash
            assert "# 咸惠保" in row.yaml_text  # cut from the text: comments kept


def test_migrations_match_the_models(app):
    with app.app_context(), get_engine().connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_golden_case_files_are_not_imported(make_app, products_copy):
    shutil.copy(XIANHUIBAO, products_copy / "xianhuibao.cases.yaml")
    report = make_app().extensions["hmb_import_report"]
    assert [f.file.split("/")[-1] for f in report.files] == ["xianhuibao.yaml"]
