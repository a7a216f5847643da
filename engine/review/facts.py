"""Facts: what a regulator's checks look at, derived from a validated scheme version.

Each fact has a name from `FACTS` (its kind and Chinese label), an engine value (money in fen, ratios in
basis points, booleans, codes, lists of codes; None when the scheme does not say), the text a reviewer reads,
and the assumptions it rests on — so a verdict can say when it depends on an assumed value.

Figures that need computing (highest deductible, lowest cap, the ratio paid for pre-existing conditions, a
backtest claims ratio on the reference population) are computed here in Python; the rules only compare.
Everything that reads a scheme's `when:` conditions is in `condition_keys` and `condition_allows`.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .. import vocab
from ..conditions import UNNAMED, Condition
from ..explain import assumptions
from ..impact import POPULATION_ASSUMPTION, reference_population, run_population
from ..model import Declared, Liability, Product, Provenance, Version
from ..money import format_yuan, percent

MAIN_COVERS = ("in_policy_self_pay", "out_of_policy_self_pay")  # the main liabilities (not special drugs)
MAIN_CARE = "inpatient"
BASIS_POINTS = 10_000
STATES = {"declared": "已声明", "not_declared": "声明没有", "unknown": "未知"}

# name → (kind, label).  Kinds: money (fen; regime files write yuan), ratio (basis points; files write 0–1),
# count, bool, text, list (of codes), state (declared / not_declared / unknown).
FACTS: dict[str, tuple[str, str]] = {
    "name": ("text", "方案名称"),
    "city": ("text", "城市"),
    "region": ("text", "省份"),
    "name_mentions_city": ("bool", "名称含城市名"),
    "first_year": ("bool", "首个年度"),
    "starts_inside_other_version": ("bool", "保险期间始于另一版本的保险期间之内"),
    "pricing": ("text", "声明的定价方式"),
    "premium_varies": ("bool", "保费因人而异"),
    "premium_by_age": ("bool", "保费按年龄分档"),
    "premium_by_pre_existing": ("bool", "保费按既往症分档"),
    "premium_max": ("money", "最高保费"),
    "premium_min": ("money", "最低保费"),
    "eligibility_tests": ("list", "参保排除条件所依据的项目"),
    "open_to_all_basic_members": ("bool", "基本医保参保人员均可参保"),
    "basic_insurance_required": ("bool", "须参加基本医保"),
    "suspend_when_basic_in_arrears": ("bool", "基本医保欠费暂停、补缴后恢复"),
    "claim_order": ("text", "赔付顺序"),
    "deductible_max": ("money", "主要责任最高起付线"),
    "main_cap_min": ("money", "主要责任最低封顶线"),
    "pre_existing_ratio_main": ("ratio", "既往症人员在主要责任上的最低赔付比例"),
    "insurers": ("count", "共保体成员数"),
    "lead_share_largest": ("bool", "主承保份额最大"),
    "insurer_term_years": ("count", "共保体承办期（年）"),
    "filings_authorisation": ("state", "总公司授权书"),
    "filings_actuarial_opinion": ("state", "精算意见书"),
    "filings_legal_opinion": ("state", "法律意见书"),
    "surplus_rollover": ("state", "结余滚存下一保险期"),
    "no_application_claims": ("state", "免申即赔"),
    "payment_deadline_days": ("count", "赔款到账最长时限（天数，按方案所写的天或工作日）"),
    "payment_deadlines": ("text", "赔款到账时限"),
    "social_insurance_distinguished": ("state", "与社会保险明确区分"),
    "backtest": ("text", "精算回溯"),
    "promised_claims_ratio": ("ratio", "向公众承诺的赔付率"),
    "disclosure": ("list", "向社会公开的事项"),
    "data_items": ("list", "收集的个人信息"),
    "excludes_common_disease": ("bool", "免责条款含常见病、多发病"),
    "declared_premium_max": ("money", "自身声明的保费上限"),
    "declared_deductible_max": ("money", "自身声明的起付线上限"),
    "declared_cap_min": ("money", "自身声明的封顶线下限"),
    "declared_claims_ratio_min": ("ratio", "自身声明的赔付率下限"),
    "claims_ratio_backtest": ("ratio", "参考人群回测赔付率"),
}
_LIST_LABELS = {"eligibility_tests": vocab.CONDITION_KEYS, "disclosure": vocab.DISCLOSURE_ITEMS,
                "data_items": vocab.DATA_ITEMS}
_TEXT_LABELS = {"pricing": {"flat": "统一定价", "differentiated": "差异化定价"},
                "backtest": {"yearly": "每年", "none": "不做"}}


@dataclass(frozen=True)
class Fact:
    name: str
    value: object  # engine value; None = the scheme does not say
    assumed: tuple[str, ...] = ()  # reasons of the assumed values it rests on
    detail: str = ""  # where a computed figure comes from (which conditions, which liabilities)

    @property
    def label(self) -> str:
        return FACTS[self.name][1]

    @property
    def text(self) -> str:
        value = describe_value(self.name, self.value)
        return f"{value}（{self.detail}）" if self.detail else value

    def as_dict(self) -> dict:
        value = self.value
        return {"name": self.name, "label": self.label, "value": value, "text": self.text,
                "detail": self.detail, "assumed": list(self.assumed)}


def describe_value(name: str, value) -> str:
    """A fact's value as a reviewer reads it."""
    kind = FACTS[name][0]
    if value is None:
        return "未声明"
    if kind == "money":
        return f"{format_yuan(value)} 元"
    if kind == "ratio":
        return percent(Decimal(value) / BASIS_POINTS)
    if kind == "bool":
        return "是" if value else "否"
    if kind == "state":
        return STATES[value]
    if kind == "list":
        labels = _LIST_LABELS.get(name, {})
        return "、".join(labels.get(v, v) for v in value) or "无"
    if name == "claim_order":
        return " → ".join(vocab.LAYER_KINDS.get(k, k) for k in value.split(">")) + " → 本方案"
    return _TEXT_LABELS.get(name, {}).get(value, str(value))


