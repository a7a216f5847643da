"""Semantic checks on a well-shaped scheme: what a JSON Schema cannot say.

Each check yields Issues located in the document.  Checks run per version and never stop early,
so a product manager sees every problem of a file at once.
"""
from __future__ import annotations

from decimal import Decimal

from . import conditions, vocab
from .issues import Issue
from .load import Document
from .money import MoneyError, format_yuan, round_fen, yuan_to_fen

BAND_DIMS = ("age", "pre_existing", "low_income")


def semantic_issues(doc: Document, skip_versions=frozenset()) -> list[Issue]:
    """Semantic problems; versions in `skip_versions` (badly shaped, reported by the schema) are left out."""
    data = doc.data
    versions = [(("versions", v), version) for v, version in enumerate(data["versions"]) if v not in skip_versions]
    issues: list[Issue] = []
    issues += _provenance_issues(doc, versions)
    issues += _money_precision_issues(doc, data.get("drug_lists", {}), ("drug_lists",))
    issues += _duplicate_ids(doc, data["versions"], ("versions",), "版本")
    for code, drugs in data.get("drug_lists", {}).items():
        for i, drug in enumerate(drugs["drugs"]):
            issues += _date_order(doc, drug.get("valid_from"), drug.get("valid_to"),
                                  ("drug_lists", code, "drugs", i, "valid_to"), "药品有效期")
    for vpath, version in versions:
        issues += _money_precision_issues(doc, version, vpath)
        issues += _version_issues(doc, version, vpath)
    return issues


# ── provenance and money ──────────────────────────────────────────────────────────────────────

def _provenance_issues(doc: Document, versions: list) -> list[Issue]:
    sources = doc.data.get("sources", {})
    issues: list[Issue] = []

    def walk(node, path: tuple, covered: bool):
        if isinstance(node, dict):
            for ref in ("source",):
                if ref in node:
                    issues.extend(_source_ref_issues(doc, node[ref], sources, path + (ref,)))
            covered = covered or "source" in node or "assumed" in node
            for key, value in node.items():
                if key not in ("hospital_level",):
                    walk(value, path + (key,), covered)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, path + (i,), covered)
        elif isinstance(node, (int, Decimal)) and not isinstance(node, bool) and not covered:
            issues.append(doc.issue("provenance.missing",
                                    f"数值 {node} 没有出处：请在它或它所在的条目上写 source（来源文件 + 条款）"
                                    "或 assumed（假设及理由）", path))

    for vpath, version in versions:
        walk(version, vpath, False)
    walk(doc.data.get("drug_lists", {}), ("drug_lists",), False)
    return issues


def _source_ref_issues(doc: Document, ref: str, sources: dict, path: tuple) -> list[Issue]:
    doc_id, _, clause = ref.strip().partition(" ")
    if doc_id not in sources:
        known = "、".join(sources) or "（无）"
        return [doc.issue("provenance.unknown_source", f"出处“{ref}”引用了未声明的来源文件“{doc_id}”；已声明：{known}", path)]
    if not clause.strip():
        return [doc.issue("provenance.no_clause", f"出处“{ref}”缺少条款（写成“{doc_id} 条款或段落”）", path)]
    return []


def _money_precision_issues(doc: Document, node, path: tuple) -> list[Issue]:
    """Amounts are yuan with at most two decimals: each must become a whole number of fen."""
    issues: list[Issue] = []
    if isinstance(node, dict):
        for key, value in node.items():
            issues += _money_precision_issues(doc, value, path + (key,))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            issues += _money_precision_issues(doc, item, path + (i,))
    elif isinstance(node, Decimal) and _is_money_path(path):
        try:
            yuan_to_fen(node)
        except MoneyError:
            issues.append(doc.issue("money.precision", f"金额 {node} 超过两位小数：金额以元为单位，最多精确到分", path))
    return issues


MONEY_KEYS = ("amount", "from", "to", "deductible", "cap", "premium_max", "deductible_max", "cap_min")


def _is_money_path(path: tuple) -> bool:
    """An amount in yuan: `amount: 69`, `deductible: 1000`, or the `value` of `{value: …, source: …}` there."""
    keys = [p for p in path if isinstance(p, str)]
    if keys[-1:] == ["value"]:
        keys = keys[:-1]
    return bool(keys) and keys[-1] in MONEY_KEYS


