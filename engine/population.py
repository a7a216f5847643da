"""A synthetic reference population described in an editable YAML file, seeded and reproducible.

The file (`hmb-population/1`, see docs/population.md) gives the residents a scheme may enrol: age
structure, sex, pre-existing conditions by age, low-income categories, basic-insurance type, take-up
by premium band, which plan a member chooses where a version offers several (`plan_choice`), and claims: how
often and how large, by kind, heavy-tailed.  Every figure carries `source:` (a document and clause) or
`assumed:` (why this value), like a scheme's numbers.

Amounts are drawn from continuous distributions and become whole fen once, where they are made;
everything after that (the settlement) is integer arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
from jsonschema import Draft202012Validator

from . import vocab
from .inputs import PERSON_DEFAULTS
from .issues import Issue, SchemeError
from .load import Document, load_file
from .model import Version
from .vector.adjudicate import BatchPremiums
from .vector.columns import CODE, PERSON_DIMS, ClaimBatch, MemberBatch
from .vector.sample import days_between

_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_PROV = {"source": {"type": "string", "minLength": 1}, "assumed": {"type": "string", "minLength": 1}}
_FIGURE = {"type": "object", "additionalProperties": False, "required": ["value"],
           "properties": {"value": {"type": "number", "minimum": 0}, "per_years": {"type": "number", "minimum": 1},
                          **_PROV},
           "oneOf": [{"required": ["source"]}, {"required": ["assumed"]}]}


def _node(properties: dict, required: list[str]) -> dict:
    """An object whose figures are explained: it says `source:` or `assumed:`."""
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {**properties, **_PROV}, "oneOf": [{"required": ["source"]}, {"required": ["assumed"]}]}


_SEVERITY = {"type": "object", "additionalProperties": False, "required": ["median_yuan", "spread"],
             "properties": {"median_yuan": {"type": "number", "exclusiveMinimum": 0},
                            "spread": {"type": "number", "minimum": 0},
                            "tail": {"type": "object", "additionalProperties": False,
                                     "required": ["share", "from_yuan", "alpha"],
                                     "properties": {"share": _SHARE, "from_yuan": {"type": "number", "minimum": 1},
                                                    "alpha": {"type": "number", "exclusiveMinimum": 0}}},
                            "max_yuan": {"type": "number", "minimum": 1}}}

_ELASTICITY = {"type": "number", "minimum": 0}
# Who leaves when the premium rises (engine/price_response.py, used by the what-if; the backtest ignores it).
_PRICE_RESPONSE = _node({"elasticity": {"type": "object", "additionalProperties": False,
                                        "required": ["healthy", "pre_existing"],
                                        "properties": {"healthy": _ELASTICITY, "pre_existing": _ELASTICITY}},
                         "by_band": {"type": "object", "additionalProperties": _ELASTICITY}}, ["elasticity"])

# How members choose among a version's plans: the share choosing the plan cheapest for them (the rest spread
# equally over the others), or each plan's share by its id (a scheme's own ids); by age band where it differs.
_CHOICE = {"cheapest": _SHARE, "plans": {"type": "object", "minProperties": 1, "additionalProperties": _SHARE}}
_PLAN_CHOICE = {**_node({**_CHOICE, "by_age": {"type": "array", "minItems": 1, "items": {
    "type": "object", "additionalProperties": False, "required": ["from", "to"],
    "properties": {"from": {"type": "integer", "minimum": 0}, "to": {"type": "integer", "maximum": vocab.MAX_AGE},
                   **_CHOICE},
    "anyOf": [{"required": ["cheapest"]}, {"required": ["plans"]}]}}}, []),
    "anyOf": [{"required": ["cheapest"]}, {"required": ["plans"]}]}

SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["format", "name", "seed", "residents", "age", "sex", "pre_existing", "low_income",
                 "basic_insurance", "take_up", "claims"],
    "properties": {
        "format": {"const": "hmb-population/1"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "seed": {"type": "integer"},
        "sources": {"type": "object"},
        "residents": _FIGURE,
        "calibration": {"type": "object", "additionalProperties": _FIGURE},
        "age": _node({"groups": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["from", "to", "share"],
            "properties": {"from": {"type": "integer", "minimum": 0}, "to": {"type": "integer", "maximum": vocab.MAX_AGE},
                           "share": _SHARE, "pre_existing": _SHARE, "claims": {"type": "number", "minimum": 0}}}}},
                     ["groups"]),
        "sex": _node({"female": _SHARE, "claims_female": {"type": "number", "minimum": 0}}, ["female"]),
        "pre_existing": _node({"claims": {"type": "number", "minimum": 0}}, ["claims"]),
        "low_income": _node({"shares": {"type": "object", "propertyNames": {"enum": list(vocab.LOW_INCOME)},
                                        "additionalProperties": _SHARE}}, ["shares"]),
        "basic_insurance": _node({"employee": _SHARE, "none": _SHARE}, ["employee"]),
        "take_up": _node({"default": _SHARE, "by_band": {"type": "object", "additionalProperties": _SHARE},
                          "price_response": _PRICE_RESPONSE}, ["default"]),
        "plan_choice": _PLAN_CHOICE,
        "claims": _node({
            "hospital": {"type": "object", "additionalProperties": False,
                         "required": ["incidence", "severity", "care", "hospital_level", "out_of_policy_share"],
                         "properties": {"incidence": _SHARE, "more_stays": {"type": "number", "minimum": 0},
                                        "severity": _SEVERITY,
                                        "care": {"type": "object", "propertyNames": {"enum": list(vocab.CARE)},
                                                 "additionalProperties": {"type": "number", "minimum": 0}},
                                        "hospital_level": {"type": "object",
                                                           "propertyNames": {"enum": ["1", "2", "3"]},
                                                           "additionalProperties": {"type": "number", "minimum": 0}},
                                        "out_of_policy_share": {"type": "array", "items": _SHARE,
                                                                "minItems": 2, "maxItems": 2}}},
            "special_drugs": {"type": "object", "additionalProperties": False, "required": ["incidence", "severity"],
                              "properties": {"incidence": _SHARE, "severity": _SEVERITY}}}, ["hospital"]),
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class PopulationSpec:
    file: str
    data: dict
    doc: Document | None = field(default=None, compare=False, repr=False)  # where each figure stands, for errors

    @property
    def seed(self) -> int:
        return self.data["seed"]

    @property
    def residents(self) -> int:
        return int(self.data["residents"]["value"])

    def resized(self, residents: int) -> "PopulationSpec":
        """The same population with another number of residents (the shares unchanged)."""
        return replace(self, data={**self.data, "residents": {**self.data["residents"], "value": residents}})

    def assumptions(self) -> list[str]:
        """Every `assumed:` of the file, with where it stands."""
        found = []

        def walk(node, path):
            if isinstance(node, dict):
                if "assumed" in node:
                    found.append(f"{'.'.join(path) or '（文件）'}：{node['assumed']}")
                for key, value in node.items():
                    walk(value, (*path, str(key)))
        walk(self.data, ())
        return found


def load_population(path: str | Path) -> PopulationSpec:
    """A population file, checked: SchemeError lists every problem with its line and path."""
    from .validate import _translate  # the same Chinese wording as scheme errors

    doc = load_file(path)
    issues = [issue for error in _VALIDATOR.iter_errors(doc.data) for issue in _translate(doc, error)]
    if not issues:
        issues = _share_issues(doc)
    if issues:
        raise SchemeError(issues)
    return PopulationSpec(str(path), doc.data, doc)


def _share_issues(doc: Document) -> list:
    issues = []
    groups = doc.data["age"]["groups"]
    if abs(sum(g["share"] for g in groups) - 1) > 1e-6:
        issues.append(doc.issue("population.shares", "各年龄组的 share 之和应为 1", ("age", "groups")))
    for i, (a, b) in enumerate(zip(groups, groups[1:])):
        if b["from"] != a["to"] + 1:
            issues.append(doc.issue("population.ages", f"年龄组应首尾相接：{a['to']} 之后应从 {a['to'] + 1} 岁开始",
                                    ("age", "groups", i + 1, "from")))
    if sum(doc.data["low_income"]["shares"].values()) > 1:
        issues.append(doc.issue("population.shares", "低收入各类的 share 之和不能超过 1", ("low_income", "shares")))
    return issues + _plan_choice_issues(doc)


def _plan_choice_issues(doc: Document) -> list:
    node = doc.data.get("plan_choice")
    if node is None:
        return []
    rules = [(("plan_choice",), node)] + [(("plan_choice", "by_age", i), entry)
                                          for i, entry in enumerate(node.get("by_age", []))]
    issues = [doc.issue("population.shares", "各方案的比例之和应为 1", (*at, "plans"))
              for at, rule in rules if "plans" in rule and abs(sum(rule["plans"].values()) - 1) > 1e-6]
    ages = sorted((entry["from"], entry["to"], i) for i, entry in enumerate(node.get("by_age", [])))
    issues += [doc.issue("population.ages", f"年龄段 {a}–{b} 岁应从小到大且互不重叠",
                         ("plan_choice", "by_age", i, "from"))
               for (a, b, i), before in zip(ages, [None, *ages]) if a > b or (before and a <= before[1])]
    return issues


# ── residents ─────────────────────────────────────────────────────────────────────────────────

@dataclass
class Residents:
    members: MemberBatch  # dimension codes; age is the age on the version's reference date
    female: np.ndarray
    claims_weight: np.ndarray  # relative likelihood of claiming (age group × sex × pre-existing)


def residents(spec: PopulationSpec) -> Residents:
    """Everyone the scheme could enrol, drawn from the file's shares (the same seed, the same people)."""
    data, n = spec.data, spec.residents
    rng = np.random.default_rng(spec.seed)
    groups = data["age"]["groups"]
    group = rng.choice(len(groups), n, p=_normalised([g["share"] for g in groups]))
    lows = np.array([g["from"] for g in groups])
    highs = np.array([g["to"] for g in groups])
    age = (lows[group] + rng.integers(0, highs[group] - lows[group] + 1)).astype(np.int16)
    pre_existing = rng.random(n) < _floats([g.get("pre_existing", 0) for g in groups])[group]
    female = rng.random(n) < float(data["sex"]["female"])
    columns = {dim: np.full(n, CODE[dim][_default(dim)], np.int16) for dim in PERSON_DIMS}
    columns["age"] = age
    columns["pre_existing"] = pre_existing.astype(np.int16)
    shares = data["low_income"]["shares"]
    categories = [vocab.NOT_LOW_INCOME, *shares]
    columns["low_income"] = np.array([CODE["low_income"][c] for c in categories], np.int16)[
        rng.choice(len(categories), n, p=_normalised([1 - float(sum(shares.values())), *shares.values()]))]
    basic = data["basic_insurance"]
    insurance = ["employee", "none", "resident"]
    columns["basic_insurance"] = np.array([CODE["basic_insurance"][c] for c in insurance], np.int16)[
        rng.choice(3, n, p=_normalised([basic["employee"], basic.get("none", 0),
                                        1 - float(basic["employee"]) - float(basic.get("none", 0))]))]
    weight = _floats([g.get("claims", 1) for g in groups])[group]
    weight = weight * np.where(female, float(data["sex"].get("claims_female", 1)), 1.0)
    weight = weight * np.where(pre_existing, float(data["pre_existing"]["claims"]), 1.0)
    return Residents(MemberBatch(columns), female, weight)


