"""The version page's summary of what changed since the previous version (by meaning, as on the changes page),
and the impact population's setting.

枣惠保 has three years (2023, 2024, 2025): the app gets a copy of its file beside 咸惠保's.
"""
from __future__ import annotations

import inspect
import re
import shutil
from html import unescape

import pytest

from admin_ui import catalogue, changes, pairs
from admin_ui.services import check_stored
from engine.impact import impact

from .conftest import REPO, Browser, version_row

# engine.diff of zaohuibao 2024 → 2025: ten changes in four areas, among them the shared deductible
DEDUCTIBLE = "起付线“年度累计起付线（目录内外共用）”：15,000.00 元 → 8,000.00 元"
DETAILS = re.compile(r"<details\b.*?</details>", re.S)


@pytest.fixture
def app(make_app, products_copy):
    shutil.copy(REPO / "products" / "zaohuibao.yaml", products_copy / "zaohuibao.yaml")
    return make_app()


def text_of(html: str) -> str:
    """The page as a reader sees it: tags dropped, whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


def test_the_version_page_lists_the_changes_by_meaning_and_links_to_the_changes_page(app, session):
    row = version_row(session, "zaohuibao", "2025")
    html = Browser(app, "regulator").get(f"/versions/{row.id}").get_data(as_text=True)
    page = text_of(html)
    assert "与上一版本“枣惠保 2024 年度（差异化定价首年）”的差异 15 项" in page
    assert DEDUCTIBLE in page
    assert "档位“有既往症人群”保费：139.00 元 → 159.00 元" in page
    assert "特药“瑞基奥仑赛注射液（CAR-T）”：复发或难治性大 B 细胞淋巴瘤 【假设】" in page  # an assumed new value
    assert f'href="/versions/{row.id}/changes"' in html and "查看全部变化" in page
    assert "另有 3 项变化未列出。" in page  # twelve lines listed, the rest counted


def test_the_text_diff_is_only_behind_a_folded_details(app, session):
    row = version_row(session, "zaohuibao", "2025")
    html = Browser(app, "regulator").get(f"/versions/{row.id}").get_data(as_text=True)
    folded = [d for d in DETAILS.findall(html) if "文本差异" in d]
    assert len(folded) == 1 and 'class="diff"' in folded[0] and " open" not in folded[0].split(">", 1)[0]
    # 2024 and 2025 extend the year before: stored resolved, their items written out as YAML
    raw = ["+++ zaohuibao@2025", "-    name: 枣惠保 2024 年度（差异化定价首年）", "+    name: 枣惠保 2025 年度（保障升级）"]
    assert all(line in folded[0] for line in raw)
    outside = DETAILS.sub("", html)
    assert 'class="diff"' not in outside and not any(line in outside for line in raw)


def test_the_first_version_has_no_changes_section(app, session):
    row = version_row(session, "zaohuibao", "2023")
    page = text_of(Browser(app, "regulator").get(f"/versions/{row.id}").get_data(as_text=True))
    assert "与上一版本" not in page and "查看全部变化" not in page


def test_the_summary_stops_at_its_lines_and_counts_the_rest(app, session):
    row, previous = version_row(session, "zaohuibao", "2025"), version_row(session, "zaohuibao", "2024")
    summary = catalogue.change_summary(pairs.Pair(row, check_stored(row), previous), lines=4)
    assert summary["count"] == 15 and summary["hidden"] == 11
    assert [(label, len(items)) for label, items in summary["groups"]] == [("保险期间", 2), ("保费档位", 2)]
    assert catalogue.SUMMARY_LINES == 12


def test_hidden_changes_are_counted_on_the_page(app, session, monkeypatch):
    monkeypatch.setattr(catalogue, "SUMMARY_LINES", 3)
    row = version_row(session, "zaohuibao", "2025")
    page = text_of(Browser(app, "regulator").get(f"/versions/{row.id}").get_data(as_text=True))
    assert "另有 12 项变化未列出。" in page and DEDUCTIBLE not in page and "查看全部变化" in page


def test_an_invalid_draft_keeps_its_text_diff(app, draft, session):
    pm = Browser(app, "pm")
    broken = draft.yaml_text.replace("ratio: {value: 0.8,", "ratio: {value: 8,")
    pm.post(f"/versions/{draft.id}/edit", {"yaml_text": broken, "row_version": draft.row_version})
    html = pm.get(f"/versions/{draft.id}").get_data(as_text=True)
    page = text_of(DETAILS.sub("", html))
    assert "与上一版本“咸惠保（首年）”的差异" in page and "暂时无法按含义比较" in page
    assert any("ratio: {value: 8," in d for d in DETAILS.findall(html))


# ── configuration ─────────────────────────────────────────────────────────────────────────────

def test_hmb_impact_population_reaches_the_config(make_app, monkeypatch):
    monkeypatch.setenv("HMB_IMPACT_POPULATION", "1234")
    app = make_app(IMPORT_PRODUCTS=False)
    assert app.config["IMPACT_POPULATION"] == 1234
    with app.app_context():
        assert changes.population() == 1234


def test_the_impact_population_defaults_to_engine_impacts(make_app, monkeypatch):
    monkeypatch.delenv("HMB_IMPACT_POPULATION", raising=False)
    default = inspect.signature(impact).parameters["population"].default
    assert make_app(IMPORT_PRODUCTS=False).config["IMPACT_POPULATION"] == default == 5000
