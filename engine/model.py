"""The typed model of a scheme: amounts in fen, ratios as Decimal, provenance on every value.

`build_product` turns well-shaped data (the JSON Schema passed) into frozen dataclasses.  Shorthand
forms are decoded here and only here — a flat ratio becomes one ratio row, an inline deductible or cap a
pool of its own, a `when:` a typed `Condition` — so the semantic checks, the compiler, the evaluator and
explain all see one shape.  Every node keeps its `path` in the document, so a check on the model still
names file, line and column; the raw data itself is not kept.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from . import vocab
from .citations import Citation
from .conditions import Condition
from .money import DEFAULT_ROUNDING, MoneyError, round_fen, yuan_to_fen

Path = tuple  # a place in the document: ("versions", 1, "premium", "bands", 0)


@dataclass(frozen=True)
class Provenance:
    source: tuple[Citation, ...] | None = None  # the passages cited (validation has found each quote)
    assumed: str | None = None

    def __bool__(self) -> bool:
        """False for "nothing stated here" (a node whose numbers carry their own provenance)."""
        return self.source is not None or self.assumed is not None

    @property
    def is_assumption(self) -> bool:
        return self.source is None and self.assumed is not None

    def ref(self) -> str:
        """The clause as one line for machines (the trace): 'doc clause “quote”；…', or '假设：reason'."""
        if self.source:
            return "；".join(citation.ref() for citation in self.source)
        return f"假设：{self.assumed}" if self.assumed else ""

    @staticmethod
    def written(node: dict) -> "Provenance":
        """Exactly what a node says of itself (both, if it writes both), inheriting nothing."""
        source = node.get("source")
        return Provenance(Citation.all_of(source) if source else None, node.get("assumed"))

    @staticmethod
    def of(node: dict, inherited: "Provenance") -> "Provenance":
        if "source" in node:
            return Provenance(source=Citation.all_of(node["source"]))
        if "assumed" in node:
            return Provenance(assumed=node["assumed"])
        return inherited


@dataclass(frozen=True)
class Amount:
    fen: int
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)  # the amount's node (`amount`, `deductible`…)
    sourced: bool = field(default=False, compare=False, repr=False)  # written {value: …, source|assumed: …}
    unrounded: Decimal | None = field(default=None, compare=False, repr=False)  # yuan written with > 2 decimals
    # (then `fen` is rounded so that the other checks still run; validation reports it)

    @property
    def number_path(self) -> Path:
        """Where the number itself stands: the node, or its `value`."""
        return self.path + ("value",) if self.sourced else self.path


@dataclass(frozen=True)
class Choice:
    """A choice that moves money — rounding, one-stop settlement, age reference date, covered care, the order a
    shared deductible is used in, subsidy order, a filing — with its provenance.  `value` is None when the
    document does not write it: validation reports that rather than fall back to a default."""

    key: str  # what is chosen: a key of vocab.CHOICES
    value: object
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)  # where it is written, else where it belongs

    @property
    def written(self) -> bool:
        return self.value is not None


def choice(key: str, holder: dict, name: str, inherited: Provenance, path: Path) -> Choice:
    """`holder[name]` as a Choice: its own {value, source|assumed}, else the provenance around it."""
    if name not in holder:
        return Choice(key, None, inherited, tuple(path))
    value, own = value_node(holder[name]) if isinstance(holder[name], dict) else (holder[name], {})
    return Choice(key, tuple(value) if isinstance(value, list) else value, Provenance.of(own, inherited),
                  tuple(path) + (name,))


@dataclass(frozen=True)
class Rate:
    value: Decimal
    prov: Provenance


@dataclass(frozen=True)
class Segment:
    lo: int  # fen, inclusive
    hi: int | None  # fen, exclusive; None = open-ended
    rate: Rate
    path: Path = field(default=(), compare=False, repr=False)
    written: tuple[Amount, ...] = field(default=(), compare=False, repr=False)  # `from` and `to`, as written


@dataclass(frozen=True)
class RatioRow:
    when: Condition
    rate: Rate | None
    segments: tuple[Segment, ...]
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)  # a row of `rows`, else the liability's `ratio`


@dataclass(frozen=True)
class Pool:
    id: str
    name: str
    amount: Amount
    inline: bool = False  # written on a liability (deductible/cap: {value: …}): named after it, its own pool
    path: Path = field(default=(), compare=False, repr=False)
    prov: Provenance = field(default=Provenance(), compare=False)  # the pool's own, or what it inherits
    order: Choice | None = None  # a deductible: the order one claim's parts use it in (`order:`)


@dataclass(frozen=True)
class Liability:
    id: str
    name: str
    covers: str | None  # a cost kind (vocab.COVERS); None for a liability that pays the items of its `lists`
    care: tuple[str, ...]  # as written; a parent code covers its children (conditions.OneOf)
    when: Condition
    deductible: str  # pool id (a reference validation has not yet checked may name no pool)
    caps: tuple[str, ...]  # pool ids, applied in order
    rows: tuple[RatioRow, ...]
    lists: tuple[str, ...]  # the item lists (drug_lists, treatment_lists) whose items it pays
    prov: Provenance
    note: str | None = None
    path: Path = field(default=(), compare=False, repr=False)
    lists_path: Path = field(default=(), compare=False, repr=False)  # `lists`, or the old `drug_list`
    caps_listed: bool = field(default=False, compare=False, repr=False)  # `cap:` written as a list of pool ids
    care_choice: Choice | None = field(default=None, compare=False)  # the covered care types and their provenance

    def cap_path(self, i: int) -> Path:
        """Where the i-th cap of the liability is written."""
        return self.path + (("cap", i) if self.caps_listed else ("cap",))

    @property
    def basis(self) -> Provenance:
        """The clause that sets up this liability: its own, else (all its numbers sourced one by one) its ratio's."""
        if self.prov:
            return self.prov
        for row in self.rows:
            for prov in (row.prov, row.rate.prov if row.rate else None, *(s.rate.prov for s in row.segments)):
                if prov:
                    return prov
        return self.prov


