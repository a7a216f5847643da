"""Broken schemes are rejected with a message that names the file, the line and the path in the document.

Each case makes one textual change to tests/fixtures/minimal.yaml (a small, complete, valid scheme) and
checks that the expected problem is reported: its code, the file name, the line where the changed text
now stands (computed from the changed text, never written down), its path, a Chinese message that
names what is wrong — and, unless the case says otherwise, that it is the only problem reported, so a
mistake is not drowned in consequential noise.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import load_product_text
from engine.cli import main
from engine.issues import SchemeError, format_path
from engine.load import parse_text
from engine.validate import validate_document
from scheme_texts import FIXTURE_SOURCES

FIXTURE = Path(__file__).parent / "fixtures" / "minimal.yaml"
FILE = "minimal.yaml"
BASE = FIXTURE.read_text(encoding="utf-8")
SOURCES_DIR = str(FIXTURE.parent / "sources")  # the fixture's library, for copies of it written elsewhere
CHINESE = re.compile(r"[\u4e00-\u9fff]")
V1 = '- id: "2025"'  # anchor: where the second version (versions[1]) begins
# citations of the fixture, as written there (tests/fixtures/sources/ holds the texts they quote)
S3 = "source: {doc: s1, clause: 第三条, quote: 计算年龄以保险期间起始日为准}"
S4 = "source: {doc: s1, clause: 第四条, quote: 低收入人员的保费由政府全额资助}"
S5 = "source: {doc: s1, clause: 第五条, quote: 第二年起降至3000元}"
S74 = "source: {doc: s1, clause: 第七条（四）, quote: 门诊慢特病个人自付起付线1000元，按50%赔付，年度保额2万元}"
S8 = "source: {doc: s1, clause: 第八条, quote: 已出具授权书、精算意见书和法律意见书}"
S9 = "source: {doc: s1, clause: 第九条, quote: 赔付金额四舍五入到分，实行“一站式”结算}"


def mutate(text: str, old: str, new: str) -> str:
    """Replace text that occurs exactly once, so that a case can never silently change nothing."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, *needles: str) -> int:
    """1-based line of the last needle, each needle searched after the one before it."""
    start, found = 0, -1
    for needle in needles:
        found = text.find(needle, start)
        assert found >= 0, f"{needle!r} not found"
        start = found + 1
    return text.count("\n", 0, found) + 1


def issues_for(text: str) -> list:
    """Every issue of a scheme text: YAML problems (raised while parsing) and validation problems."""
    try:
        return validate_document(parse_text(text, FILE), FIXTURE_SOURCES)
    except SchemeError as exc:
        return exc.issues


@dataclass(frozen=True)
class Broken:
    name: str
    old: str
    new: str
    code: str
    path: str
    says: tuple = ()  # words the message must contain (the offending value or key, the remedy)
    at: tuple = ()  # needles locating the expected line in the changed text; default: the new text
    count: int = 1  # how many issues the change causes in all
    shuns: tuple = ()  # codes the message must not show: a person is told names, not ids


