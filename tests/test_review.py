"""Regulator review: each verdict of the regimes (regimes/*.yaml) on a passing and a failing variant of a product.

Variants are the product files with their text edited, so each test shows the one change that moves a verdict.
"""
from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

import pytest

from engine import parse_text, product_from_document
from engine.issues import SchemeError
from engine.review import review, version_data
from engine.review.checks import compile_condition, compiled, run_checks
from engine.review.regimes import load_regimes
from engine.rules import _LOCK, _host
from engine.review.facts import engine_value

from conftest import PRODUCTS

XIANNING = PRODUCTS / "xianhuibao.yaml"
GANZHOU = PRODUCTS / "ganzhou.yaml"
ZAOZHUANG = PRODUCTS / "zaohuibao.yaml"

ELIGIBILITY = "      suspend_when_basic_in_arrears: false\n      source:"
REGULATION = "      regimes: [cbirc-2021-city-customised, hubei-guidance]\n"
GZ_REGULATION = "      regimes: [cbirc-2021-city-customised, gz-plan]\n"
GZ_LIMITS = """      limits:
        premium_max: {value: 100, source: {doc: gz-plan, clause: 三(四), quote: 第一年保费原则上不超过100元}}
        deductible_max: {value: 15000, source: {doc: gz-plan, clause: 三(四), quote: 起付线不高于1.5万元}}
        cap_min: {value: 1000000, source: {doc: gz-plan, clause: 三(四), quote: 封顶线不低于100万元}}
        claims_ratio_min: {value: 0.8, source: {doc: gz-plan, clause: 三(五), quote: 赣州惠民保年度总赔付率不低于80%}}
"""
ZZ_2025 = "  - id: \"2025\"\n"
# the 2025 version moved after the 2025 notice took effect (its period then starts on 2025-09-01)
ZZ_AFTER_NOTICE = [("      start: 2025-01-01\n      end: 2025-12-31", "      start: 2025-09-01\n      end: 2026-08-31")]
# where 枣惠保 2025 writes its regulation (the rest of it extends 2024's): edits declare terms beside it
ZZ_2025_REGULATION = "      source: {doc: zz-news, clause: 产品演进与群众需求同频·第3段, quote: 進一步優化了繳費標準"


def reviewed(path, year, edits=(), population=200):
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return reviewed_text(text, year, str(path), population)


def reviewed_text(text: str, year: str, file: str = "<text>", population: int = 200):
    doc = parse_text(text, file)
    product = product_from_document(doc)
    version = product.version(year)
    return review(product, version, version_data(doc, version), population=population)


def verdict(result, regime: str, check: str):
    found = next(r for r in result.regimes if r.regime.id == regime)
    assert found.applies, found.why
    return next(v for v in found.verdicts if v.check.id == check)


def eligibility_rule(when: str) -> list:
    return [(ELIGIBILITY, ELIGIBILITY.replace(
        "      source:", f"      conditions:\n        - {{id: barred, name: 不可参保, when: {when}, outcome: not_eligible}}\n"
                         "      source:"))]


def regulation(extra: str, anchor: str = REGULATION) -> list:
    return [(anchor, anchor + extra)]


# ── applicability ─────────────────────────────────────────────────────────────────────────────

def test_regimes_apply_by_region_city_and_period_not_by_declaration():
    xn = reviewed(XIANNING, "2023", [(REGULATION, "      regimes: [something-else]\n")])
    applies = {r.regime.id: r.applies for r in xn.regimes}
    assert applies == {"hubei-2021": True, "ganzhou-2023": False, "nfra-2025": False, "declared": True}
    assert not next(r for r in xn.regimes if r.regime.id == "hubei-2021").listed
    zz = reviewed(ZAOZHUANG, "2025", ZZ_AFTER_NOTICE)
    assert {r.regime.id for r in zz.regimes if r.applies} == {"nfra-2025", "declared"}
    assert not next(r for r in reviewed(ZAOZHUANG, "2025").regimes if r.regime.id == "nfra-2025").applies


# ── Hubei guidance ────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("when", ["{age: {min: 71}}", "{hukou: [nonlocal]}", "{pre_existing: true}",
                                  "{occupation: [high_risk]}"])