@dataclass(frozen=True)
class Layer:
    id: str
    name: str
    kind: str
    liabilities: tuple[Liability, ...]
    deductibles: dict  # id → Pool, shared and inline
    caps: dict  # id → Pool, shared and inline
    written_pools: tuple[Pool, ...] = field(default=(), compare=False, repr=False)  # the `deductibles:` and
    # `caps:` lists as written, duplicates included (the dicts keep one pool per id)
    path: Path = field(default=(), compare=False, repr=False)  # the version, or its entry in `chain.layers`

    def key_of(self, liability: Liability) -> str:
        """How settlements (`by_liability`) name a liability: the scheme's own by id, another layer's as
        "layer.liability" (the same liability id may stand in several layers of a chain)."""
        return liability.id if self.kind == "scheme" else f"{self.id}.{liability.id}"


@dataclass(frozen=True)
class Band:
    id: str
    name: str
    when: Condition
    amount: Amount
    path: Path = field(default=(), compare=False, repr=False)
    prov: Provenance = field(default=Provenance(), compare=False)  # who the band is for: the band's own provenance


@dataclass(frozen=True)
class Subsidy:
    id: str
    name: str
    payer: str
    when: Condition
    amount: Amount | None
    share: Rate | None
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class EligibilityRule:
    id: str
    name: str
    when: Condition
    outcome: str
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class WaitingPeriod:
    """Claims within `days` of the member's enrolment date are not paid, except for the `exempt` kinds."""
    days: int
    exempt: tuple[str, ...]  # vocab.WAITING_EXEMPTIONS
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Declared:
    """A term the scheme declares about itself, three-valued like the filings: True, False, or None (the source
    does not say: written `unknown`)."""
    value: bool | None
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)

    @property
    def state(self) -> str:
        """declared (true, sourced), not_declared (false, sourced) or unknown (unknown, or only assumed)."""
        if self.value is None or not self.prov.source:
            return "unknown"
        return "declared" if self.value else "not_declared"


@dataclass(frozen=True)
class Surplus:
    """结余滚存: whether what is left of a year's premiums (beyond any capped profit) rolls over, and where to."""
    rolls_over: Declared
    to: str | None  # vocab.SURPLUS_DESTINATIONS
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class PaymentDeadline:
    """A claims payment deadline the scheme declares: paid within `days` (calendar or working days)."""
    id: str
    name: str
    days: int
    unit: str  # vocab.DEADLINE_UNITS
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Service:
    """Claims-service terms: no-application claims (免申即赔) and payment deadlines. They move no money."""
    no_application: Declared | None
    scope: str | None  # where no-application claims apply (e.g. 异地就医); None: everywhere the scheme pays
    since: str | None  # from this date
    deadlines: tuple[PaymentDeadline, ...]
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Drug:
    """An entry of an item list: a drug, or a treatment (which has no indications)."""
    code: str
    name: str
    indications: dict  # code → name; empty: any indication
    valid_from: str | None
    valid_to: str | None
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class ItemList:
    """A list of drugs or of treatments declared by the scheme file; liabilities pay its items."""
    id: str
    name: str
    kind: str  # drug | treatment
    items: dict  # code → Drug
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Named:
    """A named pre-existing condition the version lists (`pre_existing_conditions`)."""
    id: str
    name: str
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Hospital:
    code: str
    name: str
    level: int  # vocab.HOSPITAL_LEVELS
    grade: str | None  # vocab.HOSPITAL_GRADES