def engine_value(name: str, written):
    """A value as a regime file writes it (yuan, 0–1 ratios) → the engine's unit (fen, basis points)."""
    kind = FACTS[name][0]
    if kind == "money":
        return int(Decimal(str(written)) * 100)
    if kind == "ratio":
        return int(Decimal(str(written)) * BASIS_POINTS)
    return written


# ── reading conditions (the one place that knows how a `when:` is represented) ─────────────────

def condition_keys(when: Condition) -> set[str]:
    """The dimensions a condition tests."""
    return set(when.keys)


def condition_allows(when: Condition, key: str, value) -> bool:
    """Could someone with `key = value` satisfy the condition (whatever their other dimensions)?"""
    clause = when.get(key)
    return clause is None or clause.holds(value)


# ── deriving ──────────────────────────────────────────────────────────────────────────────────

def derive_facts(product: Product, version: Version, data: dict, population: int = 2_000, seed: int = 2025
                 ) -> dict[str, Fact]:
    """Every fact of one version.  `data` is the version's validated YAML mapping (for declared terms)."""
    facts = [*_identity(product, version, data), *_premiums(version, data), *_eligibility(version),
             *_liabilities(version), *_filings(version, data), *_declarations(version, data), *_service(version),
             *_insurers(version, data),
             *_declared_limits(version), _backtest(version, population, seed)]
    return {fact.name: fact for fact in facts}


def _reasons(*provs: Provenance) -> tuple[str, ...]:
    out: list[str] = []
    for prov in provs:
        if prov.is_assumption and prov.assumed not in out:
            out.append(prov.assumed)
    return tuple(out)


def _identity(product: Product, version: Version, data: dict) -> list[Fact]:
    name = f"{version.product_name} {version.name}"
    stem = version.city.rstrip("市县区州盟")
    others = [v for v in product.versions if v is not version]
    inside = any(o.period[0] < version.period[0] <= o.period[1] for o in others)
    period = _section_assumption(data, "period")
    return [Fact("name", name), Fact("city", version.city), Fact("region", version.region),
            Fact("name_mentions_city", bool(stem) and stem in name),
            Fact("first_year", version.period[0] == min(v.period[0] for v in product.versions), period),
            Fact("starts_inside_other_version", inside, period),
            Fact("claim_order", ">".join(version.chain_after), _section_assumption(data, "chain"))]


