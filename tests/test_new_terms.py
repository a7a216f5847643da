"""The second edition's new terms: named pre-existing conditions, hospital lists, sex, applied exclusions.

Each is tested on a scheme that uses it (the fourth city, tests/fixtures/shanghai.yaml, changed where a test needs
another shape) and on a broken use: the error names the file, line and column and what is known.  The vectorised
path refuses each term (Unsupported), so a caller falls back to the rules path rather than settle differently.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from engine import InputError, adjudicate, load_product_text, parse_claim, parse_person, quote
from engine.diff import diff_versions
from engine.explain import version_text
from engine.compare import parameter_rows
from engine.vector import Unsupported, compile_version
from scheme_texts import FIXTURE_SOURCES
from test_broken_schemes import issues_for, line_of, mutate

FILE = "minimal.yaml"  # issues_for names the file so
CITY = (Path(__file__).parent / "fixtures" / "shanghai.yaml").read_text(encoding="utf-8")
ALL_FIVE = "[cancer, renal-failure, cirrhosis, heart-failure, stroke-sequelae]"


def version_of(text: str = CITY):
    return load_product_text(text, FILE, FIXTURE_SOURCES).version("2024")


def claim(**fields) -> dict:
    member = {"id": "m1", "age": 45, **fields.pop("member", {})}
    return {"claim_id": "c1", "member": member, "date": "2024-09-01", "care": "inpatient", **fields}


def settle(version, **fields):
    return adjudicate(parse_claim(claim(**fields)), version)


def texts(settlement) -> str:
    return "\n".join(step["text"] for step in settlement.trace)


def only_issue(text: str, code: str):
    issues = issues_for(text)
    assert [i.code for i in issues] == [code], issues
    return issues[0]


# ── named pre-existing conditions ─────────────────────────────────────────────────────────────

def test_a_named_condition_picks_its_ratio_row_and_an_unnamed_one_does_not():
    version = version_of()
    named = settle(version, member={"pre_existing": ["heart-failure"]}, in_policy_self_pay=50000)
    unnamed = settle(version, member={"pre_existing": True}, in_policy_self_pay=50000)
    assert named.paid_fen == 900000  # (50,000 − 20,000) × 30%
    assert unnamed.paid_fen == 2400000  # only a condition the list does not name: 80%


def test_pre_existing_true_in_a_condition_still_means_any_condition():
    text = mutate(CITY, "        - {id: everyone, name: 统一保费, when: {}, amount: 129}",
                  "        - {id: healthy, name: 无既往症, when: {pre_existing: false}, amount: 129}\n"
                  "        - {id: any, name: 有既往症, when: {pre_existing: true}, amount: 199}")
    version = version_of(text)
    assert quote(parse_person({"age": 50, "pre_existing": ["cirrhosis"]}), version).premium_fen == 19900
    assert quote(parse_person({"age": 50, "pre_existing": True}), version).premium_fen == 19900
    assert quote(parse_person({"age": 50, "pre_existing": []}), version).premium_fen == 12900


def test_a_member_with_an_unknown_condition_is_refused_naming_the_known_ones():
    with pytest.raises(InputError) as caught:
        settle(version_of(), member={"pre_existing": ["diabetes"]}, in_policy_self_pay=50000)
    message = caught.value.issues[0].message
    assert "diabetes" in message and "肝硬化（cirrhosis）" in message and "恶性肿瘤（cancer）" in message
    assert caught.value.issues[0].path == ("member", "pre_existing")


def test_an_unknown_condition_in_a_when_is_an_error_at_its_line_naming_the_known_ones():
    text = mutate(CITY, f"- {{when: {{pre_existing: {ALL_FIVE}}}, rate: 0.3}}\n        cap: 1000000\n        assumed: 同上",
                  "- {when: {pre_existing: [cancer, diabetes]}, rate: 0.3}\n        cap: 1000000\n        assumed: 同上")
    issues = [i for i in issues_for(text) if i.code == "conditions.unknown_pre_existing"]
    assert len(issues) == 1
    assert issues[0].line == line_of(text, "[cancer, diabetes]") and issues[0].column > 1
    assert "diabetes" in issues[0].message and "脑卒中后遗症（stroke-sequelae）" in issues[0].message
    assert issues[0].file == FILE


def test_bands_of_two_named_conditions_overlap_for_a_person_with_both():
    text = mutate(CITY, "        - {id: everyone, name: 统一保费, when: {}, amount: 129}",
                  "        - {id: rest, name: 其他, when: {pre_existing: {not: [cancer, cirrhosis]}}, amount: 129}\n"
                  "        - {id: cancer, name: 肿瘤, when: {pre_existing: [cancer]}, amount: 199}\n"
                  "        - {id: liver, name: 肝病, when: {pre_existing: [cirrhosis]}, amount: 189}")
    issue = only_issue(text, "band.overlap")
    assert "有既往症（恶性肿瘤、肝硬化）" in issue.message  # named, not by id


# ── hospital lists ────────────────────────────────────────────────────────────────────────────

RATIO_BY_HOSPITAL = ("        when: {hospital_in: car-t-centres}\n        deductible: 0\n        ratio: 0.7\n",
                     "        deductible: 0\n        ratio:\n          rows:\n"
                     "            - {when: {hospital_in: car-t-centres}, rate: 0.7}\n"
                     "            - {when: {hospital_in: {not: car-t-centres}}, rate: 0.4}\n")


def test_ratio_rows_by_hospital_list_and_the_level_taken_from_the_list():
    version = version_of(mutate(CITY, *RATIO_BY_HOSPITAL))
    items = [{"code": "relmacabtagene", "amount": 100000}]
    listed = settle(version, hospital="SH-ZHONGSHAN", items=items)
    other = settle(version, hospital="SH-ELSEWHERE", items=items)
    assert (listed.paid_fen, other.paid_fen) == (7000000, 4000000)


def test_a_claim_needing_its_hospital_without_one_is_refused():
    with pytest.raises(InputError) as caught:
        settle(version_of(), items=[{"code": "axicabtagene", "amount": 100000}])
    assert caught.value.issues[0].path == ("hospital",)
    assert "CAR-T 治疗指定医疗机构" in caught.value.issues[0].message


def test_a_level_that_contradicts_the_hospital_list_is_refused():
    with pytest.raises(InputError, match="三级医疗机构"):
        settle(version_of(), hospital="SH-RUIJIN", hospital_level=2, items=[{"code": "axicabtagene", "amount": 1}])


def test_a_claim_outside_the_listed_hospitals_says_which_condition_it_misses():
    paid = settle(version_of(), hospital="SH-ELSEWHERE", hospital_level=3,
                  items=[{"code": "axicabtagene", "amount": 100000}])
    assert paid.paid_fen == 0
    assert "责任“CAR-T 治疗”只适用于就诊医院在“CAR-T 治疗指定医疗机构”名单内" in texts(paid)


def test_an_unknown_hospital_list_is_an_error_at_its_line():
    text = mutate(CITY, "when: {hospital_in: car-t-centres}", "when: {hospital_in: cart-centres}")
    issue = only_issue(text, "conditions.unknown_hospital_list")
    assert issue.line == line_of(text, "cart-centres") and "CAR-T 治疗指定医疗机构（car-t-centres）" in issue.message


def test_one_stop_settlement_at_listed_hospitals_is_traced_and_explained():
    text = mutate(CITY, "      one_stop: {value: false, assumed: 未能对照原文核实是否与医保一站式结算；按出院后申请理赔处理}",
                  "      one_stop: {value: true, assumed: 示例}\n      one_stop_at: car-t-centres")
    version = version_of(text)
    listed = settle(version, hospital="SH-RUIJIN", in_policy_self_pay=30000)
    other = settle(version, hospital="SH-ELSEWHERE", hospital_level=2, in_policy_self_pay=30000)
    assert "上海交通大学医学院附属瑞金医院在“CAR-T 治疗指定医疗机构”名单内：与基本医保一站式结算" in texts(listed)
    assert "不在“CAR-T 治疗指定医疗机构”名单内：出院后申请理赔" in texts(other)
    assert listed.paid_fen == other.paid_fen == 800000  # the way of settling moves no money
    assert "仅限“CAR-T 治疗指定医疗机构”名单内的医院" in version_text(version)


def test_one_stop_at_an_undeclared_list_or_without_one_stop_is_an_error():
    unknown = mutate(CITY, "      one_stop: {value: false, assumed: 未能对照原文核实是否与医保一站式结算；按出院后申请理赔处理}",
                     "      one_stop: {value: true, assumed: 示例}\n      one_stop_at: one-stop")
    issue = only_issue(unknown, "settlement.one_stop_at_unknown")
    assert issue.line == line_of(unknown, "one_stop_at")
    off = mutate(CITY, "      one_stop: {value: false, assumed: 未能对照原文核实是否与医保一站式结算；按出院后申请理赔处理}",
                 "      one_stop: {value: false, assumed: 示例}\n      one_stop_at: car-t-centres")
    only_issue(off, "settlement.one_stop_at_without_one_stop")


def test_a_hospital_at_two_levels_is_an_error():
    text = mutate(CITY, "          - {code: SH-ZHONGSHAN, name: 复旦大学附属中山医院, level: 3, grade: 甲}",
                  "          - {code: SH-ZHONGSHAN, name: 复旦大学附属中山医院, level: 3, grade: 甲}\n"
                  "          - {code: SH-ZHONGSHAN, name: 复旦大学附属中山医院, level: 2}")
    codes = sorted(i.code for i in issues_for(text))
    assert codes == ["hospitals.duplicate", "hospitals.level_differs"]


# ── sex ───────────────────────────────────────────────────────────────────────────────────────

SEX_BANDS = ("        - {id: everyone, name: 统一保费, when: {}, amount: 129}",
             "        - {id: women, name: 女性, when: {sex: female}, amount: 119}\n"
             "        - {id: men, name: 男性, when: {sex: [male]}, amount: 139}")


def test_premium_by_sex():
    version = version_of(mutate(CITY, *SEX_BANDS))
    assert quote(parse_person({"age": 40, "sex": "female"}), version).premium_fen == 11900
    assert quote(parse_person({"age": 40, "sex": "male"}), version).premium_fen == 13900
    assert "性别为女性" in version_text(version)


def test_a_quote_without_sex_where_bands_read_it_asks_for_it():
    with pytest.raises(InputError) as caught:
        quote(parse_person({"age": 40}), version_of(mutate(CITY, *SEX_BANDS)))
    assert caught.value.issues[0].path == ("sex",) and "female" in caught.value.issues[0].message


def test_a_liability_for_one_sex_pays_only_that_sex():
    text = mutate(CITY, "        care: [inpatient, outpatient, pharmacy]\n        deductible: 0",
                  "        care: [inpatient, outpatient, pharmacy]\n        when: {sex: female}\n        deductible: 0")
    version = version_of(text)
    drug = [{"code": "pembrolizumab", "amount": 10000}]
    assert settle(version, member={"sex": "female"}, items=drug).paid_fen == 700000
    male = settle(version, member={"sex": "male"}, items=drug)
    assert male.paid_fen == 0 and "只适用于性别为女性" in texts(male)


def test_a_sex_not_in_the_vocabulary_is_an_error_at_its_line():
    text = mutate(CITY, *SEX_BANDS).replace("when: {sex: female}", "when: {sex: woman}")
    issues = issues_for(text)
    assert issues and all(i.line == line_of(text, "sex: woman") for i in issues)


# ── exclusions ────────────────────────────────────────────────────────────────────────────────

EXCLUDED_LISTS = "        lists: [car-t]\n        assumed: 据公开报道，既往症"


def test_an_excluded_item_is_refused_naming_the_exclusion_and_its_basis():
    refused = settle(version_of(), member={"pre_existing": ["cancer"]}, hospital="SH-RUIJIN",
                     items=[{"code": "axicabtagene", "amount": 1200000}])
    step = next(s for s in refused.trace if s["step"] == "exclusion")
    assert refused.paid_fen == 0 and step["rule"] == "exclusion.cancer-car-t.item"
    assert step["text"].startswith("治疗项目 阿基仑赛注射液：属于责任免除：投保前已患恶性肿瘤者的 CAR-T 治疗【假设】据公开报道")
    assert "没有责任覆盖" not in texts(refused)


def test_a_whole_claim_exclusion_with_a_source_cites_it():
    # a made-up document of the test library stands in: the reports the fixture follows are not kept here
    text = mutate(CITY, "sources:\n", "sources:\n  doc: {title: 测试用来源, issuer: 测试机构}\n")
    text = mutate(text, "        lists: [car-t]\n        assumed: 据公开报道，既往症人员",
                  "        source: {doc: doc, clause: 第十二条, quote: 第十二条 责任免除}\n        assumed: 据公开报道，既往症人员")
    text = mutate(text, "        when: {pre_existing: [cancer]}\n", "        when: {care: [emergency]}\n")
    refused = settle(version_of(text), care="emergency", in_policy_self_pay=50000)
    step = next(s for s in refused.trace if s["step"] == "exclusion")
    assert refused.paid_fen == 0 and refused.eligibility.outcome == "eligible"
    assert step["text"] == "属于责任免除：投保前已患恶性肿瘤者的 CAR-T 治疗〔《测试用来源》第十二条：“第十二条 责任免除”〕，本次不予赔付"
    assert settle(version_of(text), in_policy_self_pay=50000).paid_fen == 2400000  # inpatient: not excluded


def test_an_exclusion_by_item_code_refuses_that_item_only():
    text = mutate(CITY, EXCLUDED_LISTS, "        items: [osimertinib]\n        assumed: 据公开报道，既往症")
    version = version_of(text)
    paid = settle(version, member={"pre_existing": ["cancer"]}, care="outpatient",
                  items=[{"code": "osimertinib", "amount": 10000}, {"code": "pembrolizumab", "amount": 10000}])
    assert paid.paid_fen == 300000  # pembrolizumab at 30 %; osimertinib excluded
    assert "甲磺酸奥希替尼片：属于责任免除" in texts(paid)


def test_an_exclusion_of_unknown_items_or_lists_is_an_error_at_its_line():
    text = mutate(CITY, EXCLUDED_LISTS, "        items: [tisagenlecleucel]\n        lists: [cart]\n        assumed: 据公开报道，既往症")
    issues = issues_for(text)
    assert sorted(i.code for i in issues) == ["exclusion.unknown_item", "exclusion.unknown_list"]
    assert {i.line for i in issues} == {line_of(text, "items: [tisagenlecleucel]"), line_of(text, "lists: [cart]")}


def test_exclusions_hospitals_and_conditions_in_explain_diff_and_compare():
    old = version_of()
    new = version_of(mutate(CITY, "      - {id: cirrhosis, name: 肝硬化, assumed: 据公开报道，未能对照原文核实}\n",
                            "      - {id: cirrhosis, name: 肝硬化, assumed: 据公开报道，未能对照原文核实}\n"
                            "      - {id: copd, name: 慢性阻塞性肺病, assumed: 示例}\n"))
    shown = version_text(old)
    for text in ("【列名的既往症】", "【责任免除】", "【医院名单】", "（三级甲等）", "CAR-T 治疗药品所列项目不赔"):
        assert text in shown
    assert [c.text for c in diff_versions(old, new) if c.area == "pre_existing"] == ["新增既往症“慢性阻塞性肺病”：慢性阻塞性肺病"]
    rows = {row["key"]: row for row in parameter_rows([old])}
    assert rows["exclusions"]["values"] == ["投保前已患恶性肿瘤者的 CAR-T 治疗"] and rows["exclusions"]["assumed"] == [True]
    assert rows["hospital_lists"]["values"] == ["CAR-T 治疗指定医疗机构 2 家"]


# ── the vectorised path refuses every new term ────────────────────────────────────────────────

def _without_city_terms(text: str) -> str:
    """The fourth city without its named conditions, hospital list, exclusion and CAR-T liability (ratio rows read
    yes/no instead): a scheme the vectorised path settles."""
    start, end = text.index("    # 据公开报道，沪惠保对投保前"), text.index("    eligibility:\n")
    text = text[:start] + text[end:text.index("      - id: car-t\n")]
    return text.replace(f"{{not: {ALL_FIVE}}}", "false").replace(ALL_FIVE, "true")


@pytest.mark.parametrize("term, change, reason", [
    ("pre_existing_conditions", lambda t: t.replace(
        "    eligibility:\n", "    pre_existing_conditions: [{id: cancer, name: 恶性肿瘤, assumed: 示例}]\n    eligibility:\n", 1),
     "列名的既往症"),
    ("hospital_lists", lambda t: t.replace("    eligibility:\n", "    hospital_lists: {h: {name: 定点医院, assumed: 示例, "
                                           "hospitals: [{code: H1, name: 示例医院, level: 3}]}}\n    eligibility:\n", 1),
     "医院名单"),
    ("sex", lambda t: mutate(t, *SEX_BANDS), "按性别的条件"),
    ("exclusions", lambda t: t.replace("    eligibility:\n", "    exclusions: [{id: e, name: 急诊, common: false, "
                                       "when: {care: [emergency]}, assumed: 示例}]\n    eligibility:\n", 1),
     "由引擎执行的责任免除"),
])
def test_the_vectorised_path_refuses_each_new_term(term, change, reason):
    plain = _without_city_terms(CITY)
    compile_version(version_of(plain))  # the same scheme without the term is settled on arrays
    with pytest.raises(Unsupported, match=reason):
        compile_version(version_of(change(plain)))


# ── the compiled rules agree with the conditions as written ───────────────────────────────────

def test_rules_and_conditions_agree_on_named_conditions_and_hospital_lists():
    """Every part of every liability, for every combination of named conditions and list membership: the
    durable-rules route (events carry pre_existing.<id> and hospital_in.<list> yes/no) is the one `Condition.holds`
    gives on the same person and hospital as sets."""
    from engine.conditions import PreExisting
    from engine.rules import compiled
    from test_rules import expected_route

    version = version_of(mutate(CITY, *RATIO_BY_HOSPITAL))
    people = PreExisting.axis([when.get("pre_existing") for when in version.conditions() if "pre_existing" in when])
    assert len(people) == 2 + 2 ** 5 - 1  # none, unnamed only, every combination of the five named
    parts = [{"covers": "in_policy_self_pay"}, {"candidate": "domestic-drugs", "list": "domestic"},
             {"candidate": "car-t", "list": "car-t"}]
    events, points = [], []
    for part, held, on_list, care in itertools.product(parts, people, (False, True), ("inpatient", "pharmacy")):
        base = {"t": "part", "layer": "scheme", **part, "care": care, "age": 40, "low_income": "none",
                "entitled_care": False, "disabled": False, "basic_insurance": "resident",
                "basic_insurance_status": "active", "hukou": "local", "occupation": "general"}
        events.append({**base, "pre_existing": bool(held),
                       **{f"pre_existing.{c}": c in held for c in version.pre_existing_conditions},
                       "hospital_in.car-t-centres": on_list})
        points.append({**base, "pre_existing": held, "hospital_in": frozenset({"car-t-centres"} if on_list else ())})
    decisions = compiled(version).decide(events)
    assert [d.value for d in decisions] == [expected_route(version, p) for p in points]
    assert {type(d.value).__name__ for d in decisions} == {"Route", "NoRuleMatched"}


def test_hmb_quote_takes_sex_and_named_conditions():
    from click.testing import CliRunner
    from engine.cli import main

    path = str(Path(__file__).parent / "fixtures" / "shanghai.yaml")
    ok = CliRunner().invoke(main, ["quote", path, "--year", "2024", "--age", "50", "--condition", "cancer",
                                   "--sex", "female", "--json"])
    assert ok.exit_code == 0 and '"premium_fen": 12900' in ok.output
    unknown = CliRunner().invoke(main, ["quote", path, "--year", "2024", "--age", "50", "--condition", "diabetes"])
    assert unknown.exit_code == 1 and "肝硬化（cirrhosis）" in unknown.output