CASES = [
    # ── not YAML at all ────────────────────────────────────────────────────────────────────────────
    Broken("yaml-syntax-colon-in-text", "  name: 示例惠民保\n", "  name: 示例惠民保: 定制版\n",
           "yaml.syntax", "product.name", says=("引号",)),
    Broken("yaml-unclosed-flow-mapping", "- {from: 5000, to: 10000, rate: 0.4}", "- {from: 5000, to: 10000, rate: 0.4",
           "yaml.syntax", "versions[1].liabilities[0].ratio.segments[1]", says=("没有正确闭合",)),
    Broken("yaml-unclosed-quote", "    name: 示例惠民保（第二年）\n", '    name: "示例惠民保（第二年）\n',
           "yaml.syntax", "versions[1].name", says=("引号没有闭合",)),
    Broken("yaml-tab-indentation", "        deductible: shared\n        ratio:\n          segments:",
           "        deductible: shared\n\tratio:\n          segments:", "yaml.syntax",
           "versions[1].liabilities[0].ratio", says=("制表符",), at=("\tratio",)),
    Broken("yaml-indentation-less", "  city: 示例市\n", " city: 示例市\n", "yaml.syntax", "product.city",
           says=("缩进",)),
    Broken("yaml-indentation-more", "        cap: 20000\n", "        cap: 20000\n          note: 多缩进了两格\n",
           "yaml.syntax", "versions[1].liabilities[3].cap", says=("多缩进",), at=("note: 多缩进",)),
    Broken("yaml-duplicate-key", "  region: 示例省\n", "  region: 示例省\n  city: 另一个市\n",
           "yaml.duplicate_key", "product.city", says=("city", "两次"), at=("city: 另一个市",)),
    # ── shape: keys, types, ranges, formats ──────────────────────────────────────────────────────
    Broken("unknown-key-top-level", "\nproduct:\n", "\nprodcut:\n", "schema.unknown_key", "prodcut",
           says=("prodcut", "product"), at=("prodcut:",)),
    Broken("unknown-key-in-liability", "        deductible: shared\n        ratio:\n          segments:",
           "        deductable: shared\n        ratio:\n          segments:", "schema.unknown_key",
           "versions[1].liabilities[0].deductable", says=("deductable", "deductible"), at=("deductable",)),
    Broken("unknown-key-in-ratio-choice", "          segments:\n", "          segment:\n", "schema.unknown_key",
           "versions[1].liabilities[0].ratio.segment", says=("segment", "segments")),
    Broken("unknown-key-in-segment", "{from: 5000, to: 10000, rate: 0.4}", "{from: 5000, to: 10000, rat: 0.4}",
           "schema.unknown_key", "versions[1].liabilities[0].ratio.segments[1].rat", says=("rat", "rate")),
    Broken("key-in-wrong-place", "    name: 示例惠民保（第二年）\n",
           "    name: 示例惠民保（第二年）\n    limits: {premium_max: 100}\n", "schema.unknown_key",
           "versions[1].limits", says=("limits", "regulation"), at=("limits: {",)),
    Broken("number-where-text-belongs", '  - id: "2025"\n', "  - id: 2025\n", "schema.type", "versions[1].id",
           says=("2025", "引号")),
    Broken("unknown-key-with-block-value", "    period:\n      start: 2025-01-01\n",
           "    perod:\n      start: 2025-01-01\n", "schema.unknown_key", "versions[1].perod",
           says=("perod", "period")),
    Broken("missing-required-key", "        covers: out_of_policy_self_pay\n", "", "schema.missing",
           "versions[1].liabilities[1].covers", says=("covers",), at=(V1, "- id: out_of_policy")),
    Broken("missing-required-key-of-mapping", "      end: 2025-12-31\n", "", "schema.missing",
           "versions[1].period.end", says=("end",), at=(V1, "period:")),
    Broken("text-where-number-belongs", "          amount: 69\n", "          amount: 六十九\n", "schema.type",
           "versions[1].premium.bands[1].amount", says=("六十九", "数值")),
    Broken("ratio-in-no-known-form", "        ratio: 0.5\n", "        ratio: {rate: 0.5}\n", "schema.type",
           "versions[1].liabilities[3].ratio", says=("rate", "rows", "segments")),
    Broken("ratio-above-one", "        ratio: 0.5\n", "        ratio: 50\n", "schema.maximum",
           "versions[1].liabilities[3].ratio", says=("50", "0.8")),
    Broken("ratio-above-one-in-row", "{when: {hospital_level: [2]}, rate: 0.65}",
           "{when: {hospital_level: [2]}, rate: 65}", "schema.maximum",
           "versions[1].liabilities[1].ratio.rows[1].rate", says=("65",)),
    Broken("ratio-above-one-first-version", "        ratio: 0.75\n", "        ratio: 75\n", "schema.maximum",
           "versions[0].liabilities[0].ratio", says=("75",)),
    Broken("negative-amount", "          amount: 89\n", "          amount: -89\n", "schema.minimum",
           "versions[1].premium.bands[2].amount", says=("-89",)),
    Broken("unknown-care-type", "        care: [chronic_outpatient]\n", "        care: [chronic_outpatiant]\n",
           "schema.enum", "versions[1].liabilities[3].care[0]", says=("chronic_outpatiant", "chronic_outpatient")),
    Broken("unknown-chronic-outpatient-class", "        care: [chronic_outpatient]\n",
           "        care: [chronic_outpatient_3]\n", "schema.enum", "versions[1].liabilities[3].care[0]",
           says=("chronic_outpatient_3",)),
    Broken("date-that-does-not-exist", "end: 2024-02-29}", "end: 2024-02-30}", "schema.format",
           "versions[0].enrolment.end", says=("2024-02-30", "29 天")),
    Broken("date-badly-formatted", "      end: 2025-12-31\n", "      end: 2025/12/31\n", "schema.pattern",
           "versions[1].period.end", says=("2025/12/31", "YYYY-MM-DD")),
    Broken("bad-id-pattern", "      - id: chronic\n", "      - id: Chronic Care\n", "schema.pattern",
           "versions[1].liabilities[3].id", says=("Chronic Care", "小写")),
    Broken("amount-and-share-on-subsidy", f"          amount: 10\n          {S4}\n",
           f"          amount: 10\n          share: 1\n          {S4}\n", "schema.ambiguous",
           "versions[1].funding.subsidies[0].share", says=("amount", "share", "只能写一个"),
           at=("- id: low_income_full", "share: 1")),
    Broken("neither-amount-nor-share-on-subsidy", f"          amount: 10\n          {S4}\n",
           f"          {S4}\n", "schema.missing", "versions[1].funding.subsidies[0]",
           says=("amount", "share"), at=("- id: low_income_full",)),
    Broken("rate-and-segments-on-ratio-row", "{when: {hospital_level: [3]}, rate: 0.6}",
           "{when: {hospital_level: [3]}, rate: 0.6, segments: [{from: 3000, rate: 0.6}]}", "schema.ambiguous",
           "versions[1].liabilities[1].ratio.rows[2].segments", says=("rate", "segments")),
    Broken("source-as-bare-text", f"        {S74}\n", "        source: s1 第七条（四）\n",
           "provenance.bare_source", "versions[1].liabilities[3].source", says=("文件、条款和原文引语", "s1 第七条（四）")),
    Broken("source-as-bare-text-inside-a-value", "age_reference: {value: period_start, source: {doc: s1, clause: 第三条, "
           "quote: 计算年龄以保险期间起始日为准}}", "age_reference: {value: period_start, source: s1 第三条}",
           "provenance.bare_source", "versions[0].premium.age_reference.source", says=("原文引语",)),
    Broken("quote-not-in-the-document", "quote: 门诊慢特病个人自付起付线1000元", "quote: 门诊慢特病个人自付起付线2000元",
           "citation.quote_not_found", "versions[1].liabilities[3].source.quote",
           says=("门诊慢特病个人自付起付线2000元", "示例市惠民保实施方案", "逐字")),
    Broken("quote-in-another-document", "{doc: guidance, clause: 第一条, quote: 惠民保实行统一定价}",
           "{doc: s1, clause: 第一条, quote: 惠民保实行统一定价}", "citation.quote_not_found",
           "versions[0].regulation.source.quote", says=("惠民保实行统一定价",)),
    Broken("quote-in-a-list-of-citations", "{doc: s1, clause: 第七条（一）, quote: 首年按75%赔付，保额100万元}",
           "{doc: s1, clause: 第七条（一）, quote: 首年按80%赔付，保额100万元}", "citation.quote_not_found",
           "versions[0].liabilities[0].source[1].quote", says=("首年按80%赔付",)),
    Broken("citation-without-quote", f"        {S74}\n", "        source: {doc: s1, clause: 第七条（四）}\n",
           "schema.missing", "versions[1].liabilities[3].source.quote", says=("quote",)),
    # ── money ──────────────────────────────────────────────────────────────────────────────────────
    Broken("amount-with-three-decimals", "          amount: 89\n", "          amount: 89.005\n", "money.precision",
           "versions[1].premium.bands[2].amount", says=("89.005", "两位小数")),
    Broken("inline-deductible-with-three-decimals", "        deductible: 1000\n", "        deductible: 1000.005\n",
           "money.precision", "versions[1].liabilities[3].deductible", says=("1000.005",)),
    # ── premium bands ──────────────────────────────────────────────────────────────────────────────
    Broken("band-gap", "        - id: pre_existing\n          name: 有既往症\n"
                       "          when: {pre_existing: true, low_income: [none]}\n          amount: 99\n"
                       "          source: {doc: s1, clause: 第三条（四）, quote: 有既往症人员99元}\n", "", "band.gap", "versions[1].premium.bands",
           says=("有既往症",), at=(V1, "bands:")),
    Broken("band-gap-of-a-special-group", "          when: {pre_existing: true, low_income: [none]}\n",
           "          when: {pre_existing: true, low_income: [none], disabled: false}\n", "band.gap",
           "versions[1].premium.bands", says=("有既往症", "非低收入人员", "残疾人"), at=(V1, "bands:")),
    Broken("band-overlap", "{age: {min: 51, max: 150}", "{age: {min: 50, max: 150}", "band.overlap",
           "versions[1].premium.bands[2].when", says=("50 周岁及以下、无既往症", "51 周岁及以上、无既往症", "50"),
           shuns=("young", "senior")),
    Broken("age-min-above-max", "{age: {min: 0, max: 50}", "{age: {min: 60, max: 50}", "conditions.age_order",
           "versions[1].premium.bands[1].when.age.max", says=("60", "50")),
    # ── progressive segments ──────────────────────────────────────────────────────────────────────
    Broken("segment-gap", "{from: 5000, to: 10000, rate: 0.4}", "{from: 6000, to: 10000, rate: 0.4}",
           "segments.not_contiguous", "versions[1].liabilities[0].ratio.segments[1].from",
           says=("断开", "5,000", "6,000")),
    Broken("segment-overlap", "{from: 5000, to: 10000, rate: 0.4}", "{from: 4000, to: 10000, rate: 0.4}",
           "segments.not_contiguous", "versions[1].liabilities[0].ratio.segments[1].from",
           says=("重叠", "4,000")),
    Broken("segment-not-increasing", "{from: 5000, to: 10000, rate: 0.4}", "{from: 5000, to: 5000, rate: 0.4}",
           "segments.not_increasing", "versions[1].liabilities[0].ratio.segments[1].to", says=("5,000",),
           count=2),  # and the next segment no longer joins it
    Broken("segment-after-open-ended", "            - {from: 50000, rate: 0.9}\n",
           "            - {from: 50000, rate: 0.9}\n            - {from: 80000, to: 90000, rate: 0.95}\n",
           "segments.after_open_end", "versions[1].liabilities[0].ratio.segments[5].from",
           says=("没有上限",), at=("{from: 80000",)),
    Broken("last-segment-closed", "- {from: 50000, rate: 0.9}", "- {from: 50000, to: 80000, rate: 0.9}",
           "segments.no_open_end", "versions[1].liabilities[0].ratio.segments[4].to", says=("80,000", "rate: 0")),
    Broken("first-segment-above-deductible", "{from: 3000, to: 5000, rate: 0.3}", "{from: 4000, to: 5000, rate: 0.3}",
           "segments.gap_after_deductible", "versions[1].liabilities[0].ratio.segments[0].from",
           says=("4,000", "3,000")),
    # ── liabilities, pools, drug lists ────────────────────────────────────────────────────────────
    Broken("cap-below-deductible", "        cap: 20000\n", "        cap: 500\n", "liability.cap_below_deductible",
           "versions[1].liabilities[3].cap", says=("500", "1,000")),
    Broken("unknown-deductible-pool", "        care: [inpatient, emergency, day_surgery]\n        deductible: shared\n"
                                      "        ratio:\n          segments:",
           "        care: [inpatient, emergency, day_surgery]\n        deductible: sharde\n"
           "        ratio:\n          segments:", "liability.unknown_pool", "versions[1].liabilities[0].deductible",
           says=("sharde", "shared"), at=("sharde",)),
    Broken("unknown-cap-pool", "        cap: total\n        source: {doc: s1, clause: 第七条（二）",
           "        cap: totl\n        source: {doc: s1, clause: 第七条（二）", "liability.unknown_pool",
           "versions[1].liabilities[1].cap", says=("totl", "total"), at=("totl",)),
    Broken("unknown-drug-list", "        drug_list: special\n", "        drug_list: specail\n",
           "liability.drug_list_unknown", "versions[1].liabilities[2].drug_list", says=("specail",)),
    Broken("special-drugs-without-drug-list", "        drug_list: special\n", "", "liability.drug_list_missing",
           "versions[1].liabilities[2]", says=("drug_list",), at=("- id: special_drugs",)),
    Broken("drug-list-on-other-liability", "        covers: out_of_policy_self_pay\n",
           "        covers: out_of_policy_self_pay\n        drug_list: special\n", "liability.drug_list_unexpected",
           "versions[1].liabilities[1].drug_list", says=("special_drugs",), at=("out_of_policy_self_pay", "drug_list")),
    Broken("duplicate-liability-id", "      - id: chronic\n", "      - id: in_policy\n", "ids.duplicate",
           "versions[1].liabilities[3].id", says=("in_policy",), at=(V1, "- id: in_policy", "- id: in_policy")),
    Broken("duplicate-version-id", '  - id: "2025"\n', '  - id: "2024"\n', "ids.duplicate", "versions[1].id",
           says=("2024",), at=('- id: "2024"', '- id: "2024"')),
    Broken("two-liabilities-route-one-claim-part", "        care: [chronic_outpatient]\n",
           "        care: [chronic_outpatient, inpatient]\n", "liability.overlap", "versions[1].liabilities[3].care",
           says=("医保目录内个人自付", "门诊慢特病个人自付", "住院"), shuns=("in_policy", "chronic")),
    # the generic chronic_outpatient covers class 1 too: a second liability for class 1 overlaps it
    Broken("class-1-chronic-outpatient-also-under-its-parent",
           "        covers: in_policy_self_pay\n        care: [inpatient, emergency, day_surgery]\n",
           "        covers: in_policy_self_pay\n        care: [inpatient, emergency, day_surgery, chronic_outpatient_1]\n",
           "liability.overlap", "versions[1].liabilities[3].care",
           says=("医保目录内个人自付", "门诊慢特病个人自付", "一类门诊慢特病"), shuns=("in_policy", "chronic"),
           at=(V1, "- id: chronic", "care:")),
    Broken("ratio-rows-with-gap", "            - {when: {hospital_level: [3]}, rate: 0.6}\n", "", "ratio.gap",
           "versions[1].liabilities[1].ratio.rows", says=("三级",), at=("- id: out_of_policy", "rows:")),
    Broken("ratio-rows-overlap", "{when: {hospital_level: [2]}, rate: 0.65}",
           "{when: {hospital_level: [2, 3]}, rate: 0.65}", "ratio.overlap",
           "versions[1].liabilities[1].ratio.rows[2].when", says=("三级",), at=("{when: {hospital_level: [3]}",)),
    # ── provenance ─────────────────────────────────────────────────────────────────────────────────
    Broken("number-without-provenance", f"        {S74}\n", "", "provenance.missing",
           "versions[1].liabilities[3].ratio", says=("0.5", "source", "assumed"), at=("- id: chronic", "ratio:"),
           count=4),  # its care, deductible, ratio and cap all lost their source
    # ── every choice that moves money is written, and sourced or assumed ─────────────────────────────
    Broken("rounding-missing", "    settlement: {rounding: half_up, one_stop: false,", "    settlement: {one_stop: false,",
           "choice.missing", "versions[0].settlement", says=("取整规则", "settlement.rounding", "assumed")),
    Broken("one-stop-missing", "      one_stop: true\n", "", "choice.missing", "versions[1].settlement",
           says=("一站式结算", "settlement.one_stop"), at=(V1, "settlement:")),
    Broken("rounding-without-provenance", f"      rounding: half_up\n      one_stop: true\n      {S9}\n",
           f"      rounding: half_up\n      one_stop: {{value: true, {S9}}}\n", "choice.provenance",
           "versions[1].settlement.rounding", says=("取整规则", "source", "assumed"), at=(V1, "rounding:")),
    Broken("deductible-order-missing", f"amount: 3000, {S5}, order: in_policy_first}}",
           f"amount: 3000, {S5}}}", "choice.missing", "versions[1].deductibles[0]",
           says=("共用起付线的扣减顺序", "order")),
    Broken("deductible-order-unknown", "order: in_policy_first}", "order: cheapest_first}", "schema.enum",
           "versions[1].deductibles[0].order", says=("cheapest_first",)),
    Broken("age-reference-without-provenance", f"      age_reference: {{value: period_start, {S3}}}\n",
           "      age_reference: period_start\n", "choice.provenance", "versions[0].premium.age_reference",
           says=("计算年龄的日期",)),
    Broken("filing-without-provenance", f"      legal_opinion: unknown\n      {S8}\n",
           "      legal_opinion: unknown\n", "choice.provenance", "versions[1].filings.authorisation",
           says=("授权书",), at=(V1, "authorisation:"), count=3),  # the three filings lost their source
    Broken("filing-not-three-valued", "      legal_opinion: unknown\n", "      legal_opinion: maybe\n",
           "schema.enum", "versions[1].filings.legal_opinion", says=("maybe",)),
    Broken("source-of-undeclared-document", f"        {S74}\n", f"        {S74.replace('doc: s1', 'doc: s9')}\n",
           "provenance.unknown_source", "versions[1].liabilities[3].source.doc", says=("s9",)),
    # ── dates, insurers, declared limits, funding ─────────────────────────────────────────────────
    Broken("period-ends-before-it-starts", "      end: 2025-12-31\n", "      end: 2024-12-31\n", "dates.order",
           "versions[1].period.end", says=("2024-12-31", "2025-01-01")),
    Broken("insurer-shares-not-one", "{name: 示例财产保险股份有限公司, share: 0.4}",
           "{name: 示例财产保险股份有限公司, share: 0.5}", "insurers.shares", "versions[1].insurers",
           says=("0.6 + 0.5", "1.1"), at=(V1, "insurers:")),
    Broken("premium-above-declared-max", "          amount: 89\n", "          amount: 129\n", "limits.premium",
           "versions[1].premium.bands[2].amount", says=("51 周岁及以上、无既往症", "129", "100"),
           shuns=("senior",)),
    Broken("pooled-deductible-above-declared-max", "amount: 3000, source", "amount: 20000, source",
           "limits.deductible", "versions[1].deductibles[0].amount", says=("住院共用起付线", "20,000", "15,000"),
           shuns=("shared",)),
    Broken("inline-deductible-above-declared-max", "        deductible: 1000\n", "        deductible: 16000\n",
           "limits.deductible", "versions[1].liabilities[3].deductible", says=("门诊慢特病个人自付", "16,000", "15,000"),
           shuns=("chronic",)),
    Broken("cap-below-declared-min", "amount: 1500000, source", "amount: 800000, source", "limits.cap",
           "versions[1].caps[0].amount", says=("住院共用保额", "800,000", "1,000,000"),
           shuns=("total",)),
    # ── the special groups (优抚对象 entitled_care, 残疾人 disabled): yes/no, nothing else ─────────────
    Broken("special-group-value-not-yes-or-no", "          payer: government\n          when: {low_income: [",
           "          payer: government\n          when: {disabled: severe, low_income: [", "schema.type",
           "versions[1].funding.subsidies[0].when.disabled", says=("severe", "true 或 false"),
           at=("- id: low_income_full", "disabled: severe")),
    Broken("special-group-unknown", "          payer: government\n          when: {low_income: [",
           "          payer: government\n          when: {veteran: true, low_income: [", "schema.unknown_key",
           "versions[1].funding.subsidies[0].when.veteran", says=("veteran", "entitled_care", "disabled"),
           at=("- id: low_income_full", "veteran: true")),
    Broken("special-group-written-as-a-low-income-category",
           "          payer: government\n          when: {low_income: [dibao,",
           "          payer: government\n          when: {low_income: [disabled,", "schema.enum",
           "versions[1].funding.subsidies[0].when.low_income[0]", says=("disabled: true", "dibao"),
           at=("- id: low_income_full", "[disabled,")),
    Broken("subsidy-above-premium", f"          amount: 10\n          {S4}\n",
           f"          amount: 20\n          {S4}\n", "funding.subsidy_exceeds_premium",
           "versions[1].funding.subsidies[0].amount", says=("20", "10", "低收入人员"), at=("amount: 20",),
           shuns=("low_income",)),
    # ── numbers written as a person says them: the message asks for the number, not an id ──────────────
    Broken("cap-in-wan", "        cap: 500000\n", "        cap: 50万\n", "schema.number_text",
           "versions[1].liabilities[2].cap", says=("50万", "以元计的数字", "500000"), shuns=("编号",)),
    Broken("band-amount-in-yuan", "          amount: 89\n", "          amount: 89元\n", "schema.number_text",
           "versions[1].premium.bands[2].amount", says=("89元", "以元计的数字")),
    Broken("ratio-in-percent", "        ratio: 0.5\n", "        ratio: 50%\n", "schema.number_text",
           "versions[1].liabilities[3].ratio", says=("50%", "0.5", "0 到 1")),
    Broken("cap-quoted-number", "        cap: 500000\n", "        cap: '500000'\n", "liability.unknown_pool",
           "versions[1].liabilities[2].cap", says=("500000", "不加引号")),
    Broken("waiting-days-with-unit", "    eligibility: {basic_insurance_required: true, suspend_when_basic_in_arrears: false}",
           "    eligibility: {basic_insurance_required: true, suspend_when_basic_in_arrears: false, "
           "waiting_period: {days: 30天}}", "schema.number_text", "versions[0].eligibility.waiting_period.days",
           says=("30天", "整数", "30"), at=("30天",)),
]


