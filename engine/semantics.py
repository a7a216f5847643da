"""Semantic checks on a well-shaped scheme: what a JSON Schema cannot say.

The checks run on the typed model (`model.build_product`), where shorthand is already decoded: a flat
ratio is one ratio row, an inline deductible a pool, a `when:` a `Condition`.  Every model node carries
its path in the document, so each Issue still names file, line and column.  A few checks read the
document itself, because they are about the text, not what it means: every number has a source, ids
written twice (the model keys pools by id), the versions list, and the chain as declared (the model
keeps one scheme layer).  Checks never stop early, so a product manager sees every problem at once.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from . import vocab
from .citations import Library, check_citation, source_paths
from .conditions import Condition, coverage, dimensions_used, summarise_points
from .issues import Issue
from .load import Document
from .model import ITEM_LIST_KINDS, Amount, Layer, Liability, Path, Product, Version, money_choices
from .money import format_yuan

BAND_DIMS = ("age", "pre_existing", "low_income")


def semantic_issues(doc: Document, product: Product, library: Library) -> list[Issue]:
    """Semantic problems of the versions in the model (`validate.check` leaves out badly shaped ones); every
    citation's quote is looked up in the library's texts."""
    data = doc.data
    issues: list[Issue] = []
    issues += _provenance_issues(doc, [(v.path, doc.get(v.path)) for v in product.versions], library)
    issues += _duplicate_ids(doc, _written_ids(data["versions"], ("versions",)), "版本")
    issues += _drug_issues(doc, product)
    for version in product.versions:
        issues += _plan_issues(doc, version)
        for terms in (version, *version.plans):  # a plan's own terms are checked as the plan sees them
            issues += _money_precision_issues(doc, terms)
            issues += _version_issues(doc, terms)
            issues += _choice_issues(doc, terms)
        issues += _chain_declaration_issues(doc, version.path)
    return list({(i.code, i.path, i.message): i for i in issues}.values())  # common terms: reported once


def _plan_issues(doc: Document, version: Version) -> list[Issue]:
    """Plan ids once each; a plan drops only common liabilities that exist."""
    issues = _duplicate_ids(doc, [(p.plan, version.path + ("plans", i)) for i, p in enumerate(version.plans)], "方案")
    common = {l.id: l.name for l in version.scheme_layer.liabilities}
    listed = "、".join(f"{ident}（{name}）" for ident, name in sorted(common.items()))  # `drop:` is written with ids
    for i, node in enumerate(doc.get(version.path).get("plans", [])):
        for j, dropped in enumerate(node.get("drop", [])):
            if dropped not in common:
                issues.append(doc.issue("plan.drop_unknown", f"方案“{node['name']}”去掉的责任“{dropped}”不是本版本的共同责任；"
                                        f"共同责任：{listed}", version.path + ("plans", i, "drop", j)))
    return issues


# ── the document: provenance, ids, the chain as written ───────────────────────────────────────

def _provenance_issues(doc: Document, versions: list, library: Library) -> list[Issue]:
    sources = doc.data.get("sources", {})
    issues: list[Issue] = []

    def walk(node, path: tuple, covered: bool):
        if isinstance(node, dict):
            if "source" in node:
                issues.extend(_citation_issues(doc, node["source"], sources, path + ("source",), library))
            covered = covered or "source" in node or "assumed" in node
            for key, value in node.items():
                if key not in ("hospital_level", "source"):
                    walk(value, path + (key,), covered)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, path + (i,), covered)
        elif isinstance(node, (int, Decimal)) and not isinstance(node, bool) and not covered:
            issues.append(doc.issue("provenance.missing",
                                    f"数值 {node} 没有出处：请在它或它所在的条目上写 source（文件、条款和原文引语）"
                                    "或 assumed（假设及理由）", path))

    for vpath, version in versions:
        walk(version, vpath, False)
    for section in ITEM_LIST_KINDS:
        walk(doc.data.get(section, {}), (section,), False)
    return issues


def _citation_issues(doc: Document, source, sources: dict, path: tuple, library: Library) -> list[Issue]:
    """Each citation of a `source:` names a document the file declares, whose text the library keeps, and its
    quote is in that text."""
    issues = []
    for cpath in source_paths(source, path):
        doc_id = doc.get(cpath)["doc"]
        if doc_id not in sources:
            known = "、".join(sources) or "（无）"
            issues.append(doc.issue("provenance.unknown_source", f"出处引用了未声明的来源文件“{doc_id}”；已声明：{known}",
                                    cpath + ("doc",)))
        else:
            issues += check_citation(doc, cpath, library)[1]
    return issues


RESERVED_IDS = {"otherwise", "basic_insurance_required", "basic_insurance_suspended"}


def _written_ids(items: list, path: Path) -> list[tuple[str, Path]]:
    """(id, path of the item) of a list as written; an item without a text id (badly shaped) is left out."""
    return [(item["id"], path + (i,)) for i, item in enumerate(items)
            if isinstance(item, dict) and isinstance(item.get("id"), str)]


def _duplicate_ids(doc: Document, items: list[tuple[str, Path]], what: str) -> list[Issue]:
    """Ids written twice in one list, and ids the compiled ruleset names its own rules with."""
    seen: set = set()
    issues = []
    for ident, path in items:
        if ident in seen:
            issues.append(doc.issue("ids.duplicate", f"{what}编号“{ident}”重复", path + ("id",)))
        if ident in RESERVED_IDS:
            issues.append(doc.issue("ids.reserved", f"编号“{ident}”是引擎保留字，请换一个", path + ("id",)))
        seen.add(ident)
    return issues


def _named(node, siblings) -> str:
    """What a person calls a band, liability or pool: its name, with its id only where another of its list has
    the same name."""
    twins = sum(1 for other in siblings if other.name == node.name)
    return f"{node.name}（{node.id}）" if twins > 1 else node.name


def _ids(nodes) -> list[tuple[str, Path]]:
    return [(node.id, node.path) for node in nodes]


def _chain_declaration_issues(doc: Document, vpath: Path) -> list[Issue]:
    """`chain.layers` as written: one `kind: scheme` entry, standing for the version's own liabilities."""
    layers = doc.get(vpath + ("chain", "layers"))
    if layers is None:
        return []
    lpath = vpath + ("chain", "layers")
    issues = _duplicate_ids(doc, _written_ids(layers, lpath), "赔付层")
    schemes = [i for i, layer in enumerate(layers) if layer["kind"] == "scheme"]
    if len(schemes) != 1:
        issues.append(doc.issue("chain.scheme_layer", f"赔付链中应恰好有一层 kind: scheme（本方案的位置），实际有 {len(schemes)} 层",
                                lpath))
    for i in schemes:
        if any(layers[i].get(key) for key in ("liabilities", "deductibles", "caps")):
            issues.append(doc.issue("chain.scheme_layer_body", "kind: scheme 这一层代表本方案，责任写在版本的 liabilities 中，这里不要重复",
                                    lpath + (i,)))
    return issues