def test_hubei_a_precondition_to_join_is_a_violation(when):
    assert verdict(reviewed(XIANNING, "2023"), "hubei-2021", "no-preconditions").verdict == "符合"
    barred = verdict(reviewed(XIANNING, "2023", eligibility_rule(when)), "hubei-2021", "no-preconditions")
    assert barred.verdict == "违规"
    assert barred.check.citation.quote == "不限年龄、健康状况、既往病史、职业类别、户籍等，均可自愿参保"
    assert barred.check.clause == "二(一)"


HEALTH_BANDS = [("""        - id: everyone
          name: 统一保费
          when: {}
          amount: {value: 69, assumed: 来源未公布保费；取湖北省内惠民保常见的统一价 69 元}""",
                 """        - id: healthy
          name: 无既往症
          when: {pre_existing: false}
          amount: {value: 69, assumed: 测试}
        - id: ill
          name: 有既往症
          when: {pre_existing: true}
          amount: {value: 999, assumed: 测试}""")]


def test_hubei_premium_tied_to_health_is_a_violation_and_says_it_rests_on_assumed_premiums():
    assert verdict(reviewed(XIANNING, "2023"), "hubei-2021", "premium-not-risk-rated").verdict == "符合"
    rated = verdict(reviewed(XIANNING, "2023", HEALTH_BANDS), "hubei-2021", "premium-not-risk-rated")
    assert rated.verdict == "违规" and rated.assumed
    assert [f.text for f in rated.looked_at] == ["是"]


def test_a_limit_the_scheme_does_not_declare_is_not_applicable_one_it_declares_is_checked():
    assert verdict(reviewed(XIANNING, "2023"), "declared", "premium-max").verdict == "不适用"
    assert verdict(reviewed(GANZHOU, "2024"), "declared", "premium-max").verdict == "符合"


def test_first_year_limits_do_not_concern_a_later_year():
    later = [("  - id: \"2024\"\n", "  - id: \"2025\"\n"), ("      start: 2024-01-01\n      end: 2024-12-31",
                                                         "      start: 2025-01-01\n      end: 2025-12-31")]
    text = GANZHOU.read_text(encoding="utf-8")
    second_year = text.replace("versions:\n", "versions:\n" + _version_block(text, later), 1)
    result = reviewed_text(second_year, "2025")
    assert verdict(result, "ganzhou-2023", "first-year-premium").verdict == "不适用"
    assert verdict(reviewed_text(second_year, "2024"), "ganzhou-2023", "first-year-premium").verdict == "符合"


def _version_block(text: str, edits: list) -> str:
    block = text[text.index("  - id: \"2024\"\n"):]
    for old, new in edits:
        block = block.replace(old, new, 1)
    return block


def test_declared_flat_pricing_with_health_based_premiums_is_a_violation():
    assert verdict(reviewed(XIANNING, "2023"), "declared", "pricing-as-declared").verdict == "符合"
    assert verdict(reviewed(XIANNING, "2023", HEALTH_BANDS), "declared", "pricing-as-declared").verdict == "违规"
    differentiated = HEALTH_BANDS + [("      pricing: flat\n      source: {doc: hubei", "      pricing: differentiated\n      source: {doc: hubei")]
    assert verdict(reviewed(XIANNING, "2023", differentiated), "declared", "pricing-as-declared").verdict == "符合"


def exclusion(common: str) -> list:
    return [("    liabilities:\n      - id: in_policy",
             f"    exclusions:\n      - {{id: x1, name: 高血压, common: {common}, assumed: 测试}}\n"
             "    liabilities:\n      - id: in_policy")]


def test_hubei_common_disease_excluded_is_a_violation_and_no_exclusions_list_is_for_a_person():
    assert verdict(reviewed(XIANNING, "2023", exclusion("true")), "hubei-2021", "no-common-disease-exclusion").verdict == "违规"
    assert verdict(reviewed(XIANNING, "2023", exclusion("false")), "hubei-2021", "no-common-disease-exclusion").verdict == "符合"
    assert verdict(reviewed(XIANNING, "2023"), "hubei-2021", "no-common-disease-exclusion").verdict == "需人工确认"


