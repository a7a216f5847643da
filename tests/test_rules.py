"""The compiled durable-rules decisions agree with the Python condition matcher, everywhere.

For each version, every point of the band space (ages 0–150 × pre-existing × low-income × the special
groups, 优抚对象 and 残疾人) — and, for eligibility and routing, the other dimensions too — is posted
to the compiled ruleset and compared with what the parsed conditions say in Python (`Condition.holds`,
the evaluation the coverage proofs use), so each compiled rule
is tried on every input that must match it and every input that must not.  Then property tests
(Hypothesis) on random claims.
"""
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import SchemeError, adjudicate, build_product, load_product, load_product_text, parse_claim, parse_text, vocab
from engine.conditions import Condition
from engine.rules import (BuiltinRefusal, EligibilityRuleMet, EngineError, InBand, NoRuleMatched, Route, Subsidised,
                          compiled)
from scheme_texts import SPECIAL_DRUGS, scheme, scheme_text

ROOT = Path(__file__).resolve().parent.parent
GROUPS = [dict(zip(vocab.SPECIAL_GROUPS, values))
          for values in itertools.product(*(vocab.DIMENSIONS[g] for g in vocab.SPECIAL_GROUPS))]
BAND_SPACE = [{"age": a, "pre_existing": p, "low_income": li, **groups}
              for a in range(vocab.MAX_AGE + 1) for p in (False, True) for li in vocab.LOW_INCOME_VALUES
              for groups in GROUPS]
LOW = "[dibao, tekun, fanpin, dibao_edge, monitored]"

MULTI_BANDS = f"""\
- {{id: low-income, name: 低收入人员, when: {{low_income: {LOW}}}, amount: 10}}
- {{id: minor, name: 未成年人, when: {{age: {{max: 18}}, low_income: [none]}}, amount: 49}}
- {{id: adult, name: 19–50 岁无既往症, when: {{age: {{min: 19, max: 50}}, pre_existing: false, low_income: [none]}}, amount: 69}}
- {{id: senior, name: 51 岁以上无既往症, when: {{age: {{min: 51}}, pre_existing: false, low_income: [none]}}, amount: 99}}
- {{id: pre, name: 既往症人员, when: {{age: {{min: 19}}, pre_existing: true, low_income: [none]}}, amount: 139}}"""

MULTI_FUNDING = """\
funding:
  source: {doc: doc, clause: 第十一条, quote: 第十一条}
  subsidy_order: as_written
  subsidies:
    - {id: assistance, name: 医疗救助资金全额资助, payer: assistance_fund, when: {low_income: [dibao, tekun]}, share: 1}
    - {id: elderly, name: 70 岁以上社会捐赠, payer: donor, when: {age: {min: 70}}, amount: 5}"""

MULTI_CONDITIONS = """\
conditions:
  - {id: nonlocal, name: 外地户籍, when: {hukou: [nonlocal]}, outcome: not_eligible, source: {doc: doc, clause: 第三条（二）, quote: 第三条}}
  - {id: risky, name: 高风险职业, when: {occupation: [high_risk]}, outcome: suspended, source: {doc: doc, clause: 第三条（三）, quote: 第三条}}"""

MULTI_LIABILITIES = """\
- id: in_policy
  name: 目录内
  covers: in_policy_self_pay
  care: [inpatient, emergency]
  deductible: shared
  ratio:
    rows:
      - {when: {pre_existing: false, hospital_level: [1, 2]}, rate: 0.8}
      - {when: {pre_existing: false, hospital_level: [3]}, rate: 0.7}
      - {when: {pre_existing: true}, rate: 0.4}
  cap: total
  source: {doc: doc, clause: 第七条, quote: 第七条}
- id: out_of_policy
  name: 目录外
  covers: out_of_policy_self_pay
  care: [inpatient]
  when: {low_income: [none]}
  deductible: shared
  ratio:
    segments:
      - {from: 0, to: 50000, rate: 0.5}
      - {from: 50000, rate: 0.6}
  cap: total
  source: {doc: doc, clause: 第八条, quote: 第八条}
- id: out_of_policy_low_income
  name: 低收入人员目录外
  covers: out_of_policy_self_pay
  care: [inpatient]
  when: {low_income: """ + LOW + """}
  deductible: 0
  ratio: 0.7
  cap: total
  source: {doc: doc, clause: 第八条（二）, quote: 第八条}
""" + SPECIAL_DRUGS