@dataclass(frozen=True)
class HospitalList:
    """Designated hospitals, one-stop hospitals…: `hospital_in:` conditions and `settlement.one_stop_at` use it."""
    id: str
    name: str
    hospitals: dict  # code → Hospital
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Exclusion:
    """A named exclusion (责任免除).  Where a program can tell, `when` (over the claim and member) and the items it
    names (codes, or whole lists) say what it refuses: items and lists given, those items of claims where `when`
    holds; neither, the whole claim where `when` holds.  With no `when`, items nor lists it is declared only."""
    id: str
    name: str
    common: bool
    when: Condition
    items: tuple[str, ...]
    lists: tuple[str, ...]
    prov: Provenance
    path: Path = field(default=(), compare=False, repr=False)

    @property
    def checked(self) -> bool:
        """Does the engine apply it (rather than only declare it)?"""
        return bool(self.when or self.items or self.lists)

    @property
    def whole_claim(self) -> bool:
        return self.checked and not (self.items or self.lists)

    def refuses_item(self, code: str, list_ids) -> bool:
        """Does it name this item (by code, or a list that holds it)?"""
        return code in self.items or bool(set(self.lists) & set(list_ids))


ITEM_LIST_KINDS = {"drug_lists": ("drug", "drugs"), "treatment_lists": ("treatment", "treatments")}


@dataclass(frozen=True)
class Insurer:
    name: str
    share: Rate
    lead: bool


@dataclass(frozen=True)
class Version:
    product_id: str
    product_name: str
    city: str
    region: str
    id: str
    name: str
    period: tuple[str, str]
    enrolment: tuple[str, str]
    regimes: tuple[str, ...]
    pricing: str
    limits: dict  # name → Amount | Rate
    insurers: tuple[Insurer, ...]
    filings: dict  # authorisation… → True (declared), False (not declared), None (unknown)
    rounding: str
    one_stop: bool
    basic_insurance_required: bool
    suspend_when_basic_in_arrears: bool
    eligibility_rules: tuple[EligibilityRule, ...]
    eligibility_prov: Provenance
    age_reference: str
    bands: tuple[Band, ...]
    personal_account: dict
    group_enrolment: bool
    donated_enrolment: bool  # a donor may pay what subsidies leave of a given person's premium
    subsidies: tuple[Subsidy, ...]
    chain_after: tuple[str, ...]
    layers: tuple[Layer, ...]  # in payment order; exactly one has kind 'scheme' (validation checks)
    scheme_layer: Layer  # this scheme's own liabilities, deductibles and caps
    item_lists: dict  # id → ItemList, the lists its liabilities use
    sources: dict
    content_hash: str
    prov: Provenance  # the version's own source or assumption
    sections: dict  # section key (period, funding…) → Provenance the section writes of itself
    note: str | None = None
    path: Path = field(default=(), compare=False, repr=False)
    choices: tuple[Choice, ...] = ()  # rounding, one-stop, age reference, filings, subsidy order (pools and
    # liabilities carry their own: Pool.order, Liability.care_choice)
    waiting_period: WaitingPeriod | None = None
    hit_policy: str | None = None  # vocab.HIT_POLICIES: who pays an item several liabilities could pay
    plan: str | None = None  # the plan this is, when the version declares plans (then `plans` of its parent)
    plan_name: str = ""
    plans: tuple = ()  # the version's plans, each a whole Version (common terms with the plan's own applied)
    pre_existing_conditions: dict = field(default_factory=dict)  # id → Named: the conditions the version names
    hospital_lists: dict = field(default_factory=dict)  # id → HospitalList
    exclusions: tuple[Exclusion, ...] = ()
    one_stop_at: str | None = None  # a hospital list: one-stop settlement only at its hospitals
    surplus: Surplus | None = None  # None: the version does not say (unknown)
    service: Service | None = None

    def for_plan(self, plan: str | None) -> "Version":
        """The version a member of `plan` is insured under: the plan's, when the version declares plans."""
        if not self.plans:
            if self.plan is not None and plan not in (None, self.plan):
                raise KeyError(f"{self.key} 是方案“{self.plan_name}”，成员参保的是方案“{plan}”：不能按本方案理赔")
            if self.plan is None and plan is not None:
                raise KeyError(f"{self.key} 不分方案，成员却写了方案“{plan}”")
            return self
        for version in self.plans:
            if version.plan == plan:
                return version
        known = "、".join(f"{v.plan_name}（{v.plan}）" for v in self.plans)
        if plan is None:
            raise KeyError(f"{self.key} 有 {len(self.plans)} 个方案：{known}；请写明参保的方案（plan）")
        raise KeyError(f"{self.key} 没有方案“{plan}”；已有方案：{known}")

    def priced_bands(self) -> list[tuple[str, str, Band]]:
        """(key, name, band) of every premium band, in the order a vectorised quote's `bands` has them: the
        version's own, or each plan's in turn, keyed `plan/band` and named `plan·band` (plans share band ids)."""
        if not self.plans:
            return [(band.id, band.name, band) for band in self.bands]
        return [(f"{plan.plan}/{band.id}", f"{plan.plan_name}·{band.name}", band)
                for plan in self.plans for band in plan.bands]

    def liability_names(self) -> dict[str, str]:
        """Settlement key → name of every liability a member may be paid under (each plan's, under plans): the
        scheme's own liabilities by id, other layers' as "layer.liability"."""
        return {layer.key_of(l): l.name for terms in (self.plans or (self,)) for layer in terms.layers
                for l in layer.liabilities}

    def pays_for(self, liability: Liability) -> str:
        """What a liability pays, in words: its cost kind, or the names of its lists."""
        if liability.covers is not None:
            return vocab.COVERS[liability.covers]
        return "、".join(self.item_lists[i].name if i in self.item_lists else i for i in liability.lists)

    @property
    def names(self) -> dict:
        """What the version calls the ids of its own lists, for `Condition.parse(names=…)`."""
        return list_names(self.pre_existing_conditions, self.hospital_lists)

    def conditions(self):
        """Every `when:` of the version: eligibility, bands, subsidies, each layer's liabilities and ratio rows,
        exclusions."""
        yield from (rule.when for rule in self.eligibility_rules)
        yield from (band.when for band in self.bands)
        yield from (subsidy.when for subsidy in self.subsidies)
        for layer in {id(layer): layer for layer in (self.scheme_layer, *self.layers)}.values():
            for liability in layer.liabilities:
                yield liability.when
                yield from (row.when for row in liability.rows)
        yield from (exclusion.when for exclusion in self.exclusions)

    def hospital(self, code: str) -> Hospital | None:
        """A hospital on any of the version's lists."""
        return next((l.hospitals[code] for l in self.hospital_lists.values() if code in l.hospitals), None)

    def lists_holding(self, code: str) -> frozenset:
        """The ids of the hospital lists a hospital is on."""
        return frozenset(i for i, l in self.hospital_lists.items() if code in l.hospitals)

    @property
    def drug_lists(self) -> dict:
        """id → {code → Drug}: the drug lists its liabilities use."""
        return {k: l.items for k, l in self.item_lists.items() if l.kind == "drug"}

    @property
    def key(self) -> str:
        return f"{self.product_id}@{self.id}" + (f"/{self.plan}" if self.plan else "")

    @property
    def title(self) -> str:
        """The version's name, with the plan's."""
        return f"{self.name}·{self.plan_name}" if self.plan else self.name

    @property
    def ruleset_name(self) -> str:
        return f"{self.key}#{self.content_hash[:12]}"

    @property
    def has_chain(self) -> bool:
        return len(self.layers) > 1

    def year(self) -> int:
        return int(self.period[0][:4])

    def section_prov(self, key: str) -> Provenance:
        """The provenance of one section of the version (period, funding…): its own, else the version's."""
        own = self.sections.get(key, Provenance())
        if own.source:  # a source wins over an assumption written beside it, as in Provenance.of
            return Provenance(source=own.source)
        return Provenance(assumed=own.assumed) if own.assumed else self.prov