def test_hubei_pre_existing_ratio_zero_on_a_main_liability_is_an_exclusion_in_effect():
    ratio = "ratio: {value: 0.8, assumed: 来源未公布；市场无既往症人群 70–90% 区间内取 80%}"
    zero = [(ratio, "ratio: {rows: [{when: {pre_existing: false}, rate: 0.8}, {when: {pre_existing: true}, rate: 0}],"
                    " assumed: 测试}")]
    passing = verdict(reviewed(XIANNING, "2023"), "hubei-2021", "pre-existing-not-excluded")
    assert passing.verdict == "符合" and passing.looked_at[0].value == 7000  # the lower of 80 % and 70 %
    assert passing.looked_at[0].detail == "既往症，在“医保目录外个人自费”"
    failing = verdict(reviewed(XIANNING, "2023", zero), "hubei-2021", "pre-existing-not-excluded")
    assert failing.verdict == "违规" and failing.looked_at[0].text == "0%（既往症，在“医保目录内个人自付”）"


# 咸惠保 2023 naming two pre-existing conditions: the in-policy liability pays renal failure `renal`, the
# out-of-policy liability pays cancer 30 %; everyone else gets 80 % and 70 % as in the product.
NAMED_CONDITIONS = ("    liabilities:\n",
                    "    pre_existing_conditions:\n      - {id: cancer, name: 恶性肿瘤, assumed: 测试}\n"
                    "      - {id: renal-failure, name: 肾功能衰竭, assumed: 测试}\n    liabilities:\n")


def named_pre_existing(renal: str) -> list:
    return [NAMED_CONDITIONS,
            ("ratio: {value: 0.8, assumed: 来源未公布；市场无既往症人群 70–90% 区间内取 80%}",
             "ratio: {rows: [{when: {pre_existing: {not: [renal-failure]}}, rate: 0.8},"
             f" {{when: {{pre_existing: [renal-failure]}}, rate: {renal}}}], assumed: 测试}}"),
            ("ratio: {value: 0.7, assumed: 来源未公布；取市场区间内的 70%}",
             "ratio: {rows: [{when: {pre_existing: {not: [cancer]}}, rate: 0.7},"
             " {when: {pre_existing: [cancer]}, rate: 0.3}], assumed: 测试}")]


def test_hubei_named_pre_existing_conditions_all_paid_comply_with_the_lowest_ratio_and_its_condition():
    passing = verdict(reviewed(XIANNING, "2023", named_pre_existing("0.5")), "hubei-2021", "pre-existing-not-excluded")
    assert passing.verdict == "符合"
    assert passing.looked_at[0].text == "30%（恶性肿瘤，在“医保目录外个人自费”）"


def test_hubei_one_named_pre_existing_condition_paid_nothing_is_excluded_in_effect_and_named():
    """Members with cancer or an unnamed condition get 80 % on the in-policy liability; renal failure gets 0 there:
    the best ratio any pre-existing member can get is positive, the worst is not."""
    failing = verdict(reviewed(XIANNING, "2023", named_pre_existing("0")), "hubei-2021", "pre-existing-not-excluded")
    assert failing.verdict == "违规"
    fact = failing.looked_at[0]
    assert (fact.value, fact.detail) == (0, "肾功能衰竭，在“医保目录内个人自付”")
    assert fact.assumed  # the rates are assumed in the variant


@pytest.mark.parametrize("refused, expected", [
    ("when: {pre_existing: [renal-failure]}", "违规"),
    ("when: {pre_existing: [renal-failure], care: [inpatient]}", "违规"),
    ("when: {pre_existing: [renal-failure], care: [outpatient]}", "符合"),
    ("when: {pre_existing: [renal-failure], hospital_level: [1]}", "符合"),
    ("when: {pre_existing: [renal-failure]}, lists: [xn-special-drugs]", "符合"),
    ("when: {pre_existing: [cancer]}", "违规")])
