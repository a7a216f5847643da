"""Explain: a scheme version, or one claim's trace, in plain Chinese for product managers and regulators.

`describe_version` gives structured sections (used by the admin and by JSON output);
`version_text` renders them as text for the terminal.  Every value carries its clause, and
assumptions are marked and gathered at the end so a reviewer sees them at a glance.
"""
from __future__ import annotations

from . import vocab
from .model import Amount, Choice, Layer, Liability, Provenance, RatioRow, Version, money_choices
from .money import format_yuan, percent

ASSUMED_MARK = "【假设】"


def mark(prov: Provenance | None) -> str:
    """【假设】 right after a value the source does not give, so it never reads as sourced beside a citation."""
    return ASSUMED_MARK if prov is not None and prov.is_assumption else ""


def waiting_period_text(version: Version) -> str:
    """The waiting period in plain Chinese (engine/timeline.py applies it)."""
    waiting = version.waiting_period
    if waiting is None:
        return "未声明等待期"
    if not waiting.days:
        return "不设等待期"
    exempt = "、".join(vocab.WAITING_EXEMPTIONS[e] for e in waiting.exempt)
    return f"等待期：参保之日起 {waiting.days} 天内就诊不予赔付" + (f"（{exempt}不设等待期）" if exempt else "")


def surplus_text(version: Version) -> str:
    """结余滚存 in plain Chinese: '转入下一年度滚存使用', '不滚存', or that the source does not say."""
    surplus = version.surplus
    if surplus is None or surplus.rolls_over.value is None:
        return "来源未说明"
    if not surplus.rolls_over.value:
        return "不滚存"
    return vocab.SURPLUS_DESTINATIONS.get(surplus.to, "滚存使用（去向未写明）")


def no_application_text(version: Version) -> str:
    """免申即赔 in plain Chinese, with where and from when it applies."""
    service = version.service
    declared = service.no_application if service else None
    if declared is None or declared.value is None:
        return "来源未说明"
    if not declared.value:
        return "不实行（须申请理赔）"
    scope = [part for part in (service.scope, service.since and f"{service.since} 起") if part]
    return "无需申请，由系统自动理赔" + (f"（{'，'.join(scope)}）" if scope else "")


def deadline_text(deadline) -> str:
    return f"{deadline.name}：{deadline.days} {vocab.DEADLINE_UNITS[deadline.unit]}内赔款到账"


def _declared_terms(version: Version) -> list[str]:
    """Surplus roll-over and claims-service terms, each with its clause or 【假设】."""
    lines = []
    prov = version.surplus.rolls_over.prov if version.surplus else None
    lines.append(f"年度结余资金：{surplus_text(version)}{mark(prov)} {reference(prov or Provenance(), version.sources)}".rstrip())
    service = version.service
    if service is not None and service.no_application is not None:
        prov = service.no_application.prov
        lines.append(f"免申即赔：{no_application_text(version)}{mark(prov)} {reference(prov, version.sources)}".rstrip())
    for deadline in service.deadlines if service else ():
        lines.append(f"赔款到账时限·{deadline_text(deadline)}{mark(deadline.prov)} {reference(deadline.prov, version.sources)}")
    return lines


def reference(prov: Provenance, sources: dict) -> str:
    """'〔《title》clause〕' for a source, '【假设】reason' for an assumption."""
    if prov.source:
        return f"〔{cited(prov.source, sources)}〕"
    return f"{ASSUMED_MARK}{prov.assumed}" if prov.assumed else ""


def cited(citations, sources: dict) -> str:
    """Citations as a person reads them — the document by its title (once for passages of the same document in a
    row), the clause, the quote and the author's reading: '《…实施方案》三(四)：“第一年保费原则上不超过100元”（解读：…）'.
    Takes Citation objects or the trace's dicts of them."""
    pieces, previous = [], None
    for citation in (c if isinstance(c, dict) else c.as_dict() for c in citations):
        title = "" if citation["doc"] == previous else f"《{sources.get(citation['doc'], {}).get('title', citation['doc'])}》"
        note = f"（解读：{citation['note']}）" if citation.get("note") else ""
        pieces.append(f"{title}{citation['clause']}：“{citation['quote']}”{note}")
        previous = citation["doc"]
    return "；".join(pieces)


