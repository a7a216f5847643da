"""Evaluate: eligibility, quote and claim adjudication for one scheme version.

The compiled rules decide which band, which subsidy, which liability and ratio row; this module
computes how much, in integer fen, and writes the trace.  It holds no state: annual accumulators
come in and go out as a mapping of typed keys (`accumulators.py`; `ledger.py` keeps them in a database).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Callable

from . import explain, timeline, vocab
from .accumulators import Accumulators, PoolKey, PoolKind, accumulators_as_list
from .inputs import Claim, Person
from .issues import InputError, Issue
from .model import Layer, Liability, Provenance, RatioRow, Version
from .money import apply_ratio, format_yuan, percent, round_fen, split_by_shares
from .conditions import UNNAMED
from .rules import (BuiltinRefusal, Decision, EligibilityRuleMet, EngineError, Excluded, InBand, NoRuleMatched, Route,
                    Subsidised, compiled)
from .trace import Trace

# ── eligibility ───────────────────────────────────────────────────────────────────────────────

@dataclass(frozen=True)
class Eligibility:
    outcome: str  # eligible | suspended | not_eligible
    rule: str
    reason: str
    clause: str

    def as_dict(self) -> dict:
        return {"outcome": self.outcome, "label": vocab.ELIGIBILITY_OUTCOMES[self.outcome], "rule": self.rule,
                "reason": self.reason, "clause": self.clause}


def eligibility(person: Person, version: Version, trace: Trace | None = None) -> Eligibility:
    decision = compiled(version).decide([_eligibility_event(person, version)])[0]
    return _read_eligibility(decision, person, version, trace or Trace(enabled=False))


def _eligibility_event(person: Person, version: Version) -> dict:
    return {"t": "eligibility", **person_point(person, version, _age_reference(version))}


def person_point(person: Person, version: Version, reference: str) -> dict:
    """The person as the rules see them, with each of the version's named pre-existing conditions as a yes/no
    (`pre_existing.<id>`: conditions.PreExisting compiles to these)."""
    return {**person.point(reference),
            **{f"pre_existing.{c}": c in person.conditions for c in version.pre_existing_conditions}}


def _read_eligibility(decision: Decision, person: Person, version: Version, trace: Trace) -> Eligibility:
    prov = version.eligibility_prov
    match decision.value:
        case NoRuleMatched():
            result = Eligibility("eligible", decision.rule, "参加基本医疗保险且待遇正常", prov.ref())
        case BuiltinRefusal(outcome, "basic_insurance_required"):
            result = Eligibility(outcome, decision.rule, "未参加基本医疗保险", prov.ref())
        case BuiltinRefusal(outcome, "basic_insurance_suspended"):
            status = vocab.BASIC_STATUS[person.basic_insurance_status]
            result = Eligibility(outcome, decision.rule, f"基本医疗保险{status}，补缴后恢复", prov.ref())
        case EligibilityRuleMet(outcome, rule_id):  # one of the version's own conditions
            rule = next(r for r in version.eligibility_rules if r.id == rule_id)
            prov = rule.prov
            result = Eligibility(outcome, decision.rule, rule.name, prov.ref())
        case other:
            raise EngineError(f"{version.key}: not an eligibility decision: {other}")
    trace.add("eligibility", decision.rule, prov,
              lambda: f"参保资格：{vocab.ELIGIBILITY_OUTCOMES[result.outcome]}（{result.reason}）")
    return result


def _age_reference(version: Version) -> str:
    ref = version.age_reference
    return {"period_start": version.period[0], "enrolment_start": version.enrolment[0]}.get(ref, ref)


# ── quote ─────────────────────────────────────────────────────────────────────────────────────

@dataclass
class Quote:
    version: str
    eligibility: Eligibility
    band: str | None = None
    band_name: str = ""
    premium_fen: int = 0
    payers: list[dict] = field(default_factory=list)
    trace: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"version": self.version, "eligibility": self.eligibility.as_dict(), "band": self.band,
                "band_name": self.band_name, "premium_fen": self.premium_fen, "payers": self.payers,
                "trace": self.trace}


def _eligibility_whens(version: Version) -> list:
    return [rule.when for rule in version.eligibility_rules]


def _check_person(person: Person, version: Version, whens: list, at: tuple) -> None:
    """The person's named pre-existing conditions are the version's; the sex is stated where the terms read it."""
    issues = []
    known = version.pre_existing_conditions
    unknown = [c for c in person.conditions if c not in known]
    if unknown:
        listed = "、".join(f"{c.name}（{c.id}）" for c in known.values()) or "（本版本没有列名的既往症；请写 true 或 false）"
        issues.append(Issue("person.pre_existing", f"既往症“{'、'.join(unknown)}”不是本版本列名的既往症；"
                            f"列名的既往症：{listed}", at + ("pre_existing",)))
    if person.sex is None and any("sex" in when for when in whens):
        issues.append(Issue("person.sex", "本方案按性别区分：请写明 sex（female 女性 或 male 男性）", at + ("sex",)))
    if issues:
        raise InputError(issues)


def plan_of(person: Person, version: Version, field: tuple = ("plan",)) -> Version:
    """The terms `person` is insured under: the version, or the plan of it they enrolled in."""
    try:
        return version.for_plan(person.plan)
    except KeyError as exc:
        raise InputError([Issue("plan", exc.args[0], field)]) from None


def quote(person: Person, version: Version, trace: bool = True) -> Quote:
    version = plan_of(person, version)
    _check_person(person, version, [*(b.when for b in version.bands), *(s.when for s in version.subsidies),
                                    *_eligibility_whens(version)], ())
    steps = Trace(trace)
    point = person_point(person, version, _age_reference(version))
    events = [{"t": "eligibility", **point}, {"t": "band", **point},
              *({"t": "subsidy", "subsidy": s.id, **point} for s in version.subsidies)]
    decisions = compiled(version).decide(events)  # one batch: eligibility, band and subsidies together
    elig = _read_eligibility(decisions[0], person, version, steps)
    result = Quote(version.key, elig)
    if elig.outcome == "not_eligible":
        result.trace = steps.as_list()
        return result
    band_decision, subsidy_decisions = decisions[1], decisions[2:]
    if not isinstance(band_decision.value, InBand):  # validation proves the bands cover every person
        raise EngineError(f"{version.key}: no premium band for {point}")
    band = next(b for b in version.bands if b.id == band_decision.value.band)
    result.band, result.band_name, result.premium_fen = band.id, band.name, band.amount.fen
    # who the band is for may be an assumption even where its amount is the source's own
    steps.add("band", band_decision.rule, band.prov if band.prov.is_assumption else band.amount.prov,
              f"年龄 {point['age']} 岁，适用档位“{band.name}”，保费 {format_yuan(band.amount.fen)} 元",
              result_fen=band.amount.fen)
    remaining = band.amount.fen
    for subsidy, decision in zip(version.subsidies, subsidy_decisions):
        if not isinstance(decision.value, Subsidised) or remaining == 0:
            continue
        fen = subsidy.amount.fen if subsidy.amount else apply_ratio(band.amount.fen, subsidy.share.value,
                                                                   version.rounding)
        fen = min(fen, remaining)
        remaining -= fen
        result.payers.append({"payer": subsidy.payer, "label": vocab.PAYERS[subsidy.payer], "fen": fen,
                              "subsidy": subsidy.id})
        steps.add("subsidy", decision.rule, subsidy.prov, f"{subsidy.name}：{format_yuan(fen)} 元", result_fen=fen)
    if remaining:
        payer = _remaining_payer(person, version, steps)
        result.payers.append({"payer": payer, "label": vocab.PAYERS[payer], "fen": remaining})
    result.trace = steps.as_list()
    return result


def _remaining_payer(person: Person, version: Version, steps: Trace) -> str:
    """Who pays what subsidies leave: the person, a relative's personal account, the employer or a donor."""
    if person.pay_with == "personal_account":
        account = version.personal_account
        relatives = account.get("relatives", ["self"])
        if not account.get("allowed"):
            raise InputError([Issue("quote.personal_account", "本方案不允许用医保个人账户缴费", ("pay_with",))])
        if person.relation not in relatives:
            allowed = "、".join(vocab.RELATIVES[r] for r in relatives)
            raise InputError([Issue("quote.relation", f"个人账户只能为{allowed}缴费", ("relation",))])
        holders = account.get("basic_insurance", list(vocab.BASIC_INSURANCE))
        if person.relation == "self" and person.basic_insurance not in holders:
            # paying for oneself: the insured is the account holder, so their own insurance must have an account
            names = "、".join(vocab.BASIC_INSURANCE[h] for h in holders)
            raise InputError([Issue("quote.account_holder", f"只有{names}参保人有个人账户可用于缴费", ("basic_insurance",))])
        return "personal_account"
    if person.pay_with == "employer" and not version.group_enrolment:
        raise InputError([Issue("quote.group", "本方案不支持单位团体参保", ("pay_with",))])
    if person.pay_with == "donor" and not version.donated_enrolment:
        raise InputError([Issue("quote.donated", "本方案不支持爱心企业等捐赠参保",
                                ("pay_with",))])
    return person.pay_with


