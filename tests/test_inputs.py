"""Bad claims and persons give InputError naming the field and why; every problem at once; files with lines."""
import json
from decimal import Decimal

import pytest

from engine import InputError, adjudicate, load_claims, load_product, parse_claim, parse_person, quote
from scheme_texts import version

GOOD = {"claim_id": "c1", "member": {"id": "m1", "age": 40}, "date": "2023-06-01", "care": "inpatient",
        "in_policy_self_pay": 30_000, "out_of_policy_self_pay": 0}


def issues_of(data) -> list[tuple]:
    with pytest.raises(InputError) as err:
        parse_claim(data)
    return [(i.code, i.path, i.message) for i in err.value.issues]


def with_(**changes):
    data = {**GOOD, **changes}
    return {k: v for k, v in data.items() if v is not ...}


def test_a_good_claim_parses_to_fen():
    claim = parse_claim(with_(in_policy_self_pay="30000.5", out_of_policy_self_pay=Decimal("0.01")))
    assert (claim.in_policy_fen, claim.out_of_policy_fen, claim.raw_bill) == (3_000_050, 1, False)


def test_missing_claim_id():
    [(code, path, message)] = issues_of(with_(claim_id=...))
    assert (code, path) == ("schema.missing", ("claim_id",)) and "claim_id" in message


def test_unknown_care_type():
    [(code, path, message)] = issues_of(with_(care="dental"))
    assert (code, path) == ("schema.enum", ("care",)) and "dental" in message and "inpatient" in message


@pytest.mark.parametrize("value, code", [(-5, "schema.minimum"), ("-5", "claim.money")])
def test_negative_amount(value, code):
    [(got, path, message)] = issues_of(with_(in_policy_self_pay=value))
    assert (got, path) == (code, ("in_policy_self_pay",)) and "-5" in message


@pytest.mark.parametrize("value", ["100.123", Decimal("100.123")])
def test_amount_with_three_decimals(value):
    [(code, path, message)] = issues_of(with_(out_of_policy_self_pay=value))
    assert (code, path) == ("claim.money", ("out_of_policy_self_pay",))
    assert "两位小数" in message


@pytest.mark.parametrize("data, path", [
    (with_(in_policy_self_pay=100.5), ("in_policy_self_pay",)),
    (with_(in_policy_self_pay=100.0), ("in_policy_self_pay",)),
    (with_(drugs=[{"code": "x", "indication": "y", "amount": 12.25}]), ("drugs", 0, "amount")),
    (with_(in_policy_self_pay=..., out_of_policy_self_pay=..., bill={"in_policy": 1.5, "out_of_policy": 0}),
     ("bill", "in_policy")),
])
def test_a_float_amount_is_refused(data, path):
    [(code, got, message)] = issues_of(data)
    assert (code, got) == ("claim.money", path) and "浮点数" in message


def test_an_absurd_amount_is_refused_not_overflowed():
    [(code, path, message)] = issues_of(with_(in_policy_self_pay=10**30))
    assert (code, path) == ("claim.money", ("in_policy_self_pay",)) and "上限" in message


def test_unknown_field():
    [(code, path, message)] = issues_of(with_(colour="red"))
    assert (code, path) == ("schema.unknown_key", ("colour",)) and "colour" in message


def test_both_settled_and_bill_forms():
    [(code, path, message)] = issues_of(with_(bill={"in_policy": 1, "out_of_policy": 0}))
    assert (code, path) == ("claim.two_forms", ("bill",)) and "bill" in message


def test_every_problem_is_reported_at_once():
    got = issues_of(with_(claim_id=..., colour="red", in_policy_self_pay=100.5,
                          drugs=[{"code": "x", "indication": "y", "amount": "1.234"}]))
    assert sorted((code, path) for code, path, _ in got) == [
        ("claim.money", ("drugs", 0, "amount")), ("claim.money", ("in_policy_self_pay",)),
        ("schema.missing", ("claim_id",)), ("schema.unknown_key", ("colour",))]