def money_choices(version: Version) -> list[Choice]:
    """Every choice that changes an amount in a version: its own (rounding, one-stop, age reference, filings,
    subsidy order), each liability's covered care, and each deductible's order — declared, or (None) missing
    where liabilities for different costs share the deductible, so that one claim may draw on it twice."""
    found = list(version.choices)
    layers = list({id(layer): layer for layer in version.layers}.values())
    for layer in layers:
        found += [l.care_choice for l in layer.liabilities if l.care_choice]
        for pool in layer.deductibles.values():
            if pool.order is not None:
                found.append(pool.order)
            elif len({l.covers for l in layer.liabilities if l.deductible == pool.id}) > 1:
                found.append(Choice("deductible_order", None, pool.prov, pool.path))
    return found


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    city: str
    region: str
    file: str
    sources: dict
    versions: tuple[Version, ...]
    item_lists: dict = field(default_factory=dict)  # id → ItemList: every list the file declares

    @property
    def drug_lists(self) -> dict:
        return {k: l.items for k, l in self.item_lists.items() if l.kind == "drug"}

    def version(self, wanted: str | int) -> Version:
        """A version by id, or else the one whose period or enrolment window falls in that year."""
        wanted = str(wanted)
        for version in self.versions:
            if version.id == wanted:
                return version
        by_year = [v for v in self.versions
                   if wanted in (v.period[0][:4], v.period[1][:4], v.enrolment[0][:4])]
        if len(by_year) == 1:
            return by_year[0]
        known = "、".join(v.id for v in self.versions)
        raise KeyError(f"{self.name} 没有版本“{wanted}”；已有版本：{known}")