def _plans(version: Version) -> tuple[Version, ...]:
    """What a member may be insured under: each plan of a version that declares plans (a regulator's figures
    are about the worst of them), else the version itself."""
    return version.plans or (version,)


def _plan_named(version: Version, detail: str = "") -> str:
    """A computed figure's detail, prefixed with the plan it comes from (under plans)."""
    if not version.plan:
        return detail
    return f"{version.plan_name}：{detail}" if detail else version.plan_name


def _premiums(version: Version, data: dict) -> list[Fact]:
    """Premium figures over every plan's bands.  A premium varies when it differs within a plan: a member choosing
    a dearer plan is not priced by their risk."""
    plans = _plans(version)
    bands = [(plan, band) for plan in plans for band in plan.bands]
    provs = _reasons(*(b.amount.prov for _, b in bands))
    varying = [plan for plan in plans if len({b.amount.fen for b in plan.bands}) > 1]

    def by(key: str) -> bool:
        return any(key in condition_keys(b.when) for plan in varying for b in plan.bands)

    dearest = max(bands, key=lambda pb: pb[1].amount.fen)
    cheapest = min(bands, key=lambda pb: pb[1].amount.fen)
    return [Fact("pricing", version.pricing, _section_assumption(data, "regulation")),
            Fact("premium_varies", bool(varying), provs), Fact("premium_by_age", by("age"), provs),
            Fact("premium_by_pre_existing", by("pre_existing"), provs),
            Fact("premium_max", dearest[1].amount.fen, provs, _plan_named(dearest[0])),
            Fact("premium_min", cheapest[1].amount.fen, provs, _plan_named(cheapest[0]))]


def _eligibility(version: Version) -> list[Fact]:
    excluding = [r for r in version.eligibility_rules if r.outcome == "not_eligible"]
    tested = sorted({k for r in excluding for k in condition_keys(r.when)}, key=list(vocab.CONDITION_KEYS).index)
    members_excluded = any(condition_allows(r.when, "basic_insurance_status", "active")
                           and any(condition_allows(r.when, "basic_insurance", kind) for kind in ("employee", "resident"))
                           for r in excluding)
    prov = _reasons(version.eligibility_prov, *(r.prov for r in excluding))
    return [Fact("eligibility_tests", tested, prov), Fact("open_to_all_basic_members", not members_excluded, prov),
            Fact("basic_insurance_required", version.basic_insurance_required, prov),
            Fact("suspend_when_basic_in_arrears", version.suspend_when_basic_in_arrears, prov)]


def _main_liabilities(version: Version) -> list[Liability]:
    """The liabilities regulators' figures are about: in- and out-of-policy self-pay of inpatient care."""
    return [l for l in version.scheme_layer.liabilities if l.covers in MAIN_COVERS and MAIN_CARE in l.care]


def _liabilities(version: Version) -> list[Fact]:
    """The highest deductible, the lowest cap and the worst pre-existing ratio on the main liabilities, over
    every plan (the plan that gives each is named)."""
    per_plan = [facts for plan in _plans(version) if (facts := _plan_liabilities(plan))]
    if not per_plan:
        return [Fact(name, None) for name in ("deductible_max", "main_cap_min", "pre_existing_ratio_main")]
    deductibles, caps, ratios = zip(*per_plan)
    caps = [cap for cap in caps if cap.value is not None]
    return [max(deductibles, key=lambda f: f.value),
            min(caps, key=lambda f: f.value) if caps else Fact("main_cap_min", None),
            min(ratios, key=lambda f: f.value)]


