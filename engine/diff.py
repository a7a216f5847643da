"""Semantic diff: what changed between two versions of a scheme, in the scheme's own words.

Not a text diff: "起付线 15,000.00 → 8,000.00 元", "新增档位“低收入人群” 10.00 元", "比例 80% → 85%".
Things are matched by id (bands, pools, liabilities, subsidies) or by code (drugs), so reordering
a file changes nothing, and every change says whether its new value is sourced or assumed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from . import conditions, vocab
from .explain import (deadline_text, drugs_in_force, exclusion_text, hospital_level_text, no_application_text,
                      ratio_phrase, surplus_text, waiting_period_text)
from .model import Layer, Liability, Provenance, Version
from .money import format_yuan, percent


@dataclass(frozen=True)
class Change:
    area: str  # a key of AREAS
    kind: str  # added | removed | changed
    subject: str  # what changed, in Chinese
    before: str = ""
    after: str = ""
    assumed: bool = False  # the new value is an assumption, not a source fact

    @property
    def text(self) -> str:
        if self.kind == "added":
            return f"新增{self.subject}：{self.after}"
        if self.kind == "removed":
            return f"删除{self.subject}（原为 {self.before}）"
        return f"{self.subject}：{self.before} → {self.after}"

    def as_dict(self) -> dict:
        return {**asdict(self), "text": self.text}


AREAS = {"period": "保险期间", "regulation": "监管与定价", "insurers": "共保体", "eligibility": "参保条件",
         "premium": "保费档位", "funding": "缴费与资助", "deductible": "起付线", "cap": "封顶线", "liability": "保障责任",
         "drugs": "特药目录", "chain": "赔付顺序", "settlement": "结算", "plan": "方案",
         "pre_existing": "列名的既往症", "exclusions": "责任免除", "hospitals": "医院名单",
         "service": "结余与理赔服务"}


def diff_versions(old: Version, new: Version) -> list[Change]:
    """Every change from `old` to `new`, grouped by area in a fixed order."""
    changes: list[Change] = []
    for compare in (_period, _regulation, _insurers, _eligibility, _pre_existing, _bands, _subsidies, _pools,
                    _liabilities, _exclusions, _drugs, _hospitals, _chain, _settlement, _service):
        changes += compare(old, new)
    return changes + _plans(old, new, changes)


def _plans(old: Version, new: Version, common: list[Change]) -> list[Change]:
    """Plans added and removed, and plan by plan what its members get differently (premium, pools, liabilities),
    leaving out what the common terms' changes already say."""
    old_plans, new_plans = {p.plan: p for p in old.plans}, {p.plan: p for p in new.plans}
    changes = [Change("plan", "added", f"方案“{p.plan_name}”", after=f"{len(p.scheme_layer.liabilities)} 项责任")
               for key, p in new_plans.items() if key not in old_plans]
    changes += [Change("plan", "removed", f"方案“{p.plan_name}”", before=f"{len(p.scheme_layer.liabilities)} 项责任")
                for key, p in old_plans.items() if key not in new_plans]
    said = {(c.area, c.kind, c.subject, c.before, c.after) for c in common}
    for key in new_plans.keys() & old_plans.keys():
        before, after = old_plans[key], new_plans[key]
        for change in (*_bands(before, after), *_pools(before, after), *_liabilities(before, after)):
            if (change.area, change.kind, change.subject, change.before, change.after) not in said:
                changes.append(replace(change, subject=f"［{after.plan_name}］{change.subject}"))
    return changes


def _yuan(fen: int) -> str:
    return f"{format_yuan(fen)} 元"


def _assumed(prov: Provenance) -> bool:
    return prov.is_assumption


def _keyed(old_items: dict, new_items: dict, area: str, label, describe, assumed=lambda item: False,
           renamable=lambda item: True) -> list[Change]:
    """Added, removed and changed items of two {id: item} maps; `describe` gives an item's comparable text."""
    changes = []
    for key, item in new_items.items():
        if key not in old_items:
            changes.append(Change(area, "added", label(item), after=describe(item), assumed=assumed(item)))
            continue
        if renamable(item):
            changes += _renamed(area, label, old_items[key], item)
        if describe(old_items[key]) != describe(item):
            changes.append(Change(area, "changed", label(item), describe(old_items[key]), describe(item),
                                  assumed(item)))
    changes += [Change(area, "removed", label(item), before=describe(item))
                for key, item in old_items.items() if key not in new_items]
    return changes