# ── choices that move money ───────────────────────────────────────────────────────────────────

def _choice_issues(doc: Document, version: Version) -> list[Issue]:
    """No choice that moves money falls back to a default, and each is sourced or assumed."""
    issues = []
    for item in money_choices(version):
        what, key = vocab.CHOICES[item.key], vocab.CHOICE_KEYS[item.key]
        if not item.written:
            issues.append(doc.issue("choice.missing", f"没有写{what}（{key}）：它决定赔付或保费金额，不能用默认值；"
                                    "请写明，并注明 source（来源条款）或 assumed（假设及理由）", item.path))
        elif not item.prov:
            issues.append(doc.issue("choice.provenance", f"{what}没有出处：请在它或它所在的条目上写 source"
                                    "（文件、条款和原文引语）或 assumed（假设及理由）", item.path))
    return issues


# ── money ─────────────────────────────────────────────────────────────────────────────────────

def _amounts(version: Version):
    """Every amount of a version, wherever it is written."""
    for band in version.bands:
        yield band.amount
    for subsidy in version.subsidies:
        if subsidy.amount:
            yield subsidy.amount
    yield from (value for value in version.limits.values() if isinstance(value, Amount))
    for layer in _distinct_layers(version):
        for pool in [*layer.written_pools, *(p for p in [*layer.deductibles.values(), *layer.caps.values()]
                                             if p.inline)]:
            yield pool.amount
        for liability in layer.liabilities:
            for row in liability.rows:
                for segment in row.segments:
                    yield from segment.written