def _money(value: Amount) -> str:
    return f"{format_yuan(value.fen)} 元{mark(value.prov)}"


def choice_text(item: Choice) -> str:
    """A choice in words, marked when assumed: '四舍五入【假设】'."""
    value = item.value
    if item.key == "care":
        text = "、".join(vocab.CARE[c] for c in value)
    elif item.key.startswith("filing."):
        text = vocab.FILING_STATES[value]
    else:
        table = {"rounding": vocab.ROUNDING, "age_reference": vocab.AGE_REFERENCE,
                 "deductible_order": vocab.DEDUCTIBLE_ORDERS, "subsidy_order": vocab.SUBSIDY_ORDERS,
                 "one_stop": {True: "与基本医保一站式结算", False: "出院后申请理赔"}}[item.key]
        text = table.get(value, str(value))
    return f"{text}{mark(item.prov)}"


def regime_name(version: Version, code: str) -> str:
    """A regulatory basis by name: a known regime, else the title of the source document it names."""
    if code in vocab.REGIMES:
        return vocab.REGIMES[code]
    return f"《{version.sources[code]['title']}》" if code in version.sources else code


def ratio_phrase(row: RatioRow, marked: bool = True) -> str:
    """'按 80%【假设】 赔付', or the segments; `marked=False` for tables that mark a whole cell instead."""
    if not marked:
        return _unmarked(ratio_phrase(row))
    if row.rate is not None:
        return f"按 {percent(row.rate.value)}{mark(row.rate.prov)} 赔付"
    pieces = []
    for seg in row.segments:
        upper = "以上" if seg.hi is None else f"至 {format_yuan(seg.hi)} 元"
        bounds = mark(next((a.prov for a in seg.written if a.prov.is_assumption), None))
        pieces.append(f"{format_yuan(seg.lo)} 元{upper}{bounds}部分 {percent(seg.rate.value)}{mark(seg.rate.prov)}")
    return "分段赔付：" + "；".join(pieces)


def _unmarked(text: str) -> str:
    return text.replace(ASSUMED_MARK, "")


def liability_sentence(layer: Layer, liability: Liability, what: str) -> str:
    """'医保目录内个人自付：住院、急诊…发生的医保政策范围内个人自付费用，扣除起付线 18,000.00 元后按 80% 赔付，…'"""
    care = choice_text(liability.care_choice) if liability.care_choice else "、".join(vocab.CARE[c] for c in liability.care)
    pool = layer.deductibles[liability.deductible]
    if pool.amount.fen:
        shared = ""
        if not pool.inline:
            order = f"，{choice_text(pool.order)}" if pool.order else ""
            shared = f"（与其他责任共用{mark(pool.prov)}{order}）"
        deductible = f"年度累计超过起付线 {_money(pool.amount)}{shared}的部分"
    else:
        deductible = f"不设起付线{mark(pool.amount.prov)}"
    who = f"（限{liability.when.describe()}）" if liability.when else ""
    rows = liability.rows
    if len(rows) == 1:
        ratio = ratio_phrase(rows[0])
    else:
        ratio = "；".join(f"{r.when.describe()}：{ratio_phrase(r)}" for r in rows)
    if liability.caps:
        caps = "，".join(f"{layer.caps[c].name} {_money(layer.caps[c].amount)}" for c in liability.caps)
        cap = f"封顶：{caps}"
    else:
        cap = "不设封顶线"
    return f"{liability.name}{who}：{care}发生的{what}，{deductible}，{ratio}；{cap}。"


def _band_rows(version: Version) -> list[dict]:
    return [{"id": b.id, "name": b.name, "who": b.when.describe() + mark(b.prov), "premium": _money(b.amount),
             "premium_fen": b.amount.fen, "ref": reference(b.amount.prov, version.sources), "assumed": b.amount.prov.is_assumption}
            for b in version.bands]


