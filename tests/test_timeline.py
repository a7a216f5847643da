"""The member's timeline: decisions over dated history (birth, enrolment, arrears, restoration, waiting period),
made by durable-rules over the member's facts and the claim as an event (engine/timeline.py)."""
from __future__ import annotations

import pytest

from engine import InputError, adjudicate, load_product_text, parse_claim
from engine.diff import diff_versions
from engine.explain import assumptions, version_text
from engine.timeline import compiled
from engine.vector import Unsupported, batch_from_claims

from scheme_texts import FIXTURE_SOURCES
from test_broken_schemes import BASE, FILE, issues_for, line_of, mutate

S1 = "      source: {doc: s1, clause: 第一条, quote: 基本医疗保险欠费期间暂停享受待遇}\n"
ANCHOR = S1 + "    premium:"  # the 2025 version's eligibility ends here
WAITING = "      waiting_period: {days: 30, exempt: [renewal, accident, newborn]}\n"


def scheme_text(waiting: str = WAITING) -> str:
    return mutate(BASE, ANCHOR, S1 + waiting + "    premium:")


@pytest.fixture(scope="module")
def versions():
    """2024: no waiting period, no suspension for arrears; 2025: a 30-day waiting period with every exemption."""
    product = load_product_text(scheme_text(), FILE, FIXTURE_SOURCES)
    return {v.id: v for v in product.versions}


@pytest.fixture(scope="module")
def no_exemptions():
    product = load_product_text(scheme_text("      waiting_period: {days: 30, assumed: 示例}\n"), FILE, FIXTURE_SOURCES)
    return product.versions[-1]


def settle(version, date, events=(), accident=False, **member):
    data = {"claim_id": "c1", "member": {"id": "m1", **({"age": 40} if "birth_date" not in member else {}),
                                         **member, **({"events": list(events)} if events else {})},
            "date": date, "care": "inpatient", "hospital_level": 2, "in_policy_self_pay": 50000}
    if accident:
        data["accident"] = True
    return adjudicate(parse_claim(data), version)


def timeline_step(settlement) -> dict:
    [step] = [s for s in settlement.trace if s["step"] == "timeline"]
    return step


def paid_without_history(version, date) -> int:
    paid = settle(version, date).paid_fen
    assert paid > 0  # the comparison below means something only if the claim pays at all
    return paid


NEW = {"type": "enrolled", "date": "2025-02-01"}


# ── waiting period ──────────────────────────────────────────────────────────────────────────────

def test_the_last_day_of_the_waiting_period_is_refused_with_the_enrolment_named(versions):
    result = settle(versions["2025"], "2025-03-02", [NEW])  # day 29 after enrolment on 02-01
    step = timeline_step(result)
    assert (result.eligibility.outcome, result.paid_fen) == ("not_covered", 0)
    assert result.patient_remainder_fen == 50000 * 100
    assert step["rule"] == "timeline.waiting"
    assert step["clause"] == "s1 第一条 “基本医疗保险欠费期间暂停享受待遇”"
    assert "2025-02-01 参保" in step["text"] and "30 天" in step["text"]


def test_the_first_day_after_the_waiting_period_pays_in_full(versions):
    result = settle(versions["2025"], "2025-03-03", [NEW])
    assert timeline_step(result)["rule"] == "timeline.covered"
    assert result.paid_fen == paid_without_history(versions["2025"], "2025-03-03")


@pytest.mark.parametrize("rule, date, events, accident, member", [
    ("timeline.waiting.exempt_renewal", "2025-02-10", [{**NEW, "renewal": True}], False, {}),
    ("timeline.waiting.exempt_accident", "2025-02-10", [NEW], True, {}),
    ("timeline.waiting.exempt_newborn", "2025-01-20", [{"type": "enrolled", "date": "2025-01-15"}], False,
     {"birth_date": "2025-01-10"}),
])
def test_an_exempt_member_is_paid_in_the_waiting_period(versions, no_exemptions, rule, date, events, accident, member):
    result = settle(versions["2025"], date, events, accident, **member)
    assert timeline_step(result)["rule"] == rule
    assert result.eligibility.outcome == "eligible"
    assert result.paid_fen == paid_without_history(versions["2025"], date)
    # the same member under a waiting period that exempts no one
    refused = settle(no_exemptions, date, events, accident, **member)
    assert (timeline_step(refused)["rule"], refused.paid_fen) == ("timeline.waiting", 0)
    assert timeline_step(refused)["clause"] == "假设：示例"