def _money_precision_issues(doc: Document, version: Version) -> list[Issue]:
    """Amounts are yuan with at most two decimals: each must become a whole number of fen."""
    return [doc.issue("money.precision", f"金额 {a.unrounded} 超过两位小数：金额以元为单位，最多精确到分", a.number_path)
            for a in _amounts(version) if a.unrounded is not None]


def _yuan(fen: int) -> str:
    """12345600 → '123,456'; 12345678 → '123,456.78' (never a float, never 1.5e+06)."""
    text = format_yuan(fen)
    return text[:-3] if text.endswith(".00") else text


def _distinct_layers(version: Version) -> list[Layer]:
    """The scheme's own layer and every other layer of its chain, each once."""
    return [version.scheme_layer, *(layer for layer in version.layers if layer.kind != "scheme")]


# ── per version ───────────────────────────────────────────────────────────────────────────────

def _version_issues(doc: Document, version: Version) -> list[Issue]:
    vpath = version.path
    (start, end), (open_, close) = version.period, version.enrolment
    issues: list[Issue] = []
    issues += _date_order(doc, start, end, vpath + ("period", "end"), "保险期间")
    issues += _date_order(doc, open_, close, vpath + ("enrolment", "end"), "参保期")
    if open_ > end:
        issues.append(doc.issue("dates.enrolment_after_period", "参保期在保险期间结束之后才开始",
                                vpath + ("enrolment", "start")))
    issues += _insurer_issues(doc, version)
    issues += _band_issues(doc, version)
    issues += _subsidy_issues(doc, version)
    issues += _duplicate_ids(doc, _ids(version.subsidies), "资助")
    issues += _duplicate_ids(doc, _ids(version.eligibility_rules), "参保条件")
    for layer in _distinct_layers(version):
        issues += _layer_issues(doc, layer, version)
    issues += _limit_issues(doc, version)
    issues += _waiting_issues(doc, version)
    issues += _own_list_issues(doc, version)
    issues += _surplus_issues(doc, version)
    issues += _service_issues(doc, version)
    return issues


# ── the version's own lists: named pre-existing conditions, hospitals, exclusions ─────────────

def _own_list_issues(doc: Document, version: Version) -> list[Issue]:
    """Ids once each; every `when:` names conditions and hospital lists the version declares; exclusions name
    declared items and lists; one-stop settlement names a hospital list; each list has its source or assumption."""
    vpath = version.path
    conditions = version.pre_existing_conditions
    issues = _duplicate_ids(doc, _written_ids(doc.get(vpath).get("pre_existing_conditions", []),
                                               vpath + ("pre_existing_conditions",)), "既往症")
    issues += _duplicate_ids(doc, _ids(version.exclusions), "责任免除")
    issues += _hospital_issues(doc, version)
    for when in version.conditions():
        issues += _named_id_issues(doc, when, version)
    for exclusion in version.exclusions:
        issues += _exclusion_issues(doc, exclusion, version)
    if version.one_stop_at is not None:
        at = vpath + ("settlement", "one_stop_at")
        if version.one_stop_at not in version.hospital_lists:
            issues.append(doc.issue("settlement.one_stop_at_unknown", f"一站式结算的医院名单“{version.one_stop_at}”"
                                    f"未在 hospital_lists 中声明；已声明：{_known(version.hospital_lists)}", at))
        elif not version.one_stop:
            issues.append(doc.issue("settlement.one_stop_at_without_one_stop", "写了一站式结算的医院名单 one_stop_at，"
                                    "one_stop 却是 false：请改为 true 或删去 one_stop_at", at))
    for node in [*conditions.values(), *version.hospital_lists.values(), *(e for e in version.exclusions if e.checked)]:
        if not node.prov:
            issues.append(doc.issue("provenance.missing", f"“{node.name}”没有出处：请写 source（来源文件 + 条款）"
                                    "或 assumed（假设及理由）", node.path))
    return issues


def _known(named: dict) -> str:
    return "、".join(f"{node.name}（{key}）" for key, node in named.items()) or "（无）"