def _fen(node) -> int:
    """An amount (plain or {value: …}) in fen, for comparisons; a third decimal, reported by
    money.precision, is rounded away so that the other checks still run."""
    value = value_of(node)
    try:
        return yuan_to_fen(value)
    except MoneyError:
        return round_fen(Decimal(str(value)) * 100)


def _yuan(fen: int) -> str:
    """12345600 → '123,456'; 12345678 → '123,456.78' (never a float, never 1.5e+06)."""
    text = format_yuan(fen)
    return text[:-3] if text.endswith(".00") else text


# ── per version ───────────────────────────────────────────────────────────────────────────────

def _version_issues(doc: Document, version: dict, vpath: tuple) -> list[Issue]:
    issues: list[Issue] = []
    issues += _date_order(doc, version["period"]["start"], version["period"]["end"], vpath + ("period", "end"),
                          "保险期间")
    issues += _date_order(doc, version["enrolment"]["start"], version["enrolment"]["end"],
                          vpath + ("enrolment", "end"), "参保期")
    if version["enrolment"]["start"] > version["period"]["end"]:
        issues.append(doc.issue("dates.enrolment_after_period", "参保期在保险期间结束之后才开始",
                                vpath + ("enrolment", "start")))
    issues += _insurer_issues(doc, version.get("insurers", {}), vpath + ("insurers",))
    issues += _band_issues(doc, version["premium"]["bands"], vpath + ("premium", "bands"))
    issues += _subsidy_issues(doc, version, vpath)
    issues += _duplicate_ids(doc, version.get("funding", {}).get("subsidies", []), vpath + ("funding", "subsidies"),
                             "资助")
    issues += _duplicate_ids(doc, version["eligibility"].get("conditions", []),
                             vpath + ("eligibility", "conditions"), "参保条件")
    issues += _layer_issues(doc, version, vpath)
    issues += _limit_issues(doc, version, vpath)
    return issues


def _date_order(doc: Document, start: str | None, end: str | None, path: tuple, what: str) -> list[Issue]:
    if start and end and end < start:
        return [doc.issue("dates.order", f"{what}的结束日期 {end} 早于开始日期 {start}", path)]
    return []


RESERVED_IDS = {"otherwise", "basic_insurance_required", "basic_insurance_suspended"}


def _duplicate_ids(doc: Document, items: list, path: tuple, what: str) -> list[Issue]:
    seen: set = set()
    issues = []
    for i, item in enumerate(items):
        ident = item.get("id") if isinstance(item, dict) else None  # a badly shaped version has been reported
        if not isinstance(ident, str):
            continue
        if ident in seen:
            issues.append(doc.issue("ids.duplicate", f"{what}编号“{ident}”重复", path + (i, "id")))
        if ident in RESERVED_IDS:  # the compiled ruleset names its own rules with them
            issues.append(doc.issue("ids.reserved", f"编号“{ident}”是引擎保留字，请换一个", path + (i, "id")))
        seen.add(ident)
    return issues


def _insurer_issues(doc: Document, insurers: dict, path: tuple) -> list[Issue]:
    """Shares of the lead and co-insurers add up to 1; reported on `insurers:`, as no one share is to blame."""
    shares = [value_of(insurers["lead"]["share"])] + [value_of(c["share"]) for c in insurers.get("co", [])]
    total = sum(shares)
    if total != 1:
        terms = " + ".join(str(share) for share in shares)
        return [doc.issue("insurers.shares", f"共保份额合计应为 1（100%），实际为 {terms} = {total}", path)]
    return []


def value_of(node):
    """A number written plainly or as {value: …, source: …}."""
    return node["value"] if isinstance(node, dict) else node


def _age_issues(doc: Document, when: dict, path: tuple) -> list[Issue]:
    age = when.get("age", {})
    if "min" in age and "max" in age and age["min"] > age["max"]:
        return [doc.issue("conditions.age_order", f"年龄下限 {age['min']} 大于上限 {age['max']}", path + ("age", "max"))]
    if age.get("max", 0) > vocab.MAX_AGE:
        return [doc.issue("conditions.age_range", f"年龄上限 {age['max']} 超过 {vocab.MAX_AGE} 岁", path + ("age", "max"))]
    return []