def test_hubei_an_exclusion_of_every_inpatient_claim_of_a_named_condition_excludes_it_in_effect(refused, expected):
    """An exclusion refusing whole inpatient claims of members with a named condition leaves them 0 on the main
    liabilities whatever the ratio rows say; one refusing only some items, or only some claims, does not."""
    exclusion_ = ("    liabilities:\n      - id: in_policy",
                  f"    exclusions:\n      - {{id: x, name: 投保前已患的病, common: false, {refused}, assumed: 测试}}\n"
                  "    liabilities:\n      - id: in_policy")
    result = verdict(reviewed(XIANNING, "2023", named_pre_existing("0.5") + [exclusion_]), "hubei-2021",
                     "pre-existing-not-excluded")
    assert result.verdict == expected
    if expected == "违规":
        named = "恶性肿瘤" if "cancer" in refused else "肾功能衰竭"
        assert result.looked_at[0].detail == f"{named}，在“医保目录内个人自付”、“医保目录外个人自费”"


def test_hubei_no_coinsurance_is_a_concern_a_lead_with_the_largest_share_is_not():
    co = "      co:\n        - {name: 共保体其他成员（来源未具名）, share: {value: 0.6, assumed: 来源只提到共保体，未列成员和份额}}\n"
    alone = [(co, ""), ("share: {value: 0.4, assumed: 来源未公布共保份额}", "share: {value: 1, assumed: 测试}")]
    assert verdict(reviewed(XIANNING, "2023", alone), "hubei-2021", "coinsurance-lead").verdict == "需关注"
    led = [("share: {value: 0.4, assumed: 来源未公布共保份额}", "share: {value: 0.6, assumed: 测试}"),
           ("share: {value: 0.6, assumed: 来源只提到共保体", "share: {value: 0.4, assumed: 来源只提到共保体")]
    assert verdict(reviewed(XIANNING, "2023", led), "hubei-2021", "coinsurance-lead").verdict == "符合"


def test_hubei_three_filings_declared_missing_or_unknown():
    sourced = "      legal_opinion: true\n      source: {doc: xn-news, clause: “咸惠保”如何定保, quote: 就“咸惠保”项目出具了“三书”}"
    assert verdict(reviewed(XIANNING, "2023"), "hubei-2021", "three-filings").verdict == "符合"
    missing = [("      authorisation: true\n", "      authorisation: false\n")]
    assert verdict(reviewed(XIANNING, "2023", missing), "hubei-2021", "three-filings").verdict == "违规"
    assumed = [(sourced, "      legal_opinion: true\n      assumed: 来源未提三书，假设已出具")]
    unknown = verdict(reviewed(XIANNING, "2023", assumed), "hubei-2021", "three-filings")
    assert unknown.verdict == "需人工确认" and unknown.assumed
    written_unknown = [("      authorisation: true\n", "      authorisation: unknown\n")]
    assert verdict(reviewed(XIANNING, "2023", written_unknown), "hubei-2021", "three-filings").verdict == "需人工确认"


@pytest.mark.parametrize("declared, expected", [("true", "符合"), ("false", "违规"), (None, "需人工确认")])
def test_hubei_surplus_rollover(declared, expected):
    edits = regulation(f"      surplus_rollover: {declared}\n") if declared else []
    assert verdict(reviewed(XIANNING, "2023", edits), "hubei-2021", "surplus-rollover").verdict == expected


@pytest.mark.parametrize("items, expected", [("[identity, basic_insurance, claims]", "符合"),
                                             ("[identity, claims, genetic]", "违规"), (None, "需人工确认")])
def test_hubei_personal_data_limited_to_what_is_necessary(items, expected):
    edits = regulation(f"      data_items: {items}\n") if items else []
    assert verdict(reviewed(XIANNING, "2023", edits), "hubei-2021", "data-minimum-necessary").verdict == expected


def test_hubei_manual_items_are_for_a_person_to_confirm():
    item = verdict(reviewed(XIANNING, "2023"), "hubei-2021", "inform-benefits")
    assert item.verdict == "需人工确认" and item.check.manual and item.looked_at == ()


# ── Ganzhou plan ──────────────────────────────────────────────────────────────────────────────

def test_ganzhou_the_product_as_filed_breaks_no_rule():
    result = reviewed(GANZHOU, "2024", population=2_000)  # the backtest needs a population of some size
    verdicts = {v.check.id: v.verdict for r in result.regimes for v in r.verdicts}
    assert "违规" not in verdicts.values() and "需关注" not in verdicts.values()
    assert verdicts["first-year-premium"] == verdicts["claim-order"] == "符合"