def assumptions(version: Version) -> list[dict]:
    """Every assumed value of the version, with what it is and why it was chosen."""
    found: list[dict] = []

    def note(what: str, prov: Provenance):
        if prov.is_assumption and prov.assumed not in [f["reason"] for f in found if f["what"] == what]:
            found.append({"what": what, "reason": prov.assumed})

    for band in version.bands:
        note(f"保费档位“{band.name}” {format_yuan(band.amount.fen)} 元", band.amount.prov)
        note(f"保费档位“{band.name}”适用的人群（{band.when.describe()}）", band.prov)
    for layer in version.layers:
        for pool in [*layer.deductibles.values(), *layer.caps.values()]:
            note(f"{layer.name}·{pool.name} {format_yuan(pool.amount.fen)} 元", pool.amount.prov)
            if not pool.inline and pool.order:  # a shared deductible: that it is shared, and its order
                note(f"{layer.name}·{pool.name}由几项责任共用", pool.prov)
        for liability in layer.liabilities:
            for row in liability.rows:
                if row.rate is not None:
                    note(f"{layer.name}·{liability.name} 比例 {percent(row.rate.value)}", row.rate.prov)
                for seg in row.segments:
                    note(f"{layer.name}·{liability.name} 分段比例 {percent(seg.rate.value)}", seg.rate.prov)
    for insurer in version.insurers:
        note(f"共保份额 {insurer.name} {percent(insurer.share.value)}", insurer.share.prov)
    for subsidy in version.subsidies:
        value = subsidy.amount or subsidy.share
        note(f"资助“{subsidy.name}”", value.prov if value else subsidy.prov)
    for drug in drugs_in_force(version):
        note(f"特药 {drug.name}", drug.prov)
    for item in money_choices(version):
        if item.written:
            note(f"{_chosen_for(version, item)}{vocab.CHOICES[item.key]}：{choice_text(item).removesuffix(ASSUMED_MARK)}",
                 item.prov)
    if version.waiting_period:
        note(waiting_period_text(version), version.waiting_period.prov)
    for condition in version.pre_existing_conditions.values():
        note(f"列名的既往症“{condition.name}”", condition.prov)
    for hospitals in version.hospital_lists.values():
        note(f"医院名单“{hospitals.name}”", hospitals.prov)
    for exclusion in version.exclusions:
        note(f"责任免除“{exclusion.name}”", exclusion.prov)
    if version.surplus:
        note(f"年度结余资金：{surplus_text(version)}", version.surplus.rolls_over.prov)
    if version.service and version.service.no_application:
        note(f"免申即赔：{no_application_text(version)}", version.service.no_application.prov)
    for deadline in version.service.deadlines if version.service else ():
        note(f"赔款到账时限·{deadline_text(deadline)}", deadline.prov)
    for key, label in SECTION_LABELS.items():  # assumptions that are neither numbers nor choices: dates, chain...
        written = version.sections.get(key)
        if written and written.assumed:
            note(label, Provenance(assumed=written.assumed))
    return found


def own_list_lines(version: Version) -> dict:
    """The version's own named lists in words, each entry with its source or 【假设】: the pre-existing conditions
    it names, its hospital lists, its exclusions (what the engine applies, and what is declared only)."""
    conditions = [f"{c.name} {reference(c.prov, version.sources)}".rstrip()
                  for c in version.pre_existing_conditions.values()]
    hospitals = [f"{h.name}：" + "、".join(f"{x.name}（{hospital_level_text(x)}）" for x in h.hospitals.values())
                 + f" {reference(h.prov, version.sources)}" for h in version.hospital_lists.values()]
    if version.one_stop_at in version.hospital_lists:
        hospitals.append(f"一站式结算只在“{version.hospital_lists[version.one_stop_at].name}”名单内的医院")
    return {"pre_existing": conditions, "hospitals": hospitals,
            "exclusions": [f"{exclusion_text(version, e)} {reference(e.prov, version.sources)}".rstrip()
                           for e in version.exclusions]}


