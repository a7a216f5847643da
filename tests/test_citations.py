"""Verifiable citations (engine/citations.py) and regime files (regimes/*.yaml): quotes are checked against the
documents kept in sources/, and every problem of a regime file is reported at file:line:column."""
from __future__ import annotations

import pytest

from engine import parse_text
from engine.citations import load_library, verify_document
from engine.issues import SchemeError
from engine.review.checks import compile_condition
from engine.review.regimes import load_regime_text, load_regimes


@pytest.fixture(scope="module")
def library():
    return load_library()


def test_every_cited_document_is_kept_with_its_text(library):
    assert set(library.documents) == {"xn-news", "gz-plan", "zz-news", "hubei-guidance", "xixia-report", "nfra-2025"}
    assert library.get("gz-plan").number == "赣市府办字〔2023〕68号"
    assert library.get("nfra-2025").secondary and not library.get("gz-plan").secondary


def test_a_quote_is_found_whatever_the_line_breaks_but_only_verbatim(library):
    hubei = library.get("hubei-guidance")
    # the title breaks a line in the middle ("发展\n\n的指导意见"): whitespace is ignored
    assert hubei.find("关于加强惠民型商业医疗保险发展 的指导意见") == (2, 1 + hubei.text.splitlines()[1].index("关于"))
    assert hubei.find("保费与个人疾病风险脱钩") is not None
    assert hubei.find("保费与个人疾病风险挂钩") is None  # one character changed
    zaozhuang = library.get("zz-news")
    assert zaozhuang.find("棗惠保") is not None and zaozhuang.find("枣惠保") is None  # traditional where the text is
    ganzhou = library.get("gz-plan")
    assert ganzhou.find("承办期每期3年,到期后重新遴选") is not None
    assert ganzhou.find("承办期每期3年，到期后重新遴选") is None  # the plan uses half-width commas


def test_a_wrong_quote_is_reported_at_the_line_and_column_of_the_citing_yaml(library):
    text = ("checks:\n"
            "  - source: {doc: hubei-guidance, clause: 二(一), quote: 保费与个人疾病风险脱钩}\n"
            "  - source:\n"
            "      doc: hubei-guidance\n"
            "      clause: 二(一)\n"
            "      quote: 保费与个人疾病风险挂钩\n"
            "  - source: {doc: no-such-doc, clause: 一, quote: 任意文字}\n")
    issues = verify_document(parse_text(text, "x.yaml"), library)
    assert [(i.code, i.line, i.column) for i in issues] == [("citation.quote_not_found", 6, 14),
                                                           ("citation.unknown_document", 7, 19)]
    assert str(issues[0]).startswith("x.yaml:6:14: checks[1].source.quote: 引文“保费与个人疾病风险挂钩”不在")


def test_the_regime_files_load_with_every_quote_verified(library):
    regimes = {r.id: r for r in load_regimes(library=library)}
    assert set(regimes) == {"hubei-2021", "ganzhou-2023", "nfra-2025", "declared"}
    for regime in regimes.values():
        for check in regime.checks:
            if check.citation:
                document = library.get(check.citation.doc)
                assert document.find(check.citation.quote) == check.citation.at


REGIME = """\
format: hmb-regime/1
id: test
name: 测试规则
document: hubei-guidance
applies: {region: [测试省]}
checks:
  - id: a
    name: 甲
    source: {doc: hubei-guidance, clause: 二(一), quote: 保费与个人疾病风险脱钩}
    severity: 违规
    violation: @CONDITION@
"""


@pytest.mark.parametrize("condition, code, line, column", [
    ("{premium_maxx: {gt: 100}}", "schema.unknown_key", 11, 17),
    ("{name: {gt: 100}}", "regime.operator", 11, 24),
    ("{premium_max: {gt: {fact: name}}}", "regime.compare_kinds", 11, 31),
    ("{surplus_rollover: maybe}", "regime.value", 11, 35),
    ("{premium_max: {contains: 定制}}", "regime.operator", 11, 31),
])
def test_a_broken_condition_is_reported_where_it_is_written(library, condition, code, line, column):
    with pytest.raises(SchemeError) as caught:
        load_regime_text(REGIME.replace("@CONDITION@", condition), "r.yaml", library)
    assert [(i.code, i.line, i.column) for i in caught.value.issues] == [(code, line, column)]


def test_a_regime_check_without_conditions_must_be_for_a_person(library):
    text = REGIME.replace("    violation: @CONDITION@\n", "")
    with pytest.raises(SchemeError) as caught:
        load_regime_text(text, "r.yaml", library)
    assert [i.code for i in caught.value.issues] == ["regime.no_condition"]
    assert load_regime_text(text.replace("severity: 违规", "severity: 需人工确认"), "r.yaml", library).checks[0].manual