@pytest.mark.parametrize("when", ["{hukou: [nonlocal]}", "{basic_insurance: [resident]}"])
def test_ganzhou_every_basic_insurance_member_must_be_eligible(when):
    anchor = "      suspend_when_basic_in_arrears: true\n      source:"
    barred = [(anchor, anchor.replace("      source:", f"      conditions:\n        - {{id: b, name: 不可参保, when: {when}, "
                                                       "outcome: not_eligible}\n      source:"))]
    assert verdict(reviewed(GANZHOU, "2024", barred), "ganzhou-2023", "all-basic-members-eligible").verdict == "违规"


def test_ganzhou_no_suspension_and_restoration_on_arrears():
    edits = [("      suspend_when_basic_in_arrears: true\n", "      suspend_when_basic_in_arrears: false\n")]
    assert verdict(reviewed(GANZHOU, "2024"), "ganzhou-2023", "suspend-and-restore").verdict == "符合"
    assert verdict(reviewed(GANZHOU, "2024", edits), "ganzhou-2023", "suspend-and-restore").verdict == "违规"


def test_ganzhou_claim_order():
    edits = [("      after: [basic, critical_illness, assistance]\n      source:",
              "      after: [basic, assistance]\n      source:")]
    failing = verdict(reviewed(GANZHOU, "2024", edits), "ganzhou-2023", "claim-order")
    assert failing.verdict == "违规" and failing.looked_at[0].text == "基本医疗保险 → 医疗救助 → 本方案"


@pytest.mark.parametrize("check, old, new", [
    ("first-year-premium", "            value: 69\n", "            value: 120\n"),
    ("first-year-deductible", "          value: 15000\n", "          value: 20000\n"),
    ("first-year-cap", "          value: 1000000\n", "          value: 800000\n"),
])
def test_ganzhou_first_year_limits_apply_whether_or_not_the_file_declares_them(check, old, new):
    undeclared = [(GZ_LIMITS, "")]
    assert verdict(reviewed(GANZHOU, "2024", undeclared), "ganzhou-2023", check).verdict == "符合"
    failing = verdict(reviewed(GANZHOU, "2024", undeclared + [(old, new)]), "ganzhou-2023", check)
    assert failing.verdict == "违规" and failing.assumed  # the amounts are assumptions of the file


def test_ganzhou_backtest_claims_ratio_below_80_percent_is_a_concern_with_its_figure_and_assumptions():
    passing = verdict(reviewed(GANZHOU, "2024", population=2_000), "ganzhou-2023", "claims-ratio")
    assert passing.verdict == "符合" and passing.looked_at[0].value >= 8000
    low = [("rate: 0.8, assumed: 方案未公布比例（", "rate: 0.1, assumed: 方案未公布比例（"),
           ("rate: 0.7, assumed: 方案未公布比例；政策范围外", "rate: 0.1, assumed: 方案未公布比例；政策范围外")]
    failing = verdict(reviewed(GANZHOU, "2024", low, population=2_000), "ganzhou-2023", "claims-ratio")
    assert failing.verdict == "需关注" and failing.looked_at[0].value < 8000
    assert any("合成参考人群" in reason for reason in failing.looked_at[0].assumed)
    declared = verdict(reviewed(GANZHOU, "2024", low, population=2_000), "declared", "claims-ratio-min")  # the file's own claims_ratio_min
    assert declared.verdict == "需关注"


@pytest.mark.parametrize("term, expected", [("3", "符合"), ("5", "违规"), (None, "需人工确认")])
def test_ganzhou_coinsurer_term(term, expected):
    edits = [("      term_years: 3\n", f"      term_years: {term}\n" if term else "")]
    assert verdict(reviewed(GANZHOU, "2024", edits), "ganzhou-2023", "coinsurer-term").verdict == expected


@pytest.mark.parametrize("items, expected", [("[enrolment, claims, settlement, income_expense]", "符合"),
                                             ("[enrolment, claims]", "违规"), (None, "需人工确认")])
def test_ganzhou_disclosure_items(items, expected):
    edits = regulation(f"      disclosure: {items}\n", GZ_REGULATION) if items else []
    assert verdict(reviewed(GANZHOU, "2024", edits), "ganzhou-2023", "disclosure").verdict == expected