def _plan_liabilities(version: Version) -> list[Fact]:
    """One plan's (or a version's) figures; empty when it has no main liability."""
    layer = version.scheme_layer
    main = _main_liabilities(version)
    if not main:
        return []
    deductible = max((layer.deductibles[l.deductible] for l in main), key=lambda pool: pool.amount.fen)
    caps = [min((layer.caps[c] for c in l.caps), key=lambda pool: pool.amount.fen) for l in main if l.caps]
    lowest_cap = min(caps, key=lambda pool: pool.amount.fen) if caps else None
    return [Fact("deductible_max", deductible.amount.fen, _reasons(deductible.amount.prov), _plan_named(version)),
            Fact("main_cap_min", lowest_cap.amount.fen if lowest_cap else None,
                 _reasons(lowest_cap.amount.prov) if lowest_cap else (), _plan_named(version) if lowest_cap else ""),
            _worst_pre_existing_ratio(version, main)]


@dataclass(frozen=True)
class _PreExistingRate:
    liability: Liability
    condition: str  # what the scheme calls the pre-existing condition
    rate: int  # basis points
    provs: tuple[Provenance, ...]


def _worst_pre_existing_ratio(version: Version, main: list[Liability]) -> Fact:
    """The lowest ratio a pre-existing condition gets on a main liability, naming which conditions on which
    liabilities get it.  Each named condition counts on its own (and an unnamed one, `pre_existing: true`): a
    scheme paying 30 % for cancer but 0 for renal failure excludes renal failure in effect."""
    rates = [_pre_existing_rate(version, liability, condition, name)
             for liability in main for condition, name in _pre_existing_kinds(version)]
    lowest = min(r.rate for r in rates)
    worst = [r for r in rates if r.rate == lowest]
    conditions = list(dict.fromkeys(r.condition for r in worst))
    liabilities = list(dict.fromkeys(r.liability.name for r in worst))
    detail = f"{'、'.join(conditions)}，在{'、'.join(f'“{name}”' for name in liabilities)}"
    return Fact("pre_existing_ratio_main", lowest, _reasons(*(p for r in worst for p in r.provs)),
                _plan_named(version, detail))


def _pre_existing_kinds(version: Version) -> list[tuple[frozenset, str]]:
    """The people with a pre-existing condition a ratio can tell apart: each named condition alone, and one the
    version does not name."""
    named = [(frozenset({c.id}), c.name) for c in version.pre_existing_conditions.values()]
    return [*named, (frozenset({UNNAMED}), "未列名的既往症" if named else "既往症")]


def _pre_existing_rate(version: Version, liability: Liability, condition: frozenset, name: str) -> _PreExistingRate:
    """The best ratio (basis points) a member with `condition` can get on a liability, whatever else the rows
    test (a condition paid at some hospitals is not excluded); 0 when the liability, or an exclusion of whole
    claims of inpatient care, leaves them out."""
    excluded = [e for e in version.exclusions if e.whole_claim and _excludes_inpatient_claims_of(e.when, condition)]
    if excluded:
        return _PreExistingRate(liability, name, 0, (excluded[0].prov,))
    if not condition_allows(liability.when, "pre_existing", condition):
        return _PreExistingRate(liability, name, 0, (liability.prov,))
    best, provs = 0, [liability.prov]
    for row in liability.rows:
        if not condition_allows(row.when, "pre_existing", condition):
            continue
        rates = [row.rate] if row.rate is not None else [s.rate for s in row.segments]
        for rate in rates:
            best = max(best, int(rate.value * BASIS_POINTS))
            provs.append(rate.prov)
    return _PreExistingRate(liability, name, best, tuple(provs))


def _excludes_inpatient_claims_of(when: Condition, condition: frozenset) -> bool:
    """Does an exclusion's `when` hold for every inpatient claim of a member with `condition`?"""
    return (condition_keys(when) <= {"pre_existing", "care"} and "pre_existing" in condition_keys(when)
            and condition_allows(when, "pre_existing", condition) and condition_allows(when, "care", MAIN_CARE))


def _section_assumption(data: dict, key: str) -> tuple[str, ...]:
    """The assumption a section of the version rests on: its own provenance, else the version's."""
    node = data.get(key) or {}
    holder = node if ("source" in node or "assumed" in node) else data
    return (holder["assumed"],) if "assumed" in holder and "source" not in holder else ()