# ── adjudication ──────────────────────────────────────────────────────────────────────────────

@dataclass
class Part:
    """One thing a claim asks a layer to pay: its in-policy or out-of-policy self-pay, or one listed item."""

    covers: str | None  # a cost kind; None for an item
    fen: int
    label: str
    refusal: str = ""  # why an item is on no list that pays it; empty when it is
    drug: object = None  # the list entry (model.Drug) of an item
    where: str = ""  # an item: the care where it was given
    candidates: tuple = ()  # an item: (liability, list id) of each liability whose lists hold it, in order
    code: str = ""  # an item's code
    refused_by: Provenance | None = None  # the clause behind `refusal` (a named exclusion), if not the list's
    rule: str = "drug_catalogue"  # the rule behind `refusal`


@dataclass
class Settlement:
    claim_id: str
    version: str
    ruleset: str
    eligibility: Eligibility
    paid_fen: int = 0
    by_liability: dict = field(default_factory=dict)
    layers: list[dict] = field(default_factory=list)
    insurers: list[dict] = field(default_factory=list)
    patient_remainder_fen: int = 0
    accumulators: Accumulators = field(default_factory=dict)  # this member's, in this version's policy year
    trace: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"claim_id": self.claim_id, "version": self.version, "ruleset": self.ruleset,
                "eligibility": self.eligibility.as_dict(), "paid_fen": self.paid_fen,
                "by_liability": self.by_liability, "layers": self.layers, "insurers": self.insurers,
                "patient_remainder_fen": self.patient_remainder_fen,
                "accumulators": accumulators_as_list(self.accumulators),
                "trace": self.trace}