# ── the 2025 notice ───────────────────────────────────────────────────────────────────────────

def test_nfra_name_must_contain_customised_and_state_the_region():
    plain = reviewed(ZAOZHUANG, "2025", ZZ_AFTER_NOTICE)
    assert verdict(plain, "nfra-2025", "name-customised").verdict == "违规"
    assert verdict(plain, "nfra-2025", "region-stated").verdict == "需关注"  # 枣惠保 does not name 枣庄
    renamed = ZZ_AFTER_NOTICE + [("  name: 枣惠保\n", "  name: 枣庄市定制型普惠商业医疗保险\n")]
    named = reviewed(ZAOZHUANG, "2025", renamed)
    assert verdict(named, "nfra-2025", "name-customised").verdict == "符合"
    assert verdict(named, "nfra-2025", "region-stated").verdict == "符合"


def test_nfra_yearly_backtest_must_be_declared():
    anchor = ZZ_2025_REGULATION
    assert verdict(reviewed(ZAOZHUANG, "2025", ZZ_AFTER_NOTICE), "nfra-2025", "yearly-backtest").verdict == "违规"
    declared = ZZ_AFTER_NOTICE + [(anchor, "      backtest: yearly\n" + anchor)]
    assert verdict(reviewed(ZAOZHUANG, "2025", declared), "nfra-2025", "yearly-backtest").verdict == "符合"


def test_nfra_a_preset_claims_ratio_promised_to_the_public_is_a_violation():
    anchor = ZZ_2025_REGULATION
    assert verdict(reviewed(ZAOZHUANG, "2025", ZZ_AFTER_NOTICE), "nfra-2025", "no-promised-claims-ratio").verdict == "符合"
    promised = ZZ_AFTER_NOTICE + [(anchor, "      promised_claims_ratio: 0.9\n" + anchor)]
    failing = verdict(reviewed(ZAOZHUANG, "2025", promised), "nfra-2025", "no-promised-claims-ratio")
    assert failing.verdict == "违规" and failing.looked_at[0].text == "90%"


def test_nfra_a_version_starting_inside_another_versions_period_changes_terms_within_a_policy_year():
    assert verdict(reviewed(ZAOZHUANG, "2025", ZZ_AFTER_NOTICE), "nfra-2025", "no-in-year-change").verdict == "符合"
    overlapping = ZZ_AFTER_NOTICE + [("      start: 2024-01-01\n      end: 2024-12-31",
                                      "      start: 2025-08-01\n      end: 2026-07-31")]
    assert verdict(reviewed(ZAOZHUANG, "2025", overlapping), "nfra-2025", "no-in-year-change").verdict == "违规"


@pytest.mark.parametrize("declared, expected", [("true", "符合"), ("false", "违规"), (None, "需人工确认")])
def test_nfra_distinguished_from_social_insurance(declared, expected):
    anchor = ZZ_2025_REGULATION
    edits = ZZ_AFTER_NOTICE + ([(anchor, f"      social_insurance_distinguished: {declared}\n" + anchor)]
                               if declared else [])
    assert verdict(reviewed(ZAOZHUANG, "2025", edits), "nfra-2025", "distinct-from-social-insurance").verdict == expected


def test_nfra_sales_suitability_is_for_a_person_and_the_source_is_marked_secondary():
    item = verdict(reviewed(ZAOZHUANG, "2025", ZZ_AFTER_NOTICE), "nfra-2025", "sales-suitability")
    assert item.verdict == "需人工确认"
    regime = next(r.regime for r in reviewed(ZAOZHUANG, "2025", ZZ_AFTER_NOTICE).regimes if r.regime.id == "nfra-2025")
    assert regime.document.secondary


# ── checks whose passing and failing variants the tests above do not show ──────────────────────

AGE_BANDS = [(HEALTH_BANDS[0][0], """        - id: younger
          name: 60 周岁以下
          when: {age: {max: 59}}
          amount: {value: 69, assumed: 测试}
          assumed: 测试
        - id: older
          name: 60 周岁及以上
          when: {age: {min: 60}}
          amount: {value: 99, assumed: 测试}
          assumed: 测试""")]