def test_conditions_compile_to_one_operator_per_dict_and_never_match_an_unstated_fact():
    compiled = compile_condition({"premium_max": {"gt": 100}, "any": [{"first_year": True}, {"disclosure": {"has_all": ["claims", "enrolment"]}}]})
    assert compiled == {"$and": [
        {"$and": [{"$ex": {"premium_max": 1}}, {"$gt": {"premium_max": 10000}}]},  # yuan → fen
        {"$or": [{"$and": [{"$ex": {"first_year": 1}}, {"first_year": True}]},
                 {"$and": [{"$ex": {"disclosure": 1}},
                           {"$and": [{"$iany": {"disclosure": {"$i": "claims"}}},
                                     {"$iany": {"disclosure": {"$i": "enrolment"}}}]}]}]}]}

    def operators(node):
        if isinstance(node, dict):
            ops = [k for k in node if k.startswith("$")]
            assert len(node) == 1 or not ops, node  # one operator per dict
            for value in node.values():
                operators(value)
        elif isinstance(node, list):
            for item in node:
                operators(item)

    operators(compiled)
    assert compile_condition({"claims_ratio_backtest": {"lt": {"fact": "declared_claims_ratio_min"}}}) == {"$and": [
        {"$ex": {"claims_ratio_backtest": 1}}, {"$ex": {"declared_claims_ratio_min": 1}},
        {"$lt": {"claims_ratio_backtest": {"$m": "declared_claims_ratio_min"}}}]}


def test_the_regime_language_documents_every_fact():
    from conftest import ROOT
    from engine.review.facts import FACTS

    text = (ROOT / "docs" / "regimes.md").read_text(encoding="utf-8")
    assert [name for name in FACTS if f"| `{name}` |" not in text] == []


# ── the products cite the kept texts, every quote verbatim ─────────────────────────────────────

def _sources_in(data, path=()):
    """Every value written under a `source` key of a YAML document, with its path."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "source":
                yield path + (key,), value
            else:
                yield from _sources_in(value, path + (key,))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _sources_in(item, path + (i,))


@pytest.mark.parametrize("name", ["xianhuibao", "ganzhou", "zaohuibao"])
def test_every_citation_of_a_product_and_its_cases_is_found_in_the_kept_text(library, name):
    from conftest import PRODUCTS
    from engine import load_file

    checked = 0
    for path in (PRODUCTS / f"{name}.yaml", PRODUCTS / f"{name}.cases.yaml"):
        doc = load_file(path)
        declared = load_file(PRODUCTS / f"{name}.yaml").data["sources"]
        for where, source in _sources_in(doc.data):
            citations = source if isinstance(source, list) else [source]
            for citation in citations:
                assert isinstance(citation, dict), f"{path}: {where}: {source!r} is not a citation"
                assert citation["doc"] in declared, (path, where)
                document = library.get(citation["doc"])
                assert document.find(citation["quote"]) is not None, (path, where, citation["quote"])
                checked += 1
    assert checked >= 10  # the walk found the product's citations (a broken walk would check nothing)


def test_explain_names_every_cited_document_by_title_and_shows_its_quote():
    """What a person reads: the document's title and the quoted words, never a document id."""
    from conftest import PRODUCTS
    from engine import load_product
    from engine.explain import version_text

    for name in ("xianhuibao", "ganzhou", "zaohuibao"):
        product = load_product(PRODUCTS / f"{name}.yaml")
        for version in product.versions:
            text = version_text(version)
            assert [doc_id for doc_id in product.sources if doc_id in text] == [], version.key
            # each liability and each band amount is printed beside the passages it cites
            provs = [b.amount.prov for b in version.bands] + [l.prov for l in version.scheme_layer.liabilities]
            cited = [c for p in provs if p.source for c in p.source]
            assert cited, version.key
            for citation in cited:
                assert f"：“{citation.quote}”" in text, (version.key, citation.quote)
                assert f"《{product.sources[citation.doc]['title']}》" in text


def test_a_claims_trace_carries_its_citations_and_reads_with_titles():
    from conftest import PRODUCTS
    from engine import adjudicate, load_product, parse_claim
    from engine.explain import trace_text

    version = load_product(PRODUCTS / "ganzhou.yaml").version("2024")
    claim = parse_claim({"claim_id": "c1", "member": {"id": "m1", "age": 40}, "date": "2024-05-01",
                         "care": "inpatient", "hospital_level": 3, "in_policy_self_pay": 30000,
                         "out_of_policy_self_pay": 10000})
    trace = adjudicate(claim, version, trace=True).trace
    cited = [s for s in trace if s.get("sources")]
    assert cited and all(s["clause"].startswith("gz-plan ") for s in cited)  # machines keep the id
    assert {c["doc"] for s in cited for c in s["sources"]} == {"gz-plan"}
    text = trace_text(trace, version.sources)
    assert "gz-plan" not in text and "《赣州市普惠型商业补充医疗保险实施方案》三(二)：“" in text