def _named_id_issues(doc: Document, when: Condition, version: Version) -> list[Issue]:
    """`pre_existing: [ids]` and `hospital_in:` name what the version declares."""
    issues = []
    pre_existing, hospital_in = when.get("pre_existing"), when.get("hospital_in")
    if pre_existing is not None:
        for i, unknown in enumerate(pre_existing.ids):
            if unknown not in version.pre_existing_conditions:
                issues.append(doc.issue("conditions.unknown_pre_existing",
                                        f"既往症“{unknown}”未在本版本的 pre_existing_conditions 中列名；"
                                        f"已列名：{_known(version.pre_existing_conditions)}", when.path + ("pre_existing", i)))
    if hospital_in is not None:
        for unknown in hospital_in.lists:
            if unknown not in version.hospital_lists:
                issues.append(doc.issue("conditions.unknown_hospital_list",
                                        f"医院名单“{unknown}”未在本版本的 hospital_lists 中声明；"
                                        f"已声明：{_known(version.hospital_lists)}", when.path + ("hospital_in",)))
    return issues


def _hospital_issues(doc: Document, version: Version) -> list[Issue]:
    """A hospital once in a list, and at one level wherever it is listed."""
    issues, levels = [], {}
    for hospitals in version.hospital_lists.values():
        written = doc.get(hospitals.path)["hospitals"]
        seen = set()
        for i, node in enumerate(written):
            at = hospitals.path + ("hospitals", i)
            if node["code"] in seen:
                issues.append(doc.issue("hospitals.duplicate", f"医院编码“{node['code']}”在名单“{hospitals.name}”中重复",
                                        at + ("code",)))
            seen.add(node["code"])
            first = levels.setdefault(node["code"], (node["level"], hospitals.name))
            if first[0] != node["level"]:
                issues.append(doc.issue("hospitals.level_differs", f"{node['name']}在名单“{first[1]}”中是"
                                        f"{vocab.HOSPITAL_LEVELS[first[0]]}，在这里是{vocab.HOSPITAL_LEVELS[node['level']]}",
                                        at + ("level",)))
    return issues


def _exclusion_issues(doc: Document, exclusion, version: Version) -> list[Issue]:
    """The items and lists an exclusion names are on the scheme's lists."""
    declared = {list_id: body for section in ITEM_LIST_KINDS for list_id, body in doc.data.get(section, {}).items()}
    codes = {entry["code"] for body in declared.values() for key in ("drugs", "treatments") for entry in body.get(key, [])}
    issues = [doc.issue("exclusion.unknown_list", f"责任免除“{exclusion.name}”的目录“{list_id}”未在 drug_lists 或 "
                        f"treatment_lists 中声明；已声明：{'、'.join(sorted(declared)) or '（无）'}",
                        exclusion.path + ("lists", i))
              for i, list_id in enumerate(exclusion.lists) if list_id not in declared]
    issues += [doc.issue("exclusion.unknown_item", f"责任免除“{exclusion.name}”的项目“{code}”不在任何目录中："
                         "请写目录里的药品或治疗项目编码", exclusion.path + ("items", i))
               for i, code in enumerate(exclusion.items) if code not in codes]
    return issues


def _surplus_issues(doc: Document, version: Version) -> list[Issue]:
    surplus = version.surplus
    if surplus is None:
        return []
    issues = []
    if "surplus" in doc.get(version.path) and "surplus_rollover" in doc.get(version.path + ("regulation",)):
        issues.append(doc.issue("surplus.twice", "结余滚存写了两次：regulation.surplus_rollover 是旧写法，"
                                "请只写 surplus: {rolls_over: …}", version.path + ("regulation", "surplus_rollover")))
    if surplus.to is not None and surplus.rolls_over.value is not True:
        issues.append(doc.issue("surplus.to_without_rollover", f"写了结余的去向（to: {surplus.to}），但 rolls_over 不是 "
                                "true：不滚存就没有去向，请删去 to 或写 rolls_over: true", surplus.path + ("to",)))
    return issues + _declared_provenance(doc, surplus.rolls_over, "结余滚存")