# ── building ──────────────────────────────────────────────────────────────────────────────────

def value_node(node) -> tuple[object, dict]:
    return (node["value"], node) if isinstance(node, dict) else (node, {})


def amount(node, inherited: Provenance, path: Path = ()) -> Amount:
    value, holder = value_node(node)
    try:
        fen, unrounded = yuan_to_fen(value), None
    except MoneyError:  # a third decimal: validation reports it (semantics.money.precision)
        unrounded = Decimal(str(value))
        fen = round_fen(unrounded * 100)
    return Amount(fen, Provenance.of(holder, inherited), tuple(path), bool(holder), unrounded)


def rate(node, inherited: Provenance) -> Rate:
    value, holder = value_node(node)
    return Rate(Decimal(str(value)), Provenance.of(holder, inherited))


def _pools(entries: list, inherited: Provenance) -> tuple[Pool, ...]:
    """Pools from (entry, its path) pairs."""
    pools = []
    for item, at in entries:
        prov = Provenance.of(item, inherited)
        order = choice("deductible_order", item, "order", prov, at) if "order" in item else None
        pools.append(Pool(item["id"], item["name"], amount(item["amount"], prov, at + ("amount",)), path=at,
                          prov=prov, order=order))
    return tuple(pools)


def _entries(holder: dict, key: str, path: Path) -> list:
    """The entries of a list in the document, each with its path."""
    return [(item, path + (key, i)) for i, item in enumerate(holder.get(key, []))]


def _segments(items: list, inherited: Provenance, path: Path) -> tuple[Segment, ...]:
    out = []
    for i, item in enumerate(items):
        prov = Provenance.of(item, inherited)
        at = path + (i,)
        lo = amount(item["from"], prov, at + ("from",))
        hi = amount(item["to"], prov, at + ("to",)) if "to" in item else None
        out.append(Segment(lo.fen, hi.fen if hi else None, rate(item["rate"], prov), at, (lo, hi) if hi else (lo,)))
    return tuple(out)


def _ratio_rows(ratio, prov: Provenance, path: Path, names: dict) -> tuple[RatioRow, ...]:
    """`ratio:` in any of its three forms → ratio rows: rows as written; segments or a flat rate as one row
    for everyone, located at `ratio` itself."""
    if isinstance(ratio, dict) and "rows" in ratio:
        prov = Provenance.of(ratio, prov)
        rows = []
        for i, row in enumerate(ratio["rows"]):
            row_prov = Provenance.of(row, prov)
            at = path + ("rows", i)
            rows.append(RatioRow(Condition.parse(row["when"], at + ("when",), names),
                                 rate(row["rate"], row_prov) if "rate" in row else None,
                                 _segments(row.get("segments", []), row_prov, at + ("segments",)), row_prov, at))
        return tuple(rows)
    if isinstance(ratio, dict) and "segments" in ratio:
        prov = Provenance.of(ratio, prov)
        return (RatioRow(Condition(), None, _segments(ratio["segments"], prov, path + ("segments",)), prov, path),)
    return (RatioRow(Condition(), rate(ratio, prov), (), prov, path),)


def _liability(item: dict, inherited: Provenance, deductibles: dict, caps: dict, path: Path, names: dict) -> Liability:
    prov = Provenance.of(item, inherited)
    deductible = item["deductible"]
    if not isinstance(deductible, str):
        pool_id, at = f"{item['id']}.deductible", path + ("deductible",)
        deductibles[pool_id] = Pool(pool_id, f"{item['name']}起付线", amount(deductible, prov, at), inline=True, path=at,
                                    prov=prov)
        deductible = pool_id
    cap = item["cap"]
    if cap == "none":
        cap_ids: tuple = ()
    elif isinstance(cap, str):
        cap_ids = (cap,)
    elif isinstance(cap, list):
        cap_ids = tuple(cap)
    else:
        pool_id, at = f"{item['id']}.cap", path + ("cap",)
        caps[pool_id] = Pool(pool_id, f"{item['name']}封顶线", amount(cap, prov, at), inline=True, path=at, prov=prov)
        cap_ids = (pool_id,)
    care = choice("care", item, "care", prov, path)
    covers, lists, lists_path = item.get("covers"), tuple(item.get("lists", ())), path + ("lists",)
    if "drug_list" in item:  # the first edition's spelling of a one-list liability (`covers: special_drugs`)
        lists, lists_path = (item["drug_list"],), path + ("drug_list",)
    if covers == "special_drugs":
        covers = None
    return Liability(item["id"], item["name"], covers, care.value,
                     Condition.parse(item.get("when", {}), path + ("when",), names), deductible, cap_ids,
                     _ratio_rows(item["ratio"], prov, path + ("ratio",), names), lists, prov,
                     item.get("note"), path, lists_path, isinstance(cap, list), care)