def test_hubei_premium_by_age_is_a_concern_for_a_person_to_weigh():
    assert verdict(reviewed(XIANNING, "2023"), "hubei-2021", "premium-by-age").verdict == "符合"
    by_age = verdict(reviewed(XIANNING, "2023", AGE_BANDS), "hubei-2021", "premium-by-age")
    assert by_age.verdict == "需关注" and by_age.check.note.startswith("年龄与疾病风险相关")
    # banded by age alone is not tied to the person's illness risk
    assert verdict(reviewed(XIANNING, "2023", AGE_BANDS), "hubei-2021", "premium-not-risk-rated").verdict == "符合"


@pytest.mark.parametrize("declared, expected", [("true", "符合"), ("false", "违规"), (None, "需人工确认")])
def test_hubei_distinguished_from_basic_insurance(declared, expected):
    edits = regulation(f"      social_insurance_distinguished: {declared}\n") if declared else []
    assert verdict(reviewed(XIANNING, "2023", edits), "hubei-2021", "distinct-from-basic-insurance").verdict == expected


GZ_SURPLUS = ("    surplus:\n      rolls_over: true\n      to: next_period\n"
              "      source: {doc: gz-plan, clause: 三(五), quote: 同一保险期保费余额转入下一保险期滚存使用}\n")


@pytest.mark.parametrize("declared, expected", [("true", "符合"), ("false", "违规"), (None, "需人工确认")])
def test_ganzhou_surplus_rollover(declared, expected):
    # 赣州 declares its roll-over from its plan (surplus:); the check follows what the version declares
    written = {"true": GZ_SURPLUS, "false": GZ_SURPLUS.replace("rolls_over: true\n      to: next_period\n",
                                                               "rolls_over: false\n"), None: ""}[declared]
    edits = [(GZ_SURPLUS, written)]
    assert verdict(reviewed(GANZHOU, "2024", edits), "ganzhou-2023", "surplus-rollover").verdict == expected


@pytest.mark.parametrize("check, fact, old, new", [
    ("premium-max", "declared_premium_max", "premium_max: {value: 100,", "premium_max: {value: 50,"),
    ("deductible-max", "declared_deductible_max", "deductible_max: {value: 15000,", "deductible_max: {value: 10000,"),
    ("cap-min", "declared_cap_min", "cap_min: {value: 1000000,", "cap_min: {value: 2000000,"),
])
def test_a_limit_the_scheme_declares_about_itself_is_checked_both_ways(check, fact, old, new):
    """A file breaking its own limit does not validate (engine.semantics), so the review's rule is shown failing on
    the facts of the filed scheme with the declared limit moved, as the rules engine receives them."""
    passing = reviewed(GANZHOU, "2024")
    assert verdict(passing, "declared", check).verdict == "符合"
    with pytest.raises(SchemeError) as refused:
        reviewed(GANZHOU, "2024", [(old, new)])
    assert refused.value.issues[0].code.startswith("limits.")
    declared = next(r.regime for r in passing.regimes if r.regime.id == "declared")
    limit = engine_value(fact, Decimal(new.split("value: ")[1].rstrip(",")))
    facts = {**passing.facts, fact: replace(passing.facts[fact], value=limit)}
    broken = next(v for v in run_checks(declared, facts) if v.check.id == check)
    assert broken.verdict == "违规" and broken.check.clause == f"regulation.limits.{check.replace('-', '_')}"


@pytest.mark.parametrize("path, year", [(XIANNING, "2023"), (GANZHOU, "2024"), (ZAOZHUANG, "2025")])
def test_items_a_program_cannot_judge_are_always_for_a_person(path, year):
    """Manual checks (no condition but `inapplicable`) have no passing or failing scheme: a person's finding in
    the admin's sign-off decides them (tests/admin/test_signoff.py)."""
    result = reviewed(path, year, ZZ_AFTER_NOTICE if path == ZAOZHUANG else ())
    manual = [v for r in result.regimes for v in r.verdicts if v.check.manual]
    assert manual and {v.verdict for v in manual} == {"需人工确认"}


# ── the compiled conditions ───────────────────────────────────────────────────────────────────