def _service_issues(doc: Document, version: Version) -> list[Issue]:
    service = version.service
    if service is None:
        return []
    issues = _duplicate_ids(doc, _ids(service.deadlines), "赔款到账时限")
    declared = service.no_application
    if declared is not None:
        issues += _declared_provenance(doc, declared, "免申即赔")
        written = [key for key, value in (("scope", service.scope), ("since", service.since)) if value is not None]
        if written and declared.value is not True:
            issues.append(doc.issue("service.scope_without_claims", f"写了免申即赔的{'、'.join(written)}，但 value 不是 "
                                    "true：请删去它们或写 value: true", declared.path + (written[0],)))
        if service.since is not None and service.since > version.period[1]:
            issues.append(doc.issue("service.since_after_period", f"免申即赔自 {service.since} 起，晚于保险期间结束日 "
                                    f"{version.period[1]}：本版本内不实行", declared.path + ("since",)))
    return issues


def _declared_provenance(doc: Document, declared, what: str) -> list[Issue]:
    """A declared term says where it comes from: a source (then it is declared), or an assumption (unknown)."""
    if declared.prov:
        return []
    return [doc.issue("declared.provenance", f"{what}的声明没有出处：请在它或它所在的条目上写 source（来源条款；"
                      "没有来源时写 unknown 并注明 assumed）", declared.path)]


def _waiting_issues(doc: Document, version: Version) -> list[Issue]:
    """A waiting period must leave covered days in the period, and exemptions need a period to be exempt from."""
    waiting = version.waiting_period
    if waiting is None:
        return []
    start, end = (date.fromisoformat(d) for d in version.period)
    length = (end - start).days + 1
    if waiting.days >= length:
        return [doc.issue("waiting_period.too_long", f"等待期 {waiting.days} 天不短于保险期间（{length} 天）："
                          "参保后没有一天可以赔付", waiting.path + ("days",))]
    if waiting.exempt and not waiting.days:
        return [doc.issue("waiting_period.exempt_without_days", "等待期为 0 天，却声明了不设等待期的人员：请删去 exempt"
                          "或写明等待天数", waiting.path + ("exempt",))]
    return []


def _date_order(doc: Document, start: str | None, end: str | None, path: tuple, what: str) -> list[Issue]:
    if start and end and end < start:
        return [doc.issue("dates.order", f"{what}的结束日期 {end} 早于开始日期 {start}", path)]
    return []


def _drug_issues(doc: Document, product: Product) -> list[Issue]:
    """Item lists: each entry's validity in order; a list id declared once across drug and treatment lists."""
    issues = [issue for item_list in product.item_lists.values() for item in item_list.items.values()
              for issue in _date_order(doc, item.valid_from, item.valid_to, item.path + ("valid_to",),
                                       "药品有效期" if item_list.kind == "drug" else "项目有效期")]
    drug_ids = doc.data.get("drug_lists", {})
    issues += [doc.issue("lists.duplicate_id", f"目录编号“{list_id}”在 drug_lists 和 treatment_lists 中都有声明",
                         ("treatment_lists", list_id)) for list_id in doc.data.get("treatment_lists", {}) if list_id in drug_ids]
    return issues


def _insurer_issues(doc: Document, version: Version) -> list[Issue]:
    """Shares of the lead and co-insurers add up to 1; reported on `insurers:`, as no one share is to blame."""
    shares = [insurer.share.value for insurer in version.insurers]
    total = sum(shares)
    if total != 1:
        terms = " + ".join(str(share) for share in shares)
        return [doc.issue("insurers.shares", f"共保份额合计应为 1（100%），实际为 {terms} = {total}",
                          version.path + ("insurers",))]
    return []


def _age_issues(doc: Document, when: Condition) -> list[Issue]:
    age = when.get("age")
    if age is None:
        return []
    if age.lo is not None and age.hi is not None and age.lo > age.hi:
        return [doc.issue("conditions.age_order", f"年龄下限 {age.lo} 大于上限 {age.hi}", when.path + ("age", "max"))]
    if (age.hi or 0) > vocab.MAX_AGE:
        return [doc.issue("conditions.age_range", f"年龄上限 {age.hi} 超过 {vocab.MAX_AGE} 岁", when.path + ("age", "max"))]
    return []