def test_a_child_born_before_this_years_enrolment_opened_is_not_a_newborn(versions):
    result = settle(versions["2025"], "2025-01-20", [{"type": "enrolled", "date": "2025-01-15"}],
                    birth_date="2024-10-31")  # the 2025 enrolment opened on 2024-11-01
    assert (timeline_step(result)["rule"], result.paid_fen) == ("timeline.waiting", 0)


# ── before birth, before enrolment ──────────────────────────────────────────────────────────────

def test_a_member_born_after_the_claim_date_is_never_paid(versions):
    result = settle(versions["2024"], "2024-05-01", birth_date="2024-06-01")  # no events, no waiting period
    step = timeline_step(result)
    assert (result.eligibility.outcome, result.paid_fen) == ("not_covered", 0)
    assert step["rule"] == "timeline.before_birth" and "2024-06-01 出生" in step["text"]


def test_a_member_born_on_the_claim_date_is_paid(versions):
    result = settle(versions["2024"], "2024-06-01", birth_date="2024-06-01")
    assert timeline_step(result)["rule"] == "timeline.otherwise"
    assert result.paid_fen == paid_without_history(versions["2024"], "2024-06-01")


def test_a_claim_before_enrolment_is_refused_and_one_on_the_day_is_paid(versions):
    enrolled = [{"type": "enrolled", "date": "2024-03-01"}]
    before = settle(versions["2024"], "2024-02-29", enrolled)
    assert (before.eligibility.outcome, before.paid_fen) == ("not_covered", 0)
    assert timeline_step(before)["rule"] == "timeline.before_enrolment"
    assert "2024-03-01 参保" in before.eligibility.reason
    on_the_day = settle(versions["2024"], "2024-03-01", enrolled)
    assert timeline_step(on_the_day)["rule"] == "timeline.covered"
    assert on_the_day.paid_fen == paid_without_history(versions["2024"], "2024-03-01")


# ── suspension for arrears and restoration ──────────────────────────────────────────────────────

ARREARS = [{"type": "enrolled", "date": "2024-12-01", "renewal": True}, {"type": "basic_arrears", "from": "2025-04-01"}]
RESTORED = [*ARREARS, {"type": "restored", "date": "2025-05-01"}]


def test_benefits_are_suspended_from_the_first_day_in_arrears(versions):
    result = settle(versions["2025"], "2025-04-01", ARREARS)
    step = timeline_step(result)
    assert (result.eligibility.outcome, result.paid_fen) == ("suspended", 0)
    assert step["rule"] == "timeline.suspended" and "2025-04-01 起基本医保欠费" in step["text"]
    assert timeline_step(settle(versions["2025"], "2025-03-31", ARREARS))["rule"] == "timeline.covered"


def test_benefits_are_restored_on_the_day_of_back_payment_and_not_before(versions):
    restored = settle(versions["2025"], "2025-05-01", RESTORED)
    assert timeline_step(restored)["rule"] == "timeline.restored"
    assert "2025-05-01 补缴后恢复待遇" in timeline_step(restored)["text"]
    assert restored.paid_fen == paid_without_history(versions["2025"], "2025-05-01")
    day_before = settle(versions["2025"], "2025-04-30", RESTORED)
    assert (timeline_step(day_before)["rule"], day_before.paid_fen) == ("timeline.suspended", 0)


def test_a_second_spell_of_arrears_suspends_again(versions):
    events = [*RESTORED, {"type": "basic_arrears", "from": "2025-08-01"}]
    assert timeline_step(settle(versions["2025"], "2025-06-01", events))["rule"] == "timeline.restored"
    assert timeline_step(settle(versions["2025"], "2025-08-15", events))["rule"] == "timeline.suspended"