def adjudicate(claim: Claim, version: Version, accumulators: Accumulators | None = None,
               trace: bool = True) -> Settlement:
    """Pay one claim under one version, given the member's accumulators for that policy year (keys of other
    members or versions are left out: they never count towards this claim).

    All the rules' decisions for the claim (eligibility, then the route of every part in every layer)
    are taken in one batch: routing depends on what a part is, never on how much is left of it.
    """
    version = plan_of(claim.member, version, ("member", "plan"))
    _check_claim(claim, version)
    steps = Trace(trace)
    acc = {key: fen for key, fen in (accumulators or {}).items()
           if key.member == claim.member.id and key.version == version.key}
    drugs = _item_parts(claim, version)
    plan = [(layer, _layer_parts(layer, claim, drugs)) for layer in _layers_for(claim, version)]
    point = _claim_point(claim, version)
    events = [_eligibility_event(claim.member, version)]
    events += [event for layer, parts in plan for p in parts for event in _part_events(layer, p, point)]
    exclusion_events = _exclusion_events(claim, version, drugs, point)
    decisions = compiled(version).decide(events + [event for _, event in exclusion_events])
    elig = _read_eligibility(decisions[0], claim.member, version, steps)
    if elig.outcome == "eligible" and timeline.has_history(claim):
        elig = _read_timeline(timeline.compiled(version).decide(claim), steps)
    result = Settlement(claim.claim_id, version.key, version.ruleset_name, elig, accumulators=acc)
    if version.plan:
        steps.add("plan", "plan", version.prov, f"参保方案：{version.plan_name}")
    excluded = _read_exclusions(exclusion_events, decisions[len(events):], version) if elig.outcome == "eligible" else None
    if excluded is not None:  # the whole claim falls under a named exclusion
        exclusion, rule = excluded
        steps.add("exclusion", rule, exclusion.prov, lambda: f"{exclusion_reason(exclusion, version)}，本次不予赔付",
                  amount_fen=claim.total_fen, result_fen=0)
        steps.add("total", "exclusion", None, "本方案共赔付 0.00 元", amount_fen=claim.total_fen, result_fen=0)
        result.patient_remainder_fen = claim.total_fen
        result.trace = steps.as_list()
        return result
    if elig.outcome == "eligible" and version.one_stop_at and claim.hospital:
        _trace_one_stop(claim, version, steps)
    if elig.outcome != "eligible":
        steps.add("total", "eligibility", None, lambda: f"{vocab.ELIGIBILITY_OUTCOMES[elig.outcome]}，本次不予赔付",
                  amount_fen=claim.total_fen, result_fen=0)
        result.patient_remainder_fen = claim.total_fen
        result.trace = steps.as_list()
        return result
    _trace_refused_drugs(drugs, version, steps)
    routes = iter(decisions[1:])
    in_policy = claim.in_policy_fen
    for layer, parts in plan:
        for part in parts:
            if part.covers == "in_policy_self_pay":  # what the layers before this one left
                part.fen = in_policy
        answered = [(p, [next(routes) for _ in _part_events(layer, p, point)]) for p in parts]
        paid = _pay_layer(layer, answered, claim, version, acc, steps, result.by_liability)
        in_policy -= paid["in_policy_self_pay"]
        layer_total = sum(paid.values())
        result.layers.append({"layer": layer.id, "kind": layer.kind, "name": layer.name, "paid_fen": layer_total})
        if layer.kind == "scheme":
            result.paid_fen = layer_total
    result.patient_remainder_fen = claim.total_fen - sum(layer["paid_fen"] for layer in result.layers)
    result.insurers = _insurer_shares(result.paid_fen, version)
    steps.add("total", "total", None, lambda: f"本方案共赔付 {format_yuan(result.paid_fen)} 元，个人仍需负担 "
              f"{format_yuan(result.patient_remainder_fen)} 元", amount_fen=claim.total_fen, result_fen=result.paid_fen)
    result.trace = steps.as_list()
    return result


def exclusion_reason(exclusion, version: Version) -> str:
    """'属于责任免除：既往症人员的 CAR-T 治疗〔《…》第七条〕' — the exclusion by name, with its source or 【假设】."""
    return f"属于责任免除：{exclusion.name}{explain.reference(exclusion.prov, version.sources)}"