def _band_issues(doc: Document, version: Version) -> list[Issue]:
    bands = version.bands
    issues = _duplicate_ids(doc, _ids(bands), "保费档位")
    for band in bands:
        issues += _age_issues(doc, band.when)
    if issues:
        return issues
    items = [(_named(band, bands), band.when) for band in bands]
    dims = dimensions_used([b.when for b in bands], always=BAND_DIMS)
    return _coverage_issues(doc, items, dims, version.path + ("premium", "bands"), "band", "保费档位",
                            gap_text="以下人员没有适用的保费档位，无法报价", names=version.names)


def _coverage_issues(doc, items: list[tuple[str, Condition]], dims, path, code, what, space=None,
                     gap_text="", names=None) -> list[Issue]:
    gaps, overlaps = coverage(items, dims, space)
    issues = []
    if gaps:
        issues.append(doc.issue(f"{code}.gap", f"{gap_text}：{summarise_points(gaps, names=names)}", path))
    where = dict(items)
    for labels, points in overlaps.items():
        issues.append(doc.issue(f"{code}.overlap",
                                f"{what}“{'”和“'.join(labels)}”同时适用于：{summarise_points(points, names=names)}",
                                where[labels[1]].path))
    return issues


def _subsidy_issues(doc: Document, version: Version) -> list[Issue]:
    issues = []
    for subsidy in version.subsidies:
        issues += _age_issues(doc, subsidy.when)
        if subsidy.amount is None:
            continue
        for band in version.bands:
            overlap = coverage([("s", subsidy.when), ("b", band.when)], dimensions_used([subsidy.when, band.when]))[1]
            if overlap and subsidy.amount.fen > band.amount.fen:
                issues.append(doc.issue("funding.subsidy_exceeds_premium",
                                        f"资助金额 {_yuan(subsidy.amount.fen)} 元超过档位“{_named(band, version.bands)}”的保费 "
                                        f"{_yuan(band.amount.fen)} 元", subsidy.amount.path))
    return issues


# ── liabilities, pools, layers ────────────────────────────────────────────────────────────────

def _layer_issues(doc: Document, layer: Layer, version: Version) -> list[Issue]:
    """The scheme's own liabilities, and those of every declared chain layer, checked alike."""
    if layer.kind != "scheme" and not layer.liabilities:
        return [doc.issue("chain.layer_empty", f"赔付层“{layer.name}”没有写任何责任", layer.path)]
    issues: list[Issue] = []
    for kind in ("deductibles", "caps"):
        issues += _duplicate_ids(doc, [(p.id, p.path) for p in layer.written_pools if p.path[-2] == kind], "额度池")
    issues += _duplicate_ids(doc, _ids(layer.liabilities), "责任")
    for liability in layer.liabilities:
        issues += _liability_issues(doc, layer, liability, version)
    issues += _routing_issues(doc, layer)
    issues += _item_overlap_issues(doc, layer, version)
    return issues


def _liability_issues(doc: Document, layer: Layer, liability: Liability, version: Version) -> list[Issue]:
    issues: list[Issue] = []
    path = liability.path
    deductible_fen = _pool_amount(doc, liability, liability.deductible, layer.deductibles, path + ("deductible",),
                                  "起付线", issues)
    for j, ref in enumerate(liability.caps):
        where = liability.cap_path(j)
        cap_fen = _pool_amount(doc, liability, ref, layer.caps, where, "封顶线", issues)
        if cap_fen is not None and deductible_fen is not None and cap_fen < deductible_fen:
            issues.append(doc.issue("liability.cap_below_deductible",
                                    f"封顶线 {_yuan(cap_fen)} 元低于起付线 {_yuan(deductible_fen)} 元", where))
    issues += _list_issues(doc, liability)
    issues += _ratio_issues(doc, liability, deductible_fen, version.names)
    return issues


