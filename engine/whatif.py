"""Pricing what-if: change a version's parameters and see what a population's year does under them.

The flow:
1. `parameters(version)`: what may be changed, each named, typed and located in the scheme document —
   a deductible or cap (`deductible.<pool>`, `cap.<pool>`, yuan), a liability's ratio (`ratio.<liability>`,
   per group `ratio.<liability>.<row>` where the ratio is by group, per segment `….s<k>`) and a band's premium
   (`premium.<band>`, yuan).  Under a version with plans a number is named by where it is written: a common
   term every plan uses keeps its name, one only some plans use (a plan's own, or a common one the others
   replace) is prefixed with those plans, `plus/ratio.inpatient`; changing it changes it for them only.
2. `Change`s are written into a copy of the version in the scheme document (each changed number marked
   `assumed: 试算…`) and the version is validated again as `hmb validate` does: a change that makes the
   scheme invalid is a SchemeError naming the parameter, located in the real file.
3. `prepare` draws the population's year once under the version as published (residents, the plan each
   chooses, take-up, claims; engine/population.py): every candidate is settled on those same claims, never
   drawn again — members keep their plan whatever a candidate changes (no switching between plans).
4. `evaluate` settles them under the changed version on the vectorised path (the rules path where the
   vectorised path refuses the version, said in the result): premium income, claims, claims ratio, the
   break-even premium and the premium for a target claims ratio.  With a take-up model in the population
   file (engine/price_response.py), members leave when their band's premium rises, and their claims go.
5. `grid` evaluates the cartesian product of candidate values and ranks the candidates by a target.

Money is integer fen throughout; ratios are Decimal.  The what-if rounds in one place, `_scale_fen`: a
band premium scaled by claims / (ratio × income), up to the fen for the break-even premium (the income
then covers the claims) and down for a target minimum claims ratio (the ratio then reaches it).
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Callable

import numpy as np

from .backtest import _ratio as ratio_text
from .inherit import resolve_versions
from .issues import SchemeError
from .load import Document
from .model import Version
from .money import MoneyError, format_yuan, percent, yuan_to_fen
from .population import PopulationSpec, draw_year
from .price_response import PriceResponse, price_response
from .settle import settle_in_order
from .validate import check
from .vector import Unsupported
from .vector.adjudicate import VectorVersion
from .vector.columns import ClaimBatch
from .vector.fen import fraction
from .vector.sample import to_claims

MAX_ROUNDS = 12  # a premium that members answer by leaving is found by repeating: price, who stays, price again


# ── parameters and changes ────────────────────────────────────────────────────────────────────

class ChangeError(ValueError):
    """A parameter that does not exist, or a value that is not of its type (a usage error, not a scheme's)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # "money": yuan written, fen kept; "ratio": a Decimal
    label: str
    path: tuple  # where the number stands in the scheme document
    current: int | Decimal

    def parse(self, text) -> int | Decimal:
        """A value as typed by a person: yuan (up to the fen) or a ratio."""
        try:
            if self.kind == "money":
                return yuan_to_fen(str(text).strip())
            value = Decimal(str(text).strip())
            if not value.is_finite():
                raise InvalidOperation
            return value
        except (MoneyError, InvalidOperation, ValueError):
            wanted = "金额（元，最多两位小数）" if self.kind == "money" else "比例（0 到 1 之间的小数，如 0.8）"
            raise ChangeError(f"{self.name}：“{text}”不是{wanted}") from None

    def written(self, value: int | Decimal) -> Decimal:
        """The value as the scheme document writes it: yuan, or the ratio."""
        return Decimal(value) / 100 if self.kind == "money" else value

    def show(self, value: int | Decimal) -> str:
        return f"{format_yuan(value)} 元" if self.kind == "money" else percent(value)

    def as_dict(self) -> dict:
        current = {"current_fen": self.current} if self.kind == "money" else {"current": str(self.current)}
        return {"name": self.name, "kind": self.kind, "label": self.label, **current}


@dataclass(frozen=True)
class Change:
    parameter: Parameter
    value: int | Decimal

    def as_dict(self) -> dict:
        value = {"fen": self.value} if self.parameter.kind == "money" else {"value": str(self.value)}
        return {"parameter": self.parameter.name, **value, "shown": self.parameter.show(self.value)}

    def __str__(self) -> str:
        return f"{self.parameter.name} = {self.parameter.show(self.value)}"


def target_ratio(text) -> Decimal:
    """A claims ratio as typed (exact, never a float), above 0: "0.8"."""
    try:
        ratio = Decimal(str(text).strip())
    except InvalidOperation:
        ratio = None
    if ratio is None or not ratio.is_finite() or ratio <= 0:
        raise ChangeError(f"“{text}”不是大于 0 的比例，如 0.8")
    return ratio


def parameters(version: Version) -> dict[str, Parameter]:
    """Every number of the scheme's own layer a what-if may change, by name, in the order they are written.
    Under a version with plans: each plan's numbers, one parameter per place written, prefixed with the plans
    that use it unless every plan does."""
    if not version.plans:
        return {p.name: p for p in _own_parameters(version)}
    users: dict[tuple, tuple[Parameter, list]] = {}
    for plan in version.plans:
        for parameter in _own_parameters(plan):
            users.setdefault(parameter.path, (parameter, []))[1].append(plan)
    found = [parameter if len(plans) == len(version.plans) else
             replace(parameter, name=f"{'+'.join(p.plan for p in plans)}/{parameter.name}",
                     label=f"{'、'.join(p.plan_name for p in plans)}：{parameter.label}")
             for parameter, plans in users.values()]
    return {p.name: p for p in found}


def _own_parameters(version: Version) -> list[Parameter]:
    layer = version.scheme_layer
    found = [Parameter(f"deductible.{p.id}", "money", f"{p.name}（起付线）", p.amount.path, p.amount.fen)
             for p in layer.deductibles.values()]
    found += [Parameter(f"cap.{p.id}", "money", f"{p.name}（封顶线）", p.amount.path, p.amount.fen)
              for p in layer.caps.values()]
    for liability in layer.liabilities:
        found += _ratio_parameters(liability)
    found += [Parameter(f"premium.{b.id}", "money", f"{b.name}（保费）", b.amount.path, b.amount.fen)
              for b in version.bands]
    return found


def _ratio_parameters(liability) -> list[Parameter]:
    out = []
    for r, row in enumerate(liability.rows, 1):
        by_group = "rows" in row.path[-2:-1]  # written as rows (groups of people or hospitals), else one ratio
        name = f"ratio.{liability.id}" + (f".{r}" if by_group else "")
        label = f"{liability.name}赔付比例" + (f"（{row.when.describe()}）" if by_group else "")
        if row.rate is not None:
            out.append(Parameter(name, "ratio", label, row.path + ("rate",) if by_group else row.path, row.rate.value))
        for k, seg in enumerate(row.segments, 1):
            upper = f"{format_yuan(seg.hi)} 元" if seg.hi is not None else "以上"
            out.append(Parameter(f"{name}.s{k}", "ratio", f"{label}，{format_yuan(seg.lo)} 元–{upper}",
                                 seg.path + ("rate",), seg.rate.value))
    return out


def change(version: Version, name: str, text) -> Change:
    """`name=text` as a typed change of this version; ChangeError names what is wrong."""
    known = parameters(version)
    if name not in known:
        raise ChangeError(f"{version.key} 没有可试算的参数“{name}”；可用：{'、'.join(known)}")
    return Change(known[name], known[name].parse(text))


def changed_version(year: "Year", changes: list[Change], blame: bool = True) -> Version:
    """The version with the changes written into its document and validated again; a SchemeError names the
    parameter(s) whose values make it invalid (`blame`: each change alone is checked to find them)."""
    issues, version = _checked(year, changes)
    if issues:
        raise SchemeError(_blamed(year, changes, issues) if blame else issues)
    return version


def _checked(year: "Year", changes: list[Change]) -> tuple[list, Version | None]:
    """The changed version checked as `hmb validate` checks it, in a document of that one version (its
    neighbours are unchanged and valid; this keeps a grid's checks short); issues located in the real file."""
    item = copy.deepcopy(year.doc.data["versions"][year.index])
    for c in changes:
        *parents, last = c.parameter.path[2:]  # ("versions", i, …): within the version
        holder = item
        for key in parents:
            holder = holder[key]
        holder[last] = {"value": c.parameter.written(c.value),
                        "assumed": f"试算：{c.parameter.name} 由 {c.parameter.show(c.parameter.current)} 改为 "
                                   f"{c.parameter.show(c.value)}"}
    alone = year.alone
    issues, product = check(replace(alone, data={**alone.data, "versions": [item]}))
    back = [replace(i, path=("versions", year.index, *i.path[2:])) if i.path[:2] == ("versions", 0) else i
            for i in issues]
    return back, None if issues else product.versions[0]


def _blamed(year: "Year", changes: list[Change], issues: list) -> list:
    """The issues, each saying which change made the scheme invalid: those that do alone, else all together."""
    alone = [c for c in changes if _checked(year, [c])[0]] if len(changes) > 1 else []
    names = "、".join(str(c) for c in alone or changes)
    return [replace(i, message=f"试算参数 {names} 使方案无效：{i.message}") for i in issues]


def _one_version(doc: Document, index: int) -> Document:
    """The document with only its version `index`, put at place 0 and located where it stands in the file."""
    prefix = ("versions", index)

    def moved(marks: dict) -> dict:
        kept = {path: mark for path, mark in marks.items() if path[:1] != ("versions",) or len(path) == 1}
        kept.update({("versions", 0, *path[2:]): mark for path, mark in marks.items() if path[:2] == prefix})
        return kept

    return Document(doc.file, {**doc.data, "versions": []}, doc.text, moved(doc.value_marks), moved(doc.key_marks))


# ── the population's year, drawn once ─────────────────────────────────────────────────────────

@dataclass
class Year:
    """A version's year on a population, drawn once: every candidate is settled on these same claims."""

    doc: Document
    index: int  # the version's place in the document
    version: Version
    spec: PopulationSpec
    who: np.ndarray  # the residents insured at the published premiums
    band: np.ndarray  # each insured member's band (band conditions are not parameters): Version.priced_bands
    batch: ClaimBatch  # their claims, in settlement order
    response: PriceResponse | None  # who leaves when a premium rises (among `who`), if the population declares it
    rules_fallback: bool = True  # False: a candidate the vectorised path refuses is refused (Unsupported)

    def __post_init__(self):
        self.alone = _one_version(self.doc, self.index)
        self.claim_member = np.searchsorted(self.who, self.batch.member)  # each claim's member, a place in `who`
        self.members = np.bincount(self.band, minlength=len(self.version.priced_bands())).astype(np.int64)

    @property
    def base_fen(self) -> np.ndarray:
        return _band_fen(self.version)


def prepare(doc: Document, version_id: str, spec: PopulationSpec, residents_count: int | None = None,
            respond: bool = True, rules_fallback: bool = True) -> Year:
    """Residents, take-up and claims under the version as published (as `hmb backtest` draws them)."""
    doc = resolve_versions(doc)[0]  # a version that extends another is tried as resolved: its candidates stand alone
    issues, product = check(doc)
    if issues:
        raise SchemeError(issues)
    version = product.version(version_id)
    index = next(i for i, item in enumerate(doc.data["versions"]) if str(item["id"]) == version.id)
    if residents_count is not None:
        spec = spec.resized(residents_count)
    drawn = draw_year(spec, version, _pricing_plan(version))
    band = drawn.premiums.band
    response = price_response(spec, drawn.people, band, [b.id for _, _, b in version.priced_bands()]) \
        if respond else None
    who = np.flatnonzero(drawn.insured)
    return Year(doc, index, version, spec, who, band[who], drawn.batch, response.among(who) if response else None,
                rules_fallback)


def _pricing_plan(version: Version) -> VectorVersion:
    """Bands, premiums and the drug catalogue on arrays: the version (and each plan) without its liabilities,
    which are settled per candidate (where the vectorised path cannot settle them, the rules path does)."""
    return VectorVersion(replace(version, layers=(), plans=tuple(replace(p, layers=()) for p in version.plans)))


def _band_fen(version: Version) -> np.ndarray:
    return np.array([b.amount.fen for _, _, b in version.priced_bands()], np.int64)


# ── settling one candidate ────────────────────────────────────────────────────────────────────

@dataclass
class Settler:
    """A candidate version's claims settled: on the vectorised path, or the rules path where it refuses
    (unless `rules` is False: then Unsupported, e.g. in the admin, where rulesets compiled for candidates
    would stay in the web process's memory for good)."""

    version: Version
    rules: bool = True
    compiled: VectorVersion | None = None
    fallback: str | None = None  # why the rules path settles
    last: tuple = ()  # (batch, result): a premium search asks again for the same claims

    def __post_init__(self):
        try:
            self.compiled = VectorVersion(self.version)
        except Unsupported as exc:
            self._fall_back(exc)

    def _fall_back(self, exc: Unsupported) -> None:
        if not self.rules:
            raise exc
        self.fallback = str(exc)

    def __call__(self, batch: ClaimBatch) -> tuple[np.ndarray, dict]:
        """(each claim's payout, paid by liability), in fen."""
        if self.last and self.last[0] is batch:
            return self.last[1]
        self.last = (batch, self._settle(batch))
        return self.last[1]

    def _settle(self, batch: ClaimBatch) -> tuple[np.ndarray, dict]:
        if self.compiled is not None:
            try:
                settled = self.compiled.adjudicate(batch)
                return settled.paid, {k: int(paid.sum()) for k, (_, paid) in settled.by_liability.items()}
            except Unsupported as exc:  # a batch beyond exact int64
                self._fall_back(exc)
        by_liability = {layer.key_of(l): 0 for terms in (self.version.plans or (self.version,))
                        for layer in terms.layers for l in layer.liabilities}
        paid = np.zeros(len(batch), np.int64)
        for i, (settled, _) in enumerate(settle_in_order(to_claims(batch), self.version, trace=False)):
            paid[i] = settled["paid_fen"]
            for key, fen in settled["by_liability"].items():
                by_liability[key] += fen
        return paid, by_liability


@dataclass
class Figures:
    """One set of band premiums on the year: who stays, what they pay, what their claims cost."""

    bands_fen: np.ndarray
    members: np.ndarray  # insured members per band
    paid: np.ndarray  # each claim's payout (of the members who stay)
    by_liability: dict = field(default_factory=dict)
    plans: np.ndarray | None = None  # each of those claims' plan (ClaimBatch.plan), None without plans

    @property
    def premium_fen(self) -> int:
        return int(self.members @ self.bands_fen)

    @property
    def paid_fen(self) -> int:
        return int(self.paid.sum())


def _figures(year: Year, settle: Settler, bands_fen: np.ndarray) -> Figures:
    if year.response is None or not (bands_fen > year.base_fen).any():
        return Figures(bands_fen, year.members, *settle(year.batch), year.batch.plan)
    stays = year.response.stays(year.base_fen, bands_fen)
    batch = year.batch.select(np.flatnonzero(stays[year.claim_member]))
    return Figures(bands_fen, np.bincount(year.band[stays], minlength=len(bands_fen)).astype(np.int64),
                   *settle(batch), batch.plan)


def _scale_fen(fen: int, numerator: int, denominator: int, up: bool) -> int:
    """The one place the what-if rounds: fen × numerator / denominator to a whole fen, up or down."""
    whole, rest = divmod(fen * numerator, denominator)
    return whole + (1 if up and rest else 0)


def _scaled(figures: Figures, ratio: Decimal, up: bool) -> np.ndarray | None:
    """Every band premium × claims / (ratio × premium income): one flat scale for all bands."""
    income, (top, bottom) = figures.premium_fen, fraction(ratio)
    if not income or not figures.paid_fen or not top:
        return None
    return np.array([_scale_fen(int(fen), figures.paid_fen * bottom, top * income, up)
                     for fen in figures.bands_fen], np.int64)


def premium_for_ratio(year: Year, changes: list[Change], settle: Settler, figures: Figures, ratio: Decimal,
                      up: bool) -> dict | None:
    """Band premiums, one flat scale of these, at which claims / premium income is `ratio`: rounded up, the
    claims ratio is at most `ratio` (break-even: at most 100 %); rounded down, at least `ratio` (a minimum).

    With a take-up model the premium changes who stays, so it is priced again on those who stay until it holds
    still (`converged`). Members leave whole, with their claims, so it may instead swing between a few
    premiums; then the best of the premiums tried that meet the condition is given (`holds`), the lowest
    income for a break-even, the highest for a minimum — each tried premium's figures are computed, not guessed."""
    current, converged, tried = figures, False, []
    for rounds in range(1, MAX_ROUNDS + 1):
        scaled = _scaled(current, ratio, up)
        if scaled is None:
            return None
        if year.response is None:  # nobody leaves: the same members and claims at the new premiums
            current, converged = replace(current, bands_fen=scaled), True
            break
        if np.array_equal(scaled, current.bands_fen):  # the premium that holds still
            converged = True
            break
        if any(np.array_equal(scaled, t.bands_fen) for t in tried):  # swinging between premiums tried before
            break
        current = _figures(year, settle, scaled)
        tried.append(current)
    if not converged:
        meeting = [t for t in tried if _meets(t, ratio, up)]
        current = min(meeting, key=lambda t: t.premium_fen if up else -t.premium_fen) if meeting else current
    return {"ratio": str(ratio), "rounding": "up" if up else "down",
            "bands_fen": {key: int(f) for (key, _, _), f in zip(year.version.priced_bands(), current.bands_fen)},
            "premium_fen": current.premium_fen, "paid_fen": current.paid_fen, "insured": int(current.members.sum()),
            "claims_ratio": ratio_text(current.paid_fen, current.premium_fen), "converged": converged,
            "holds": _meets(current, ratio, up), "rounds": rounds,
            "errors": _priced_issues(year, changes, current.bands_fen)}


def _meets(figures: Figures, ratio: Decimal, up: bool) -> bool:
    """claims / income at most `ratio` (up: the premium covers the claims) or at least `ratio` (down)."""
    top, bottom = fraction(ratio)
    paid, income = figures.paid_fen * bottom, figures.premium_fen * top  # paid / income against top / bottom
    return paid <= income if up else paid >= income


def _priced_issues(year: Year, changes: list[Change], bands_fen: np.ndarray) -> list[dict]:
    """What makes the scheme invalid at these premiums (a subsidy above a band's premium, a premium cap…)."""
    written = {p.path: p for p in parameters(year.version).values()}  # a band several plans share: once
    priced = list({written[b.amount.path].name: Change(written[b.amount.path], int(fen))
                   for (_, _, b), fen in zip(year.version.priced_bands(), bands_fen)}.values())
    premiums = {c.parameter.name for c in priced}
    issues, _ = _checked(year, [c for c in changes if c.parameter.name not in premiums] + priced)
    names = "、".join(str(c) for c in priced)
    return [{**issue.as_dict(), "message": f"保费为 {names} 时方案无效：{issue.message}"} for issue in issues]


def evaluate(year: Year, changes: list[Change], target: Decimal | None = None) -> dict:
    """A candidate's figures, JSON-ready (fen, decimal strings); SchemeError when the changes make the
    scheme invalid."""
    version = changed_version(year, changes) if changes else year.version
    settle = Settler(version, year.rules_fallback)
    figures = _figures(year, settle, _band_fen(version))
    return {
        "changes": [c.as_dict() for c in changes],
        "path": "rules" if settle.fallback else "vector", "fallback": settle.fallback,
        "insured": int(figures.members.sum()), "left": len(year.band) - int(figures.members.sum()),
        "premium_fen": figures.premium_fen, "paid_fen": figures.paid_fen,
        "claims_ratio": ratio_text(figures.paid_fen, figures.premium_fen),
        "by_band": {key: {"name": name, "premium_fen": int(fen), "members": int(n)}
                    for (key, name, _), fen, n in zip(version.priced_bands(), figures.bands_fen, figures.members)},
        "by_plan": _by_plan(version, figures),
        "by_liability": figures.by_liability,
        "break_even": premium_for_ratio(year, changes, settle, figures, Decimal(1), up=True),
        "target": premium_for_ratio(year, changes, settle, figures, target, up=False) if target else None,
    }


def _by_plan(version: Version, figures: Figures) -> dict:
    """Each plan's members, premium income, claims paid and claims ratio (a version with plans; else empty)."""
    plans, band_plan = {}, np.array([k for k, plan in enumerate(version.plans) for _ in plan.bands])
    for k, plan in enumerate(version.plans):
        mine = band_plan == k
        premium = int(figures.members[mine] @ figures.bands_fen[mine])
        paid = int(figures.paid[figures.plans == k].sum())
        plans[plan.plan] = {"name": plan.plan_name, "members": int(figures.members[mine].sum()),
                            "premium_fen": premium, "paid_fen": paid, "claims_ratio": ratio_text(paid, premium)}
    return plans


def default_target(version: Version) -> Decimal | None:
    """The regime's minimum claims ratio where the version declares one."""
    minimum = version.limits.get("claims_ratio_min")
    return minimum.value if minimum is not None else None


def whatif(year: Year, changes: list[Change], target: Decimal | None = None) -> dict:
    """The version as published and as changed, side by side, with the assumptions behind them."""
    return {**_header(year, target), "base": evaluate(year, [], target), "whatif": evaluate(year, changes, target)}


def _header(year: Year, target: Decimal | None) -> dict:
    return {"version": year.version.key, "population": year.spec.data["name"], "seed": year.spec.seed,
            "residents": year.spec.residents, "claims": len(year.batch),
            "target_ratio": str(target) if target is not None else None,
            "take_up_model": year.response is not None,
            "assumptions": year.spec.assumptions() + (year.response.assumptions() if year.response else [])}


# ── the grid ──────────────────────────────────────────────────────────────────────────────────

def grid(year: Year, axes: list[tuple[Parameter, list]], fixed: list[Change] = (), target: Decimal | None = None,
         ceiling: Decimal = Decimal(1), progress: Callable[[int, int], None] | None = None) -> dict:
    """Every combination of the axes' values (with the fixed changes), evaluated on the same claims and ranked:
    first the candidates whose claims ratio lies within [target, ceiling], lowest premium income first (then
    the higher claims ratio), then the others, then those that make the scheme invalid."""
    combos = list(itertools.product(*[[Change(p, v) for v in values] for p, values in axes]))
    floor = target if target is not None else Decimal(0)
    rows = []
    for i, combo in enumerate(combos, 1):
        changes = [*fixed, *combo]
        try:
            row = evaluate(year, changes, target)
            ratio = Decimal(row["paid_fen"]) / row["premium_fen"] if row["premium_fen"] else None
            row["within_target"] = ratio is not None and floor <= ratio <= ceiling
        except SchemeError as exc:
            row = {"changes": [c.as_dict() for c in changes], "errors": [issue.as_dict() for issue in exc.issues],
                   "within_target": False}
        except Unsupported as exc:  # only without the rules path to fall back to
            row = {"changes": [c.as_dict() for c in changes], "within_target": False, "errors": [
                {"code": "whatif.unsupported", "message": f"向量化路径不能计算这个方案（{exc}）；规则路径见 hmb whatif"}]}
        rows.append({"candidate": i, **row})
        if progress:
            progress(i, len(combos))
    rows.sort(key=_rank)
    return {**_header(year, target), "range": [str(floor), str(ceiling)],
            "axes": [{"parameter": p.name, "label": p.label, "values": [p.show(v) for v in values]}
                     for p, values in axes],
            "fixed": [c.as_dict() for c in fixed], "within_target": sum(r["within_target"] for r in rows),
            "candidates": rows}


def _rank(row: dict) -> tuple:
    if "errors" in row:
        return (2, 0, 0, row["candidate"])
    ratio = Decimal(row["paid_fen"]) / row["premium_fen"] if row["premium_fen"] else Decimal(0)
    return (0 if row["within_target"] else 1, row["premium_fen"], -ratio, row["candidate"])


# ── in plain Chinese, for the terminal ────────────────────────────────────────────────────────

def _figure_lines(row: dict, version: str) -> list[str]:
    lines = [f"  参保 {row['insured']:,} 人" + (f"（因涨价退出 {row['left']:,} 人）" if row["left"] else "")
             + f"，保费收入 {format_yuan(row['premium_fen'])} 元，赔付 {format_yuan(row['paid_fen'])} 元，"
             f"赔付率 {percent(Decimal(row['claims_ratio']))}"]
    lines += [f"    {p['name']}（{plan}）：参保 {p['members']:,} 人，保费收入 {format_yuan(p['premium_fen'])} 元，"
              f"赔付 {format_yuan(p['paid_fen'])} 元，赔付率 {percent(Decimal(p['claims_ratio']))}"
              for plan, p in row["by_plan"].items()]
    if row["fallback"]:
        lines.append(f"  （{version} 不能用向量化路径计算：{row['fallback']}；已按规则路径逐笔计算）")
    for key, title in (("break_even", "盈亏平衡保费（赔付率 ≤ 100%）"), ("target", "目标赔付率保费")):
        priced = row[key]
        if priced:
            bands = "，".join(f"{b} {format_yuan(fen)} 元" for b, fen in priced["bands_fen"].items())
            note = "" if priced["converged"] else f"（{priced['rounds']} 轮后仍未稳定：退保与涨价相互推动；取试过的保费中满足条件者）"
            note += "".join(f"；{e['message']}" for e in priced["errors"][:1])
            if key == "target":
                title += f"（≥ {percent(Decimal(priced['ratio']))}）"
            lines.append(f"  {title}：{bands}；赔付率 {percent(Decimal(priced['claims_ratio']))}{note}")
    return lines


def whatif_lines(report: dict) -> list[str]:
    changes = "；".join(c["parameter"] + " = " + c["shown"] for c in report["whatif"]["changes"]) or "（不改）"
    lines = [f"{report['version']} 在“{report['population']}”（种子 {report['seed']}，理赔 {report['claims']:,} 件）上试算：",
             "现行方案：", *_figure_lines(report["base"], report["version"]),
             f"试算 {changes}：", *_figure_lines(report["whatif"], report["version"])]
    return lines + _assumption_lines(report)


def grid_lines(report: dict, top: int) -> list[str]:
    lines = [f"{report['version']} 在“{report['population']}”上试算 {len(report['candidates'])} 个方案："
             + "；".join(f"{a['parameter']} ∈ {{{'、'.join(a['values'])}}}" for a in report["axes"]),
             f"目标：赔付率在 {percent(Decimal(report['range'][0]))}–{percent(Decimal(report['range'][1]))} 之间，"
             f"保费收入最低者优先；符合 {report['within_target']} 个"]
    for row in report["candidates"][:top]:
        changes = "，".join(f"{c['parameter']}={c['shown']}" for c in row["changes"])
        if "errors" in row:
            lines.append(f"  #{row['candidate']} {changes}：方案无效（{row['errors'][0]['message']}）")
            continue
        mark = "✓" if row["within_target"] else " "
        lines.append(f"{mark} #{row['candidate']} {changes}：赔付率 {percent(Decimal(row['claims_ratio']))}，"
                     f"保费 {format_yuan(row['premium_fen'])} 元，赔付 {format_yuan(row['paid_fen'])} 元"
                     + (f"，退出 {row['left']:,} 人" if row["left"] else "")
                     + ("，规则路径" if row["path"] == "rules" else ""))
    if len(report["candidates"]) > top:
        lines.append(f"  …… 另有 {len(report['candidates']) - top} 个（--top 或 --json 查看全部）")
    return lines + _assumption_lines(report)


def _assumption_lines(report: dict) -> list[str]:
    lines = [f"人群假设 {len(report['assumptions'])} 项（--json 列出全部）"]
    if report["take_up_model"]:
        lines.append(f"  {report['assumptions'][-1]}")
    return lines