def multi_band_version():
    return scheme(bands=MULTI_BANDS, funding=MULTI_FUNDING, conditions=MULTI_CONDITIONS,
                  liabilities=MULTI_LIABILITIES).versions[0]


# The special groups (优抚对象 entitled_care, 残疾人 disabled) in every place a condition can stand.
GROUP_BANDS = f"""\
- {{id: low-income, name: 低收入人员, when: {{low_income: {LOW}}}, amount: 10}}
- {{id: entitled, name: 优抚对象, when: {{low_income: [none], entitled_care: true}}, amount: 20}}
- {{id: disabled, name: 残疾人（非优抚对象）, when: {{low_income: [none], entitled_care: false, disabled: true}}, amount: 30}}
- {{id: others, name: 其他人员, when: {{low_income: [none], entitled_care: false, disabled: false}}, amount: 69}}"""

GROUP_FUNDING = """\
funding:
  source: {doc: doc, clause: 第十一条, quote: 第十一条}
  subsidy_order: as_written
  donated_enrolment: true
  subsidies:
    - {id: disabled-help, name: 残疾人资助, payer: assistance_fund, when: {disabled: true}, amount: 5}
    - {id: entitled-senior, name: 60 岁以上优抚对象资助, payer: government,
       when: {entitled_care: true, age: {min: 60}}, share: 0.5}
    - {id: both, name: 优抚对象且残疾人, payer: donor, when: {entitled_care: true, disabled: true}, amount: 3}"""

GROUP_CONDITIONS = """\
conditions:
  - {id: nonlocal, name: 非优抚对象的外地户籍人员, when: {hukou: [nonlocal], entitled_care: false},
     outcome: not_eligible, source: {doc: doc, clause: 第三条（二）, quote: 第三条}}
  - {id: risky, name: 高风险职业（残疾人除外）, when: {occupation: [high_risk], disabled: false},
     outcome: suspended, source: {doc: doc, clause: 第三条（三）, quote: 第三条}}"""