def _list_issues(doc: Document, liability: Liability) -> list[Issue]:
    """A liability pays a cost kind or the items of declared lists, never both and never neither."""
    if liability.covers is not None:
        if liability.lists:
            return [doc.issue("liability.drug_list_unexpected", "赔付费用类别的责任不能有药品目录：赔付目录项目的责任写 "
                              "lists: [目录编号]（旧写法 covers: special_drugs 加 drug_list）", liability.lists_path)]
        return []
    if not liability.lists:
        return [doc.issue("liability.drug_list_missing", "特药责任必须指明药品目录 drug_list（或写 lists: [目录编号]）",
                          liability.path)]
    declared = {list_id for section in ITEM_LIST_KINDS for list_id in doc.data.get(section, {})}
    known = "、".join(sorted(declared)) or "（无）"
    written_as_list = liability.lists_path[-1] == "lists"
    return [doc.issue("liability.drug_list_unknown",
                      f"目录“{list_id}”未在 drug_lists 或 treatment_lists 中声明；已声明：{known}",
                      liability.lists_path + ((i,) if written_as_list else ()))
            for i, list_id in enumerate(liability.lists) if list_id not in declared]


def _pool_amount(doc, liability: Liability, ref: str, known: dict, path: tuple, what: str, issues: list) -> int | None:
    """The amount of the pool a liability names, in fen; None (and an issue) if the layer declares no pool
    of that id (another liability's inline pool is not declared)."""
    pool = known.get(ref)
    if pool is None or (pool.inline and pool.path[:-1] != liability.path):
        names = "、".join(f"{p.id}（{p.name}）" for p in known.values() if not p.inline) or "（无）"
        quoted = f"；若“{ref}”是金额，请写成不加引号的数字 {ref}" if ref.isdigit() else ""
        issues.append(doc.issue("liability.unknown_pool", f"{what}引用了未声明的额度池“{ref}”；已声明：{names}{quoted}",
                                path))
        return None
    return pool.amount.fen


def _ratio_issues(doc: Document, liability: Liability, deductible_fen: int | None, names: dict) -> list[Issue]:
    """Every ratio row: ages in order, segments contiguous; the rows together cover each claim exactly once."""
    rows = liability.rows
    issues: list[Issue] = []
    for row in rows:
        issues += _age_issues(doc, row.when)
        if row.segments:
            issues += _segment_issues(doc, row.segments, deductible_fen)
    items = [(f"第{i + 1}行", row.when) for i, row in enumerate(rows)]
    dims = dimensions_used([row.when for row in rows])
    space = {"care": vocab.care_covered(liability.care)}  # a parent code's children are claims it covers too
    return issues + _coverage_issues(doc, items, dims, rows[0].path[:-1], "ratio", "比例行", space,
                                     gap_text="以下情形的费用没有适用的比例行，无法赔付", names=names)


def _segment_issues(doc: Document, segments, deductible_fen: int | None) -> list[Issue]:
    """Progressive segments: contiguous, increasing, the last and only the last open-ended, starting at or
    below the deductible."""
    issues = []
    first = segments[0]
    if deductible_fen is not None and first.lo > deductible_fen:
        issues.append(doc.issue("segments.gap_after_deductible",
                                f"第一段从 {_yuan(first.lo)} 元开始，但起付线只有 {_yuan(deductible_fen)} 元：中间的费用没有比例",
                                first.path + ("from",)))
    for before, segment in zip((None, *segments), segments):
        lo, hi = segment.lo, segment.hi
        if hi is not None and hi <= lo:
            issues.append(doc.issue("segments.not_increasing", f"分段上限 {_yuan(hi)} 元不大于下限 {_yuan(lo)} 元",
                                    segment.path + ("to",)))
        if before is None:
            continue
        if before.hi is None:
            issues.append(doc.issue("segments.after_open_end", "上一段没有上限（已到无穷），后面不能再有分段",
                                    segment.path + ("from",)))
        elif lo != before.hi:
            word = "断开" if lo > before.hi else "重叠"
            issues.append(doc.issue("segments.not_contiguous",
                                    f"分段{word}：上一段止于 {_yuan(before.hi)} 元，本段起于 {_yuan(lo)} 元",
                                    segment.path + ("from",)))
    last = segments[-1]
    if all(s.hi is not None for s in segments):  # silence above the last one would pay nothing: say so
        issues.append(doc.issue("segments.no_open_end",
                                f"最后一段止于 {_yuan(last.hi)} 元，超过部分没有比例：最后一段不写 to（到无穷）；"
                                "若超过部分确实不赔，请再写一段 rate: 0", last.path + ("to",)))
    return issues