def _band_issues(doc: Document, bands: list, path: tuple) -> list[Issue]:
    issues = _duplicate_ids(doc, bands, path, "保费档位")
    for i, band in enumerate(bands):
        issues += _age_issues(doc, band["when"], path + (i, "when"))
    if issues:
        return issues
    items = [(band["id"], band["when"]) for band in bands]
    dims = conditions.dimensions_used([b["when"] for b in bands], always=BAND_DIMS)
    return _coverage_issues(doc, items, dims, path, "band", "保费档位", {b["id"]: i for i, b in enumerate(bands)},
                            gap_text="以下人员没有适用的保费档位，无法报价")


def _coverage_issues(doc, items, dims, path, code, what, index_of, space=None, gap_text="") -> list[Issue]:
    gaps, overlaps = conditions.coverage(items, dims, space)
    issues = []
    if gaps:
        issues.append(doc.issue(f"{code}.gap", f"{gap_text}：{conditions.summarise_points(gaps)}", path))
    for labels, points in overlaps.items():
        issues.append(doc.issue(f"{code}.overlap",
                                f"{what}“{'”和“'.join(labels)}”同时适用于：{conditions.summarise_points(points)}",
                                path + (index_of[labels[1]], "when")))
    return issues


def _subsidy_issues(doc: Document, version: dict, vpath: tuple) -> list[Issue]:
    issues = []
    for i, subsidy in enumerate(version.get("funding", {}).get("subsidies", [])):
        spath = vpath + ("funding", "subsidies", i)
        issues += _age_issues(doc, subsidy["when"], spath + ("when",))
        if "amount" not in subsidy:
            continue
        amount = _fen(subsidy["amount"])
        for band in version["premium"]["bands"]:
            overlap = conditions.coverage([("s", subsidy["when"]), ("b", band["when"])],
                                          conditions.dimensions_used([subsidy["when"], band["when"]]))[1]
            if overlap and amount > _fen(band["amount"]):
                issues.append(doc.issue("funding.subsidy_exceeds_premium",
                                        f"资助金额 {_yuan(amount)} 元超过档位“{band['id']}”的保费 "
                                        f"{_yuan(_fen(band['amount']))} 元", spath + ("amount",)))
    return issues


# ── liabilities, pools, layers ────────────────────────────────────────────────────────────────

def _layer_issues(doc: Document, version: dict, vpath: tuple) -> list[Issue]:
    """The scheme's own liabilities, and those of every declared chain layer, checked alike."""
    issues = _liability_set_issues(doc, version, vpath)
    layers = version["chain"].get("layers")
    if layers is None:
        return issues
    issues += _duplicate_ids(doc, layers, vpath + ("chain", "layers"), "赔付层")
    schemes = [i for i, layer in enumerate(layers) if layer["kind"] == "scheme"]
    if len(schemes) != 1:
        issues.append(doc.issue("chain.scheme_layer", f"赔付链中应恰好有一层 kind: scheme（本方案的位置），实际有 {len(schemes)} 层",
                                vpath + ("chain", "layers")))
    for i, layer in enumerate(layers):
        lpath = vpath + ("chain", "layers", i)
        if layer["kind"] == "scheme":
            if layer.get("liabilities") or layer.get("deductibles") or layer.get("caps"):
                issues.append(doc.issue("chain.scheme_layer_body", "kind: scheme 这一层代表本方案，责任写在版本的 liabilities 中，这里不要重复",
                                        lpath))
        elif not layer.get("liabilities"):
            issues.append(doc.issue("chain.layer_empty", f"赔付层“{layer['id']}”没有写任何责任", lpath))
        else:
            issues += _liability_set_issues(doc, layer, lpath)
    return issues


def _liability_set_issues(doc: Document, holder: dict, hpath: tuple) -> list[Issue]:
    issues: list[Issue] = []
    pools = {"deductibles": {}, "caps": {}}
    for kind in pools:
        issues += _duplicate_ids(doc, holder.get(kind, []), hpath + (kind,), "额度池")
        pools[kind] = {p["id"]: _fen(p["amount"]) for p in holder.get(kind, [])}
    liabilities = holder.get("liabilities", [])
    issues += _duplicate_ids(doc, liabilities, hpath + ("liabilities",), "责任")
    for i, liability in enumerate(liabilities):
        issues += _liability_issues(doc, liability, hpath + ("liabilities", i), pools)
    issues += _routing_issues(doc, liabilities, hpath + ("liabilities",))
    return issues