def _exclusion_events(claim: Claim, version: Version, drugs: list[Part], point: dict) -> list[tuple]:
    """(what it asks about, event): the claim once, if some exclusion may refuse a whole claim; each item once
    per exclusion that names it (by code or list), as the rules decide whether its condition holds."""
    checked = [e for e in version.exclusions if e.checked]
    if not checked:
        return []
    asked = [(None, {"t": "claim", **point})] if any(e.whole_claim for e in checked) else []
    for part in drugs:
        lists = _lists_holding(version, part.code)
        asked += [(part, {"t": "item", "exclusion": e.id, **point, "care": part.where})
                  for e in checked if not e.whole_claim and e.refuses_item(part.code, lists)]
    return asked


def _lists_holding(version: Version, code: str) -> list[str]:
    return [list_id for list_id, item_list in version.item_lists.items() if code in item_list.items]


def _read_exclusions(asked: list[tuple], decisions: list[Decision], version: Version):
    """Refuse the items named exclusions hold (each part keeps why); the exclusion that refuses the whole claim,
    with its rule, or None."""
    by_id = {e.id: e for e in version.exclusions}
    whole = None
    for (part, _), decision in zip(asked, decisions):
        if not isinstance(decision.value, Excluded):
            continue
        exclusion = by_id[decision.value.exclusion]
        if part is None:
            whole = (exclusion, decision.rule)
        elif not part.refusal:
            part.refusal, part.refused_by, part.rule = exclusion_reason(exclusion, version), exclusion.prov, decision.rule
    return whole


def _trace_one_stop(claim: Claim, version: Version, steps: Trace) -> None:
    """Whether the claim is settled one-stop: only at the hospitals of the list `settlement.one_stop_at` names."""
    listed = version.hospital_lists[version.one_stop_at]
    hospital = listed.hospitals.get(claim.hospital)
    how = (f"{hospital.name}在“{listed.name}”名单内：与基本医保一站式结算" if hospital
           else f"就诊医院（{claim.hospital}）不在“{listed.name}”名单内：出院后申请理赔")
    steps.add("settlement", "settlement.one_stop_at", listed.prov, f"结算方式：{how}")


def _read_timeline(decision: timeline.TimelineDecision, steps: Trace) -> Eligibility:
    """The member's history on the claim date (engine/timeline.py): covered, suspended or outside covered time."""
    steps.add("timeline", decision.rule, decision.prov,
              lambda: f"参保记录：{vocab.ELIGIBILITY_OUTCOMES[decision.outcome]}（{decision.reason}）")
    return Eligibility(decision.outcome, decision.rule, decision.reason, decision.prov.ref())


def _claim_point(claim: Claim, version: Version) -> dict:
    """The claim as the routing rules see it: care, hospital level and the member on the claim date; with a
    hospital, whether it is on each of the version's hospital lists (conditions.HospitalIn)."""
    point = {"care": claim.care, **person_point(claim.member, version, claim.date)}
    level = hospital_level(claim, version)
    if level is not None:
        point["hospital_level"] = level
    if claim.hospital is not None:
        point.update({f"hospital_in.{list_id}": claim.hospital in hospitals.hospitals
                      for list_id, hospitals in version.hospital_lists.items()})
    return point


def hospital_level(claim: Claim, version: Version) -> int | None:
    """The level the claim states, else that of its hospital on the version's lists."""
    if claim.hospital_level is not None or claim.hospital is None:
        return claim.hospital_level
    hospital = version.hospital(claim.hospital)
    return hospital.level if hospital else None


def _holds_point(claim: Claim, version: Version) -> dict:
    """The claim as `Condition.holds` reads it (for explaining a refusal): named conditions and hospital lists
    as sets."""
    member = claim.member
    conditions = frozenset(member.conditions) or frozenset({UNNAMED} if member.pre_existing else ())
    point = {**_claim_point(claim, version), "pre_existing": conditions}
    if claim.hospital is not None:
        point["hospital_in"] = version.lists_holding(claim.hospital)
    return point


def _part_events(layer: Layer, part: Part, point: dict) -> list[dict]:
    """What the rules are asked of a part: a cost kind once; an item once per liability whose lists hold it
    (care is where the item was given), so that each may answer and the hit policy choose among them."""
    if part.covers is not None:
        return [{"t": "part", "layer": layer.id, "covers": part.covers, **point}]
    return [{"t": "part", "layer": layer.id, "candidate": liability.id, "list": list_id, **point, "care": part.where}
            for liability, list_id in part.candidates]


def _layer_parts(layer: Layer, claim: Claim, drugs: list[Part]) -> list[Part]:
    """The parts of the claim a layer is asked to pay (amounts as claimed; in-policy is updated layer by layer)."""
    if layer.kind == "scheme":
        parts = [Part("in_policy_self_pay", claim.in_policy_fen, "医保政策范围内个人自付"),
                 Part("out_of_policy_self_pay", claim.out_of_policy_fen, "医保政策范围外个人自费"), *drugs]
    else:  # the other payers see only what is left of the catalogue-covered bill
        parts = [Part("in_policy_self_pay", claim.in_policy_fen, "医保政策范围内费用（剩余）")]
    return [p for p in parts if p.fen > 0]