def _routing_issues(doc: Document, layer: Layer) -> list[Issue]:
    """Each part of a claim (what it is, which care) must go to at most one liability."""
    issues = []
    for covers in vocab.COVERS:
        liabilities = [l for l in layer.liabilities if l.covers == covers]
        mine = [(_named(l, liabilities), l.when & Condition.parse({"care": list(l.care)}, l.path)) for l in liabilities]
        if len(mine) < 2:
            continue
        _, overlaps = coverage(mine, dimensions_used([w for _, w in mine]))
        where = {_named(l, liabilities): l.path for l in liabilities}
        for labels, points in overlaps.items():
            issues.append(doc.issue("liability.overlap",
                                    f"责任“{'”和“'.join(labels)}”都赔付{vocab.COVERS[covers]}，且同时适用于："
                                    f"{summarise_points(points)}", where[labels[1]] + ("care",)))
    return issues


def _item_overlap_issues(doc: Document, layer: Layer, version: Version) -> list[Issue]:
    """Two liabilities that could pay the same item (one code on both their lists, where given and for whom
    both apply) need the version's `hit_policy`; without one, the overlap is named with the item."""
    if version.hit_policy is not None:
        return []
    issues = []
    listed = [l for l in layer.liabilities if l.covers is None]
    for i, first in enumerate(listed):
        for second in listed[i + 1:]:
            shared = _items_of(first, version).keys() & _items_of(second, version).keys()
            if not shared:
                continue
            scope = [(l.id, l.when & Condition.parse({"care": list(l.care)}, l.path)) for l in (first, second)]
            _, overlaps = coverage(scope, dimensions_used([w for _, w in scope]))
            for points in overlaps.values():
                item = _items_of(first, version)[sorted(shared)[0]]
                more = f"等 {len(shared)} 项" if len(shared) > 1 else ""
                issues.append(doc.issue("liability.item_overlap",
                                        f"责任“{first.name}”和“{second.name}”都赔付“{item.name}”（{item.code}）{more}，"
                                        f"且同时适用于：{summarise_points(points)}；请在版本上写 hit_policy: first"
                                        "（书写在前的责任赔付）或 max（赔得多的责任赔付）", second.lists_path))
    return issues


def _items_of(liability: Liability, version: Version) -> dict:
    """code → entry, over every declared list the liability pays."""
    return {code: item for list_id in liability.lists if list_id in version.item_lists
            for code, item in version.item_lists[list_id].items.items()}


def _limit_issues(doc: Document, version: Version) -> list[Issue]:
    """A version that declares limits (e.g. premium ≤ 100) must respect them."""
    limits = version.limits
    scheme = version.scheme_layer
    issues: list[Issue] = []
    if "premium_max" in limits:
        ceiling = limits["premium_max"].fen
        for band in version.bands:
            if band.amount.fen > ceiling:
                issues.append(doc.issue("limits.premium", f"档位“{_named(band, version.bands)}”保费 {_yuan(band.amount.fen)} 元"
                                        f"超过声明的上限 {_yuan(ceiling)} 元", band.amount.path))
    if "deductible_max" in limits:
        ceiling = limits["deductible_max"].fen
        for name, amount in _deductibles(scheme):
            if amount.fen > ceiling:
                issues.append(doc.issue("limits.deductible", f"{name}的起付线 {_yuan(amount.fen)} 元超过声明的上限 "
                                        f"{_yuan(ceiling)} 元", amount.path))
    if "cap_min" in limits:
        floor = limits["cap_min"].fen
        for pool in scheme.written_pools:
            if pool.path[-2] == "caps" and pool.amount.fen < floor:
                issues.append(doc.issue("limits.cap", f"封顶线“{pool.name}” {_yuan(pool.amount.fen)} 元低于声明的下限 "
                                        f"{_yuan(floor)} 元", pool.amount.path))
    return issues


def _deductibles(scheme: Layer):
    """Every deductible of the scheme itself: the shared pools and those written inline on a liability."""
    for pool in scheme.written_pools:
        if pool.path[-2] == "deductibles":
            yield f"起付线“{pool.name}”", pool.amount
    for liability in scheme.liabilities:
        pool = scheme.deductibles.get(liability.deductible)
        if pool is not None and pool.inline and pool.path == liability.path + ("deductible",):
            yield f"责任“{liability.name}”", pool.amount