def _default(dim: str):
    return PERSON_DEFAULTS[dim] if dim != "age" else 0


def _floats(values) -> np.ndarray:
    """Shares and factors of the file (Decimal when read) as floats: they weigh random draws, never money."""
    return np.array([float(v) for v in values])


def _normalised(weights) -> np.ndarray:
    weights = _floats(weights)
    return weights / weights.sum()


# ── plans ─────────────────────────────────────────────────────────────────────────────────────

PLAN_SEED = 4  # residents are drawn at seed, take-up at seed + 1, claims at + 2, the price response at + 3


class PlanChoiceError(SchemeError):
    """The population does not say how its members choose among a version's plans."""


def choice_rules(spec: PopulationSpec, version: Version) -> list[tuple[tuple[int, int] | None, np.ndarray | float]]:
    """How members choose among the version's plans, by age band (None: every other age): each plan's share
    (in the version's plan order), or the share choosing the plan cheapest for them.  PlanChoiceError names
    the plans the file does not cover."""
    ids = [plan.plan for plan in version.plans]
    node = spec.data.get("plan_choice")
    if node is None:
        why = f"人群文件没有 plan_choice，不知道参保人如何在 {version.key} 的方案 {'、'.join(ids)} 之间选择"
        raise PlanChoiceError([_choice_issue(spec, ("plan_choice",), why)])
    rules = [((entry["from"], entry["to"]), _resolved(spec, (entry, node), ids, version, ("plan_choice", "by_age", i)))
             for i, entry in enumerate(node.get("by_age", []))]
    return rules + [(None, _resolved(spec, (node,), ids, version, ("plan_choice",)))]