def test_the_minimal_scheme_is_valid():
    assert issues_for(BASE) == []
    product = load_product_text(BASE, FILE, FIXTURE_SOURCES)
    assert [v.id for v in product.versions] == ["2024", "2025"]


def test_a_citation_of_a_document_whose_text_is_not_kept_is_refused_where_it_is_written():
    text = mutate(BASE, "    issuer: 示例省医疗保障局\n",
                  "    issuer: 示例省医疗保障局\n  s2:\n    title: 未收录原文的文件\n    issuer: 某机构\n")
    text = mutate(text, f"        {S74}\n", f"        {S74.replace('doc: s1', 'doc: s2')}\n")
    issues = issues_for(text)
    assert [(i.code, format_path(i.path), i.line) for i in issues] == [
        ("citation.unknown_document", "versions[1].liabilities[3].source.doc", line_of(text, V1, "- id: chronic", "doc: s2"))]
    assert "s2" in issues[0].message and "未收录原文" in issues[0].message


def test_there_are_at_least_25_kinds_of_broken_scheme():
    assert len({case.code for case in CASES}) >= 25
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_broken_scheme_is_reported_at_its_place(case: Broken):
    text = mutate(BASE, case.old, case.new)
    issues = issues_for(text)
    assert issues, "the broken scheme was accepted"
    found = [i for i in issues if i.code == case.code]
    assert found, f"no {case.code} among: " + "; ".join(map(str, issues))
    at_path = [i for i in found if format_path(i.path) == case.path]
    assert at_path, f"{case.code} reported at {[format_path(i.path) for i in found]}, not {case.path}"
    issue = at_path[0]
    line = line_of(text, *(case.at or (case.new,)))
    assert (issue.file, issue.line) == (FILE, line), str(issue)
    assert issue.column >= 1
    assert str(issue).startswith(f"{FILE}:{line}:{issue.column}: {case.path}: "), str(issue)
    assert CHINESE.search(issue.message), issue.message
    for word in case.says:
        assert word in issue.message, f"{word!r} not in {issue.message!r}"
    for code in case.shuns:
        assert code not in issue.message, f"{code!r} in {issue.message!r}"
    assert len(issues) == case.count, "; ".join(map(str, issues))