def _renamed(area: str, label, old_item, new_item) -> list[Change]:
    """The same thing (same id) under a new name: a reader of the scheme sees the name, so it is a change."""
    before, after = getattr(old_item, "name", None), getattr(new_item, "name", None)
    return [] if before == after else [Change(area, "changed", f"{label(old_item)}的名称", before, after)]


def _scalar(area: str, subject: str, before, after) -> list[Change]:
    return [] if before == after else [Change(area, "changed", subject, str(before), str(after))]


def _period(old: Version, new: Version) -> list[Change]:
    return (_scalar("period", "保险期间", " 至 ".join(old.period), " 至 ".join(new.period))
            + _scalar("period", "参保期", " 至 ".join(old.enrolment), " 至 ".join(new.enrolment)))


def _regulation(old: Version, new: Version) -> list[Change]:
    pricing = {"flat": "统一定价", "differentiated": "差异化定价"}
    limits = {k: _yuan(v.fen) if hasattr(v, "fen") else percent(v.value) for k, v in old.limits.items()}
    new_limits = {k: _yuan(v.fen) if hasattr(v, "fen") else percent(v.value) for k, v in new.limits.items()}
    return (_scalar("regulation", "定价方式", pricing[old.pricing], pricing[new.pricing])
            + _scalar("regulation", "监管依据", "、".join(old.regimes), "、".join(new.regimes))
            + _keyed(limits, new_limits, "regulation", lambda v: "监管限额", lambda v: v))


def _insurers(old: Version, new: Version) -> list[Change]:
    def items(version):
        return {i.name: i for i in version.insurers}

    def label(insurer):
        return f"共保机构“{insurer.name}”{'（主承保）' if insurer.lead else ''}"

    return _keyed(items(old), items(new), "insurers", label, lambda i: f"份额 {percent(i.share.value)}",
                  lambda i: _assumed(i.share.prov))


_YES = {True: "是", False: "否"}


def _eligibility(old: Version, new: Version) -> list[Change]:
    rules_old = {r.id: r for r in old.eligibility_rules}
    rules_new = {r.id: r for r in new.eligibility_rules}
    return (_scalar("eligibility", "须参加基本医保", _YES[old.basic_insurance_required], _YES[new.basic_insurance_required])
            + _scalar("eligibility", "基本医保欠费暂停待遇", _YES[old.suspend_when_basic_in_arrears],
                      _YES[new.suspend_when_basic_in_arrears])
            + _scalar("eligibility", "等待期", waiting_period_text(old), waiting_period_text(new))
            + _keyed(rules_old, rules_new, "eligibility", lambda r: f"参保条件“{r.name}”",
                     lambda r: f"{conditions.describe(r.when)} → {vocab.ELIGIBILITY_OUTCOMES[r.outcome]}"))


def _bands(old: Version, new: Version) -> list[Change]:
    changes = []
    old_bands, new_bands = {b.id: b for b in old.bands}, {b.id: b for b in new.bands}
    for band_id, band in new_bands.items():
        label = f"档位“{band.name}”"
        before = old_bands.get(band_id)
        if before is None:
            changes.append(Change("premium", "added", label, after=f"{_yuan(band.amount.fen)}（{conditions.describe(band.when)}）",
                                  assumed=_assumed(band.amount.prov)))
            continue
        changes += _renamed("premium", lambda b: f"档位“{b.name}”", before, band)
        if before.amount.fen != band.amount.fen:
            changes.append(Change("premium", "changed", f"{label}保费", _yuan(before.amount.fen), _yuan(band.amount.fen),
                                  _assumed(band.amount.prov)))
        if before.when != band.when:
            changes.append(Change("premium", "changed", f"{label}适用人群", conditions.describe(before.when),
                                  conditions.describe(band.when)))
    changes += [Change("premium", "removed", f"档位“{b.name}”", before=_yuan(b.amount.fen))
                for band_id, b in old_bands.items() if band_id not in new_bands]
    return changes


