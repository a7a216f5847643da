"""Hypothesis strategies that write valid scheme texts: the test scheme of scheme_texts.py with its money
rules drawn at random — premium bands and a subsidy, shared or separate deductibles, ratios flat, by hospital
level or pre-existing condition, progressive segments, caps per liability, shared, several or none, special
drugs, payment chains with layers before and after the scheme, co-insurers' shares and the rounding mode.

Amounts are drawn in fen and written in yuan; ratios are drawn in thousandths.  Every number carries a
source, so each text passes validation (a text that does not is a bug of this module).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import strategies as st

from engine import vocab
from scheme_texts import scheme_text

DEDUCTIBLE_MAX = 2_000_000  # fen: 20,000 yuan; every cap is at least this (a cap below a deductible is invalid)
CAP_MAX = 40_000_000
HOSPITAL_CARE = ["inpatient", "emergency", "day_surgery"]


class Raw(str):
    """A number written as it is (never quoted, never a float)."""


def yuan(fen: int) -> Raw:
    return Raw(f"{fen // 100}.{fen % 100:02d}")


def rate_text(thousandths: int) -> Raw:
    return Raw(format(Decimal(thousandths) / 1000, "f"))


def flow(value) -> str:
    """A value as YAML flow text."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def items(values: list) -> str:
    return "\n".join(f"- {flow(value)}" for value in values)


rates = st.integers(0, 1000).map(rate_text)
deductible_fen = st.one_of(st.just(0), st.integers(0, DEDUCTIBLE_MAX))
cap_fen = st.integers(DEDUCTIBLE_MAX, CAP_MAX)


@dataclass(frozen=True)
class Pools:
    deductibles: dict  # id → fen
    caps: dict
    orders: dict = None  # deductible id → the order one claim's parts use it in (`order:`)

    def block(self) -> str:
        lines = []
        for key, pools in (("deductibles", self.deductibles), ("caps", self.caps)):
            if pools:
                lines.append(f"{key}:")
                lines += [f"  - {flow(self.pool(key, i, fen))}" for i, fen in pools.items()]
        return "\n".join(lines)

    def pool(self, key: str, ident: str, fen: int) -> dict:
        written = {"id": ident, "name": f"额度{ident}", "amount": yuan(fen), "source": {"doc": "doc", "clause": "第五条", "quote": "第五条"}}
        return written | ({"order": self.orders[ident]} if key == "deductibles" else {})


@st.composite
def pools(draw) -> Pools:
    deductibles = draw(st.lists(deductible_fen, max_size=2))
    caps = draw(st.lists(cap_fen, max_size=2))
    orders = {f"d{i}": draw(st.sampled_from(list(vocab.DEDUCTIBLE_ORDERS))) for i in range(len(deductibles))}
    return Pools({f"d{i}": fen for i, fen in enumerate(deductibles)}, {f"c{i}": fen for i, fen in enumerate(caps)},
                 orders)


@st.composite
def segments(draw, start_at_most: int) -> list:
    """Contiguous progressive segments from at most the deductible upwards, the last one open-ended."""
    lo = draw(st.integers(0, start_at_most))
    out = []
    for _ in range(draw(st.integers(0, 3))):
        hi = lo + draw(st.integers(1, 5_000_000))
        out.append({"from": yuan(lo), "to": yuan(hi), "rate": draw(rates)})
        lo = hi
    return out + [{"from": yuan(lo), "rate": draw(rates)}]


@st.composite
def ratio(draw, deductible: int):
    form = draw(st.sampled_from(["flat", "by_level", "by_pre_existing", "segments", "segments_by_level"]))
    if form == "flat":
        return draw(rates)
    if form == "segments":
        return {"segments": draw(segments(deductible))}
    if form == "by_pre_existing":
        return {"rows": [{"when": {"pre_existing": flag}, "rate": draw(rates)} for flag in (False, True)]}
    groups = draw(st.sampled_from([[[1], [2], [3]], [[1, 2], [3]], [[1], [2, 3]]]))
    if form == "by_level":
        return {"rows": [{"when": {"hospital_level": levels}, "rate": draw(rates)} for levels in groups]}
    return {"rows": [{"when": {"hospital_level": levels}, "segments": draw(segments(deductible))} for levels in groups]}