def hospital_level_text(hospital) -> str:
    """'三级甲等', or '二级医疗机构' where the grade is not written."""
    if hospital.grade:
        return vocab.HOSPITAL_LEVELS[hospital.level].removesuffix("医疗机构") + vocab.HOSPITAL_GRADES[hospital.grade]
    return vocab.HOSPITAL_LEVELS[hospital.level]


def exclusion_text(version: Version, exclusion) -> str:
    """'投保前已患恶性肿瘤者的 CAR-T 治疗（有既往症恶性肿瘤时，CAR-T 治疗药品所列项目不赔）'."""
    named = [version.item_lists[i].name if i in version.item_lists else i for i in exclusion.lists]
    named += [_item_name(version, code) for code in exclusion.items]
    what = f"{'、'.join(named)}所列项目不赔" if named else "整份理赔不赔"
    if not exclusion.checked:
        return f"{exclusion.name}（声明，由理赔人员判断）"
    return f"{exclusion.name}（{exclusion.when.describe() + '时，' if exclusion.when else ''}{what}）"


def _item_name(version: Version, code: str) -> str:
    return next((l.items[code].name for l in version.item_lists.values() if code in l.items), code)


def _chosen_for(version: Version, item: Choice) -> str:
    """'医保目录内个人自付·' before a liability's or a pool's choice; nothing before the version's own."""
    for layer in version.layers:
        for node in [*layer.liabilities, *layer.deductibles.values()]:
            if item.path[:len(node.path)] == node.path and node.path:
                return f"{node.name}·"
    return ""


# sections whose assumptions are not already listed value by value (filings and settlement are choices)
SECTION_LABELS = {"period": "保险期间", "enrolment": "参保期", "regulation": "监管依据与定价方式", "insurers": "共保体",
                  "eligibility": "参保条件", "premium": "保费",
                  "funding": "缴费与资助", "chain": "赔付顺序"}


def drugs_in_force(version: Version, kind: str = "drug") -> list:
    """The entries of the version's drug (or treatment) lists, its plans' included, valid at some point of its
    period."""
    start, end = version.period
    lists = {k: l for v in (version, *version.plans) for k, l in v.item_lists.items() if l.kind == kind}
    return [item for item_list in lists.values() for item in item_list.items.values()
            if (item.valid_from or start) <= end and (item.valid_to is None or item.valid_to >= start)]


def _what(version: Version, liability: Liability) -> str:
    """What a liability pays, as the object of '…发生的': a cost kind, or the items of its lists."""
    return version.pays_for(liability) + ("所列项目的费用" if liability.covers is None else "")


def _plan_rows(version: Version) -> list[dict]:
    """Each plan of the version: its name, premium bands and every liability it has."""
    return [{"id": plan.plan, "name": plan.plan_name, "bands": _band_rows(plan),
             "liabilities": [{"id": l.id, "layer": "scheme",
                              "text": liability_sentence(plan.scheme_layer, l, _what(plan, l)),
                              "ref": reference(l.prov, plan.sources)} for l in plan.scheme_layer.liabilities]}
            for plan in version.plans]


