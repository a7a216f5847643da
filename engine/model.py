"""The typed model of a validated scheme: amounts in fen, ratios as Decimal, provenance on every value.

`build_product` turns validated data into frozen dataclasses; shorthand forms are normalised here
(a flat ratio becomes one ratio row, an inline deductible becomes a pool of its own) so the compiler
and the evaluator see one shape only.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from .money import DEFAULT_ROUNDING, yuan_to_fen


@dataclass(frozen=True)
class Provenance:
    source: str | None = None
    assumed: str | None = None

    def __bool__(self) -> bool:
        """False for "nothing stated here" (a node whose numbers carry their own provenance)."""
        return self.source is not None or self.assumed is not None

    @property
    def is_assumption(self) -> bool:
        return self.source is None and self.assumed is not None

    def ref(self) -> str:
        if self.source:
            return self.source
        return f"假设：{self.assumed}" if self.assumed else ""

    @staticmethod
    def of(node: dict, inherited: "Provenance") -> "Provenance":
        if "source" in node:
            return Provenance(source=node["source"])
        if "assumed" in node:
            return Provenance(assumed=node["assumed"])
        return inherited


@dataclass(frozen=True)
class Amount:
    fen: int
    prov: Provenance


@dataclass(frozen=True)
class Rate:
    value: Decimal
    prov: Provenance


@dataclass(frozen=True)
class Segment:
    lo: int  # fen, inclusive
    hi: int | None  # fen, exclusive; None = open-ended
    rate: Rate


@dataclass(frozen=True)
class RatioRow:
    when: dict
    rate: Rate | None
    segments: tuple[Segment, ...]
    prov: Provenance


@dataclass(frozen=True)
class Pool:
    id: str
    name: str
    amount: Amount
    inline: bool = False  # written on a liability (deductible/cap: {value: …}): named after it, its own pool


@dataclass(frozen=True)
class Liability:
    id: str
    name: str
    covers: str
    care: tuple[str, ...]
    when: dict
    deductible: str  # pool id
    caps: tuple[str, ...]  # pool ids, applied in order
    rows: tuple[RatioRow, ...]
    drug_list: str | None
    prov: Provenance

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
    deductibles: dict  # id → Pool
    caps: dict  # id → Pool

    def key_of(self, liability: Liability) -> str:
        """How settlements (`by_liability`) name a liability: the scheme's own by id, another layer's as
        "layer.liability" (the same liability id may stand in several layers of a chain)."""
        return liability.id if self.kind == "scheme" else f"{self.id}.{liability.id}"


@dataclass(frozen=True)
class Band:
    id: str
    name: str
    when: dict
    amount: Amount


@dataclass(frozen=True)
class Subsidy:
    id: str
    name: str
    payer: str
    when: dict
    amount: Amount | None
    share: Rate | None
    prov: Provenance


@dataclass(frozen=True)
class EligibilityRule:
    id: str
    name: str
    when: dict
    outcome: str
    prov: Provenance


@dataclass(frozen=True)
class Drug:
    code: str
    name: str
    indications: dict  # code → name
    valid_from: str
    valid_to: str | None
    prov: Provenance


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
    filings: dict
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
    layers: tuple[Layer, ...]  # in payment order; exactly one has kind 'scheme'
    drug_lists: dict  # id → {code → Drug}
    sources: dict
    content_hash: str
    raw: dict = field(repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.product_id}@{self.id}"

    @property
    def ruleset_name(self) -> str:
        return f"{self.key}#{self.content_hash[:12]}"

    @property
    def scheme_layer(self) -> Layer:
        return next(layer for layer in self.layers if layer.kind == "scheme")

    @property
    def has_chain(self) -> bool:
        return len(self.layers) > 1

    def year(self) -> int:
        return int(self.period[0][:4])

    def section_prov(self, key: str) -> Provenance:
        """The provenance of one section of the version (period, funding…): its own, else the version's."""
        return Provenance.of(self.raw.get(key) or {}, Provenance.of(self.raw, Provenance()))


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    city: str
    region: str
    file: str
    sources: dict
    versions: tuple[Version, ...]

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