def _liability_issues(doc: Document, liability: dict, path: tuple, pools: dict) -> list[Issue]:
    issues: list[Issue] = []
    deductible_fen = _pool_amount(doc, liability["deductible"], pools["deductibles"], path + ("deductible",),
                                  "起付线", issues)
    cap_refs = liability["cap"]
    cap_list = cap_refs if isinstance(cap_refs, list) else ([] if cap_refs == "none" else [cap_refs])
    for j, ref in enumerate(cap_list):
        where = path + ("cap", j) if isinstance(cap_refs, list) else path + ("cap",)
        cap_fen = _pool_amount(doc, ref, pools["caps"], where, "封顶线", issues)
        if cap_fen is not None and deductible_fen is not None and cap_fen < deductible_fen:
            issues.append(doc.issue("liability.cap_below_deductible",
                                    f"封顶线 {_yuan(cap_fen)} 元低于起付线 {_yuan(deductible_fen)} 元", where))
    drug_lists = doc.data.get("drug_lists", {})
    if liability["covers"] == "special_drugs":
        if "drug_list" not in liability:
            issues.append(doc.issue("liability.drug_list_missing", "特药责任必须指明药品目录 drug_list", path))
        elif liability["drug_list"] not in drug_lists:
            issues.append(doc.issue("liability.drug_list_unknown",
                                    f"药品目录“{liability['drug_list']}”未在 drug_lists 中声明", path + ("drug_list",)))
    elif "drug_list" in liability:
        issues.append(doc.issue("liability.drug_list_unexpected", "只有 covers: special_drugs 的责任才有药品目录",
                                path + ("drug_list",)))
    issues += _ratio_issues(doc, liability, path + ("ratio",), deductible_fen)
    return issues


def _pool_amount(doc, ref, known: dict, path: tuple, what: str, issues: list) -> int | None:
    if isinstance(ref, str):
        if ref not in known:
            names = "、".join(known) or "（无）"
            issues.append(doc.issue("liability.unknown_pool", f"{what}引用了未声明的额度池“{ref}”；已声明：{names}", path))
            return None
        return known[ref]
    return _fen(ref)


def _ratio_issues(doc: Document, liability: dict, path: tuple, deductible_fen: int | None) -> list[Issue]:
    ratio = liability["ratio"]
    if isinstance(ratio, dict) and "segments" in ratio:
        return _segment_issues(doc, ratio["segments"], path + ("segments",), deductible_fen)
    if not (isinstance(ratio, dict) and "rows" in ratio):
        return []
    rows = ratio["rows"]
    issues: list[Issue] = []
    for i, row in enumerate(rows):
        issues += _age_issues(doc, row["when"], path + ("rows", i, "when"))
        if "segments" in row:
            issues += _segment_issues(doc, row["segments"], path + ("rows", i, "segments"), deductible_fen)
    items = [(f"第{i + 1}行", row["when"]) for i, row in enumerate(rows)]
    dims = conditions.dimensions_used([row["when"] for row in rows])
    space = {"care": vocab.care_covered(liability["care"])}  # a parent code's children are claims it covers too
    index = {label: i for i, (label, _) in enumerate(items)}
    return issues + _coverage_issues(doc, items, dims, path + ("rows",), "ratio", "比例行", index, space,
                                     gap_text="以下情形的费用没有适用的比例行，无法赔付")