def describe_version(version: Version) -> dict:
    """The version as sections of plain Chinese, each sentence with its numbers and references."""
    insurers = "；".join(f"{i.name}{'（主承保）' if i.lead else ''} {percent(i.share.value)}{mark(i.share.prov)}"
                         for i in version.insurers)
    choices = {item.key: item for item in version.choices}
    filings = "、".join(f"{vocab.CHOICES[c.key].partition('·')[2]}{choice_text(c)}"
                        for c in version.choices if c.key.startswith("filing.") and c.written)
    base = "须参加基本医疗保险" if version.basic_insurance_required else "不要求参加基本医疗保险"
    open_to_all = "，不设年龄、健康状况、既往症等其他门槛" if not version.eligibility_rules else ""
    elig = [f"参保条件：{base}{open_to_all}。 {reference(version.eligibility_prov, version.sources)}"]
    if version.suspend_when_basic_in_arrears:
        elig.append("基本医疗保险欠费或参保关系中断期间暂停享受待遇，补缴后恢复。")
    if version.waiting_period:
        waiting = version.waiting_period
        elig.append(f"{waiting_period_text(version)}{mark(waiting.prov)}。 {reference(waiting.prov, version.sources)}")
    for rule in version.eligibility_rules:
        elig.append(f"{rule.name}：{rule.when.describe()} → {vocab.ELIGIBILITY_OUTCOMES[rule.outcome]}"
                    f" {reference(rule.prov, version.sources)}")
    liabilities = []
    for layer in version.layers:
        for liability in layer.liabilities:
            prefix = "" if layer.kind == "scheme" else f"［{layer.name}］"
            liabilities.append({"id": liability.id, "layer": layer.id,
                                "text": prefix + liability_sentence(layer, liability, _what(version, liability)),
                                "ref": reference(liability.prov, version.sources)})
    funding = []
    account = version.personal_account
    if account.get("allowed"):
        who = "、".join(vocab.RELATIVES[r] for r in account.get("relatives", ["self"]))
        funding.append(f"可用职工医保个人账户为{who}缴费。")
    if version.group_enrolment:
        funding.append("支持单位团体参保。")
    if version.donated_enrolment:
        funding.append(f"支持爱心企业等捐赠参保：捐赠方为指定人员缴纳资助之后剩余的全部保费，不设固定金额。 "
                       f"{reference(version.section_prov('funding'), version.sources)}".rstrip())
    for s in version.subsidies:
        how = _money(s.amount) if s.amount else f"保费的 {percent(s.share.value)}{mark(s.share.prov)}"
        funding.append(f"{s.name}：{s.when.describe()}，由{vocab.PAYERS[s.payer]}承担 {how} {reference(s.prov, version.sources)}")
    if "subsidy_order" in choices:
        funding.append(f"一人符合几项资助时：{choice_text(choices['subsidy_order'])}")
    after = "、".join(vocab.LAYER_KINDS[k] for k in version.chain_after) or "无"
    return {
        "title": f"{version.product_name}（{version.city}，{version.region}）{version.name}",
        "version": version.key,
        "ruleset": version.ruleset_name,
        "period": f"保险期间 {version.period[0]} 至 {version.period[1]}；参保期 {version.enrolment[0]} 至 {version.enrolment[1]}",
        "governance": [f"共保体：{insurers}", f"三书：{filings or '未声明'}",
                       f"监管依据：{'、'.join(regime_name(version, r) for r in version.regimes)}；定价方式："
                       f"{'统一定价' if version.pricing == 'flat' else '差异化定价'}"],
        "eligibility": elig,
        "bands": _band_rows(version),
        "funding": funding,
        "chain": f"赔付顺序：{after} 之后，由本方案赔付",
        "liabilities": liabilities,
        "plans": _plan_rows(version),
        "hit_policy": (f"一个项目几项责任都能赔付时：{vocab.HIT_POLICIES[version.hit_policy]}"
                       if version.hit_policy else ""),
        "treatments": [{"code": t.code, "name": t.name, "ref": reference(t.prov, version.sources)}
                       for t in drugs_in_force(version, "treatment")],
        "drugs": [{"code": d.code, "name": d.name, "indications": "、".join(d.indications.values()) or "适应症不限",
                   "valid": f"{d.valid_from or '期初'} 起" + (f"至 {d.valid_to}" if d.valid_to else ""),
                   "ref": reference(d.prov, version.sources)}
                  for d in drugs_in_force(version)],
        "limits": [f"{LIMIT_LABELS[k]}：{_money(v) if isinstance(v, Amount) else percent(v.value)} {reference(v.prov, version.sources)}"
                   for k, v in version.limits.items()],
        "settlement": f"赔付金额按“{choice_text(choices['rounding'])}”取整到分；{choice_text(choices['one_stop'])}"
        + (f"（仅限“{version.hospital_lists[version.one_stop_at].name}”名单内的医院）"
           if version.one_stop_at in version.hospital_lists else ""),
        **own_list_lines(version),
        "age_reference": f"年龄按{choice_text(choices['age_reference'])}计算",
        "declared": _declared_terms(version),
        "notes": [text for text in [version.note] if text]
        + [f"{l.name}：{l.note}" for l in version.scheme_layer.liabilities if l.note],
        "assumptions": assumptions(version),
    }