def _check_claim(claim: Claim, version: Version) -> None:
    if claim.raw_bill and not version.has_chain:
        raise InputError([Issue("claim.no_chain", f"{version.key} 没有声明赔付链（chain.layers），不能按原始账单理赔；"
                                "请提供 in_policy_self_pay 和 out_of_policy_self_pay", ("bill",))])
    start, end = version.period
    if not start <= claim.date <= end:
        raise InputError([Issue("claim.date", f"就诊日期 {claim.date} 不在 {version.key} 的保险期间 {start} 至 {end} 内",
                                ("date",))])
    _check_hospital(claim, version)
    whens = _claim_whens(claim, version)
    if hospital_level(claim, version) is None and any("hospital_level" in when for when in whens):
        # without it no ratio row matches and the claim would quietly read as "not covered"
        raise InputError([Issue("claim.hospital_level", f"{vocab.CARE[claim.care]}的赔付比例按医院等级区分："
                                "请给出 hospital_level（1、2 或 3）", ("hospital_level",))])
    if claim.hospital is None and any("hospital_in" in when for when in whens):
        names = "、".join(f"“{l.name}”" for l in version.hospital_lists.values())
        raise InputError([Issue("claim.hospital", f"{vocab.CARE[claim.care]}的赔付看就诊医院是否在{names}名单内："
                                "请给出 hospital（医院编码）", ("hospital",))])
    _check_person(claim.member, version, [*_eligibility_whens(version), *whens], ("member",))


def _check_hospital(claim: Claim, version: Version) -> None:
    """A level stated beside a listed hospital must be the list's."""
    hospital = version.hospital(claim.hospital) if claim.hospital else None
    if hospital and claim.hospital_level is not None and claim.hospital_level != hospital.level:
        raise InputError([Issue("claim.hospital_level", f"{hospital.name}在医院名单中是"
                                f"{vocab.HOSPITAL_LEVELS[hospital.level]}，理赔写的是 hospital_level: "
                                f"{claim.hospital_level}", ("hospital_level",))])


def _layers_for(claim: Claim, version: Version) -> tuple[Layer, ...]:
    """A raw bill runs through the whole declared chain; a settled claim arrives at the scheme itself."""
    return version.layers if claim.raw_bill else (version.scheme_layer,)


def _claim_whens(claim: Claim, version: Version) -> list:
    """The conditions that may decide this claim: of the liabilities that may pay one of its parts (its cost kinds
    at its care, its items on their lists where given), their ratio rows, and the exclusions the engine applies."""
    asked = [(covers, claim.care) for covers, fen in (("in_policy_self_pay", claim.in_policy_fen),
                                                      ("out_of_policy_self_pay", claim.out_of_policy_fen)) if fen]
    asked += [(item.code, item.where) for item in claim.items]

    def may_pay(liability: Liability) -> bool:
        cares = vocab.care_covered(liability.care)
        return any(care in cares and (what == liability.covers or any(
            what in version.item_lists[i].items for i in liability.lists if i in version.item_lists))
            for what, care in asked)

    return [*(when for layer in _layers_for(claim, version) for liability in layer.liabilities if may_pay(liability)
              for when in (liability.when, *(row.when for row in liability.rows))),
            *(e.when for e in version.exclusions if e.checked)]


def _item_parts(claim: Claim, version: Version) -> list[Part]:
    """The claim's drugs and treatments, each with the liabilities whose lists hold it.  List membership is a
    set lookup before the engine, not one rule per entry (docs/engine.md: the matcher's limits); the rules
    then decide, by care and the rest, which of those liabilities may pay it."""
    return [_item_part(item, claim.date, version) for item in claim.items]


def _item_part(item, day: str, version: Version) -> Part:
    candidates, refusals, entry = [], [], None
    for liability in (l for l in version.scheme_layer.liabilities if l.covers is None):
        for list_id in liability.lists:
            found = version.item_lists[list_id].items.get(item.code)
            why = _not_payable(found, item, day) if found else "absent"
            entry = entry or found
            if why == "":
                candidates.append((liability, list_id))
                break
            if why != "absent":
                refusals.append(why)
    label = f"{_kind_label(version, candidates)} {entry.name if entry else item.code}"
    refusal = "" if candidates else (refusals[0] if refusals else f"“{item.code}”不在本方案任何目录中")
    return Part(None, item.fen, label, refusal=refusal, drug=entry, where=item.where, candidates=tuple(candidates),
                code=item.code)


def _not_payable(entry, item, day: str) -> str:
    """Why a list entry does not pay this item on this day; empty when it does."""
    if entry.indications and item.indication not in entry.indications:
        return f"{entry.name}的适应症不包括“{item.indication or '（未写适应症）'}”"
    if (entry.valid_from and day < entry.valid_from) or (entry.valid_to and day > entry.valid_to):
        return f"{entry.name}在 {day} 不在目录有效期内"
    return ""


def _kind_label(version: Version, candidates: list) -> str:
    kinds = {version.item_lists[list_id].kind for _, list_id in candidates}
    return "治疗项目" if kinds == {"treatment"} else "特药"