def test_date_outside_the_version_period(xianhuibao):
    claim = parse_claim(with_(date="2024-01-01"))
    with pytest.raises(InputError) as err:
        adjudicate(claim, xianhuibao.version("2023"))
    [issue] = err.value.issues
    assert (issue.code, issue.path) == ("claim.date", ("date",))
    assert "2024-01-01" in issue.message and "2023-12-31" in issue.message


def test_an_impossible_date_is_refused():
    [(code, path, _)] = issues_of(with_(date="2023-02-30"))
    assert path == ("date",) and code.startswith("schema.")


def test_a_hospital_level_written_as_2_0_is_the_integer_2(xianhuibao):
    # a JSON/YAML 2.0 loads as Decimal("2.0"), passes the enum, and would reach the rules engine as a Decimal
    claim = parse_claim(with_(hospital_level=Decimal("2.0")))
    assert claim.hospital_level == 2 and type(claim.hospital_level) is int
    assert adjudicate(claim, xianhuibao.version("2023")).paid_fen == 9_600_00  # (30,000 − 18,000) × 80 %


# ── persons and ages ──────────────────────────────────────────────────────────────────────────

AGE_BANDS = """\
- {id: child, name: 未成年人, when: {age: {min: 0, max: 17}}, amount: 30}
- {id: adult, name: 成年人, when: {age: {min: 18, max: 150}}, amount: 60}"""


def test_a_baby_born_after_the_age_reference_date_is_age_0():
    v = version(bands=AGE_BANDS)  # ages are taken on the period start, 2024-01-01
    result = quote(parse_person({"birth_date": "2024-03-01"}), v)
    assert (result.band, result.premium_fen) == ("child", 30_00)
    [band] = [s for s in result.trace if s["step"] == "band"]
    assert band["text"].startswith("年龄 0 岁")


def test_a_birth_date_more_than_150_years_back_is_refused():
    v = version(bands=AGE_BANDS)
    with pytest.raises(InputError) as err:
        quote(parse_person({"birth_date": "1800-01-01"}), v)
    [issue] = err.value.issues
    assert (issue.code, issue.path) == ("person.birth_date", ("birth_date",)) and "150" in issue.message


def test_a_person_needs_an_age_or_a_birth_date_not_both():
    with pytest.raises(InputError):
        parse_person({})
    with pytest.raises(InputError):
        parse_person({"age": 30, "birth_date": "1990-01-01"})


# ── special groups and who pays ───────────────────────────────────────────────────────────────

GROUP_FUNDING = """\
funding:
  source: {doc: doc, clause: 第十一条, quote: 第十一条}
  subsidy_order: as_written
  donated_enrolment: true
  subsidies:
    - {id: low-income, name: 低保资助, payer: assistance_fund, when: {low_income: [dibao]}, amount: 20}
    - {id: entitled, name: 优抚对象资助, payer: government, when: {entitled_care: true}, amount: 20}
    - {id: disabled, name: 残疾人资助, payer: assistance_fund, when: {disabled: true}, amount: 20}"""


def test_the_special_groups_default_to_false_and_reach_the_rules():
    point = parse_person({"age": 30}).point("2024-01-01")
    assert (point["entitled_care"], point["disabled"]) == (False, False)
    person = parse_person({"age": 30, "entitled_care": True, "disabled": True, "low_income": "dibao"})
    point = person.point("2024-01-01")
    assert (point["entitled_care"], point["disabled"], point["low_income"]) == (True, True, "dibao")
    claim = parse_claim(with_(member={"id": "m1", "age": 40, "disabled": True}))
    assert claim.member.disabled is True and claim.member.entitled_care is False


@pytest.mark.parametrize("field, value", [("disabled", "yes"), ("entitled_care", 1), ("disabled", None)])
def test_a_special_group_is_true_or_false_nothing_else(field, value):
    with pytest.raises(InputError) as err:
        parse_person({"age": 30, field: value})
    [issue] = err.value.issues
    assert (issue.code, issue.path) == ("schema.type", (field,)) and "true 或 false" in issue.message