def test_deleting_any_line_of_a_liability_is_reported_inside_the_file():
    """No line of the liabilities can go missing unnoticed: the validator never crashes, and anything it
    reports lies within the file, in Chinese."""
    lines = BASE.splitlines(keepends=True)
    first = line_of(BASE, V1, "    liabilities:")
    for number in range(first, len(lines) + 1):
        if not lines[number - 1].strip():
            continue
        text = "".join(lines[: number - 1] + lines[number:])
        issues = issues_for(text)
        assert issues, f"deleting line {number} ({lines[number - 1].strip()}) went unnoticed"
        for issue in issues:
            assert issue.file == FILE and 1 <= issue.line <= len(lines), str(issue)
            assert CHINESE.search(issue.message), str(issue)


def test_empty_file_is_reported():
    for text in ("", "\n", "# 只有注释\n"):
        (issue,) = issues_for(text)
        assert (issue.code, issue.file, issue.line, format_path(issue.path)) == ("yaml.empty", FILE, 1, "（文档根）")
        assert "空" in issue.message


def test_every_independent_error_is_reported():
    """Shape errors in one version do not hide the other version's problems, nor each other."""
    changes = [
        ("        ratio: 0.75\n", "        ratio: 75\n"),  # versions[0], schema
        ("        cap: 1000000\n", "        cap: 1000000\n        notes: 首年\n"),  # versions[0], schema
        ("{from: 5000, to: 10000, rate: 0.4}", "{from: 6000, to: 10000, rate: 0.4}"),  # versions[1], semantic
        ("        drug_list: special\n", "        drug_list: specail\n"),  # versions[1], semantic
        ("amount: 1500000, source", "amount: 800000, source"),  # versions[1], declared limit
    ]
    text = BASE
    for old, new in changes:
        text = mutate(text, old, new)
    expected = {
        ("schema.maximum", "versions[0].liabilities[0].ratio", line_of(text, "ratio: 75")),
        ("schema.unknown_key", "versions[0].liabilities[0].notes", line_of(text, "notes: 首年")),
        ("segments.not_contiguous", "versions[1].liabilities[0].ratio.segments[1].from", line_of(text, "from: 6000")),
        ("liability.drug_list_unknown", "versions[1].liabilities[2].drug_list", line_of(text, "specail")),
        ("limits.cap", "versions[1].caps[0].amount", line_of(text, "amount: 800000")),
    }
    issues = issues_for(text)
    assert {(i.code, format_path(i.path), i.line) for i in issues} == expected
    assert all(i.file == FILE for i in issues)
    assert [i.line for i in issues] == sorted(i.line for i in issues)