def _trace_refused_drugs(drugs: list[Part], version: Version, steps: Trace) -> None:
    for part in drugs:
        if part.refusal:
            prov = part.refused_by or (part.drug.prov if part.drug else _scope(version.scheme_layer, None))
            steps.add("exclusion" if part.refused_by else "catalogue", part.rule, prov, f"{part.label}：{part.refusal}，不予赔付"
                      if part.refused_by else f"{part.refusal}，不予赔付", amount_fen=part.fen, result_fen=0)


def _pay_layer(layer: Layer, answered: list[tuple[Part, list[Decision]]], claim: Claim, version: Version,
               acc: Accumulators, steps: Trace, by_liability: dict) -> dict:
    """Pay the parts the rules routed to this layer's liabilities, in liability order (shared pools depend on it)."""
    paid = {None: 0, **{covers: 0 for covers in vocab.COVERS}}  # by cost kind; None: items
    routed: dict[str, list] = {}
    pool_key = partial(PoolKey, claim.member.id, version.key, layer.id)
    for part, decisions in answered:
        if part.fen <= 0 or part.refusal:  # refused before routing (no list pays it, or a named exclusion)
            continue
        routes = [d for d in decisions if isinstance(d.value, Route)]
        if not routes:
            care = part.where or claim.care
            steps.add("route", decisions[0].rule if decisions else "part.otherwise", _scope(layer, part.covers),
                      lambda p=part, c=care: f"{p.label} {format_yuan(p.fen)} 元：{layer.name}没有责任覆盖"
                      f"（{vocab.CARE[c]}）" + (_care_unspecified(c, _payers_of(layer, p))
                                               or _conditions_unmet(_payers_of(layer, p), c, claim, version)),
                      layer=layer.id, amount_fen=part.fen, result_fen=0)
            continue
        decision = routes[0] if len(routes) == 1 else _hit(layer, part, routes, version, acc, pool_key, steps)
        routed.setdefault(decision.value.liability, []).append((part, decision))
    items = [(liability, liability.rows[decision.value.row], part)
             for liability in layer.liabilities for part, decision in routed.get(liability.id, [])]
    deductions = _deductions(layer, items, version, acc, pool_key, steps)
    for (liability, row, part), decision, deducted in zip(items, _decisions(routed, layer), deductions):
        steps.add("route", decision.rule, liability.basis, lambda p=part, l=liability: f"{p.label} "
                  f"{format_yuan(p.fen)} 元 → {layer.name}·{l.name}", layer=layer.id, liability=liability.id,
                  amount_fen=part.fen)
        fen = _pay_part(layer, liability, row, part, deducted, version, acc, pool_key, steps)
        paid[part.covers] += fen
        key = layer.key_of(liability)
        by_liability[key] = by_liability.get(key, 0) + fen
    return paid


def _decisions(routed: dict, layer: Layer) -> list[Decision]:
    return [decision for liability in layer.liabilities for _, decision in routed.get(liability.id, [])]


# ── deductibles shared by several parts of one claim ──────────────────────────────────────────

Item = tuple  # (Liability, RatioRow, Part): one part routed to a liability, in liability order


def _deductions(layer: Layer, items: list[Item], version: Version, acc: Accumulators,
                pool_key: Callable[[PoolKind, str], PoolKey], steps: Trace) -> list[int]:
    """How much each item's deductible takes from it.  A pool one claim draws on for several parts is used in
    the order the scheme declares (`order:`); the trace says which order was used."""
    deducted = [0] * len(items)
    best = []
    for pool_id in dict.fromkeys(liability.deductible for liability, _, _ in items):
        pool = layer.deductibles[pool_id]
        members = [i for i, (liability, _, _) in enumerate(items) if liability.deductible == pool_id]
        left = max(pool.amount.fen - acc.get(pool_key(PoolKind.DEDUCTIBLE, pool.id), 0), 0)
        order = pool.order.value if pool.order and len(members) > 1 else "in_policy_first"
        if order == "best_for_patient":
            best.append((pool, members, left))
            continue
        _allocate(deducted, _split(items, members, left, order, version), members)
        if len(members) > 1:
            _trace_order(steps, layer, pool, vocab.DEDUCTIBLE_ORDERS[order])
    for pool, members, left in best:  # after the others, so that each candidate is paid in full
        tried = []
        for order in ("in_policy_first", "out_of_policy_first"):
            candidate = list(deducted)
            _allocate(candidate, _split(items, members, left, order, version), members)
            tried.append((_dry_run(layer, items, candidate, version, acc, pool_key), order, candidate))
        paid, order, deducted = max(tried, key=lambda t: t[0])  # max keeps the first of equals
        others = "；".join(f"{vocab.DEDUCTIBLE_ORDERS[o]}赔付 {format_yuan(p)} 元" for p, o, _ in tried)
        _trace_order(steps, layer, pool, f"{vocab.DEDUCTIBLE_ORDERS['best_for_patient']}：比较后采用“"
                     f"{vocab.DEDUCTIBLE_ORDERS[order]}”（{others}）")
    return deducted


