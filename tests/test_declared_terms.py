"""Declared terms that move no money: surplus roll-over (结余滚存) and claims service (免申即赔, payment deadlines).
Three-valued like the filings, shown in explain, diffed, compared, and read by the regulator review."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import load_product, load_product_text, parse_text, validate_document
from engine.compare import parameter_rows
from engine.diff import diff_versions
from engine.explain import ASSUMED_MARK, describe_version, version_text
from engine.review import review, version_data
from engine.review.facts import derive_facts

ROOT = Path(__file__).resolve().parent.parent
XIANNING = ROOT / "products" / "xianhuibao.yaml"
ZAOZHUANG = ROOT / "products" / "zaohuibao.yaml"
FILINGS = "    filings:\n"  # 咸惠保 2023: a declared block goes just before it


def _xianning(block: str) -> str:
    text = XIANNING.read_text(encoding="utf-8")
    assert text.count(FILINGS) == 1
    return text.replace(FILINGS, block + FILINGS)


def _issues(text: str) -> list:
    return validate_document(parse_text(text, "x.yaml"))


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def _verdict(text: str, regime: str, check: str) -> str:
    doc = parse_text(text, "x.yaml")
    product = load_product_text(text)
    version = product.versions[0]
    result = review(product, version, version_data(doc, version), population=100)
    found = next(r for r in result.regimes if r.regime.id == regime)
    return next(v for v in found.verdicts if v.check.id == check).verdict


XN_NEWS = "{doc: xn-news, clause: 第一段, quote: 进一步提升参保群众重特大疾病医疗保障水平}"  # a quote of 咸惠保's source
SOURCED_ROLLOVER = ("    surplus:\n      rolls_over: {value}\n{to}"
                    "      source: {{doc: xn-news, clause: 第一段, quote: 进一步提升参保群众重特大疾病医疗保障水平, note: 测试用的出处}}\n")


# ── surplus roll-over ─────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("block, expected", [
    (SOURCED_ROLLOVER.format(value="true", to="      to: next_period\n"), "符合"),
    (SOURCED_ROLLOVER.format(value="false", to=""), "违规"),
    ("    surplus: {rolls_over: unknown, assumed: 来源未提结余资金}\n", "需人工确认"),
    ("    surplus: {rolls_over: true, assumed: 假设结余滚存}\n", "需人工确认"),  # assumed: not declared by anyone
    ("", "需人工确认"),
])
def test_the_hubei_surplus_check_reads_the_declared_term(block, expected):
    assert _verdict(_xianning(block), "hubei-2021", "surplus-rollover") == expected


def test_ganzhou_declares_its_surplus_roll_over_from_its_plan_and_the_check_complies():
    product = load_product(ROOT / "products" / "ganzhou.yaml")
    version = product.versions[0]
    assert (version.surplus.rolls_over.state, version.surplus.to) == ("declared", "next_period")
    quote = "同一保险期保费余额转入下一保险期滚存使用"
    assert [c.quote for c in version.surplus.rolls_over.prov.source] == [quote]
    assert quote in (ROOT / "sources" / "gz-plan.txt").read_text(encoding="utf-8")
    doc = parse_text((ROOT / "products" / "ganzhou.yaml").read_text(encoding="utf-8"))
    facts = derive_facts(product, version, version_data(doc, version), population=100)
    assert facts["surplus_rollover"].value == "declared"


def test_explain_shows_the_surplus_term_sourced_or_marked_assumed():
    sourced = load_product_text(_xianning(SOURCED_ROLLOVER.format(value="true", to="      to: next_period\n")))
    assert "年度结余资金：转入下一保险期（年度）滚存使用 〔" in version_text(sourced.versions[0])
    assumed = load_product_text(_xianning("    surplus: {rolls_over: true, assumed: 假设结余滚存}\n")).versions[0]
    described = describe_version(assumed)
    assert f"年度结余资金：滚存使用（去向未写明）{ASSUMED_MARK}" in described["declared"][0]
    assert {"what": "年度结余资金：滚存使用（去向未写明）", "reason": "假设结余滚存"} in described["assumptions"]
    silent = load_product(XIANNING).versions[0]
    assert describe_version(silent)["declared"] == ["年度结余资金：来源未说明"]


def test_diff_and_compare_show_the_surplus_term():
    before = load_product(XIANNING).versions[0]
    after = load_product_text(_xianning(SOURCED_ROLLOVER.format(value="false", to=""))).versions[0]
    [change] = [c for c in diff_versions(before, after) if c.area == "service"]
    assert (change.subject, change.before, change.after) == ("结余滚存", "来源未说明", "不滚存")
    row = next(r for r in parameter_rows([before, after]) if r["key"] == "surplus")
    assert row["values"] == ["来源未说明", "不滚存"]


def test_the_first_editions_regulation_surplus_rollover_still_reads_the_same():
    text = XIANNING.read_text(encoding="utf-8").replace("      pricing: flat\n", "      pricing: flat\n      surplus_rollover: true\n", 1)
    version = load_product_text(text).versions[0]
    assert version.surplus.rolls_over.value is True


BROKEN_SURPLUS = [
    ("    surplus:\n      rolls_over: false\n      to: next_period\n      source: " + XN_NEWS + "\n",
     "surplus.to_without_rollover", "      to: next_period", "rolls_over 不是 true"),
    ("    surplus:\n      rolls_over: maybe\n      source: " + XN_NEWS + "\n",
     "schema.enum", "rolls_over: maybe", "可选：True、False、unknown"),
    ("    surplus:\n      rolls_over: true\n      to: next_year_pool\n      source: " + XN_NEWS + "\n",
     "schema.enum", "to: next_year_pool", "next_period（转入下一保险期（年度）滚存使用）"),
    ("    surplus:\n      rolls_over: true\n", "declared.provenance", "rolls_over: true", "结余滚存的声明没有出处"),
]


def test_surplus_written_twice_is_an_error():
    text = _xianning(SOURCED_ROLLOVER.format(value="true", to="")).replace(
        "      pricing: flat\n", "      pricing: flat\n      surplus_rollover: true\n", 1)
    issues = _issues(text)
    assert [i.code for i in issues] == ["surplus.twice"]
    assert issues[0].line == _line_of(text, "surplus_rollover: true")


# ── claims service ────────────────────────────────────────────────────────────────────────────

def test_zaohuibao_2025_declares_no_application_claims_and_payment_deadlines_from_its_source():
    product = load_product(ZAOZHUANG)
    service = product.version("2025").service
    assert service.no_application.state == "declared" and service.since == "2025-07-31"
    assert [(d.id, d.days, d.unit) for d in service.deadlines] == [("in-province", 3, "days"),
                                                                  ("out-of-province", 7, "days")]
    text = (ROOT / "sources" / "zz-news.txt").read_text(encoding="utf-8")
    for quote in ("系統今年7月31日上線后處理的首筆理賠款項", "符合條件的異地就醫參保患者,無需提交理賠申請材料",
                  "根據省內3天、省外7天的時效要求,理賠款項直賠到戶"):
        assert quote in text and quote in [c.quote for c in service.no_application.prov.source + service.prov.source]
    assert product.version("2024").service is None  # the source dates it 2025


def test_service_terms_are_explained_diffed_compared_and_reviewed():
    product = load_product(ZAOZHUANG)
    old, new = product.version("2024"), product.version("2025")
    declared = describe_version(new)["declared"]
    assert declared[1].startswith("免申即赔：无需申请，由系统自动理赔（省内异地、跨省异地就医，2025-07-31 起） 〔")
    assert declared[2].startswith("赔款到账时限·省内异地就医免申直赔：3 天内赔款到账 〔")
    changes = [c.text for c in diff_versions(old, new) if c.area == "service"]
    assert changes == ["免申即赔：来源未说明 → 无需申请，由系统自动理赔（省内异地、跨省异地就医，2025-07-31 起）",
                       "新增赔款到账时限“省内异地就医免申直赔”：3 天", "新增赔款到账时限“跨省异地就医免申直赔”：7 天"]
    rows = {r["key"]: r["values"] for r in parameter_rows([old, new])}
    assert rows["payment_deadlines"][0] == "来源未说明" and "7 天内赔款到账" in rows["payment_deadlines"][1]
    doc = parse_text(ZAOZHUANG.read_text(encoding="utf-8"))
    facts = derive_facts(product, new, version_data(doc, new), population=100)
    assert facts["no_application_claims"].value == "declared"
    assert facts["payment_deadline_days"].value == 7
    assert facts["payment_deadlines"].text == "省内异地就医免申直赔 3 天；跨省异地就医免申直赔 7 天"
    old_facts = derive_facts(product, old, version_data(doc, old), population=100)
    assert old_facts["no_application_claims"].value == "unknown" and old_facts["payment_deadline_days"].value is None


def test_an_assumed_payment_deadline_is_marked_and_listed():
    block = ("    service:\n      payment_deadlines:\n"
             "        - {id: all, name: 所有理赔, days: 10, unit: working_days, assumed: 假设十个工作日}\n")
    version = load_product_text(_xianning(block)).versions[0]
    described = describe_version(version)
    assert f"赔款到账时限·所有理赔：10 个工作日内赔款到账{ASSUMED_MARK}" in described["declared"][1]
    assert any(a["reason"] == "假设十个工作日" for a in described["assumptions"])


BROKEN_SERVICE = [
    ("    service:\n      no_application: {value: false, scope: 市内}\n      source: " + XN_NEWS + "\n",
     "service.scope_without_claims", "no_application: {value: false", "value 不是 true"),
    ("    service:\n      no_application: {value: true, since: 2024-03-01}\n      source: " + XN_NEWS + "\n",
     "service.since_after_period", "since: 2024-03-01", "晚于保险期间结束日"),
    ("    service:\n      payment_deadlines:\n        - {id: a, name: 甲, days: 3, unit: days}\n"
     "        - {id: a, name: 乙, days: 7, unit: days}\n      source: " + XN_NEWS + "\n",
     "ids.duplicate", "name: 乙", "赔款到账时限编号“a”重复"),
    ("    service:\n      payment_deadlines:\n        - {id: a, name: 甲, days: 0, unit: days}\n      source: " + XN_NEWS + "\n",
     "schema.minimum", "days: 0", "不能小于 1"),
    ("    service:\n      payment_deadlines:\n        - {id: a, name: 甲, days: 3, unit: hours}\n      source: " + XN_NEWS + "\n",
     "schema.enum", "unit: hours", "working_days（个工作日）"),
    ("    service:\n      no_application: true\n", "declared.provenance", "no_application: true", "免申即赔的声明没有出处"),    # their citations are checked as every other source: the quote is in the text, a bare text is refused
    ("    service:\n      no_application: {value: true, source: {doc: xn-news, clause: 第一段, quote: 免申即赔}}\n",
     "citation.quote_not_found", "quote: 免申即赔", "引文“免申即赔”不在"),
    ("    service:\n      payment_deadlines:\n        - {id: a, name: 甲, days: 3, unit: days}\n"
     "      source: xn-news 第一段 “三天到账”\n", "provenance.bare_source", "source: xn-news 第一段", "出处须写明文件"),
    ("    surplus: {rolls_over: true, source: xn-news 第一段}\n", "provenance.bare_source", "surplus: {rolls_over",
     "出处须写明文件"),
]


@pytest.mark.parametrize("block, code, fragment, words", BROKEN_SURPLUS + BROKEN_SERVICE)
def test_a_broken_surplus_or_service_term_is_an_error_at_its_line(block, code, fragment, words):
    text = _xianning(block)
    issues = _issues(text)
    assert [i.code for i in issues] == [code], [str(i) for i in issues]
    assert words in issues[0].message and issues[0].line == _line_of(text, fragment)


def test_a_later_version_inherits_the_service_terms_it_does_not_rewrite():
    text = ZAOZHUANG.read_text(encoding="utf-8") + '''
  - id: "2026"
    extends: "2025"
    name: 枣惠保 2026 年度（示例）
    period: {start: 2026-01-01, end: 2026-12-31}
    enrolment: {start: 2025-11-01, end: 2025-12-31}
    service:
      payment_deadlines:
        - {id: out-of-province, remove: true}
'''
    version = load_product_text(text).version("2026")
    assert version.service.no_application.state == "declared"
    assert [d.id for d in version.service.deadlines] == ["in-province"]