LIMIT_LABELS = {"premium_max": "保费上限", "deductible_max": "起付线上限", "cap_min": "封顶线下限",
                "claims_ratio_min": "年度赔付率下限"}


def version_text(version: Version) -> str:
    d = describe_version(version)
    lines = [d["title"], "=" * 40, d["period"], *d["governance"], d["settlement"]]
    lines += ["", "【结余与理赔服务】", *d["declared"]]
    if d["limits"]:
        lines += ["", "【监管限额】", *d["limits"]]
    lines += ["", "【参保条件】", *d["eligibility"]]
    if d["pre_existing"]:
        lines += ["", "【列名的既往症】", *(f"  {line}" for line in d["pre_existing"])]
    lines += ["", "【保费档位】", d["age_reference"]]
    width = max(len(b["name"]) for b in d["bands"])
    for band in d["bands"]:
        lines.append(f"  {band['name']:<{width}}  {band['premium']:>12}  {band['who']}  {band['ref']}")
    if d["funding"]:
        lines += ["", "【缴费与资助】", *d["funding"]]
    lines += ["", "【保障责任】", d["chain"]]
    lines += [f"  {i + 1}. {item['text']} {item['ref']}" for i, item in enumerate(d["liabilities"])]
    if d["hit_policy"]:
        lines.append(d["hit_policy"])
    for plan in d["plans"]:  # each plan whole: its bands and every liability it has
        lines += ["", f"【方案：{plan['name']}】"]
        lines += [f"  {band['name']}  {band['premium']}  {band['who']}  {band['ref']}" for band in plan["bands"]]
        lines += [f"  {i + 1}. {item['text']} {item['ref']}" for i, item in enumerate(plan["liabilities"])]
    if d["exclusions"]:
        lines += ["", "【责任免除】", *(f"  {line}" for line in d["exclusions"])]
    if d["hospitals"]:
        lines += ["", "【医院名单】", *(f"  {line}" for line in d["hospitals"])]
    if d["treatments"]:
        lines += ["", "【治疗项目目录】", *(f"  {x['name']} {x['ref']}" for x in d["treatments"])]
    if d["drugs"]:
        lines += ["", "【特药目录】"]
        lines += [f"  {x['name']}：{x['indications']}，{x['valid']} {x['ref']}" for x in d["drugs"]]
    if d["notes"]:
        lines += ["", "【说明】", *d["notes"]]
    if d["assumptions"]:
        lines += ["", f"【假设】以下数值和选择来源未规定，为本文件的假设（共 {len(d['assumptions'])} 项）："]
        lines += [f"  - {a['what']}：{a['reason']}" for a in d["assumptions"]]
    return "\n".join(lines)


def trace_text(trace: list[dict], sources: dict) -> str:
    """A claim's trace as numbered Chinese lines with their clauses, documents named by title (`sources`: the
    version's); an assumed value's step is marked 【假设】.  (The rule names stay in the trace's data, for
    machines; a person reads the clause.)"""
    lines = []
    for i, step in enumerate(trace, 1):
        clause = step.get("clause", "")
        if step.get("assumed"):
            ref = f"  {ASSUMED_MARK}{clause.removeprefix('假设：')}"
        elif step.get("sources"):
            ref = f"  〔{cited(step['sources'], sources)}〕"
        else:  # a trace stored before steps carried their citations
            ref = f"  〔{_titled(clause, sources)}〕" if clause else ""
        lines.append(f"{i:>2}. {step['text']}{ref}")
    return "\n".join(lines)


def _titled(clause: str, sources: dict) -> str:
    """An old trace's 'doc clause' with its document named by title."""
    doc_id, _, rest = clause.partition(" ")
    return f"《{sources[doc_id]['title']}》{rest}" if doc_id in sources else clause