def _allocate(deducted: list[int], amounts: list[int], members: list[int]) -> None:
    for i, fen in zip(members, amounts):
        deducted[i] = fen


def _split(items: list[Item], members: list[int], left: int, order: str, version: Version) -> list[int]:
    """What is left of a deductible, over the parts that use it: in turn (in-policy or out-of-policy first,
    the rest in liability order), or pro rata to their amounts in whole fen by the declared rounding."""
    amounts = [items[i][2].fen for i in members]
    if order == "pro_rata":
        return _pro_rata(min(left, sum(amounts)), amounts, version.rounding)
    first = {"in_policy_first": "in_policy_self_pay", "out_of_policy_first": "out_of_policy_self_pay"}[order]
    turn = sorted(range(len(members)), key=lambda k: items[members[k]][2].covers != first)
    out = [0] * len(members)
    for k in turn:
        out[k] = min(amounts[k], left)
        left -= out[k]
    return out


def _pro_rata(take: int, amounts: list[int], rounding: str) -> list[int]:
    """`take` fen shared in proportion to `amounts`: each share rounded by the declared rule (never beyond its
    part), then the fen the rounding left over or took too many settled on the parts in order."""
    total = sum(amounts)
    out = [min(apply_ratio(take, Decimal(fen) / total, rounding), fen) for fen in amounts]
    for k, fen in enumerate(amounts):
        gap = take - sum(out)
        if gap == 0:
            break
        out[k] += max(min(gap, fen - out[k]), -out[k])
    return out


def _dry_run(layer: Layer, items: list[Item], deducted: list[int], version: Version, acc: Accumulators,
             pool_key: Callable[[PoolKind, str], PoolKey]) -> int:
    """What the layer would pay with these deductions (caps included), on a copy of the accumulators."""
    scratch, off = dict(acc), Trace(enabled=False)
    return sum(_pay_part(layer, liability, row, part, d, version, scratch, pool_key, off)
               for (liability, row, part), d in zip(items, deducted))


def _trace_order(steps: Trace, layer: Layer, pool, how: str) -> None:
    steps.add("deductible_order", f"pool.{pool.id}.order", pool.order.prov if pool.order else pool.prov,
              lambda: f"{pool.name}由本次几部分费用共用：{how}", layer=layer.id)




def _hit(layer: Layer, part: Part, routes: list[Decision], version: Version, acc: Accumulators,
         pool_key: Callable[[PoolKind, str], PoolKey], steps: Trace) -> Decision:
    """Several liabilities may pay one item: the version's hit policy says which (validation requires one
    wherever that can happen).  `max` compares what each would pay from the accumulators as they stand."""
    if version.hit_policy is None:
        raise EngineError(f"{version.key}: {part.label} routed to several liabilities without a hit policy")
    liabilities = {l.id: l for l in layer.liabilities}
    offers = {d.value.liability: _offer(layer, liabilities[d.value.liability], d, part, version, acc, pool_key)
              if version.hit_policy == "max" else None for d in routes}
    chosen = routes[0]  # routes come in declaration order; `max` keeps the first of equal offers
    if version.hit_policy == "max":
        chosen = max(routes, key=lambda d: (offers[d.value.liability], -routes.index(d)))
    winner = liabilities[chosen.value.liability]
    names = "、".join(liabilities[d.value.liability].name
                     + (f" {format_yuan(offers[d.value.liability])} 元" if offers[d.value.liability] is not None else "")
                     for d in routes)
    steps.add("route", f"hit_policy.{version.hit_policy}", winner.basis,
              lambda: f"{part.label}可由{names}赔付：按方案的规定（{vocab.HIT_POLICIES[version.hit_policy]}）"
              f"由{winner.name}赔付", layer=layer.id, liability=winner.id,
              amount_fen=part.fen)
    return chosen


def _offer(layer: Layer, liability: Liability, decision: Decision, part: Part, version: Version, acc: Accumulators,
           pool_key: Callable[[PoolKind, str], PoolKey]) -> int:
    """What `liability` would pay for `part` alone, on a copy of the accumulators."""
    left = max(layer.deductibles[liability.deductible].amount.fen
               - acc.get(pool_key(PoolKind.DEDUCTIBLE, liability.deductible), 0), 0)
    return _pay_part(layer, liability, liability.rows[decision.value.row], part, min(left, part.fen), version,
                     dict(acc), pool_key, Trace(enabled=False))


def _payers_of(layer: Layer, part: Part) -> list[Liability]:
    """The liabilities that pay this kind of part: of its cost kind, or (an item) those whose lists hold it."""
    if part.covers is None:
        return [liability for liability, _ in part.candidates]
    return [l for l in layer.liabilities if l.covers == part.covers]


def _care_unspecified(care: str, payers: list[Liability]) -> str:
    """'：一类还是二类未说明…' after '没有责任覆盖（门诊慢特病）', when the care's class left unstated is why."""
    why = vocab.care_unspecified(care, [c for l in payers for c in l.care])
    return f"：{why}" if why else ""