def _state(value: bool | None, assumed: tuple[str, ...]) -> str:
    if value is None or assumed:
        return "unknown"
    return "declared" if value else "not_declared"


def _filings(version: Version, data: dict) -> list[Fact]:
    """三书 from the model: True declared, False not declared, None (written `unknown`) unknown."""
    assumed = _section_assumption(data, "filings")
    return [Fact(f"filings_{key}", _state(version.filings[key], assumed), assumed)
            for key in ("authorisation", "actuarial_opinion", "legal_opinion")]


def _declared(name: str, declared: Declared | None) -> Fact:
    """A three-valued declared term (model.Declared) as a fact: unknown when not written or only assumed."""
    if declared is None:
        return Fact(name, "unknown")
    return Fact(name, declared.state, _reasons(declared.prov))


def _declarations(version: Version, data: dict) -> list[Fact]:
    """What the version declares about its own conduct (`surplus`, `regulation.*`, `exclusions`); unstated is
    unknown."""
    regulation, assumed = data["regulation"], _section_assumption(data, "regulation")
    promised = regulation.get("promised_claims_ratio")
    if isinstance(promised, dict):
        promised = promised["value"]
    exclusions = data.get("exclusions")
    return [_declared("surplus_rollover", version.surplus.rolls_over if version.surplus else None),
            Fact("social_insurance_distinguished", _state(regulation.get("social_insurance_distinguished"), assumed),
                 assumed),
            *(Fact(key, regulation.get(key), assumed) for key in ("backtest", "disclosure", "data_items")),
            Fact("promised_claims_ratio", None if promised is None else engine_value("promised_claims_ratio", promised),
                 assumed),
            Fact("excludes_common_disease", None if exclusions is None else any(e["common"] for e in exclusions),
                 _reasons(*(Provenance.of(e, Provenance()) for e in exclusions or [])))]


def _service(version: Version) -> list[Fact]:
    """Claims-service terms (`service:`): no-application claims, and the payment deadlines."""
    service = version.service
    deadlines = service.deadlines if service else ()
    reasons = _reasons(*(d.prov for d in deadlines))
    text = "；".join(f"{d.name} {d.days} {vocab.DEADLINE_UNITS[d.unit]}" for d in deadlines) or None
    return [_declared("no_application_claims", service.no_application if service else None),
            Fact("payment_deadline_days", max((d.days for d in deadlines), default=None), reasons),
            Fact("payment_deadlines", text, reasons)]


def _insurers(version: Version, data: dict) -> list[Fact]:
    lead, *co = version.insurers
    assumed = _section_assumption(data, "insurers")
    return [Fact("insurers", len(version.insurers), assumed),
            Fact("lead_share_largest", all(lead.share.value >= c.share.value for c in co),
                 _reasons(*(i.share.prov for i in version.insurers))),
            Fact("insurer_term_years", data["insurers"].get("term_years"), assumed)]


def _declared_limits(version: Version) -> list[Fact]:
    facts = []
    for key in ("premium_max", "deductible_max", "cap_min", "claims_ratio_min"):
        limit = version.limits.get(key)
        if limit is None:
            facts.append(Fact(f"declared_{key}", None))
        elif key == "claims_ratio_min":
            facts.append(Fact(f"declared_{key}", int(limit.value * BASIS_POINTS), _reasons(limit.prov)))
        else:
            facts.append(Fact(f"declared_{key}", limit.fen, _reasons(limit.prov)))
    return facts


def _backtest(version: Version, population: int, seed: int) -> Fact:
    """Claims ratio of the version on the reference population: it rests on that population's assumed shape
    and on every assumed premium, deductible, ratio and cap of the version."""
    result = run_population(version, reference_population(population, seed))
    ratio = int(result.claims_ratio * BASIS_POINTS) if result.premium_fen else None
    values = assumptions(version)
    reasons = (f"{POPULATION_ASSUMPTION}（{population} 人，随机种子 {seed}）",)
    if values:
        reasons += (f"方案中 {len(values)} 项假设数值（保费、起付线、比例、封顶线等）",)
    return Fact("claims_ratio_backtest", ratio, reasons)