def _layer(holder: dict, layer_id: str, name: str, kind: str, inherited: Provenance, path: Path,
           names: dict, plan: tuple | None = None) -> Layer:
    """A layer of the chain (the scheme's own: `holder` is the version); `plan` (its node and path) adds to
    and replaces by id the version's common pools and liabilities, and drops those it lists."""
    prov = Provenance.of(holder, inherited)
    entries = {key: _entries(holder, key, path) for key in ("deductibles", "caps", "liabilities")}
    plan_prov = prov
    if plan is not None:
        node, at = plan
        plan_prov = Provenance.of(node, prov)
        entries = {key: _override(written, _entries(node, key, at), node.get("drop", []) if key == "liabilities" else [])
                   for key, written in entries.items()}
    own = {id(item) for written in entries.values() for item, at in written if plan and at[:len(plan[1])] == plan[1]}

    def prov_of(item):
        return plan_prov if id(item) in own else prov

    written_deductibles = tuple(p for item, at in entries["deductibles"] for p in _pools([(item, at)], prov_of(item)))
    written_caps = tuple(p for item, at in entries["caps"] for p in _pools([(item, at)], prov_of(item)))
    deductibles = {pool.id: pool for pool in written_deductibles}
    caps = {pool.id: pool for pool in written_caps}
    liabilities = tuple(_liability(item, prov_of(item), deductibles, caps, at, names)
                        for item, at in entries["liabilities"])
    return Layer(layer_id, name, kind, liabilities, deductibles, caps, written_deductibles + written_caps, path)


def _override(common: list, own: list, dropped: list) -> list:
    """A plan's entries replace the common ones of the same id in place; new ids come after; dropped ids go."""
    mine = {item["id"]: (item, at) for item, at in own}
    merged = [mine.pop(item["id"], (item, at)) for item, at in common if item["id"] not in dropped]
    return merged + list(mine.values())


def _item_lists(data: dict) -> dict:
    """Every drug and treatment list the file declares, by id."""
    lists = {}
    for section, (kind, entries) in ITEM_LIST_KINDS.items():
        for list_id, body in data.get(section, {}).items():
            prov = Provenance.of(body, Provenance())
            items = {d["code"]: Drug(d["code"], d["name"], {i["code"]: i["name"] for i in d.get("indications", [])},
                                     d.get("valid_from"), d.get("valid_to"), Provenance.of(d, prov),
                                     (section, list_id, entries, i))
                     for i, d in enumerate(body[entries])}
            lists.setdefault(list_id, ItemList(list_id, body["name"], kind, items, prov, (section, list_id)))
    return lists