def plan_choice_issues(spec: PopulationSpec, version: Version) -> list[Issue]:
    """Why this population cannot be used for this version (empty: it can): it does not say how members choose
    among the version's plans."""
    if not version.plans:
        return []
    try:
        choice_rules(spec, version)
    except PlanChoiceError as exc:
        return exc.issues
    return []


def _resolved(spec: PopulationSpec, rules: tuple, ids: list[str], version: Version, at: tuple) -> np.ndarray | float:
    """The first rule that applies: `plans` naming exactly the version's plans, else `cheapest`.  `plans` naming
    other ids only (another scheme's) does not apply; naming some of the version's but not all is an error."""
    for rule in rules:
        named = rule.get("plans", {})
        if set(named) == set(ids):
            return _floats([named[i] for i in ids])
        if set(named) & set(ids):
            missing, extra = [i for i in ids if i not in named], [i for i in named if i not in ids]
            raise PlanChoiceError([_choice_issue(spec, (*at, "plans"), (
                f"{version.key} 的方案为 {'、'.join(ids)}；plans 缺少 {'、'.join(missing) or '—'}"
                + (f"，多出 {'、'.join(extra)}" if extra else "")))])
        if "cheapest" in rule:
            return float(rule["cheapest"])
    raise PlanChoiceError([_choice_issue(spec, at, (
        f"plan_choice 没有给出 {version.key} 的方案 {'、'.join(ids)} 的比例（plans 写的是 "
        f"{'、'.join(rules[0].get('plans', {})) or '—'}）：请在 plans 写出这些方案的比例，或写 cheapest（选最便宜方案的比例）"))])