def test_arrears_do_not_suspend_under_a_scheme_that_does_not_say_so(versions):
    events = [{"type": "enrolled", "date": "2023-12-01"}, {"type": "basic_arrears", "from": "2024-04-01"}]
    result = settle(versions["2024"], "2024-05-01", events)
    assert timeline_step(result)["rule"] == "timeline.covered"
    assert result.paid_fen == paid_without_history(versions["2024"], "2024-05-01")


def test_a_restoration_without_arrears_before_it_is_refused_as_input(versions):
    with pytest.raises(InputError, match="此前没有基本医保欠费记录"):
        settle(versions["2025"], "2025-05-01", [NEW, {"type": "restored", "date": "2025-04-01"}])


@pytest.mark.parametrize("event", [{"type": "basic_arrears", "date": "2025-04-01"},
                                   {"type": "enrolled", "from": "2025-04-01"},
                                   {"type": "left", "date": "2025-04-01"}])
def test_a_badly_shaped_event_is_refused_with_its_place(event):
    with pytest.raises(InputError) as caught:
        parse_claim({"claim_id": "c1", "member": {"id": "m1", "age": 40, "events": [event]}, "date": "2025-05-01",
                     "care": "inpatient", "in_policy_self_pay": 100})
    assert any(issue.path[:3] == ("member", "events", 0) for issue in caught.value.issues)


# ── the ruleset ─────────────────────────────────────────────────────────────────────────────────

def test_facts_of_one_decision_never_join_the_next(versions):
    assert settle(versions["2025"], "2025-03-02", [NEW]).paid_fen == 0
    after = settle(versions["2025"], "2025-03-02", birth_date="1990-01-01")  # same member id, no events now
    assert timeline_step(after)["rule"] == "timeline.otherwise"
    assert after.paid_fen > 0