@st.composite
def liability(draw, ident: str, covers: str, care: list, shared: Pools, drug_list: str | None = None) -> dict:
    if shared.deductibles and draw(st.booleans()):
        deductible_ref = draw(st.sampled_from(sorted(shared.deductibles)))
        deductible = shared.deductibles[deductible_ref]
    else:
        deductible = draw(deductible_fen)
        deductible_ref = yuan(deductible)
    cap_form = draw(st.sampled_from(["none", "inline", "shared", "several"]))
    if cap_form == "shared" and shared.caps:
        cap = draw(st.sampled_from(sorted(shared.caps)))
    elif cap_form == "several" and shared.caps:
        cap = draw(st.lists(st.sampled_from(sorted(shared.caps)), min_size=1, unique=True))
    elif cap_form == "inline":
        cap = yuan(draw(cap_fen))
    else:
        cap = "none"
    item = {"id": ident, "name": f"责任{ident}", "covers": covers, "care": care, "deductible": deductible_ref,
            "ratio": draw(ratio(deductible)), "cap": cap, "source": {"doc": "doc", "clause": "第七条", "quote": "第七条"}}
    if drug_list:
        item["drug_list"] = drug_list
    return item


@st.composite
def scheme_liabilities(draw, shared: Pools) -> list:
    """In-policy hospital care always; chronic outpatient, out-of-policy and special drugs when drawn."""
    out = [draw(liability("in_policy", "in_policy_self_pay", HOSPITAL_CARE, shared))]
    if draw(st.booleans()):
        out.append(draw(liability("chronic", "in_policy_self_pay", ["chronic_outpatient"], shared)))
    if draw(st.booleans()):
        out.append(draw(liability("out_of_policy", "out_of_policy_self_pay", HOSPITAL_CARE, shared)))
    if draw(st.booleans()):
        out.append(draw(liability("special_drugs", "special_drugs", ["inpatient", "outpatient", "pharmacy"], shared,
                                  drug_list="drugs")))
    return draw(st.permutations(out))  # liability order decides who uses a shared pool first


@st.composite
def chain_layer(draw, ident: str, kind: str) -> dict:
    shared = draw(pools())  # a layer's pools may carry the same ids as the scheme's: they are its own
    liabilities = [draw(liability("inpatient", "in_policy_self_pay", HOSPITAL_CARE, shared))]
    if draw(st.booleans()):
        liabilities.append(draw(liability("chronic", "in_policy_self_pay", ["chronic_outpatient"], shared)))
    layer = {"id": ident, "name": f"赔付层{ident}", "kind": kind, "liabilities": liabilities}
    layer.update({key: [{"id": i, "name": f"额度{i}", "amount": yuan(fen)} for i, fen in getattr(shared, key).items()]
                  for key in ("deductibles", "caps") if getattr(shared, key)})
    return layer


@st.composite
def chain(draw) -> str:
    before = [draw(chain_layer(ident, kind)) for ident, kind in (("basic", "basic"), ("critical", "critical_illness"))
              if draw(st.booleans())]
    after = [draw(chain_layer("assistance", "assistance"))] if draw(st.booleans()) else []
    if not before and not after:
        return ""
    layers = [*before, {"id": "supplement", "name": "本方案", "kind": "scheme"}, *after]
    return "source: {doc: doc, clause: 第一条, quote: 第一条}\nlayers:\n" + "\n".join(f"  - {flow(layer)}" for layer in layers)


@st.composite
def insurers(draw) -> str:
    co = draw(st.lists(st.integers(1, 400), max_size=3))
    lead = 1000 - sum(co)
    if lead <= 0:
        co, lead = co[:1], 1000 - co[0]
    lines = [f"lead: {flow({'name': '主承保公司', 'share': rate_text(lead)})}"]
    if co:
        lines.append("co:")
        lines += [f"  - {flow({'name': f'共保公司{i}', 'share': rate_text(share)})}" for i, share in enumerate(co)]
    return "\n".join(lines)


@st.composite
def bands_and_funding(draw) -> tuple[str, str]:
    cuts = sorted(draw(st.sets(st.integers(1, 149), max_size=2)))
    edges = [0, *cuts, 151]
    bands = [{"id": f"b{i}", "name": f"档位{i}", "when": {"age": {"min": lo, "max": hi - 1}},
              "amount": yuan(draw(st.integers(100, 30_000)))} for i, (lo, hi) in enumerate(zip(edges, edges[1:]))]
    funding = ""
    if draw(st.booleans()):
        subsidy = {"id": "low-income", "name": "低收入资助", "payer": "government", "when": {"low_income": ["dibao"]},
                   "share": draw(rates)}
        funding = f"funding:\n  source: {{doc: doc, clause: 第四条, quote: 第四条}}\n  subsidies:\n    - {flow(subsidy)}"
    return items(bands), funding


@dataclass(frozen=True)
class GeneratedScheme:
    text: str
    has_chain: bool


@st.composite
def schemes(draw) -> GeneratedScheme:
    shared = draw(pools())
    bands, funding = draw(bands_and_funding())
    chain_text = draw(chain())
    text = scheme_text(rounding=draw(st.sampled_from(["half_up", "half_even", "down"])), insurers=draw(insurers()),
                       bands=bands, funding=funding, liabilities=items(draw(scheme_liabilities(shared))),
                       chain=chain_text, pools=shared.block())
    return GeneratedScheme(text, bool(chain_text))