def _choice_issue(spec: PopulationSpec, path: tuple, message: str) -> Issue:
    if spec.doc is not None:
        return spec.doc.issue("population.plans", message, path)
    return Issue("population.plans", message, path, spec.file)


def with_plans(spec: PopulationSpec, people: Residents, version: Version, pricing) -> Residents:
    """The residents, each with the plan they would enrol in (`plan_choice`, drawn at its own seed); unchanged
    under a version without plans.  `pricing`: the version compiled (VectorVersion), for each plan's premium."""
    if not version.plans:
        return people
    members = people.members
    draw = np.random.default_rng(spec.seed + PLAN_SEED).random(len(members))
    codes = plan_codes(choice_rules(spec, version), members.columns["age"], lambda: cheapest_plans(pricing, members),
                       len(version.plans), draw)
    return replace(people, members=MemberBatch(members.columns, codes, [plan.plan for plan in version.plans]))


def plan_codes(rules: list, age: np.ndarray, cheapest: Callable[[], np.ndarray], plans: int,
               draw: np.ndarray) -> np.ndarray:
    """Each one's plan (an index into the version's plans) by `choice_rules` and one uniform draw each;
    `cheapest()` gives each one's cheapest plan, asked for only where a rule needs it (it quotes every plan)."""
    shares = np.zeros((len(age), plans))
    chosen = np.zeros(len(age), bool)
    lowest = None
    for ages, rule in rules:
        mine = ~chosen & ((age >= ages[0]) & (age <= ages[1]) if ages else True)
        if isinstance(rule, float):
            lowest = cheapest() if lowest is None else lowest
            shares[mine] = (1 - rule) / (plans - 1) if plans > 1 else 0.0
            shares[mine, lowest[mine]] = rule if plans > 1 else 1.0
        else:
            shares[mine] = rule
        chosen |= mine
    return np.minimum((draw[:, None] >= np.cumsum(shares, axis=1)).sum(axis=1), plans - 1).astype(np.int16)


def cheapest_plans(pricing, members: MemberBatch) -> np.ndarray:
    """Each one's cheapest plan (the first declared of equals; not eligible anywhere: the first)."""
    premiums = []
    for plan in pricing.plans:
        quoted = plan.quote(members)
        premiums.append(np.where(quoted.band >= 0, quoted.premium, np.iinfo(np.int64).max))
    return np.argmin(np.stack(premiums, axis=1), axis=1)


def take_up(spec: PopulationSpec, band: np.ndarray, bands: list) -> np.ndarray:
    """Who enrols: a resident priced in a band enrols with that band's take-up (not eligible: never).  `bands`:
    the bands `band` points into (a quote's `bands`: under a version with plans, each plan's in turn; a band id
    of `by_band` applies to that band in every plan)."""
    rates = spec.data["take_up"]
    by_band = _floats([rates.get("by_band", {}).get(b.id, rates["default"]) for b in bands] + [0])
    rng = np.random.default_rng(spec.seed + 1)
    return rng.random(len(band)) < by_band[band]


@dataclass
class PopulationYear:
    """A version's year on the population: the residents (each with the plan they choose), their premiums,
    who enrols, and the claims of those who do (None when not drawn)."""

    people: Residents
    premiums: BatchPremiums
    insured: np.ndarray
    batch: ClaimBatch | None