def _swap(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# the multi-band liabilities, with the special groups where it has the low-income categories
GROUP_LIABILITIES = _swap(MULTI_LIABILITIES,
                          ("when: {low_income: [none]}", "when: {entitled_care: false}"),
                          ("name: 低收入人员目录外", "name: 优抚对象目录外"),
                          ("when: {low_income: " + LOW + "}", "when: {entitled_care: true}"),
                          ("- {when: {pre_existing: true}, rate: 0.4}",
                           "- {when: {pre_existing: true, disabled: false}, rate: 0.4}\n"
                           "      - {when: {pre_existing: true, disabled: true}, rate: 0.5}"))


def group_version():
    return scheme(bands=GROUP_BANDS, funding=GROUP_FUNDING, conditions=GROUP_CONDITIONS,
                  liabilities=GROUP_LIABILITIES).versions[0]


# Chronic outpatient care by class: the generic code (a parent) in a ratio row's `when`, a class in a care list.
CARE_CLASS_LIABILITIES = """\
- id: in_policy
  name: 目录内
  covers: in_policy_self_pay
  care: [inpatient, chronic_outpatient]
  deductible: 1000
  ratio:
    rows:
      - {when: {care: [inpatient]}, rate: 0.8}
      - {when: {care: [chronic_outpatient]}, rate: 0.5}
  cap: 100000
  source: {doc: doc, clause: 第七条, quote: 第七条}
- id: out_of_policy
  name: 目录外
  covers: out_of_policy_self_pay
  care: [inpatient, chronic_outpatient_1]
  deductible: 1000
  ratio: 0.5
  cap: 100000
  source: {doc: doc, clause: 第八条, quote: 第八条}
""" + SPECIAL_DRUGS


def care_class_version():
    return scheme(liabilities=CARE_CLASS_LIABILITIES).versions[0]


def all_versions():
    out = [(f"xianhuibao@{v.id}", v) for v in load_product(ROOT / "products" / "xianhuibao.yaml").versions]
    out.append(("multi-band", multi_band_version()))
    out.append(("special-groups", group_version()))
    out.append(("care-classes", care_class_version()))
    out += [(f"ganzhou@{v.id}", v) for v in load_product(ROOT / "products" / "ganzhou.yaml").versions]
    out.append(("xixia-chain", load_product(ROOT / "tests" / "fixtures" / "xixia.yaml").versions[0]))
    return out


VERSIONS = all_versions()
IDS = [name for name, _ in VERSIONS]


# ── python references: the first matching rule by the compiler's priorities ────────────────────

def expected_band(version, point):
    hits = [band.id for band in version.bands if band.when.holds(point)]
    assert len(hits) == 1, (point, hits)  # validation proved it; a failure here is a test-data problem
    return InBand(hits[0])


def expected_eligibility(version, point):
    if version.basic_insurance_required and point["basic_insurance"] == "none":
        return BuiltinRefusal("not_eligible", "basic_insurance_required")
    for rule in version.eligibility_rules:
        if rule.outcome == "not_eligible" and rule.when.holds(point):
            return EligibilityRuleMet("not_eligible", rule.id)
    if version.suspend_when_basic_in_arrears and point["basic_insurance_status"] in ("arrears", "terminated"):
        return BuiltinRefusal("suspended", "basic_insurance_suspended")
    for rule in version.eligibility_rules:
        if rule.outcome == "suspended" and rule.when.holds(point):
            return EligibilityRuleMet("suspended", rule.id)
    return NoRuleMatched("eligibility")


def care_listed(care_list, care):
    """Written out, not vocab.care_covered: a listed parent code (chronic_outpatient) also covers its classes,
    a listed class only itself — so a plain chronic_outpatient claim misses a class-1-only liability."""
    return care in care_list or any(care in vocab.CARE_CHILDREN.get(parent, {}) for parent in care_list)


def offered(liability, event) -> bool:
    """A cost kind's part to the liability of that kind; an item to the liability it is offered to, if that
    liability pays the list the item was found on."""
    if liability.covers is not None:
        return event.get("covers") == liability.covers
    return event.get("candidate") == liability.id and event.get("list") in liability.lists


def expected_route(version, event):
    for layer in version.layers:
        if layer.id != event["layer"]:
            continue
        for liability in layer.liabilities:
            if not offered(liability, event) or not care_listed(liability.care, event["care"]):
                continue
            if not liability.when.holds(event):
                continue
            for k, row in enumerate(liability.rows):
                if row.when.holds(event):
                    return Route(layer.id, liability.id, k)
    return NoRuleMatched("part")


def test_a_parent_care_code_covers_its_classes_and_a_class_only_itself():
    codes = ["chronic_outpatient", "chronic_outpatient_1", "chronic_outpatient_2"]
    assert set(codes) <= set(vocab.DIMENSIONS["care"])  # every point below is also enumerated by the agreement tests
    covered = {listed: [c for c in codes if Condition.parse({"care": [listed]}).holds({"care": c})] for listed in codes}
    assert covered == {"chronic_outpatient": codes,  # class unknown, class 1, class 2
                       "chronic_outpatient_1": ["chronic_outpatient_1"],  # not a claim whose class is unknown
                       "chronic_outpatient_2": ["chronic_outpatient_2"]}


# ── agreement on every point ──────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("name, version", VERSIONS, ids=IDS)
def test_bands_agree_on_every_point_of_the_band_space(name, version):
    decisions = compiled(version).decide([{"t": "band", **point} for point in BAND_SPACE])
    assert [d.value for d in decisions] == [expected_band(version, p) for p in BAND_SPACE]
    fired = {d.rule for d in decisions}
    assert fired == {f"band.{band.id}" for band in version.bands}  # every band rule fires; the catch-all never


def test_the_multi_band_scheme_at_its_band_edges():
    version = multi_band_version()
    points = [p for p in BAND_SPACE if p["entitled_care"] is p["disabled"] is False]
    band = {(p["age"], p["pre_existing"], p["low_income"]): d.value.band for p, d in
            zip(points, compiled(version).decide([{"t": "band", **p} for p in points]))}
    assert band[(18, True, "none")] == "minor" and band[(19, True, "none")] == "pre"
    assert band[(19, False, "none")] == "adult" and band[(50, False, "none")] == "adult"
    assert band[(51, False, "none")] == "senior" and band[(150, False, "none")] == "senior"
    assert {band[(age, pre, "monitored")] for age in (0, 70, 150) for pre in (False, True)} == {"low-income"}


def eligibility_points():
    dims = ["pre_existing", "low_income", *vocab.SPECIAL_GROUPS, "basic_insurance", "basic_insurance_status", "hukou",
            "occupation"]
    for age in (0, 18, 19, 50, 51, 150):
        for values in itertools.product(*(vocab.DIMENSIONS[d] for d in dims)):
            yield {"age": age, **dict(zip(dims, values))}


@pytest.mark.parametrize("name, version", VERSIONS, ids=IDS)
def test_eligibility_agrees_on_every_combination(name, version):
    points = list(eligibility_points())
    decisions = compiled(version).decide([{"t": "eligibility", **p} for p in points])
    assert [d.value for d in decisions] == [expected_eligibility(version, p) for p in points]


@pytest.mark.parametrize("name, version", VERSIONS, ids=IDS)
def test_subsidies_agree_on_every_point_of_the_band_space(name, version):
    for subsidy in version.subsidies:
        decisions = compiled(version).decide([{"t": "subsidy", "subsidy": subsidy.id, **p} for p in BAND_SPACE])
        got = [isinstance(d.value, Subsidised) for d in decisions]
        assert got == [subsidy.when.holds(p) for p in BAND_SPACE], subsidy.id
        assert {d.value for d in decisions if isinstance(d.value, Subsidised)} <= {Subsidised(subsidy.id)}
        assert {d.value for d in decisions if not isinstance(d.value, Subsidised)} <= {NoRuleMatched("subsidy")}


def route_events(version):
    layers = [layer.id for layer in version.layers] + ["no-such-layer"]
    candidates = [l.id for l in version.scheme_layer.liabilities if l.covers is None] + ["nobody"]
    lists = [*version.item_lists, "no-such-list"]
    what = [{"covers": c} for c in vocab.COVERS] + [{"candidate": c, "list": i} for c in candidates for i in lists]
    for layer, part, care, level, age, pre, low, groups in itertools.product(
            layers, what, vocab.CARE, [None, 1, 2, 3], [0, 40, 150], [False, True],
            ["none", "dibao", "monitored"], GROUPS):
        event = {"t": "part", "layer": layer, **part, "care": care, "age": age, "pre_existing": pre, "low_income": low,
                 **groups}
        if level is not None:  # a claim without a hospital level must match no row that asks for one
            event["hospital_level"] = level
        yield event


@pytest.mark.parametrize("name, version", VERSIONS, ids=IDS)
def test_routing_agrees_on_every_combination(name, version):
    events = list(route_events(version))
    decisions = compiled(version).decide(events)
    assert [d.value for d in decisions] == [expected_route(version, e) for e in events]
    rows = {f"route.{layer.id}.{liability.id}.{k}" for layer in version.layers for liability in layer.liabilities
            for k in range(len(liability.rows))}
    assert {d.rule for d in decisions} == rows | {"part.otherwise"}  # every rule both fires and is passed over


# ── inputs that must not match ────────────────────────────────────────────────────────────────

def test_every_compiled_condition_holds_one_operator_per_dict():
    # durable-rules reads only the first key of a dict: {"t": "claim", "amount": ...} ignores the amount
    def walk(node, rule):
        if isinstance(node, dict):
            assert len(node) == 1, (rule, node)
            for value in node.values():
                walk(value, rule)
        elif isinstance(node, list):
            for item in node:
                walk(item, rule)

    for _, version in VERSIONS:
        rules = compiled(version)
        assert len(rules.conditions) == rules.rule_count
        for rule, condition in rules.conditions.items():
            walk(condition, rule)


@pytest.mark.parametrize("event", [
    {"age": "150", "pre_existing": False, "low_income": "none"},  # "150" <= 50 is true to durable-rules
    {"age": 30, "pre_existing": 0, "low_income": "none"},  # 0 == false to durable-rules
    {"age": 30, "pre_existing": "false", "low_income": "none"},
    {"age": True, "pre_existing": False, "low_income": "none"},
    {"age": 30.0, "pre_existing": False, "low_income": "none"},
    {"age": -1, "pre_existing": False, "low_income": "none"},
    {"age": 151, "pre_existing": False, "low_income": "none"},
    {"age": 30, "pre_existing": False, "low_income": "DIBAO"},
    {"age": 30, "pre_existing": False, "low_income": ["none"]},
])
def test_loosely_typed_values_never_reach_the_rules(event):
    with pytest.raises(EngineError):
        compiled(multi_band_version()).decide([{"t": "band", **event}])


def test_a_missing_dimension_matches_no_rule_that_asks_for_it():
    version = multi_band_version()
    decisions = compiled(version).decide([{"t": "band", "pre_existing": False, "low_income": "none"},
                                          {"t": "band", "age": 30, "low_income": "none"},
                                          {"t": "part", "layer": "scheme", "covers": "in_policy_self_pay",
                                           "care": "inpatient", "pre_existing": False}])
    # no age: only the low-income band does not ask for one, and this person is not low-income;
    # no pre_existing: every band for a 30-year-old asks for it; no hospital level: the first two ratio
    # rows ask for one and the third is for pre-existing conditions only
    assert [d.rule for d in decisions] == ["band.otherwise", "band.otherwise", "part.otherwise"]


def test_ids_the_engine_uses_for_its_own_rules_are_refused_not_overwritten():
    # a band called "otherwise" would have been replaced by the catch-all of the same name:
    # validation refuses the id, and compiling a model built around validation refuses it too
    text = scheme_text(bands="- {id: otherwise, name: 其他人员, when: {}, amount: 50}")
    with pytest.raises(SchemeError) as err:
        load_product_text(text)
    assert "ids.reserved" in [i.code for i in err.value.issues]
    version = build_product(parse_text(text).data, "t.yaml").versions[0]
    with pytest.raises(EngineError, match="band.otherwise"):
        compiled(version)
    conditions = """\
    conditions:
      - {id: basic_insurance_suspended, name: 自定义, when: {hukou: [nonlocal]}, outcome: not_eligible, source: {doc: doc, clause: 第一条, quote: 第一条}}"""
    version = build_product(parse_text(scheme_text(conditions=conditions)).data, "t.yaml").versions[0]
    with pytest.raises(EngineError, match="eligibility.basic_insurance_suspended"):
        compiled(version)


# ── properties of random claims ───────────────────────────────────────────────────────────────

XIANNING = dict(VERSIONS)["xianhuibao@2023"]
MULTI = dict(VERSIONS)["multi-band"]
XIXIA = dict(VERSIONS)["xixia-chain"]
SETTLED = {"xianhuibao": (XIANNING, "2023-06-01"), "multi-band": (MULTI, "2024-05-01"),
           "special-groups": (dict(VERSIONS)["special-groups"], "2024-05-01")}
DRUGS = [("pembrolizumab", "melanoma"), ("pembrolizumab", "breast"), ("nusinersen", "sma"), ("drug-a", "cancer-a"),
         ("unknown", "x")]
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

money = st.integers(min_value=0, max_value=2_000_000_00)  # fen
drug_items = st.lists(st.tuples(st.sampled_from(DRUGS), money), max_size=2)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@st.composite
def settled_claims(draw):
    return {"in": draw(money), "out": draw(money), "drugs": draw(drug_items),
            "care": draw(st.sampled_from(list(vocab.CARE))), "level": draw(st.sampled_from([1, 2, 3])),
            "pre_existing": draw(st.booleans()), "low_income": draw(st.sampled_from(vocab.LOW_INCOME_VALUES)),
            "groups": draw(st.sampled_from(GROUPS)),
            "status": draw(st.sampled_from(["active", "active", "active", "arrears"]))}


def build(spec, date, claim_id="p1"):
    return parse_claim({
        "claim_id": claim_id, "date": date, "care": spec["care"], "hospital_level": spec["level"],
        "member": {"id": "m", "age": 60, "pre_existing": spec["pre_existing"], "low_income": spec["low_income"],
                   **spec["groups"], "basic_insurance_status": spec["status"]},
        "in_policy_self_pay": yuan(spec["in"]), "out_of_policy_self_pay": yuan(spec["out"]),
        "drugs": [{"code": c, "indication": i, "amount": yuan(a)} for (c, i), a in spec["drugs"]]})


def total(spec) -> int:
    return spec["in"] + spec["out"] + sum(a for _, a in spec["drugs"])


@pytest.mark.parametrize("which", list(SETTLED))
@PROPERTY_SETTINGS
@given(spec=settled_claims(), prior=st.none() | settled_claims())
def test_paid_is_within_the_claim_and_the_remainder_adds_up(which, spec, prior):
    version, date = SETTLED[which]
    acc = adjudicate(build(prior, date, "prior"), version).accumulators if prior else None
    settled = adjudicate(build(spec, date), version, acc)
    assert 0 <= settled.paid_fen <= total(spec)
    assert settled.patient_remainder_fen + settled.paid_fen == total(spec)
    assert sum(settled.by_liability.values()) == settled.paid_fen
    assert sum(i["fen"] for i in settled.insurers) == settled.paid_fen
    assert all(i["fen"] >= 0 for i in settled.insurers)


@pytest.mark.parametrize("which", list(SETTLED))
@PROPERTY_SETTINGS
@given(spec=settled_claims(), prior=st.none() | settled_claims(), more=money,
       field=st.sampled_from(["in", "out", "drug"]))
def test_paid_never_falls_when_an_amount_rises(which, spec, prior, more, field):
    version, date = SETTLED[which]
    acc = adjudicate(build(prior, date, "prior"), version).accumulators if prior else None
    bigger = dict(spec, drugs=list(spec["drugs"]))
    if field == "drug":
        if not bigger["drugs"]:
            return
        drug, amount = bigger["drugs"][0]
        bigger["drugs"][0] = (drug, amount + more)
    else:
        bigger[field] = spec[field] + more
    assert adjudicate(build(bigger, date), version, acc).paid_fen >= adjudicate(build(spec, date), version, acc).paid_fen


@PROPERTY_SETTINGS
@given(bill=money, more=money, out=money, level=st.sampled_from([1, 2, 3]),
       care=st.sampled_from(["inpatient", "chronic_outpatient", "major_outpatient", "outpatient"]))
def test_raw_bills_through_the_chain_add_up_and_rise_with_the_bill(bill, more, out, level, care):
    def run(in_policy):
        return adjudicate(parse_claim({"claim_id": "b", "member": {"id": "m", "age": 60, "low_income": "dibao"},
                                       "date": "2017-08-01", "care": care, "hospital_level": level,
                                       "bill": {"in_policy": yuan(in_policy), "out_of_policy": yuan(out)}}), XIXIA)

    small, large = run(bill), run(bill + more)
    for settled, in_policy in ((small, bill), (large, bill + more)):
        assert all(layer["paid_fen"] >= 0 for layer in settled.layers)
        assert sum(layer["paid_fen"] for layer in settled.layers) + settled.patient_remainder_fen == in_policy + out
        assert settled.patient_remainder_fen >= out  # no layer pays the out-of-policy part
    assert large.paid_fen >= small.paid_fen
    assert (sum(layer["paid_fen"] for layer in large.layers) >= sum(layer["paid_fen"] for layer in small.layers))


@pytest.mark.parametrize("which", list(SETTLED))
@PROPERTY_SETTINGS
@given(spec=settled_claims(), age=st.integers(min_value=0, max_value=vocab.MAX_AGE))
def test_memoised_and_projected_decisions_equal_fresh_posts(which, spec, age):
    """The decision memo and the projection of events onto what rules read never change a result: the same
    claim is adjudicated with both, then with every event posted whole to durable-rules."""
    from engine.rules import MEMO

    version, date = SETTLED[which]
    claim = build(spec, date)
    claim = parse_claim({**claim.data, "member": {**claim.data["member"], "age": age}})
    memoised = adjudicate(claim, version).as_dict()
    MEMO.enabled = MEMO.project = False
    try:
        posted = adjudicate(claim, version).as_dict()
    finally:
        MEMO.enabled = MEMO.project = True
    assert memoised == posted