def _subsidies(old: Version, new: Version) -> list[Change]:
    def describe(s):
        how = _yuan(s.amount.fen) if s.amount else f"保费的 {percent(s.share.value)}"
        return f"{conditions.describe(s.when)}，{vocab.PAYERS[s.payer]}承担 {how}"

    flags = (_scalar("funding", "单位团体参保", _YES[old.group_enrolment], _YES[new.group_enrolment])
             + _scalar("funding", "爱心企业等捐赠参保", _YES[old.donated_enrolment], _YES[new.donated_enrolment]))
    return flags + _keyed({s.id: s for s in old.subsidies}, {s.id: s for s in new.subsidies}, "funding",
                  lambda s: f"资助“{s.name}”", describe, lambda s: _assumed(s.prov))


def _pools(old: Version, new: Version) -> list[Change]:
    """Deductibles and caps of the scheme's own layer, shared or written on a liability."""
    changes = []
    for area, attribute in (("deductible", "deductibles"), ("cap", "caps")):
        old_pools, new_pools = getattr(old.scheme_layer, attribute), getattr(new.scheme_layer, attribute)
        word = AREAS[area]
        changes += _keyed(old_pools, new_pools, area, lambda p, w=word: p.name if p.name.endswith(w) else f"{w}“{p.name}”",
                          lambda p: _yuan(p.amount.fen), lambda p: _assumed(p.amount.prov),
                          renamable=lambda p: not p.inline)  # an inline pool is renamed with its liability
    return changes


def _pool_name(pool) -> str:
    return "本责任单独设置" if pool.inline else pool.name  # an inline pool's amount is compared under 起付线/封顶线


def _liability_text(version: Version, liability: Liability) -> dict:
    layer = version.scheme_layer
    return {
        "赔付": version.pays_for(liability),
        "就医类型": "、".join(vocab.CARE[c] for c in liability.care),
        "适用人群": conditions.describe(liability.when),
        "比例": "；".join((f"{conditions.describe(r.when)} " if r.when else "") + ratio_phrase(r, marked=False).removeprefix("按 ")
                        .removesuffix(" 赔付") for r in liability.rows),
        "起付线": _pool_name(layer.deductibles[liability.deductible]),
        "封顶线": "、".join(_pool_name(layer.caps[c]) for c in liability.caps) or "不封顶",
    }


def _liabilities(old: Version, new: Version) -> list[Change]:
    old_layer, new_layer = old.scheme_layer, new.scheme_layer
    old_items = {l.id: l for l in old_layer.liabilities}
    changes = []
    for liability in new_layer.liabilities:
        label = f"责任“{liability.name}”"
        after = _liability_text(new, liability)
        if liability.id not in old_items:
            summary = f"{after['就医类型']}的{after['赔付']}，{after['比例']}"
            changes.append(Change("liability", "added", label, after=summary, assumed=_assumed(liability.basis)))
            continue
        before = _liability_text(old, old_items[liability.id])
        changes += _renamed("liability", lambda l: f"责任“{l.name}”", old_items[liability.id], liability)
        changes += [Change("liability", "changed", f"{label}{aspect}", before[aspect], after[aspect],
                           _ratio_assumed(liability) if aspect == "比例" else False)
                    for aspect in after if before[aspect] != after[aspect]]
    changes += [Change("liability", "removed", f"责任“{l.name}”", before=old.pays_for(l))
                for l in old_layer.liabilities if l.id not in {x.id for x in new_layer.liabilities}]
    return changes


def _pre_existing(old: Version, new: Version) -> list[Change]:
    return _keyed(old.pre_existing_conditions, new.pre_existing_conditions, "pre_existing",
                  lambda c: f"既往症“{c.name}”", lambda c: c.name, lambda c: _assumed(c.prov))