def draw_year(spec: PopulationSpec, version: Version, pricing, with_claims: bool = True) -> PopulationYear:
    """Residents, plans, premiums, take-up and claims under the version, each at its own seed.  `pricing`: the
    version compiled (VectorVersion; its liabilities are not used).  PlanChoiceError before anything is drawn."""
    if version.plans:
        choice_rules(spec, version)
    people = with_plans(spec, residents(spec), version, pricing)
    premiums = pricing.quote(people.members)
    insured = take_up(spec, premiums.band, premiums.bands)
    batch = claims(spec, people, insured, version, pricing.catalogue) if with_claims else None
    return PopulationYear(people, premiums, insured, batch)


# ── claims ────────────────────────────────────────────────────────────────────────────────────

def _severity_fen(rng, params: dict, n: int) -> np.ndarray:
    """Log-normal around the median, a Pareto tail for a share of claims, whole fen (at least 1 yuan)."""
    body = float(params["median_yuan"]) * np.exp(float(params["spread"]) * rng.standard_normal(n))
    tail = params.get("tail")
    if tail:
        pareto = float(tail["from_yuan"]) * (1 - rng.random(n)) ** (-1 / float(tail["alpha"]))
        body = np.where(rng.random(n) < float(tail["share"]), pareto, body)
    body = np.minimum(body, float(params.get("max_yuan", 5_000_000)))
    return np.maximum(np.rint(body * 100), 100).astype(np.int64)


def _pick(rng, weights: dict, n: int) -> np.ndarray:
    keys = list(weights)
    return rng.choice(len(keys), n, p=_normalised(list(weights.values()))), keys


def claims(spec: PopulationSpec, people: Residents, insured: np.ndarray, version: Version,
           catalogue: dict) -> ClaimBatch:
    """A policy year of claims of the insured, in settlement order (member, date)."""
    rng = np.random.default_rng(spec.seed + 2)
    data = spec.data["claims"]
    who = np.flatnonzero(insured)
    weight = people.claims_weight[who]
    hospital = data["hospital"]
    stays = (rng.random(len(who)) < np.minimum(float(hospital["incidence"]) * weight, 1)).astype(np.int64)
    stays = stays * (1 + rng.poisson(float(hospital.get("more_stays", 0)), len(who)))
    member = np.repeat(who, stays)
    n = len(member)
    total = _severity_fen(rng, hospital["severity"], n)
    low, high = hospital["out_of_policy_share"]
    out_of_policy = total * rng.integers(int(low * 100), int(high * 100) + 1, n) // 100
    care_index, cares = _pick(rng, hospital["care"], n)
    level_index, levels = _pick(rng, hospital["hospital_level"], n)
    drugs = data.get("special_drugs")
    usable = [(code, next(iter(d.indications), None)) for code, d in catalogue.items()]  # None: any indication
    drug_member = who[rng.random(len(who)) < np.minimum(float(drugs["incidence"]) * weight, 1)] if drugs and usable \
        else np.zeros(0, np.int64)
    member = np.concatenate([member, drug_member])
    in_policy = np.concatenate([total - out_of_policy, np.zeros(len(drug_member), np.int64)])
    out_of_policy = np.concatenate([out_of_policy, np.zeros(len(drug_member), np.int64)])
    drug_fen = np.concatenate([np.zeros(n, np.int64), _severity_fen(rng, drugs["severity"], len(drug_member))
                               if len(drug_member) else np.zeros(0, np.int64)])[:, None]
    care = np.concatenate([np.array([CODE["care"][c] for c in cares], np.int16)[care_index],
                           np.full(len(drug_member), CODE["care"]["pharmacy"], np.int16)])
    level = np.concatenate([np.array([CODE["hospital_level"][int(lv)] for lv in levels], np.int16)[level_index],
                            np.full(len(drug_member), CODE["hospital_level"][3], np.int16)])
    date = days_between(*version.period, rng, len(member))
    order = np.lexsort((date, member))
    pick = rng.integers(0, max(len(usable), 1), len(member))
    columns = {dim: codes[member[order]] for dim, codes in people.members.columns.items()}
    columns["care"], columns["hospital_level"] = care[order], level[order]
    plan = people.members.plan
    return ClaimBatch(
        member=member[order], date=date[order], columns=columns, age_ref=columns["age"],
        in_policy=in_policy[order], out_of_policy=out_of_policy[order], raw_bill=np.zeros(len(member), bool),
        drug_fen=drug_fen[order],
        drug_code=pick[order][:, None].astype(np.int32), drug_indication=pick[order][:, None].astype(np.int32),
        drug_codes=[c for c, _ in usable] or [""], drug_indications=[i for _, i in usable] or [""],
        plan=None if plan is None else plan[member[order]], plan_ids=people.members.plan_ids)