def _segment_issues(doc: Document, segments: list, path: tuple, deductible_fen: int | None) -> list[Issue]:
    """Progressive segments: contiguous, increasing, the last and only the last open-ended, starting at or
    below the deductible."""
    issues = []
    bounds = [(_fen(s["from"]), _fen(s["to"]) if "to" in s else None)
              for s in segments]
    first_from = bounds[0][0]
    if deductible_fen is not None and first_from > deductible_fen:
        issues.append(doc.issue("segments.gap_after_deductible",
                                f"第一段从 {_yuan(first_from)} 元开始，但起付线只有 {_yuan(deductible_fen)} 元：中间的费用没有比例",
                                path + (0, "from")))
    for i, (lo, hi) in enumerate(bounds):
        if hi is not None and hi <= lo:
            issues.append(doc.issue("segments.not_increasing", f"分段上限 {_yuan(hi)} 元不大于下限 {_yuan(lo)} 元",
                                    path + (i, "to")))
        if i == 0:
            continue
        prev_hi = bounds[i - 1][1]
        if prev_hi is None:
            issues.append(doc.issue("segments.after_open_end", "上一段没有上限（已到无穷），后面不能再有分段", path + (i, "from")))
        elif lo != prev_hi:
            word = "断开" if lo > prev_hi else "重叠"
            issues.append(doc.issue("segments.not_contiguous",
                                    f"分段{word}：上一段止于 {_yuan(prev_hi)} 元，本段起于 {_yuan(lo)} 元",
                                    path + (i, "from")))
    last_hi = bounds[-1][1]
    if all(hi is not None for _, hi in bounds):  # silence above the last one would pay nothing: say so
        issues.append(doc.issue("segments.no_open_end",
                                f"最后一段止于 {_yuan(last_hi)} 元，超过部分没有比例：最后一段不写 to（到无穷）；"
                                "若超过部分确实不赔，请再写一段 rate: 0", path + (len(bounds) - 1, "to")))
    return issues


def _routing_issues(doc: Document, liabilities: list, path: tuple) -> list[Issue]:
    """Each part of a claim (what it is, which care) must go to at most one liability."""
    issues = []
    for covers in vocab.COVERS:
        mine = [(l["id"], {**l.get("when", {}), "care": l["care"]}) for l in liabilities if l["covers"] == covers]
        if len(mine) < 2:
            continue
        dims = conditions.dimensions_used([w for _, w in mine])
        _, overlaps = conditions.coverage(mine, dims)
        index = {l["id"]: i for i, l in enumerate(liabilities)}
        for labels, points in overlaps.items():
            issues.append(doc.issue("liability.overlap",
                                    f"责任“{'”和“'.join(labels)}”都赔付{vocab.COVERS[covers]}，且同时适用于："
                                    f"{conditions.summarise_points(points)}", path + (index[labels[1]], "care")))
    return issues


def _limit_issues(doc: Document, version: dict, vpath: tuple) -> list[Issue]:
    """A version that declares limits (e.g. premium ≤ 100) must respect them."""
    limits = version["regulation"].get("limits", {})
    issues: list[Issue] = []
    if "premium_max" in limits:
        ceiling = _fen(limits["premium_max"])
        for i, band in enumerate(version["premium"]["bands"]):
            if _fen(band["amount"]) > ceiling:
                issues.append(doc.issue("limits.premium", f"档位“{band['id']}”保费 {_yuan(_fen(band['amount']))} 元"
                                        f"超过声明的上限 {_yuan(ceiling)} 元", vpath + ("premium", "bands", i, "amount")))
    if "deductible_max" in limits:
        ceiling = _fen(limits["deductible_max"])
        for name, amount, path in _deductibles(version, vpath):
            if _fen(amount) > ceiling:
                issues.append(doc.issue("limits.deductible", f"{name}的起付线 {_yuan(_fen(amount))} 元超过声明的上限 "
                                        f"{_yuan(ceiling)} 元", path))
    if "cap_min" in limits:
        floor = _fen(limits["cap_min"])
        for i, pool in enumerate(version.get("caps", [])):
            if _fen(pool["amount"]) < floor:
                issues.append(doc.issue("limits.cap", f"封顶线“{pool['id']}” {_yuan(_fen(pool['amount']))} 元低于声明的下限 "
                                        f"{_yuan(floor)} 元", vpath + ("caps", i, "amount")))
    return issues


def _deductibles(version: dict, vpath: tuple):
    """Every deductible of the scheme itself: the shared pools and those written inline on a liability."""
    for i, pool in enumerate(version.get("deductibles", [])):
        yield f"额度池“{pool['id']}”", pool["amount"], vpath + ("deductibles", i, "amount")
    for i, liability in enumerate(version["liabilities"]):
        if not isinstance(liability["deductible"], str):
            yield f"责任“{liability['id']}”", liability["deductible"], vpath + ("liabilities", i, "deductible")