def test_subsidies_stack_in_declaration_order_up_to_the_premium():
    v = version(funding=GROUP_FUNDING)  # premium 50

    def paid(**person):
        return [(p.get("subsidy", p["payer"]), p["fen"]) for p in quote(parse_person({"age": 40, **person}), v).payers]

    assert paid(disabled=True) == [("disabled", 20_00), ("self", 30_00)]
    assert paid(low_income="dibao", disabled=True) == [("low-income", 20_00), ("disabled", 20_00), ("self", 10_00)]
    # three subsidies of 20 on a premium of 50: the last one pays only the 10 that is left, the person nothing
    assert paid(low_income="dibao", entitled_care=True, disabled=True) == [
        ("low-income", 20_00), ("entitled", 20_00), ("disabled", 10_00)]


def test_a_donor_pays_what_the_subsidies_leave():
    v = version(funding=GROUP_FUNDING)
    result = quote(parse_person({"age": 40, "disabled": True, "pay_with": "donor"}), v)
    assert [(p["payer"], p["label"], p["fen"]) for p in result.payers] == [
        ("assistance_fund", "医疗救助资金", 20_00), ("donor", "社会捐赠", 30_00)]


@pytest.mark.parametrize("product", ["zaohuibao", "xianhuibao"])
def test_a_donor_is_refused_where_the_scheme_has_no_donated_enrolment(products_dir, product):
    for v in load_product(products_dir / f"{product}.yaml").versions:
        assert not v.donated_enrolment
        with pytest.raises(InputError) as err:
            quote(parse_person({"age": 40, "pay_with": "donor"}), v)
        [issue] = err.value.issues
        assert (issue.code, issue.path) == ("quote.donated", ("pay_with",)) and "捐赠" in issue.message


def test_donated_enrolment_is_off_unless_declared():
    assert version().donated_enrolment is False
    with pytest.raises(InputError):
        quote(parse_person({"age": 40, "pay_with": "donor"}), version())


# ── claim files ───────────────────────────────────────────────────────────────────────────────

def test_load_claims_reports_line_and_column_of_each_problem(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(
        "[\n"
        '  {"claim_id": "ok", "member": {"id": "m1", "age": 30}, "date": "2023-06-01",\n'
        '   "care": "inpatient", "in_policy_self_pay": 100},\n'
        '  {"claim_id": "bad", "member": {"id": "m1", "age": 30}, "date": "2023-06-01",\n'
        '   "care": "inpatient",\n'
        '   "in_policy_self_pay": 100.123,\n'
        '   "colour": "red"}\n'
        "]\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_claims(str(path))
    got = [(i.code, i.path, i.file, i.line, i.column) for i in err.value.issues]
    # the 100.123 is on line 6, column 26; "colour" on line 7, column 4 — both in the second claim ([1])
    assert got == [("claim.money", (1, "in_policy_self_pay"), str(path), 6, 26),
                   ("schema.unknown_key", (1, "colour"), str(path), 7, 4)]
    assert str(err.value.issues[0]).startswith(f"{path}:6:26: [1].in_policy_self_pay: ")


def test_load_claims_reads_a_good_file(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps([GOOD, dict(GOOD, claim_id="c2")]), encoding="utf-8")
    assert [c.claim_id for c in load_claims(str(path))] == ["c1", "c2"]


@pytest.mark.parametrize("text, code, line", [
    ('{"claim_id": "x",\n "claim_id": "y"}', "yaml.duplicate_key", 2),
    ('{"claim_id": "x",\n ,}', "yaml.syntax", 2),
    ("", "yaml.empty", 1),
])
def test_a_malformed_claim_file_is_an_input_error_with_its_line(tmp_path, text, code, line):
    path = tmp_path / "claim.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_claims(str(path))
    assert [(i.code, i.line) for i in err.value.issues] == [(code, line)]