def _dicts(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dicts(item)


def test_every_timeline_condition_holds_one_operator_per_dict(versions):
    rules = compiled(versions["2025"]).rules
    assert "timeline.waiting.exempt_newborn" in rules  # the whole ruleset is under test
    for join in rules.values():
        for fact in join:
            [condition] = fact.values()
            for node in _dicts(condition):
                assert len(node) == 1, node


def test_the_vectorised_path_leaves_a_member_with_history_to_the_rules(versions):
    claim = {"claim_id": "c1", "date": "2024-05-01", "care": "inpatient", "in_policy_self_pay": 100}
    batch_from_claims([parse_claim({**claim, "member": {"id": "m1", "age": 40}})], "2024-01-01")  # no history: fine
    with pytest.raises(Unsupported, match="出生日期或带日期的事件"):
        batch_from_claims([parse_claim({**claim, "member": {"id": "m1", "birth_date": "2024-06-01"}})], "2024-01-01")


# ── the term in the language: broken uses, explain, diff ───────────────────────────────────────

@pytest.mark.parametrize("waiting", [
    "      waiting_period: {days: -30}\n",  # negative days
    "      waiting_period: {days: 30, exempt: [pregnancy]}\n",  # not an exemption code
    "      waiting_period: {days: 365}\n",  # no covered day left in the period
    "      waiting_period: {days: 0, exempt: [renewal]}\n",  # exempt from nothing
    "      waiting_period: {exempt: [renewal]}\n",  # no days
])
def test_a_broken_waiting_period_is_reported_at_its_line(waiting):
    text = scheme_text(waiting)
    issues = issues_for(text)
    assert issues, "a broken waiting period validated"
    assert {issue.line for issue in issues} == {line_of(text, "waiting_period")}


def test_explain_states_the_waiting_period_and_its_assumption(versions, no_exemptions):
    assert "等待期：参保之日起 30 天内就诊不予赔付（续保人员、意外伤害、新生儿不设等待期）。 〔《示例市惠民保实施方案》第一条：“基本医疗保险欠费期间暂停享受待遇”〕" in version_text(versions["2025"])
    assert "【假设】示例" in version_text(no_exemptions)
    assert any(a["what"].startswith("等待期") and a["reason"] == "示例" for a in assumptions(no_exemptions))


def test_diff_names_a_changed_waiting_period(versions, no_exemptions):
    changes = [c for c in diff_versions(versions["2025"], no_exemptions) if c.subject == "等待期"]
    assert [(c.before, c.after) for c in changes] == [
        ("等待期：参保之日起 30 天内就诊不予赔付（续保人员、意外伤害、新生儿不设等待期）", "等待期：参保之日起 30 天内就诊不予赔付")]


# ── events recorded in the ledger ───────────────────────────────────────────────────────────────

def test_an_enrolment_recorded_in_the_ledger_decides_every_later_claim_of_the_member(versions, tmp_path):
    from engine.inputs import MemberEvent
    from engine.ledger import Ledger

    book = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    version = versions["2025"]
    assert book.record_event(version.product_id, "m1", MemberEvent("enrolled", "2025-02-01")) is True
    assert book.record_event(version.product_id, "m1", MemberEvent("enrolled", "2025-02-01")) is False  # once
    claim = {"member": {"id": "m1", "age": 40}, "care": "inpatient", "hospital_level": 2, "in_policy_self_pay": 50000}
    waiting, _ = book.settle(parse_claim({**claim, "claim_id": "c1", "date": "2025-03-02"}), version)
    after, _ = book.settle(parse_claim({**claim, "claim_id": "c2", "date": "2025-03-03"}), version)
    [step] = [s for s in waiting["trace"] if s["step"] == "timeline"]
    assert (waiting["paid_fen"], step["rule"]) == (0, "timeline.waiting") and "2025-02-01 参保" in step["text"]
    assert after["paid_fen"] == paid_without_history(version, "2025-03-03")
    # another member of the same product has no recorded history: no waiting period applies to them
    other, _ = book.settle(parse_claim({**claim, "claim_id": "c3", "date": "2025-03-02",
                                        "member": {"id": "m2", "age": 40}}), version)
    assert other["paid_fen"] == paid_without_history(version, "2025-03-02")


def test_recorded_arrears_and_a_claim_s_own_restoration_are_read_together(versions, tmp_path):
    from engine.inputs import MemberEvent
    from engine.ledger import Ledger

    book = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    version = versions["2025"]
    book.record_event(version.product_id, "m1", MemberEvent("basic_arrears", "2025-04-01"))
    assert [e.type for e in book.events(version.product_id, "m1")] == ["basic_arrears"]
    during = {"claim_id": "c0", "member": {"id": "m1", "age": 40}, "date": "2025-04-15", "care": "inpatient",
              "hospital_level": 2, "in_policy_self_pay": 50000}
    suspended, _ = book.settle(parse_claim(during), version)
    assert suspended["paid_fen"] == 0 and "2025-04-01 起基本医保欠费" in suspended["eligibility"]["reason"]
    data = {"claim_id": "c1", "member": {"id": "m1", "age": 40, "events": [{"type": "restored", "date": "2025-05-01"}]},
            "date": "2025-06-01", "care": "inpatient", "hospital_level": 2, "in_policy_self_pay": 50000}
    settled, _ = book.settle(parse_claim(data), version)  # a restoration alone would be refused as unmatched
    [step] = [s for s in settled["trace"] if s["step"] == "timeline"]
    assert settled["paid_fen"] == paid_without_history(version, "2025-06-01")
    assert step["rule"] == "timeline.restored" and "2025-05-01 补缴后恢复待遇" in step["text"]


def test_an_event_of_an_unknown_type_or_date_is_refused_with_the_field(tmp_path):
    from engine.inputs import MemberEvent
    from engine.ledger import Ledger

    book = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with pytest.raises(InputError) as bad_type:
        book.record_event("p", "m1", MemberEvent("born", "2025-01-01"))
    with pytest.raises(InputError) as bad_date:
        book.record_event("p", "m1", MemberEvent("enrolled", "2025-02-30"))
    assert bad_type.value.issues[0].path == ("type",) and "enrolled" in bad_type.value.issues[0].message
    assert bad_date.value.issues[0].path == ("date",)
    assert book.events("p", "m1") == ()