def content_hash(product: dict, sources: dict, drug_lists: dict, version: dict) -> str:
    """Hash of everything that decides this version's results (`drug_lists`: every item list it uses; named
    so for the first edition's hashes, which held drug lists only)."""
    canonical = json.dumps({"product": product, "sources": sources, "drug_lists": drug_lists, "version": version},
                           sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


FILINGS = ("authorisation", "actuarial_opinion", "legal_opinion")  # 三书
SECTIONS = ("period", "enrolment", "regulation", "insurers", "filings", "settlement", "eligibility", "premium",
            "funding", "chain")


def build_version(data: dict, item: dict, path: Path = (), item_lists: dict | None = None,
                  plan_index: int | None = None) -> Version:
    """One version of the product `data`; `path` is where `item` stands in the document.  With `plan_index`,
    the version as one of its plans sees it: the common terms with the plan's own bands, pools and
    liabilities applied."""
    path = tuple(path)
    plan = (item["plans"][plan_index], path + ("plans", plan_index)) if plan_index is not None else None
    prov = Provenance.of(item, Provenance())
    info = data["product"]
    regulation = item["regulation"]
    limits_node = regulation.get("limits", {})
    limits_prov = Provenance.of(limits_node, Provenance.of(regulation, prov))
    limits_path = path + ("regulation", "limits")
    limits = {k: (rate(v, limits_prov) if k == "claims_ratio_min" else amount(v, limits_prov, limits_path + (k,)))
              for k, v in limits_node.items() if k not in ("source", "assumed")}
    ins_prov = Provenance.of(item["insurers"], prov)
    insurers = (Insurer(item["insurers"]["lead"]["name"], rate(item["insurers"]["lead"]["share"], ins_prov), True),
                *(Insurer(c["name"], rate(c["share"], ins_prov), False) for c in item["insurers"].get("co", [])))
    elig = item["eligibility"]
    elig_prov = Provenance.of(elig, prov)
    elig_path = path + ("eligibility", "conditions")
    premium = item["premium"]
    premium_prov = Provenance.of(premium, prov)
    bands = _entries(premium, "bands", path + ("premium",))
    if plan and "bands" in plan[0]:
        premium_prov = Provenance.of(plan[0], prov)
        bands = _entries(plan[0], "bands", plan[1])
    funding = item.get("funding", {})
    funding_prov = Provenance.of(funding, prov)
    pre_existing = _named(item, "pre_existing_conditions", prov, path)
    hospital_lists = _hospital_lists(item, prov, path)
    names = list_names(pre_existing, hospital_lists)
    scheme = _layer(item, "scheme", info["name"], "scheme", prov, path, names, plan)
    chain = item["chain"]
    chain_prov = Provenance.of(chain, prov)  # validation counts a number under `chain` as covered by its source
    layers = tuple(scheme if layer["kind"] == "scheme"
                   else _layer(layer, layer["id"], layer["name"], layer["kind"], chain_prov,
                               path + ("chain", "layers", i), names)
                   for i, layer in enumerate(chain.get("layers", [{"kind": "scheme"}])))
    used_lists = {list_id for l in scheme.liabilities for list_id in l.lists}
    list_data = {k: v for section in ITEM_LIST_KINDS for k, v in data.get(section, {}).items() if k in used_lists}
    all_lists = _item_lists(data) if item_lists is None else item_lists
    settlement = item.get("settlement", {})
    settlement_prov = Provenance.of(settlement, prov)
    settlement_path = path + ("settlement",)
    # rounding stands in the model as written or the one rounding rule money.py knows, so that a version can be
    # built for checking; validation refuses a version that does not write it (semantics.choices)
    rounding = choice("rounding", settlement, "rounding", settlement_prov, settlement_path)
    one_stop = choice("one_stop", settlement, "one_stop", settlement_prov, settlement_path)
    age_reference = choice("age_reference", premium, "age_reference", Provenance.of(premium, prov), path + ("premium",))
    filings_node = item["filings"]
    filings = tuple(choice(f"filing.{name}", filings_node, name, Provenance.of(filings_node, prov),
                           path + ("filings",)) for name in FILINGS)
    several = len(funding.get("subsidies", [])) > 1  # the order matters only when one person may get several
    subsidy_order = (choice("subsidy_order", funding, "subsidy_order", funding_prov, path + ("funding",)),) \
        if several else ()
    return Version(
        product_id=info["id"], product_name=info["name"], city=info["city"], region=info["region"],
        id=str(item["id"]), name=item["name"],
        period=(item["period"]["start"], item["period"]["end"]),
        enrolment=(item["enrolment"]["start"], item["enrolment"]["end"]),
        regimes=tuple(regulation["regimes"]), pricing=regulation["pricing"], limits=limits,
        insurers=insurers,
        filings={c.key.partition(".")[2]: None if c.value == "unknown" else c.value for c in filings},
        rounding=rounding.value or DEFAULT_ROUNDING, one_stop=bool(one_stop.value),
        basic_insurance_required=elig["basic_insurance_required"],
        suspend_when_basic_in_arrears=elig["suspend_when_basic_in_arrears"],
        eligibility_rules=tuple(EligibilityRule(c["id"], c["name"], Condition.parse(c["when"], elig_path + (i, "when"), names),
                                                c["outcome"], Provenance.of(c, elig_prov), elig_path + (i,))
                                for i, c in enumerate(elig.get("conditions", []))),
        eligibility_prov=elig_prov,
        age_reference=age_reference.value,
        bands=tuple(_band(b, premium_prov, at, names) for b, at in bands),
        personal_account=funding.get("personal_account", {"allowed": False}),
        group_enrolment=funding.get("group_enrolment", False),
        donated_enrolment=funding.get("donated_enrolment", False),
        subsidies=tuple(_subsidy(s, funding_prov, path + ("funding", "subsidies", i), names)
                        for i, s in enumerate(funding.get("subsidies", []))),
        chain_after=tuple(chain["after"]),
        layers=layers,
        scheme_layer=scheme,
        item_lists={k: v for k, v in all_lists.items() if k in used_lists},
        sources=data["sources"],
        content_hash=content_hash(info, data["sources"], list_data,
                                  item if plan is None else {"version": item, "plan": plan[0]["id"]}),
        prov=prov,
        sections={key: Provenance.written(item[key]) for key in SECTIONS if isinstance(item.get(key), dict)},
        note=item.get("note"),
        path=path,
        choices=(rounding, one_stop, age_reference, *filings, *subsidy_order),
        waiting_period=_waiting_period(elig, elig_prov, path + ("eligibility", "waiting_period")),
        hit_policy=item.get("hit_policy"),
        plan=plan[0]["id"] if plan else None,
        plan_name=plan[0]["name"] if plan else "",
        plans=() if plan else tuple(build_version(data, item, path, item_lists, i)
                                    for i in range(len(item.get("plans", [])))),
        pre_existing_conditions=pre_existing,
        hospital_lists=hospital_lists,
        exclusions=tuple(_exclusion(e, prov, path + ("exclusions", i), names)
                         for i, e in enumerate(item.get("exclusions", []))),
        one_stop_at=settlement.get("one_stop_at"),
        surplus=_surplus(item, prov, path),
        service=_service(item, prov, path),
    )


def list_names(pre_existing: dict, hospital_lists: dict) -> dict:
    """For each `when:` key over the version's own lists, id → name."""
    return {"pre_existing": {c.id: c.name for c in pre_existing.values()},
            "hospital_in": {h.id: h.name for h in hospital_lists.values()}}


def _named(item: dict, key: str, inherited: Provenance, path: Path) -> dict:
    """id → Named, of a list of {id, name} the version writes."""
    return {c["id"]: Named(c["id"], c["name"], Provenance.of(c, inherited), path + (key, i))
            for i, c in enumerate(item.get(key, []))}


def _hospital_lists(item: dict, inherited: Provenance, path: Path) -> dict:
    return {list_id: HospitalList(list_id, body["name"],
                                  {h["code"]: Hospital(h["code"], h["name"], h["level"], h.get("grade"))
                                   for h in body["hospitals"]},
                                  Provenance.of(body, inherited), path + ("hospital_lists", list_id))
            for list_id, body in item.get("hospital_lists", {}).items()}


def _exclusion(item: dict, inherited: Provenance, path: Path, names: dict) -> Exclusion:
    return Exclusion(item["id"], item["name"], item["common"], Condition.parse(item.get("when", {}), path + ("when",), names),
                     tuple(item.get("items", ())), tuple(item.get("lists", ())), Provenance.of(item, inherited), path)


def _state(value) -> bool | None:
    return None if value == "unknown" else value


def _surplus(item: dict, inherited: Provenance, path: Path) -> Surplus | None:
    """`surplus:`, or the first edition's `regulation.surplus_rollover: true|false` (with the regulation's
    provenance); validation refuses a version that writes both."""
    node = item.get("surplus")
    if node is not None:
        at = path + ("surplus",)
        return Surplus(Declared(_state(node["rolls_over"]), Provenance.of(node, inherited), at + ("rolls_over",)),
                       node.get("to"), at)
    regulation = item["regulation"]
    if "surplus_rollover" in regulation:
        at = path + ("regulation", "surplus_rollover")
        return Surplus(Declared(regulation["surplus_rollover"], Provenance.of(regulation, inherited), at), None, at)
    return None


def _service(item: dict, inherited: Provenance, path: Path) -> Service | None:
    node = item.get("service")
    if node is None:
        return None
    at, prov = path + ("service",), Provenance.of(node, inherited)
    no_application, holder = value_node(node["no_application"]) if "no_application" in node else (None, {})
    declared = None if "no_application" not in node else \
        Declared(_state(no_application), Provenance.of(holder, prov), at + ("no_application",))
    deadlines = tuple(PaymentDeadline(d["id"], d["name"], d["days"], d["unit"], Provenance.of(d, prov),
                                      at + ("payment_deadlines", i))
                      for i, d in enumerate(node.get("payment_deadlines", [])))
    return Service(declared, holder.get("scope"), holder.get("since"), deadlines, prov, at)


def _waiting_period(elig: dict, inherited: Provenance, path: Path) -> WaitingPeriod | None:
    node = elig.get("waiting_period")
    if node is None:
        return None
    return WaitingPeriod(node["days"], tuple(node.get("exempt", [])), Provenance.of(node, inherited), path)


def _band(item: dict, inherited: Provenance, path: Path, names: dict) -> Band:
    prov = Provenance.of(item, inherited)
    return Band(item["id"], item["name"], Condition.parse(item["when"], path + ("when",), names),
                amount(item["amount"], prov, path + ("amount",)), path, prov)


def _subsidy(item: dict, inherited: Provenance, path: Path, names: dict) -> Subsidy:
    prov = Provenance.of(item, inherited)
    return Subsidy(item["id"], item["name"], item["payer"], Condition.parse(item["when"], path + ("when",), names),
                   amount(item["amount"], prov, path + ("amount",)) if "amount" in item else None,
                   rate(item["share"], prov) if "share" in item else None, prov, path)


def build_product(data: dict, file: str, skip_versions=frozenset()) -> Product:
    """The typed product of well-shaped data; versions whose indices are in `skip_versions` (badly shaped) are
    left out.  Semantic problems are not checked here: `validate.check` builds through this and then checks,
    and only a product without problems (so no `Amount.unrounded`) leaves `engine.load_product`."""
    info = data["product"]
    item_lists = _item_lists(data)
    versions = tuple(build_version(data, item, ("versions", v), item_lists)
                     for v, item in enumerate(data["versions"]) if v not in skip_versions)
    return Product(info["id"], info["name"], info["city"], info["region"], file, data["sources"], versions,
                   item_lists)