def _exclusions(old: Version, new: Version) -> list[Change]:
    """Exclusions by id, compared by what they refuse (as explain words it, with each version's list names)."""
    texts = {id(e): exclusion_text(version, e) for version in (old, new) for e in version.exclusions}
    return _keyed({e.id: e for e in old.exclusions}, {e.id: e for e in new.exclusions}, "exclusions",
                  lambda e: f"责任免除“{e.name}”", lambda e: texts[id(e)], lambda e: _assumed(e.prov))


def _hospitals(old: Version, new: Version) -> list[Change]:
    """Hospital lists by id; within a list, hospitals added, removed or at another level."""
    changes = _keyed(old.hospital_lists, new.hospital_lists, "hospitals", lambda h: f"医院名单“{h.name}”",
                     lambda h: f"{len(h.hospitals)} 家医院", lambda h: _assumed(h.prov))
    for list_id, listed in new.hospital_lists.items():
        if list_id in old.hospital_lists:
            changes += _keyed(old.hospital_lists[list_id].hospitals, listed.hospitals, "hospitals",
                              lambda h, n=listed.name: f"“{n}”名单内的{h.name}", hospital_level_text,
                              lambda h, p=listed.prov: _assumed(p))
    return changes + _scalar("settlement", "一站式结算的医院", _one_stop_at(old), _one_stop_at(new))


def _one_stop_at(version: Version) -> str:
    listed = version.hospital_lists.get(version.one_stop_at or "")
    return f"“{listed.name}”名单内" if listed else "不限"


def _ratio_assumed(liability: Liability) -> bool:
    rates = [r.rate for r in liability.rows if r.rate] + [s.rate for r in liability.rows for s in r.segments]
    return any(_assumed(rate.prov) for rate in rates)


def _drugs(old: Version, new: Version) -> list[Change]:
    def describe(drug):
        return "、".join(drug.indications.values())

    return _keyed({d.code: d for d in drugs_in_force(old)}, {d.code: d for d in drugs_in_force(new)}, "drugs",
                  lambda d: f"特药“{d.name}”", describe, lambda d: _assumed(d.prov))


def _chain(old: Version, new: Version) -> list[Change]:
    def after(version):
        return "、".join(vocab.LAYER_KINDS[k] for k in version.chain_after) or "无"

    def layers(version):
        return "→".join(layer.name for layer in version.layers)

    return _scalar("chain", "本方案之前的赔付", after(old), after(new)) + _scalar("chain", "赔付链", layers(old), layers(new))


def _settlement(old: Version, new: Version) -> list[Change]:
    return (_scalar("settlement", "取整规则", old.rounding, new.rounding)
            + _scalar("settlement", "一站式结算", _YES[old.one_stop], _YES[new.one_stop]))


def _service(old: Version, new: Version) -> list[Change]:
    """Surplus roll-over, no-application claims and payment deadlines (matched by id)."""
    def assumed(declared) -> bool:
        return declared is not None and _assumed(declared.prov)

    changes = []
    for subject, text, declared in (("结余滚存", surplus_text, lambda v: v.surplus and v.surplus.rolls_over),
                                    ("免申即赔", no_application_text, lambda v: v.service and v.service.no_application)):
        if text(old) != text(new):
            changes.append(Change("service", "changed", subject, text(old), text(new), assumed(declared(new))))
    def deadlines(version: Version) -> dict:
        return {d.id: d for d in (version.service.deadlines if version.service else ())}

    return changes + _keyed(deadlines(old), deadlines(new), "service", lambda d: f"赔款到账时限“{d.name}”",
                            lambda d: f"{d.days} {vocab.DEADLINE_UNITS[d.unit]}", lambda d: _assumed(d.prov))


def diff_text(changes: list[Change]) -> str:
    """The changes as lines grouped under their areas, assumptions marked."""
    if not changes:
        return "两个版本的方案内容相同。"
    lines, area = [], None
    for change in changes:
        if change.area != area:
            area = change.area
            lines.append(f"【{AREAS[area]}】")
        lines.append(f"  {change.text}{'  【假设】' if change.assumed else ''}")
    return "\n".join(lines)