def _conditions_unmet(payers: list[Liability], care: str, claim: Claim, version: Version) -> str:
    """'：责任“CAR-T 治疗”只适用于无既往症' — why the liabilities that pay this kind of part, at this care, do not
    pay this claim (their conditions, read as written)."""
    point = _holds_point(claim, version)
    reasons = [f"责任“{l.name}”只适用于{when.describe()}" for l in payers if care in vocab.care_covered(l.care)
               for when in [l.when] if when and not when.holds(point)]
    return f"：{'；'.join(reasons)}" if reasons else ""


def _scope(layer: Layer, covers: str) -> Provenance:
    """The clauses that set what a layer covers: its liabilities for this kind of cost, else all of them."""
    liabilities = [l for l in layer.liabilities if l.covers == covers] or list(layer.liabilities)
    provs = list(dict.fromkeys(l.basis for l in liabilities if l.basis))
    cited = tuple(dict.fromkeys(c for p in provs if p.source for c in p.source))
    if cited:
        return Provenance(source=cited)
    return Provenance(assumed="；".join(p.assumed for p in provs)) if provs else Provenance()


def _pay_part(layer: Layer, liability: Liability, row: RatioRow, part: Part, deducted: int, version: Version,
              acc: Accumulators, pool_key: Callable[[PoolKind, str], PoolKey], steps: Trace) -> int:
    """Deductible (`deducted`, as `_deductions` shared it out), then ratio (flat or progressive segments), then
    caps — all against the annual accumulators."""
    where = {"layer": layer.id, "liability": liability.id}
    pool = layer.deductibles[liability.deductible]
    ded_key = pool_key(PoolKind.DEDUCTIBLE, pool.id)
    used = acc.get(ded_key, 0)
    acc[ded_key] = used + deducted
    if pool.amount.fen:
        steps.add("deductible", f"pool.{pool.id}", pool.amount.prov,
                  lambda: f"{pool.name} {format_yuan(pool.amount.fen)} 元，此前已累计 {format_yuan(used)} 元，本次抵扣 "
                  f"{format_yuan(deducted)} 元", amount_fen=part.fen, result_fen=part.fen - deducted, **where)
    expense_key = pool_key(PoolKind.EXPENSE, liability.id)
    before = acc.get(expense_key, 0)
    acc[expense_key] = before + part.fen
    if row.rate is not None:
        fen = apply_ratio(part.fen - deducted, row.rate.value, version.rounding)
        steps.add("ratio", f"ratio.{liability.id}", row.rate.prov,
                  lambda: f"{format_yuan(part.fen - deducted)} 元 × {percent(row.rate.value)} = {format_yuan(fen)} 元",
                  amount_fen=part.fen - deducted, result_fen=fen, **where)
    else:
        fen = _pay_segments(row, before + deducted, before + part.fen, version, steps, where)
    for cap_id in liability.caps:
        cap = layer.caps[cap_id]
        cap_key = pool_key(PoolKind.CAP, cap.id)
        left = max(cap.amount.fen - acc.get(cap_key, 0), 0)
        if fen > left:
            steps.add("cap", f"pool.{cap.id}", cap.amount.prov,
                      lambda c=cap, f=fen, rest=left: f"{c.name} {format_yuan(c.amount.fen)} 元，剩余 {format_yuan(rest)} "
                      f"元：赔付由 {format_yuan(f)} 元降为 {format_yuan(rest)} 元", amount_fen=fen, result_fen=left,
                      **where)
            fen = left
    for cap_id in liability.caps:
        cap_key = pool_key(PoolKind.CAP, cap_id)
        acc[cap_key] = acc.get(cap_key, 0) + fen
    steps.add("paid", f"liability.{liability.id}", liability.basis, lambda: f"{liability.name}赔付 {format_yuan(fen)} 元",
              amount_fen=part.fen, result_fen=fen, **where)
    return fen


def _pay_segments(row: RatioRow, start: int, end: int, version: Version, steps: Trace, where: dict) -> int:
    """Progressive ratios on the annual cumulative expense range [start, end) of this liability."""
    exact = Decimal(0)
    for segment in row.segments:
        lo = max(start, segment.lo)
        hi = end if segment.hi is None else min(end, segment.hi)
        if hi <= lo:
            continue
        share = Decimal(hi - lo) * segment.rate.value
        exact += share
        upper = "以上" if segment.hi is None else f"–{format_yuan(segment.hi)}"
        steps.add("segment", "segments", segment.rate.prov,
                  lambda s=segment, u=upper, n=hi - lo: f"分段 {format_yuan(s.lo)}{u} 元：{format_yuan(n)} 元 × "
                  f"{percent(s.rate.value)}",
                  amount_fen=hi - lo, **where)
    fen = round_fen(exact, version.rounding)
    steps.add("ratio", "segments", row.prov, lambda: f"分段合计 {format_yuan(fen)} 元（按{version.rounding}规则取整到分）",
              result_fen=fen, **where)
    return fen


def _insurer_shares(fen: int, version: Version) -> list[dict]:
    parts = split_by_shares(fen, [i.share.value for i in version.insurers])
    return [{"insurer": i.name, "lead": i.lead, "share": str(i.share.value), "fen": f}
            for i, f in zip(version.insurers, parts)]
