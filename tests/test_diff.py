"""Semantic diff between versions: the changes a product manager reads, not a text diff."""
import json
from pathlib import Path

from click.testing import CliRunner

from engine import load_product, load_product_text
from engine.cli import main
from engine.diff import diff_text, diff_versions

PRODUCTS = Path(__file__).resolve().parent.parent / "products"


def zaohuibao():
    return load_product(PRODUCTS / "zaohuibao.yaml")


def test_zaohuibao_2025_changes_are_the_sources_own():
    product = zaohuibao()
    changes = diff_versions(product.version("2024"), product.version("2025"))
    texts = [c.text for c in changes]
    # the source: deductible 15,000 (2023) → 8,000 (2025), kept at 15,000 in 2024 by assumption
    assert any("起付线" in t and "15,000.00 元 → 8,000.00 元" in t for t in texts), texts
    # the source: pre-existing 139 (2024) → 159 (2025)
    assert any("保费：139.00 元 → 159.00 元" in t for t in texts), texts
    assert any(c.kind == "added" and c.area == "premium" and "69.00 元" in c.after for c in changes)


def test_a_version_compared_with_itself_has_no_changes(xianhuibao):
    version = xianhuibao.version("2023")
    assert diff_versions(version, version) == []
    assert diff_text([]) == "两个版本的方案内容相同。"


def _xianning_text() -> str:
    return (PRODUCTS / "xianhuibao.yaml").read_text(encoding="utf-8")


def test_reordering_liabilities_changes_nothing(xianhuibao):
    text = _xianning_text()
    head, _, tail = text.partition("    liabilities:\n")
    items = tail.split("      - id: ")
    reordered = head + "    liabilities:\n" + "      - id: ".join([items[0], items[2], items[1], *items[3:]])
    assert reordered != text
    new = load_product_text(reordered).version("2023")
    assert [c for c in diff_versions(xianhuibao.version("2023"), new) if c.area == "liability"] == []


def test_a_ratio_change_is_one_change_marked_as_assumed(xianhuibao):
    text = _xianning_text()
    old = "ratio: {value: 0.8, assumed: 来源未公布；市场无既往症人群 70–90% 区间内取 80%}"
    assert text.count(old) == 1
    new = load_product_text(text.replace(old, "ratio: {value: 0.85, assumed: 试算}")).version("2023")
    changes = diff_versions(xianhuibao.version("2023"), new)
    assert [(c.area, c.before, c.after, c.assumed) for c in changes] == [("liability", "80%", "85%", True)]
    assert changes[0].text == "责任“医保目录内个人自付”比例：80% → 85%"


def test_cli_diff_json():
    result = CliRunner().invoke(main, ["diff", f"{PRODUCTS / 'zaohuibao.yaml'}@2023", f"{PRODUCTS / 'zaohuibao.yaml'}@2024",
                                       "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["old"] == "zaohuibao@2023" and data["new"] == "zaohuibao@2024"
    pricing = [c for c in data["changes"] if c["subject"] == "定价方式"]
    assert pricing and pricing[0]["after"] == "差异化定价"


def test_a_renamed_band_or_liability_is_a_change_under_its_old_name():
    # 2025 renames the low-income band (the sources: 低收入人群 → the five categories of 低收入人员)
    product = zaohuibao()
    changes = diff_versions(product.version("2024"), product.version("2025"))
    assert "档位“低收入人群”的名称：低收入人群 → 五类低收入人员" in [c.text for c in changes]


def test_renaming_a_liability_is_one_change(xianhuibao):
    text = _xianning_text()
    assert text.count("name: 医保目录内个人自付\n") == 1
    new = load_product_text(text.replace("name: 医保目录内个人自付\n", "name: 目录内自付\n")).version("2023")
    changes = diff_versions(xianhuibao.version("2023"), new)
    assert [c.text for c in changes] == ["责任“医保目录内个人自付”的名称：医保目录内个人自付 → 目录内自付"]


def test_the_special_groups_and_donated_enrolment_are_described_in_chinese():
    text = (PRODUCTS / "ganzhou.yaml").read_text(encoding="utf-8")
    old_product = load_product_text(text)
    changed = (text.replace("      donated_enrolment: true\n", "")
               .replace("when: {disabled: true}", "when: {disabled: true, entitled_care: false}"))
    assert changed.count("entitled_care: false") == 1
    changes = diff_versions(old_product.version("2024"), load_product_text(changed).version("2024"))
    assert [c.text for c in changes] == [
        "爱心企业等捐赠参保：是 → 否",
        "资助“残疾人资助参保”：残疾人，医疗救助资金承担 30.00 元 → 残疾人，非优抚对象，医疗救助资金承担 30.00 元"]