def test_a_problem_outside_the_versions_suspends_the_semantic_checks():
    """A bad source list makes every reference doubtful: report the shape problems, not a flood of echoes."""
    text = mutate(BASE, "    issuer: 示例省医疗保障局\n", "")
    text = mutate(text, "{from: 5000, to: 10000, rate: 0.4}", "{from: 6000, to: 10000, rate: 0.4}")
    (issue,) = issues_for(text)
    assert (issue.code, format_path(issue.path), issue.line) == ("schema.missing", "sources.guidance.issuer",
                                                                  line_of(text, "  guidance:"))


# ── the command line ──────────────────────────────────────────────────────────────────────────────

@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    text = mutate(BASE, "        ratio: 0.5\n", "        ratio: 50\n")
    text = mutate(text, "        drug_list: special\n", "        drug_list: specail\n")
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_validate_broken_file_exits_1_with_located_errors(broken_file: Path):
    text = broken_file.read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--sources", SOURCES_DIR, str(broken_file)])
    assert result.exit_code == 1, result.output
    line = line_of(text, "ratio: 50")
    column = text.splitlines()[line - 1].index("50") + 1
    assert f"{broken_file}:{line}:{column}: versions[1].liabilities[3].ratio: " in result.stderr
    assert "[schema.maximum]" in result.stderr
    assert "通过" not in result.stdout


