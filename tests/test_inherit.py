"""Version inheritance (`extends:`): a version writes only what changes; the resolved version is what is checked,
hashed, diffed and explained, and every problem is located where the value is written."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import load_product, parse_text, product_from_document, validate_document
from engine.diff import diff_versions
from engine.explain import version_text
from engine.citations import Citation
from engine.model import Provenance

from scheme_texts import FIXTURE_SOURCES

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "fixtures" / "minimal.yaml"

# The first version of tests/fixtures/minimal.yaml (its header and the 2024 version), then a second version.
_MINIMAL_TEXT = MINIMAL.read_text(encoding="utf-8")
HEADER_AND_2024 = _MINIMAL_TEXT[:_MINIMAL_TEXT.index('  - id: "2025"')]

FULL_2025 = '''
  - id: "2025"
    name: 示例惠民保（第二年）
    period: {start: 2025-01-01, end: 2025-12-31}
    enrolment: {start: 2024-11-01, end: 2025-02-28}
    regulation:
      regimes: [guidance]
      pricing: differentiated
      source: {doc: guidance, clause: 第三条, quote: 第二年起可以按年龄和健康状况分档定价}
    insurers:
      lead: {name: 示例人寿, share: 1}
      source: {doc: s1, clause: 第二条, quote: 由示例人寿保险股份有限公司主承保}
    filings: {authorisation: true, actuarial_opinion: true, legal_opinion: true, source: {doc: s1, clause: 第八条, quote: 已出具授权书、精算意见书和法律意见书}}
    settlement: {rounding: half_up, one_stop: true, source: {doc: s1, clause: 第九条, quote: 实行“一站式”结算}}
    eligibility: {basic_insurance_required: true, suspend_when_basic_in_arrears: false}
    premium:
      age_reference: {value: period_start, source: {doc: s1, clause: 第三条, quote: 计算年龄以保险期间起始日为准}}
      bands:
        - {id: young, name: 50 周岁及以下, when: {age: {max: 50}}, amount: 59, source: {doc: s1, clause: 第三条, quote: 第二年起保费分档}}
        - {id: senior, name: 51 周岁及以上, when: {age: {min: 51}}, amount: 89, source: {doc: s1, clause: 第三条（三）, quote: 51周岁及以上无既往症人员89元}}
    chain:
      after: [basic, critical_illness]
    liabilities:
      - id: inpatient
        name: 住院目录内自付
        covers: in_policy_self_pay
        care: [inpatient]
        deductible: 15000
        ratio: 0.8
        cap: 1000000
        source: {doc: s1, clause: 第五条, quote: 第二年起降至3000元}
      - id: outpatient
        name: 门诊慢特病自付
        covers: in_policy_self_pay
        care: [chronic_outpatient]
        deductible: 1000
        ratio: 0.5
        cap: 20000
        source: {doc: s1, clause: 第七条（四）, quote: 门诊慢特病个人自付起付线1000元，按50%赔付，年度保额2万元}
'''

# The same 2025, written as what changes from 2024 (tests/fixtures/extends.yaml: the header, 2024, and this).
EXTENDING = ROOT / "tests" / "fixtures" / "extends.yaml"
_EXTENDING_TEXT = EXTENDING.read_text(encoding="utf-8")
EXTENDING_2025 = "\n" + _EXTENDING_TEXT[_EXTENDING_TEXT.index('  - id: "2025"'):]
SECOND_YEAR = '''
  - id: "2025"
    extends: "2024"
    name: 第二年
    period: {start: 2025-01-01, end: 2025-12-31}
'''  # the start of a second version that extends the first


def _issues(text: str) -> list:
    return validate_document(parse_text(text, "x.yaml"), FIXTURE_SOURCES)


def _product(text: str):
    """These schemes cite the test texts (tests/fixtures/sources)."""
    return product_from_document(parse_text(text), FIXTURE_SOURCES)


def _line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `fragment`."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return lines[occurrence - 1]


def test_an_extending_version_resolves_to_the_version_written_in_full():
    full = _product(HEADER_AND_2024 + FULL_2025)
    extending = _product(HEADER_AND_2024 + EXTENDING_2025)
    assert [v.content_hash for v in extending.versions] == [v.content_hash for v in full.versions]
    assert version_text(extending.version("2025")) == version_text(full.version("2025"))
    assert diff_versions(extending.version("2024"), extending.version("2025")) == \
        diff_versions(full.version("2024"), full.version("2025"))


def test_merge_by_id_replaces_in_place_removes_and_places_new_entries_after_the_one_written_before():
    parent = HEADER_AND_2024.replace(
        "        - {id: everyone, name: 统一保费, when: {}, amount: 59, source: {doc: s1, clause: 第三条, quote: 首年统一保费59元}}\n",
        "        - {id: young, name: 50 周岁及以下, when: {age: {max: 50}}, amount: 59, source: {doc: s1, clause: 第三条, quote: 第二年起保费分档}}\n"
        "        - {id: middle, name: 51–70 周岁, when: {age: {min: 51, max: 70}}, amount: 79, source: {doc: s1, clause: 第三条, quote: 第二年起保费分档}}\n"
        "        - {id: old, name: 71 周岁及以上, when: {age: {min: 71}}, amount: 99, source: {doc: s1, clause: 第三条, quote: 第二年起保费分档}}\n")
    child = SECOND_YEAR + '''    premium:
      bands:
        - {id: young, name: 40 周岁及以下, when: {age: {max: 40}}, amount: 49, source: {doc: s1, clause: 第三条, quote: 第二年起保费分档}}
        - {id: adult, name: 41–50 周岁, when: {age: {min: 41, max: 50}}, amount: 69, source: {doc: s1, clause: 第三条, quote: 第二年起保费分档}}
        - {id: middle, remove: true}
        - {id: older, name: 51–70 周岁, when: {age: {min: 51, max: 70}}, amount: 89, source: {doc: s1, clause: 第三条, quote: 第二年起保费分档}}
'''
    version = _product(parent + child).version("2025")
    assert [(b.id, b.amount.fen) for b in version.bands] == [("young", 4900), ("adult", 6900), ("older", 8900),
                                                            ("old", 9900)]
    assert version.insurers[0].name == "示例人寿"  # not written: inherited whole
    assert version.period == ("2025-01-01", "2025-12-31")


NINTH = Citation("s1", "第九条", "实行“一站式”结算")


def test_mappings_merge_key_by_key_null_removes_a_key_and_lists_without_ids_are_replaced():
    child = '''
  - id: "2025"
    extends: "2024"
    name: 第二年
    period: {start: 2025-01-01}
    insurers:
      lead: {name: 示例人寿, share: 0.6}
      co: [{name: 示例财险, share: 0.4}]
    settlement: {one_stop: true, assumed: null, source: {doc: s1, clause: 第九条, quote: 实行“一站式”结算}}
    chain: {after: [basic]}
'''
    text = HEADER_AND_2024.replace("period: {start: 2024-01-01, end: 2024-12-31}", "period: {start: 2024-01-01, end: 2025-12-31}")
    version = _product(text + child).version("2025")
    assert version.period == ("2025-01-01", "2025-12-31")  # `end` kept from the parent
    assert [(i.name, i.lead) for i in version.insurers] == [("示例人寿", True), ("示例财险", False)]
    assert version.chain_after == ("basic",)  # a list of codes: replaced, not merged
    rounding = next(c for c in version.choices if c.key == "rounding")
    assert (version.one_stop, rounding.value, rounding.prov.source) == (True, "half_up", (NINTH,))


def test_a_provenance_is_replaced_as_one_and_a_value_with_its_own_provenance_is_one_value():
    child = SECOND_YEAR + '''    regulation: {assumed: 第二年的定价方式为假设}
    premium:
      age_reference: {value: enrolment_start, assumed: 假设按参保期起始日}
'''
    version = _product(HEADER_AND_2024 + child).version("2025")
    assert version.section_prov("regulation") == Provenance(assumed="第二年的定价方式为假设")  # 2024's source gone
    age = next(c for c in version.choices if c.key == "age_reference")
    assert (age.value, age.prov) == ("enrolment_start", Provenance(assumed="假设按参保期起始日"))


def test_a_citation_is_one_statement_replaced_whole_never_merged_key_by_key():
    parent = HEADER_AND_2024.replace("quote: 由示例人寿保险股份有限公司主承保}", "quote: 由示例人寿保险股份有限公司主承保, note: 首年独家}")
    child = SECOND_YEAR + '''    insurers:
      source: {doc: s1, clause: 第二条, quote: 份额分别为60%和40%}
'''
    version = _product(parent + child).version("2025")
    assert version.section_prov("insurers").source == (Citation("s1", "第二条", "份额分别为60%和40%"),)  # no note of 2024


def test_an_inherited_citation_is_verified_and_a_wrong_quote_reported_once_where_it_is_written():
    text = HEADER_AND_2024.replace("quote: 由示例人寿保险股份有限公司主承保}", "quote: 由示例人寿主承保}") + EXTENDING_2025
    issues = _issues(text)
    assert [(i.code, i.line) for i in issues] == [("citation.quote_not_found", _line_of(text, "quote: 由示例人寿主承保"))]


def test_a_chain_of_versions_each_extending_the_one_before():
    third = '''
  - id: "2026"
    extends: "2025"
    name: 第三年
    period: {start: 2026-01-01, end: 2026-12-31}
    enrolment: {start: 2025-11-01, end: 2026-02-28}
    premium:
      bands:
        - {id: senior, name: 51 周岁及以上, when: {age: {min: 51}}, amount: 99, source: {doc: s1, clause: 第三条（三）, quote: 51周岁及以上无既往症人员89元}}
'''
    product = _product(HEADER_AND_2024 + EXTENDING_2025 + third)
    bands = [(b.id, b.amount.fen) for b in product.version("2026").bands]
    assert bands == [("young", 5900), ("senior", 9900)]
    assert [l.id for l in product.version("2026").scheme_layer.liabilities] == ["inpatient", "outpatient"]


def test_zaohuibao_writes_its_co_insurers_once_and_each_year_extends_the_year_before():
    path = ROOT / "products" / "zaohuibao.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("共保成员八（来源未具名）") == 1
    raw = parse_text(text).data["versions"]
    assert [v.get("extends") for v in raw] == [None, "2023", "2024"]
    product = load_product(path)
    assert all(len(v.insurers) == 8 for v in product.versions)
    assert [b.id for b in product.version("2025").bands] == ["low_income", "young", "senior", "pre_existing"]


# ── broken uses: each a clear error at file:line:column ─────────────────────────────────────────

@pytest.mark.parametrize("extends, code, words", [
    ('"2030"', "inherit.unknown", "继承的版本“2030”不存在；本文件的其他版本：2024"),
    ('"2025"', "inherit.cycle", "版本继承成环：2025 → 2025"),
    ("2024", "inherit.extends_type", "加引号"),
])
def test_an_unknown_circular_or_unquoted_parent_is_an_error_at_the_extends_line(extends, code, words):
    text = HEADER_AND_2024 + EXTENDING_2025.replace('extends: "2024"', f"extends: {extends}")
    issues = _issues(text)
    assert [i.code for i in issues] == [code], issues
    issue = issues[0]
    assert words in issue.message
    assert (issue.line, issue.column) == (_line_of(text, "extends:"), 14)
    assert str(issue).startswith(f"x.yaml:{issue.line}:14: versions[1].extends: ")


def test_two_versions_extending_each_other_are_one_cycle_reported_once_each():
    third = EXTENDING_2025.replace('id: "2025"', 'id: "2026"').replace('extends: "2024"', 'extends: "2027"')
    fourth = EXTENDING_2025.replace('id: "2025"', 'id: "2027"').replace('extends: "2024"', 'extends: "2026"')
    issues = _issues(HEADER_AND_2024 + EXTENDING_2025 + third + fourth)
    assert [(i.code, i.path) for i in issues] == [("inherit.cycle", ("versions", 2, "extends")),
                                                   ("inherit.cycle", ("versions", 3, "extends"))]
    assert "2026 → 2027 → 2026" in issues[0].message


def test_removing_what_the_parent_does_not_have_is_an_error_where_it_is_written():
    text = HEADER_AND_2024 + EXTENDING_2025.replace("{id: everyone, remove: true}", "{id: nobody, remove: true}")
    issues = _issues(text)
    assert [i.code for i in issues] == ["inherit.merge"]
    assert "要删除的“nobody”在所继承的版本的这个列表中不存在" in issues[0].message
    assert issues[0].line == _line_of(text, "{id: nobody, remove: true}")


def test_null_for_a_key_the_parent_does_not_have_and_a_malformed_removal_are_errors():
    text = HEADER_AND_2024 + EXTENDING_2025.replace("one_stop: true, ", "one_stop: true, hit_policy: null, ").replace(
        "{id: everyone, remove: true}", "{id: everyone, remove: true, name: 统一}")
    issues = _issues(text)
    assert [i.code for i in issues] == ["inherit.merge", "inherit.merge"]
    assert "“hit_policy: null”表示删除继承来的这一项，但所继承的版本没有“hit_policy”" in issues[0].message
    assert "写成 {id: 编号, remove: true}" in issues[1].message
    assert issues[1].line == _line_of(text, "{id: everyone, remove: true, name: 统一}")


def test_an_error_in_a_value_the_child_writes_points_at_the_child():
    text = HEADER_AND_2024 + EXTENDING_2025.replace("amount: 89, source: {doc: s1, clause: 第三条（三）, quote: 51周岁及以上无既往症人员89元}", "amount: 89.123, source: {doc: s1, clause: 第三条（三）, quote: 51周岁及以上无既往症人员89元}")
    issues = _issues(text)
    assert [i.code for i in issues] == ["money.precision"], issues
    assert issues[0].line == _line_of(text, "amount: 89.123")
    assert issues[0].path[:2] == ("versions", 1)


def test_an_error_in_an_inherited_value_points_at_the_parent_line_that_wrote_it():
    # 2025 inherits 2024's band `everyone` (who: everyone) and adds an overlapping one: the overlap is reported on
    # the resolved 2025, and the inherited band is located in 2024's text
    child = EXTENDING_2025.replace("        - {id: everyone, remove: true}\n", "").replace(
        "        - {id: young, name: 50 周岁及以下, when: {age: {max: 50}}, amount: 59, source: {doc: s1, clause: 第三条, quote: 第二年起保费分档}}\n", "")
    text = HEADER_AND_2024 + child
    issues = [i for i in _issues(text) if i.path[:2] == ("versions", 1)]
    assert issues, "the overlap of the inherited band and the new one is reported"
    inherited_line = _line_of(text, "{id: everyone, name: 统一保费")
    assert inherited_line < _line_of(text, 'id: "2025"')
    assert any(i.line == inherited_line for i in issues), [str(i) for i in issues]


def test_an_unresolved_version_reports_only_its_inheritance_problem_and_the_others_are_still_checked():
    text = (HEADER_AND_2024.replace("amount: 59, source: {doc: s1, clause: 第三条, quote: 首年统一保费59元}", "amount: 59.001, source: {doc: s1, clause: 第三条, quote: 首年统一保费59元}")
            + EXTENDING_2025.replace('extends: "2024"', 'extends: "2030"'))
    codes = sorted(i.code for i in _issues(text))
    assert codes == ["inherit.unknown", "money.precision"]


def test_a_new_value_does_not_take_the_source_the_parent_wrote_for_its_old_value():
    text = HEADER_AND_2024 + SECOND_YEAR + '''    premium:
      age_reference: {value: enrolment_start}
'''
    issues = _issues(text)
    assert [i.code for i in issues] == ["choice.provenance"], [str(i) for i in issues]
    assert issues[0].line == _line_of(text, "age_reference: {value: enrolment_start}")


def test_hmb_validate_reports_an_unknown_parent_with_file_line_and_column(tmp_path):
    from click.testing import CliRunner

    from engine.cli import main

    text = (ROOT / "tests" / "fixtures" / "extends.yaml").read_text(encoding="utf-8").replace(
        'extends: "2024"', 'extends: "2023"')
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{_line_of(text, 'extends:')}:14: versions[1].extends: 继承的版本“2023”不存在" in result.output


def test_a_document_resolved_once_reports_its_inheritance_problems_when_checked_again():
    # the admin resolves a text once and checks the result: a merge problem must survive the second pass
    from engine import resolve_versions

    text = HEADER_AND_2024 + EXTENDING_2025.replace("{id: everyone, remove: true}", "{id: nobody, remove: true}")
    resolved, first = resolve_versions(parse_text(text, "x.yaml"))
    assert [i.code for i in first] == ["inherit.merge"]
    assert [i.code for i in validate_document(resolved, FIXTURE_SOURCES)] == ["inherit.merge"]