def _item_tests(condition):
    """Every test of a list's items (`$iany`/`$iall`) in a compiled condition."""
    if isinstance(condition, dict):
        for key, value in condition.items():
            if key in ("$iany", "$iall"):
                yield from value.values()
            yield from _item_tests(value)
    elif isinstance(condition, list):
        for part in condition:
            yield from _item_tests(part)


def test_no_regime_tests_a_lists_items_with_a_compound_condition():
    """durable-rules compiles `$iany`/`$iall` over `$or`/`$and` from uninitialised memory and fails now and then
    (error code 102): every item test must be one plain comparison."""
    seen = 0
    for regime in load_regimes():
        for condition in compiled(regime).conditions.values():
            for item_test in _item_tests(condition):
                seen += 1
                assert not {"$or", "$and"} & set(item_test), (regime.id, item_test)
    assert seen, "the regimes test list items somewhere; this test must look at them"


_PROBES = itertools.count()


@pytest.mark.parametrize("test, value, matches", [
    ({"contains": "(定制)"}, "某市惠民保(定制)", True),
    ({"contains": "(定制)"}, "某市惠民保定制", False),
    ({"contains": "a.b"}, "xaxbx", False),
    ({"only": ["a.b", "c%"]}, ["c%", "a.b"], True),
    ({"only": ["a.b", "c%"]}, ["a.b", "axb"], False),
    ({"has_any": ["x", "y"]}, ["z", "y"], True),
    ({"has_any": ["x", "y"]}, ["z"], False),
    ({"has_all": ["x", "y"]}, ["y", "x", "z"], True),
    ({"has_all": ["x", "y"]}, ["y"], False),
])
def test_text_and_list_tests_match_their_values_literally(test, value, matches):
    name = f"probe-{next(_PROBES)}"
    fired = []
    with _LOCK:
        _host().set_rulesets({name: {
            "test": {"all": [{"f": {"$and": [{"t": "probe"}, compile_condition({"value": test})]}}], "pri": 1,
                     "run": lambda c: fired.append(True)},
            "held": {"all": [{"f": {"t": "probe"}}, {"e": {"t": "never"}}], "pri": 9, "run": lambda c: None}}})
        _host().assert_fact(name, {"t": "probe", "value": value})
    assert bool(fired) is matches


# ── versions with plans: a regulator's figures are about the worst plan ───────────────────────

TWO_PLANS = PRODUCTS.parent / "tests" / "fixtures" / "two-plans.yaml"  # the fixture of tests/test_plans.py


def test_the_figures_of_a_version_with_plans_are_the_worst_plans_and_name_it():
    """基础版 ¥59 with a 20,000 deductible and a 1,000,000 cap; 升级版 ¥129, 10,000, 2,000,000 on its own inpatient."""
    facts = reviewed(TWO_PLANS, "2025").facts
    assert (facts["premium_max"].value, facts["premium_max"].detail) == (engine_value("premium_max", 129), "升级版")
    assert (facts["premium_min"].value, facts["premium_min"].detail) == (engine_value("premium_min", 59), "基础版")
    assert (facts["deductible_max"].value, facts["deductible_max"].detail) == (2_000_000, "基础版")
    assert facts["pre_existing_ratio_main"].detail.startswith("基础版：")
    assert facts["premium_varies"].value is False  # one price within each plan: flat pricing holds
    dearer = reviewed(TWO_PLANS, "2025", [("            deductible: 10000\n", "            deductible: 30000\n")]).facts
    assert (dearer["deductible_max"].value, dearer["deductible_max"].detail) == (3_000_000, "升级版")


def test_a_dearer_plan_over_the_first_year_premium_limit_is_a_violation_naming_it():
    ganzhou = next(r for r in load_regimes() if r.id == "ganzhou-2023")
    facts = reviewed(TWO_PLANS, "2025").facts
    broken = next(v for v in run_checks(ganzhou, facts) if v.check.id == "first-year-premium")
    assert broken.verdict == "违规" and "升级版" in [f.text for f in broken.looked_at if f.name == "premium_max"][0]
    cheaper = reviewed(TWO_PLANS, "2025", [("amount: 129}", "amount: 99}")]).facts
    assert next(v for v in run_checks(ganzhou, cheaper) if v.check.id == "first-year-premium").verdict == "符合"