def test_cli_validate_json_lists_every_error_with_its_place(broken_file: Path):
    result = CliRunner().invoke(main, ["validate", "--json", "--sources", SOURCES_DIR, str(broken_file)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    (entry,) = report["files"]
    assert entry["file"] == str(broken_file) and entry["ok"] is False
    # the ratio's shape takes out its own liability only: the drug list of another one is still checked
    schema_error, drug_list = sorted(entry["errors"], key=lambda e: e["code"] != "schema.maximum")
    text = broken_file.read_text(encoding="utf-8")
    line = line_of(text, "ratio: 50")
    assert schema_error == {"code": "schema.maximum", "path": "versions[1].liabilities[3].ratio",
                            "file": str(broken_file), "line": line, "column": text.splitlines()[line - 1].index("50") + 1,
                            "message": schema_error["message"]}
    assert "50" in schema_error["message"]
    assert (drug_list["code"], drug_list["line"]) == ("liability.drug_list_unknown", line_of(text, "specail"))


def test_cli_validate_semantic_errors_all_in_json(tmp_path: Path):
    text = mutate(BASE, "        drug_list: special\n", "        drug_list: specail\n")
    text = mutate(text, "amount: 1500000, source", "amount: 800000, source")
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--json", "--sources", SOURCES_DIR, str(path)])
    assert result.exit_code == 1
    errors = json.loads(result.stdout)["files"][0]["errors"]
    assert [(e["code"], e["line"]) for e in errors] == [("limits.cap", line_of(text, "amount: 800000")),
                                                        ("liability.drug_list_unknown", line_of(text, "specail"))]


def test_cli_validate_valid_file_exits_0():
    result = CliRunner().invoke(main, ["validate", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "通过" in result.stdout and result.stderr == ""
    result = CliRunner().invoke(main, ["validate", "--json", str(FIXTURE)])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"ok": True, "files": [{"file": str(FIXTURE), "ok": True, "errors": []}]}


def test_cli_validate_yaml_error_is_located(tmp_path: Path):
    path = tmp_path / "tab.yaml"
    text = mutate(BASE, "        cap: 20000\n", "\tcap: 20000\n")
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{line_of(text, chr(9) + 'cap')}:1: versions[1].liabilities[3].cap: " in result.stderr
    assert "制表符" in result.stderr


def test_cli_usage_error_exits_2():
    assert CliRunner().invoke(main, ["validate"]).exit_code == 2
    assert CliRunner().invoke(main, ["validate", "--no-such-option", str(FIXTURE)]).exit_code == 2


def test_cli_validate_missing_file_is_a_usage_error(tmp_path: Path):
    assert CliRunner().invoke(main, ["validate", str(tmp_path / "missing.yaml")]).exit_code == 2


def test_cli_validate_missing_file_is_reported(tmp_path: Path):
    missing = tmp_path / "missing.yaml"
    result = CliRunner().invoke(main, ["validate", str(missing)])
    assert result.exit_code != 0
    assert str(missing) in result.stderr + result.stdout


def test_cap_none_is_accepted():
    assert issues_for(mutate(BASE, "        cap: 20000\n", "        cap: none\n")) == []


def test_an_id_the_engine_reserves_is_refused_with_its_line():
    text = (Path(__file__).parent / "fixtures" / "minimal.yaml").read_text(encoding="utf-8")
    band_id = re.search(r"bands:\n\s+- id: (\S+)", text).group(1)
    broken = text.replace(f"- id: {band_id}\n", "- id: otherwise\n", 1)
    assert broken != text
    issues = validate_document(parse_text(broken, "minimal.yaml"), FIXTURE_SOURCES)
    reserved = [i for i in issues if i.code == "ids.reserved"]
    assert len(reserved) == 1
    assert reserved[0].line == broken.splitlines().index(next(l for l in broken.splitlines() if "- id: otherwise" in l)) + 1