def amount(node, inherited: Provenance) -> Amount:
    value, holder = value_node(node)
    return Amount(yuan_to_fen(value), Provenance.of(holder, inherited))


def rate(node, inherited: Provenance) -> Rate:
    value, holder = value_node(node)
    return Rate(Decimal(str(value)), Provenance.of(holder, inherited))


def _pools(items: list, inherited: Provenance) -> dict:
    pools = {}
    for item in items:
        prov = Provenance.of(item, inherited)
        pools[item["id"]] = Pool(item["id"], item["name"], amount(item["amount"], prov))
    return pools


def _segments(items: list, inherited: Provenance) -> tuple[Segment, ...]:
    out = []
    for item in items:
        prov = Provenance.of(item, inherited)
        hi = amount(item["to"], prov).fen if "to" in item else None
        out.append(Segment(amount(item["from"], prov).fen, hi, rate(item["rate"], prov)))
    return tuple(out)


def _ratio_rows(ratio, prov: Provenance) -> tuple[RatioRow, ...]:
    if isinstance(ratio, dict) and "rows" in ratio:
        prov = Provenance.of(ratio, prov)
        rows = []
        for row in ratio["rows"]:
            row_prov = Provenance.of(row, prov)
            rows.append(RatioRow(row["when"], rate(row["rate"], row_prov) if "rate" in row else None,
                                 _segments(row.get("segments", []), row_prov), row_prov))
        return tuple(rows)
    if isinstance(ratio, dict) and "segments" in ratio:
        prov = Provenance.of(ratio, prov)
        return (RatioRow({}, None, _segments(ratio["segments"], prov), prov),)
    return (RatioRow({}, rate(ratio, prov), (), prov),)


def _liability(item: dict, inherited: Provenance, deductibles: dict, caps: dict) -> Liability:
    prov = Provenance.of(item, inherited)
    deductible = item["deductible"]
    if not isinstance(deductible, str):
        pool_id = f"{item['id']}.deductible"
        deductibles[pool_id] = Pool(pool_id, f"{item['name']}起付线", amount(deductible, prov), inline=True)
        deductible = pool_id
    cap = item["cap"]
    if cap == "none":
        cap_ids: tuple = ()
    elif isinstance(cap, str):
        cap_ids = (cap,)
    elif isinstance(cap, list):
        cap_ids = tuple(cap)
    else:
        pool_id = f"{item['id']}.cap"
        caps[pool_id] = Pool(pool_id, f"{item['name']}封顶线", amount(cap, prov), inline=True)
        cap_ids = (pool_id,)
    return Liability(item["id"], item["name"], item["covers"], tuple(item["care"]), item.get("when", {}),
                     deductible, cap_ids, _ratio_rows(item["ratio"], prov), item.get("drug_list"), prov)


def _layer(holder: dict, layer_id: str, name: str, kind: str, inherited: Provenance) -> Layer:
    prov = Provenance.of(holder, inherited)
    deductibles = _pools(holder.get("deductibles", []), prov)
    caps = _pools(holder.get("caps", []), prov)
    liabilities = tuple(_liability(item, prov, deductibles, caps) for item in holder.get("liabilities", []))
    return Layer(layer_id, name, kind, liabilities, deductibles, caps)


def _drug_lists(data: dict) -> dict:
    lists = {}
    for list_id, body in data.get("drug_lists", {}).items():
        prov = Provenance.of(body, Provenance())
        lists[list_id] = {
            d["code"]: Drug(d["code"], d["name"], {i["code"]: i["name"] for i in d["indications"]},
                            d["valid_from"], d.get("valid_to"), Provenance.of(d, prov))
            for d in body["drugs"]
        }
    return lists


def content_hash(product: dict, sources: dict, drug_lists: dict, version: dict) -> str:
    """Hash of everything that decides this version's results."""
    canonical = json.dumps({"product": product, "sources": sources, "drug_lists": drug_lists, "version": version},
                           sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_version(data: dict, item: dict) -> Version:
    prov = Provenance.of(item, Provenance())
    info = data["product"]
    regulation = item["regulation"]
    limits_prov = Provenance.of(regulation.get("limits", {}), Provenance.of(regulation, prov))
    limits = {k: (rate(v, limits_prov) if k == "claims_ratio_min" else amount(v, limits_prov))
              for k, v in regulation.get("limits", {}).items() if k not in ("source", "assumed")}
    ins_prov = Provenance.of(item["insurers"], prov)
    insurers = (Insurer(item["insurers"]["lead"]["name"], rate(item["insurers"]["lead"]["share"], ins_prov), True),
                *(Insurer(c["name"], rate(c["share"], ins_prov), False) for c in item["insurers"].get("co", [])))
    elig = item["eligibility"]
    elig_prov = Provenance.of(elig, prov)
    premium = item["premium"]
    premium_prov = Provenance.of(premium, prov)
    funding = item.get("funding", {})
    funding_prov = Provenance.of(funding, prov)
    scheme = _layer(item, "scheme", info["name"], "scheme", prov)
    chain = item["chain"]
    chain_prov = Provenance.of(chain, prov)  # validation counts a number under `chain` as covered by its source
    layers = tuple(scheme if layer["kind"] == "scheme"
                   else _layer(layer, layer["id"], layer["name"], layer["kind"], chain_prov)
                   for layer in chain.get("layers", [{"kind": "scheme"}]))
    used_lists = {l.drug_list for l in scheme.liabilities if l.drug_list}
    drug_data = {k: v for k, v in data.get("drug_lists", {}).items() if k in used_lists}
    settlement = item.get("settlement", {})
    return Version(
        product_id=info["id"], product_name=info["name"], city=info["city"], region=info["region"],
        id=str(item["id"]), name=item["name"],
        period=(item["period"]["start"], item["period"]["end"]),
        enrolment=(item["enrolment"]["start"], item["enrolment"]["end"]),
        regimes=tuple(regulation["regimes"]), pricing=regulation["pricing"], limits=limits,
        insurers=insurers,
        filings={k: v for k, v in item["filings"].items() if k not in ("source", "assumed")},
        rounding=settlement.get("rounding", DEFAULT_ROUNDING), one_stop=settlement.get("one_stop", False),
        basic_insurance_required=elig["basic_insurance_required"],
        suspend_when_basic_in_arrears=elig["suspend_when_basic_in_arrears"],
        eligibility_rules=tuple(EligibilityRule(c["id"], c["name"], c["when"], c["outcome"],
                                                Provenance.of(c, elig_prov)) for c in elig.get("conditions", [])),
        eligibility_prov=elig_prov,
        age_reference=premium["age_reference"],
        bands=tuple(Band(b["id"], b["name"], b["when"], amount(b["amount"], Provenance.of(b, premium_prov)))
                    for b in premium["bands"]),
        personal_account=funding.get("personal_account", {"allowed": False}),
        group_enrolment=funding.get("group_enrolment", False),
        donated_enrolment=funding.get("donated_enrolment", False),
        subsidies=tuple(_subsidy(s, funding_prov) for s in funding.get("subsidies", [])),
        chain_after=tuple(chain["after"]),
        layers=layers,
        drug_lists=_drug_lists({"drug_lists": drug_data}),
        sources=data["sources"],
        content_hash=content_hash(info, data["sources"], drug_data, item),
        raw=item,
    )


def _subsidy(item: dict, inherited: Provenance) -> Subsidy:
    prov = Provenance.of(item, inherited)
    return Subsidy(item["id"], item["name"], item["payer"], item["when"],
                   amount(item["amount"], prov) if "amount" in item else None,
                   rate(item["share"], prov) if "share" in item else None, prov)


def build_product(data: dict, file: str) -> Product:
    info = data["product"]
    versions = tuple(build_version(data, item) for item in data["versions"])
    return Product(info["id"], info["name"], info["city"], info["region"], file, data["sources"], versions)
