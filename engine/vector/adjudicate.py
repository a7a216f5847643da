"""Vectorised settlement: a whole policy year of claims at once, equal to `evaluate.adjudicate` to the fen.

Compiled from the same validated `Version` as the rules path.  The rules path settles one claim at a
time and carries a member's annual accumulators from claim to claim; here every step of every claim
is an array operation:

- eligibility, routing (which liability and ratio row pays a part) and bands: the version's conditions
  as lookup tables (`columns.Decision`), first match by the rules' priority;
- an item several liabilities' lists hold goes to one of them by the version's hit policy: `first` is a
  lookup too; `max` compares what each would pay from the member's accumulators before the claim, which
  depend on where earlier items went — settled to a fixed point (`_pay_layer`);
- an annual pool (deductible or cap) fills by min(amount, what is left), which is the member's
  running sum saturated at the pool's amount: one cumulative sum per pool (`fen.Members`), then the
  few steps inside one claim (liability order, then part order, as the rules path pays them) in turn;
- progressive segments read the liability's running expense the same way;
- a payment chain runs layer after layer, each seeing what the layers before it left;
- a version with plans settles each plan's members under that plan's terms, and the results are put
  back in the batch's order;
- rounding is integer arithmetic on exact numerators (`fen.round_div`), as `money` declares it.

What it cannot do exactly it refuses with `Unsupported` and a reason, and the caller uses the rules path.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .. import vocab
from ..conditions import Condition
from ..issues import InputError, Issue
from ..model import Layer, Liability, RatioRow, Version
from ..money import ROUNDING_RULES
from ..rules import EngineError
from .columns import CODE, ClaimBatch, Columns, Decision, MemberBatch, day_number, dims_of, predicate
from .fen import INT64_SAFE, Members, Unsupported, apply_ratio, common_denominator, member_pieces, round_div, \
    scale_to
from .fen import split_by_shares as split_columns

OUTCOMES = list(vocab.ELIGIBILITY_OUTCOMES)  # code → outcome
ELIGIBLE = OUTCOMES.index("eligible")
NEVER = 99999999  # a day number after every date
CHUNK = 1 << 17  # claims a piece: its arrays stay in the processor's cache (measured best: bench/portfolio.py --chunk)
SUBSET = 0.6  # a group of liabilities reached by fewer than this share of a piece's claims is settled on just those


# ── compiled conditions ───────────────────────────────────────────────────────────────────────

def eligibility_decision(version: Version) -> Decision:
    """The version's eligibility outcome, its rules in the priority `rules.CompiledRules` gives them."""
    ranked = []
    if version.basic_insurance_required:
        ranked.append((0, Condition.parse({"basic_insurance": ["none"]}), "not_eligible"))
    for i, rule in enumerate(version.eligibility_rules):
        ranked.append(((10 if rule.outcome == "not_eligible" else 110) + i, rule.when, rule.outcome))
    if version.suspend_when_basic_in_arrears:
        ranked.append((100, Condition.parse({"basic_insurance_status": ["arrears", "terminated"]}), "suspended"))
    ranked.sort(key=lambda r: r[0])
    return Decision([((when,), OUTCOMES.index(outcome)) for _, when, outcome in ranked], ELIGIBLE)


# ── a layer's liabilities, compiled ───────────────────────────────────────────────────────────

@dataclass
class Part:
    """One thing every claim may ask a layer to pay (zero where it does not), and where the rules route it.

    choices: an item under hit policy max, [(liability index, may pay it, row)] of each liability whose lists
    hold it, in declaration order; `liability` and `row` are then what the offers decided."""

    covers: str
    fen: np.ndarray
    liability: np.ndarray  # index into the layer's liabilities, -1: no liability covers it
    row: np.ndarray  # index into that liability's ratio rows
    choices: list | None = None


@dataclass
class LiabilityPlan:
    liability: Liability
    routes: list[tuple[Condition, ...]]  # one per ratio row: the conditions the rules route a part by
    numerators: list  # per row: an int (flat rate) or [(lo, hi, numerator)] segments
    flat: bool

    def raw_pay(self, fen, deducted, expense_before, row, denominator: int, rounding: str) -> np.ndarray:
        """Deductible taken: the ratio (flat or progressive on the annual expense range), rounded once."""
        if self.flat:
            rates = self.numerators[0] if len(self.numerators) == 1 else np.asarray(self.numerators)[row]
            return round_div((fen - deducted) * rates, denominator, rounding)
        exact = np.zeros(len(fen), np.int64)
        start, end = expense_before + deducted, expense_before + fen
        for k, numerator in enumerate(self.numerators):
            term = (fen - deducted) * numerator if isinstance(numerator, int) else _segments(numerator, start, end)
            exact = term if len(self.numerators) == 1 else np.where(row == k, term, exact)
        return round_div(exact, denominator, rounding)


def _segments(segments: list[tuple], start: np.ndarray, end: np.ndarray) -> np.ndarray:
    exact = np.zeros(len(start), np.int64)
    for lo, hi, numerator in segments:
        top = end if hi is None else np.minimum(end, hi)
        exact += np.maximum(top - np.maximum(start, lo), 0) * numerator
    return exact


ITEMS = "items"  # the parts (drugs, treatments) paid by liabilities of item lists


def _kind(liability: Liability) -> str:
    return liability.covers or ITEMS


class LayerPlan:
    def __init__(self, layer: Layer, denominator: int):
        self.layer = layer
        self.denominator = denominator
        self.liabilities = [_liability_plan(l, denominator) for l in layer.liabilities]
        self.groups = _pool_groups(layer)
        for liability in layer.liabilities:
            if len(liability.caps) > 1:  # min over several pools is not a saturated running sum
                raise Unsupported(f"{layer.id}.{liability.id}：一项责任有多个封顶线")
        for pool in layer.deductibles.values():  # pools fill in liability order: the declared order must be it
            covers = [l.covers for l in layer.liabilities if l.deductible == pool.id]
            in_policy_first = covers == sorted(covers, key=lambda c: c != "in_policy_self_pay")
            if pool.order and (pool.order.value != "in_policy_first" or not in_policy_first):
                raise Unsupported(f"{layer.id}.{pool.id}：起付线的使用顺序为 {pool.order.value}")
        # per cost kind: which liability takes a part (-1: none) and which of its ratio rows, first by priority
        self.routes = {}
        for covers in vocab.COVERS:
            candidates = [(route, (j, k)) for j, plan in enumerate(self.liabilities)
                          if plan.liability.covers == covers for k, route in enumerate(plan.routes)]
            self.routes[covers] = (Decision([(route, j) for route, (j, _) in candidates], -1),
                                   Decision([(route, k) for route, (_, k) in candidates], 0))
        # per liability of item lists: the ratio row that takes an item its lists hold (-1: none applies)
        self.item_routes = [(j, Decision([(route, k) for k, route in enumerate(plan.routes)], -1))
                            for j, plan in enumerate(self.liabilities) if plan.liability.covers is None]

    def route(self, covers: str, columns: dict, n: int) -> tuple:
        """(liability index, row index) of a part of this cost kind, as the rules route it: first by priority
        (liability order, then row order); liability -1 where none covers it."""
        liability, row = (decision(columns, n) for decision in self.routes[covers])
        return liability, row

    @property
    def keys(self) -> list[str]:
        """How settlements name this layer's liabilities, in liability order."""
        return [self.layer.key_of(plan.liability) for plan in self.liabilities]


def _liability_plan(liability: Liability, denominator: int) -> LiabilityPlan:
    care = Condition.parse({"care": list(liability.care)})
    routes = [(care, liability.when, row.when) for row in liability.rows]
    numerators = [_row_numerators(row, denominator) for row in liability.rows]
    return LiabilityPlan(liability, routes, numerators, all(isinstance(n, int) for n in numerators))


def _row_numerators(row: RatioRow, denominator: int):
    if row.rate is not None:
        return scale_to(row.rate.value, denominator)
    return [(s.lo, s.hi, scale_to(s.rate.value, denominator)) for s in row.segments]


def _layer_ratios(layer: Layer):
    for liability in layer.liabilities:
        for row in liability.rows:
            yield from ([row.rate.value] if row.rate is not None else [s.rate.value for s in row.segments])


# ── results ───────────────────────────────────────────────────────────────────────────────────

@dataclass
class BatchSettlement:
    """A batch's settlements as columns; `settlement(i)` gives claim i in the rules path's terms."""

    version: str
    claim_ids: list[str] | None
    outcome: np.ndarray  # index into OUTCOMES
    paid: np.ndarray
    patient_remainder: np.ndarray
    shares: list  # the insurers' shares, lead first
    layers: dict = field(default_factory=dict)  # layer id → (applies to the claim, paid)
    by_liability: dict = field(default_factory=dict)  # settlement key → (a positive part reached it, paid)

    @staticmethod
    def empty(version: str, claim_ids, n: int, shares: list, layers: list[str], keys: list[str]) -> "BatchSettlement":
        """Zeros, to be filled in place piece by piece (no joining copies at the end)."""
        def pair():
            return np.zeros(n, bool), np.zeros(n, np.int64)
        return BatchSettlement(version, claim_ids, np.zeros(n, np.int16), np.zeros(n, np.int64),
                               np.zeros(n, np.int64), shares, {lid: pair() for lid in layers},
                               {key: pair() for key in keys})

    def select(self, which) -> "BatchSettlement":
        """Claims at `which` (a slice: views, written through)."""
        def pairs(columns: dict):
            return {key: (a[which], b[which]) for key, (a, b) in columns.items()}
        return BatchSettlement(self.version, None, self.outcome[which], self.paid[which],
                               self.patient_remainder[which], self.shares, pairs(self.layers),
                               pairs(self.by_liability))

    @staticmethod
    def join(pieces: list["BatchSettlement"], claim_ids) -> "BatchSettlement":
        """Pieces settled one after another (a piece: whole members, e.g. a Dask partition), as one batch."""
        first = pieces[0]
        keys = list(dict.fromkeys(key for piece in pieces for key in piece.by_liability))
        out = BatchSettlement.empty(first.version, claim_ids, sum(len(p.paid) for p in pieces), first.shares,
                                    list(first.layers), keys)
        start = 0
        for piece in pieces:
            out.put(slice(start, start + len(piece.paid)), piece)
            start += len(piece.paid)
        return out

    def put(self, which: np.ndarray, settled: "BatchSettlement") -> None:
        """Write another batch's settlements at the claims `which` (a plan's members among all)."""
        self.outcome[which], self.paid[which] = settled.outcome, settled.paid
        self.patient_remainder[which] = settled.patient_remainder
        for mine, theirs in ((self.layers, settled.layers), (self.by_liability, settled.by_liability)):
            for key, (applies, paid) in theirs.items():
                mine[key][0][which], mine[key][1][which] = applies, paid

    @cached_property
    def insurers(self) -> np.ndarray:
        """claims × insurers: money.split_by_shares of each claim's payout (lead first), built when asked for."""
        return split_columns(self.paid, self.shares)

    def insurer_totals(self) -> list[int]:
        """Each insurer's part of the batch, summed claim by claim without building the claims × insurers table."""
        rest = [int(apply_ratio(self.paid, share, "down").sum()) for share in self.shares[1:]]
        return [int(self.paid.sum()) - sum(rest), *rest]

    def settlement(self, i: int) -> dict:
        eligible = self.outcome[i] == ELIGIBLE
        return {
            "eligibility": OUTCOMES[self.outcome[i]],
            "paid_fen": int(self.paid[i]),
            "patient_remainder_fen": int(self.patient_remainder[i]),
            "by_liability": {key: int(paid[i]) for key, (routed, paid) in self.by_liability.items() if routed[i]},
            "layers": {lid: int(paid[i]) for lid, (applies, paid) in self.layers.items() if applies[i]},
            "insurers": [int(f) for f in self.insurers[i]] if eligible else [],
        }


@dataclass
class BatchPremiums:
    version: str
    outcome: np.ndarray
    band: np.ndarray  # index into `bands`, -1: not eligible (no premium)
    premium: np.ndarray
    subsidies: np.ndarray  # members × subsidies: what each subsidy paid
    applied: np.ndarray  # members × subsidies: the subsidy is among the payers
    remainder: np.ndarray  # what the person (or whoever they pay with) pays
    bands: list = field(default_factory=list)  # the bands `band` points into: the version's, or each plan's in turn


# ── the compiled version ──────────────────────────────────────────────────────────────────────

def _refuse_own_lists(version: Version) -> None:
    """Terms over the scheme's own named lists, sex and exclusions are settled on the rules path only."""
    if version.pre_existing_conditions:
        raise Unsupported(f"{version.key}：列名的既往症（pre_existing_conditions）")
    if version.hospital_lists:
        raise Unsupported(f"{version.key}：医院名单（hospital_lists）")
    if any("sex" in when for when in version.conditions()):
        raise Unsupported(f"{version.key}：按性别的条件（sex）")
    if any(exclusion.checked for exclusion in version.exclusions):
        raise Unsupported(f"{version.key}：由引擎执行的责任免除（写了 when、items 或 lists 的 exclusions）")


class VectorVersion:
    """A version compiled for arrays; raises Unsupported when it cannot be settled exactly this way.

    A version with plans is compiled plan by plan (`plans`); its members are settled under their own plan."""

    def __init__(self, version: Version):
        if version.rounding not in ROUNDING_RULES:
            raise Unsupported(f"舍入规则 {version.rounding!r}")
        _refuse_own_lists(version)  # each plan is checked as it is compiled below
        self.version = version
        self.age_reference = {"period_start": version.period[0],
                              "enrolment_start": version.enrolment[0]}.get(version.age_reference,
                                                                            version.age_reference)
        self.plans = [VectorVersion(plan) for plan in version.plans]
        if self.plans:
            self.catalogue = {code: drug for plan in self.plans for code, drug in plan.catalogue.items()}
            return
        if version.hit_policy not in (None, *vocab.HIT_POLICIES):
            raise Unsupported(f"命中策略 {version.hit_policy!r}")
        self.eligibility = eligibility_decision(version)
        self.band = Decision([((b.when,), i) for i, b in enumerate(version.bands)], -1)
        self.subsidies = [predicate(s.when) for s in version.subsidies]
        self.layers = [LayerPlan(layer, common_denominator(_layer_ratios(layer))) for layer in version.layers]
        self.catalogue = _catalogue(version)

    # ── premiums ──

    def quote(self, members: MemberBatch) -> BatchPremiums:
        """evaluate.quote for every member: band, premium and subsidies in the declared order."""
        which = self._plan_of(members.plan_codes(), members.plan_ids, ("plan",))
        if self.plans:
            return self._quote_by_plan(members, which)
        n, columns = len(members), Columns(members.columns)
        outcome = self.eligibility(columns, n)
        band = self.band(columns, n)
        priced = outcome != OUTCOMES.index("not_eligible")
        if (band[priced] < 0).any():  # validation proves the bands cover everyone
            raise Unsupported(f"{self.version.key}：有参保人没有适用的保费档位")
        band = np.where(priced, band, -1)
        amounts = np.array([b.amount.fen for b in self.version.bands] + [0], np.int64)
        premium = amounts[band]  # -1 picks the trailing 0
        remaining = premium.copy()
        paid, applied = [], []
        for subsidy, condition in zip(self.version.subsidies, self.subsidies):
            applies = (condition(columns, n) == 1) & (remaining > 0) & priced
            if subsidy.amount is not None:
                fen = np.full(n, subsidy.amount.fen, np.int64)
            else:
                fen = apply_ratio(premium, subsidy.share.value, self.version.rounding)
            fen = np.where(applies, np.minimum(fen, remaining), 0)
            remaining = remaining - fen
            paid.append(fen)
            applied.append(applies)
        shape = (n, len(paid))
        return BatchPremiums(self.version.key, outcome, band, premium,
                             np.stack(paid, axis=1) if paid else np.zeros(shape, np.int64),
                             np.stack(applied, axis=1) if applied else np.zeros(shape, bool), remaining,
                             list(self.version.bands))

    def _quote_by_plan(self, members: MemberBatch, which: np.ndarray) -> BatchPremiums:
        n, width = len(members), len(self.version.subsidies)
        out = BatchPremiums(self.version.key, np.zeros(n, np.int16), np.full(n, -1, np.int16), np.zeros(n, np.int64),
                            np.zeros((n, width), np.int64), np.zeros((n, width), bool), np.zeros(n, np.int64), [])
        for k, plan in enumerate(self.plans):
            mine = np.flatnonzero(which == k)
            quoted = plan.quote(members.select(mine))
            out.outcome[mine], out.premium[mine], out.remainder[mine] = quoted.outcome, quoted.premium, quoted.remainder
            out.band[mine] = np.where(quoted.band >= 0, quoted.band + len(out.bands), -1)
            out.subsidies[mine], out.applied[mine] = quoted.subsidies, quoted.applied
            out.bands += quoted.bands
        return out

    def _plan_of(self, codes: np.ndarray, plan_ids: list, path: tuple) -> np.ndarray:
        """Each one's plan as an index into `plans` (0 without plans); the rules path's error for a plan
        missing, unknown, or named under a version without plans."""
        index = []
        named = np.bincount(codes, minlength=len(plan_ids)) > 0
        for plan_id, present in zip(plan_ids, named):
            if not present:
                index.append(0)
                continue
            try:
                terms = self.version.for_plan(plan_id)
            except KeyError as exc:
                raise InputError([Issue("plan", exc.args[0], path)]) from None
            index.append(next((k for k, p in enumerate(self.plans) if p.version is terms), 0))
        return np.asarray(index, np.int16)[codes] if self.plans else codes

    # ── claims ──

    def adjudicate(self, batch: ClaimBatch, chunk: int = CHUNK, workers: int = 1) -> BatchSettlement:
        """evaluate.adjudicate for every claim of the batch, accumulators carried per member from zero.

        The batch is cut into pieces of about `chunk` claims at member boundaries (a member's pools never
        span two pieces), so every array of a piece stays in the processor's cache; `workers` threads
        settle pieces side by side (NumPy releases the GIL).  The result does not depend on either."""
        which = self._plan_of(batch.plan_codes(), batch.plan_ids, ("member", "plan"))
        out = BatchSettlement.empty(self.version.key, batch.claim_ids, len(batch),
                                    [i.share.value for i in self.version.insurers], *self._names())
        if self.plans:
            for k, plan in enumerate(self.plans):
                mine = np.flatnonzero(which == k)
                if len(mine):
                    out.put(mine, plan.adjudicate(batch.select(mine), chunk, workers))
            return out
        self._check(batch)
        windows = self._catalogue_windows(batch)

        def settle(bounds: tuple[int, int]) -> None:
            cut = slice(*bounds)
            self._adjudicate_piece(batch.select(cut), windows, out.select(cut))

        pieces = member_pieces(batch.member, chunk)
        if workers > 1 and len(pieces) > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(settle, pieces))
        else:
            for bounds in pieces:
                settle(bounds)
        return out

    def _names(self) -> tuple[list[str], list[str]]:
        """The layer ids and liability keys a settlement of this version (any of its plans) can name."""
        if self.plans:
            names = [plan._names() for plan in self.plans]
            return (list(dict.fromkeys(l for layers, _ in names for l in layers)),
                    list(dict.fromkeys(k for _, keys in names for k in keys)))
        return [p.layer.id for p in self.layers], [key for p in self.layers for key in p.keys]

    def _adjudicate_piece(self, batch: ClaimBatch, windows: list, out: BatchSettlement) -> None:
        n = len(batch)
        columns, person = Columns(batch.columns), Columns(batch.person_columns())
        outcome = self.eligibility(person, n)
        eligible = outcome == ELIGIBLE
        out.outcome[:] = outcome
        remainder = batch.total
        in_policy = np.where(eligible, batch.in_policy, 0)
        payable = self._payable(batch, windows)
        members = Members(batch.member)
        for plan in self.layers:
            scheme = plan.layer.kind == "scheme"
            applies = eligible if scheme else eligible & batch.raw_bill
            parts = [self._part(plan, "in_policy_self_pay", in_policy if scheme else np.where(applies, in_policy, 0),
                                columns, n)]
            if scheme:
                parts.append(self._part(plan, "out_of_policy_self_pay", np.where(eligible, batch.out_of_policy, 0),
                                        columns, n))
                parts += self._item_parts(plan, batch, eligible, columns, payable)
            paid_in, layer_paid = _pay_layer(plan, parts, members, self.version, out.by_liability)
            in_policy = in_policy - paid_in
            out.layers[plan.layer.id][0][:], out.layers[plan.layer.id][1][:] = applies, layer_paid
            remainder -= layer_paid
            if scheme:
                out.paid[:] = layer_paid
        out.patient_remainder[:] = remainder

    def _part(self, plan: LayerPlan, covers: str, fen: np.ndarray, columns: dict, n: int) -> Part:
        liability, row = plan.route(covers, columns, n)
        return Part(covers, fen, liability, row)

    def _item_parts(self, plan: LayerPlan, batch: ClaimBatch, eligible: np.ndarray, columns: Columns,
                    payable: dict) -> list[Part]:
        """One part per item column: the liabilities whose lists hold the item and whose care and conditions
        apply (care is where the item was given), one chosen by the hit policy."""
        n, parts, rows = len(batch), [], None
        for d in range(batch.drug_fen.shape[1]):
            if rows is None or batch.item_care is not None:  # routes read care: the same for every item of a claim
                given = columns if batch.item_care is None else Columns({**columns, "care": batch.item_care[:, d]})
                rows = [(j, decide(given, n)) for j, decide in plan.item_routes]
            choices = [(j, payable[j][:, d] & (row >= 0), row) for j, row in rows]
            liability, row = _first_choice(choices, n)
            part = Part(ITEMS, np.where(eligible, batch.drug_fen[:, d], 0), liability, row)
            if len(choices) > 1:
                several = np.add.reduce([may for _, may, _ in choices], dtype=np.int8) > 1
                several &= part.fen > 0
                if several.any() and self.version.hit_policy is None:
                    raise EngineError(f"{self.version.key}: an item routed to several liabilities without a hit policy")
                if several.any() and self.version.hit_policy == "max":
                    part.choices = choices
            parts.append(part)
        return parts

    def _catalogue_windows(self, batch: ClaimBatch) -> dict:
        """Per liability of item lists, per list: for each (item code, indication) of the batch, flattened,
        the first and last day that list pays it (never, where it does not hold it)."""
        windows = {}
        for plan in self.layers:
            for j, _ in plan.item_routes:
                windows[j] = [_list_window(self.version.item_lists[list_id].items, batch)
                              for list_id in plan.liabilities[j].liability.lists]
        return windows

    @staticmethod
    def _payable(batch: ClaimBatch, windows: dict) -> dict:
        """Per liability of item lists: each item of each claim is on one of its lists, for that indication, on
        the claim date (the rules try its lists in turn).  Looked up only where there is an item."""
        if not windows:
            return {}
        cells = np.flatnonzero(batch.drug_fen.ravel() > 0)
        width = batch.drug_fen.shape[1]
        key = batch.drug_code.ravel()[cells] * max(len(batch.drug_indications), 1) + batch.drug_indication.ravel()[cells]
        date = batch.date[cells // width]
        payable = {}
        for j, lists in windows.items():
            may = np.zeros(len(cells), bool)
            for valid_from, valid_to in lists:
                if len(valid_from):
                    may |= (valid_from[key] <= date) & (date <= valid_to[key])
            payable[j] = np.zeros(batch.drug_fen.shape, bool)
            payable[j].ravel()[cells] = may
        return payable

    def _check(self, batch: ClaimBatch) -> None:
        """What the rules path refuses, refused here too (never a silent difference)."""
        issues = []
        start, end = (day_number(d) for d in self.version.period)
        _flag(issues, batch, (batch.date < start) | (batch.date > end), "claim.date", ("date",),
              f"就诊日期不在 {self.version.key} 的保险期间 {self.version.period[0]} 至 {self.version.period[1]} 内")
        if not self.version.has_chain:
            _flag(issues, batch, batch.raw_bill, "claim.no_chain", ("bill",),
                  f"{self.version.key} 没有声明赔付链（chain.layers），不能按原始账单理赔")
        _flag(issues, batch, self._needs_level(batch), "claim.hospital_level", ("hospital_level",),
              "赔付比例按医院等级区分：请给出 hospital_level（1、2 或 3）")
        if issues:
            raise InputError(issues)
        biggest = max(int(a.max(initial=0)) for a in (batch.in_policy, batch.out_of_policy, batch.drug_fen))
        widest = max((plan.denominator for plan in self.layers), default=1)
        total = sum(int(a.sum()) for a in (batch.in_policy, batch.out_of_policy, batch.drug_fen))
        if biggest * widest * 16 >= INT64_SAFE or total >= INT64_SAFE:
            raise Unsupported("金额过大，超出 int64 精确计算的范围")

    def _needs_level(self, batch: ClaimBatch) -> np.ndarray:
        n, columns = len(batch), batch.columns
        unknown = columns["hospital_level"] == CODE["hospital_level"][None]
        needs = np.zeros(n, bool)
        for plan in self.layers:
            reached = batch.raw_bill | (plan.layer.kind == "scheme")
            for liability in plan.liabilities:
                if any("hospital_level" in dims_of(when) for route in liability.routes for when in route):
                    needs |= reached & (predicate(liability.routes[0][0])(columns, n) == 1)  # its care
        return needs & unknown


def _first_choice(choices: list, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first liability (in declaration order) that may pay each claim's item, and its row; -1: none."""
    if len(choices) == 1:
        j, may, row = choices[0]
        return np.where(may, np.int16(j), np.int16(-1)), row
    liability, row = np.full(n, -1, np.int16), np.zeros(n, np.int16)
    for j, may, rows in reversed(choices):  # the earliest written last, so it wins
        liability = np.where(may, np.int16(j), liability)
        row = np.where(may, rows, row)
    return liability, row


def _list_window(items: dict, batch: ClaimBatch) -> tuple[np.ndarray, np.ndarray]:
    shape = (len(batch.drug_codes), len(batch.drug_indications))
    valid_from, valid_to = np.full(shape, NEVER, np.int64), np.zeros(shape, np.int64)  # not held: never valid
    for c, code in enumerate(batch.drug_codes):
        entry = items.get(code)
        for k, indication in enumerate(batch.drug_indications):
            if entry is not None and (not entry.indications or indication in entry.indications):
                valid_from[c, k] = day_number(entry.valid_from) if entry.valid_from else 0
                valid_to[c, k] = day_number(entry.valid_to) if entry.valid_to else NEVER
    return valid_from.ravel(), valid_to.ravel()


def _flag(issues: list, batch: ClaimBatch, bad: np.ndarray, code: str, path: tuple, message: str) -> None:
    where = np.flatnonzero(bad)
    if len(where):
        ids = batch.claim_ids or [str(i) for i in range(len(batch))]
        named = "、".join(ids[i] for i in where[:5]) + ("…" if len(where) > 5 else "")
        issues.append(Issue(code, f"{len(where)} 份理赔（{named}）：{message}", path))


def _catalogue(version: Version) -> dict:
    """code → list entry of every item the version's liabilities pay (the first list's entry where several
    hold it): what generated claims draw their items from."""
    catalogue = {}
    for liability in version.scheme_layer.liabilities:
        for list_id in liability.lists:
            for code, entry in version.item_lists[list_id].items.items():
                catalogue.setdefault(code, entry)
    return catalogue


# ── paying a layer ────────────────────────────────────────────────────────────────────────────

def _pay_layer(plan: LayerPlan, parts: list[Part], members: Members, version: Version, by_liability: dict):
    """Deductibles, ratios, caps of one layer for every claim, written into `by_liability`; returns
    (in-policy paid, layer total).

    Under hit policy max an item goes where it would be paid most from the accumulators before its claim,
    and those depend on where earlier items went: settle, re-route by the offers, until nothing moves.  That
    fixed point is the rules path's claim-by-claim result (a claim's route depends only on earlier claims,
    so after k rounds every member's first k claims are right; a round that moves nothing ends it)."""
    contested = [p for p in parts if p.choices]
    settled = _settle(plan, parts, members, version.rounding, raw=bool(contested))
    for _ in range(members.most_claims() + 1 if contested else 0):
        moved = False
        for part in contested:
            liability, row = _by_offer(plan, part, parts, settled, members, version.rounding)
            moved |= not np.array_equal(liability, part.liability)
            part.liability, part.row = liability, row
        if not moved:
            break
        settled = _settle(plan, parts, members, version.rounding, raw=True)
    else:
        if contested:
            raise EngineError(f"{version.key}: hit policy max did not settle")  # cannot happen: see above
    n = len(members)
    in_policy_paid, total = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for j, (routed, paid, _) in settled.items():
        out_routed, out_paid = by_liability[plan.keys[j]]
        out_routed[:], out_paid[:] = routed, paid
        total += paid
        if plan.liabilities[j].liability.covers == "in_policy_self_pay":
            in_policy_paid += paid
    return in_policy_paid, total


def _settle(plan: LayerPlan, parts: list[Part], members: Members, rounding: str, raw: bool = False) -> dict:
    """liability index → (a positive part reached it, paid, before caps or None) for every claim of the piece.

    Liabilities that share no pool are independent, so a group of them reached by few claims is settled on
    just those (the others add nothing to its pools) and the results put back in place."""
    n = len(members)
    settled = {}
    for group in plan.groups:
        kinds = {_kind(plan.liabilities[j].liability) for j in group}
        own = [part for part in parts if part.covers in kinds]  # the others never reach this group
        reached = np.zeros(n, bool)
        for part in own:
            mine = part.liability == group[0]
            for j in group[1:]:
                mine |= part.liability == j
            reached |= mine & (part.fen > 0)
        where = np.flatnonzero(reached)
        if len(where) > SUBSET * n or raw:
            settled.update(_pay_group(plan, group, own, members, rounding))
            continue
        subset = [Part(p.covers, p.fen[where], p.liability[where], p.row[where]) for p in own]
        for j, (routed, paid, _) in _pay_group(plan, group, subset, Members(members.member[where]),
                                               rounding).items():
            full_routed, full_paid = np.zeros(n, bool), np.zeros(n, np.int64)
            full_routed[where], full_paid[where] = routed, paid
            settled[j] = (full_routed, full_paid, None)
    return settled


def _pay_group(plan: LayerPlan, group: list[int], parts: list[Part], members: Members, rounding: str) -> dict:
    """liability index → (a positive part reached it, paid, before caps) for the claims given, in the rules
    path's order."""
    liabilities = plan.liabilities
    steps = [(j, p) for j in group for p, part in enumerate(parts)
             if part.covers == _kind(liabilities[j].liability)]  # the order the rules path pays them in
    zero = np.zeros(len(members), np.int64)
    fen = {(j, p): np.where(parts[p].liability == j, parts[p].fen, 0) for j, p in steps}
    deducted = _fill_pools(plan.layer.deductibles, steps, fen, members,
                           lambda j: liabilities[j].liability.deductible)
    raw = {}
    for j in group:
        own = [s for s in steps if s[0] == j]
        before = members.before(sum((fen[s] for s in own), zero)) if not liabilities[j].flat else None
        for s in own:
            raw[s] = liabilities[j].raw_pay(fen[s], deducted[s], before, parts[s[1]].row, plan.denominator, rounding)
            if before is not None:
                before = before + fen[s]
    capped = _fill_pools(plan.layer.caps, steps, raw, members,
                         lambda j: liabilities[j].liability.caps[0] if liabilities[j].liability.caps else None)
    settled = {}
    for j in group:
        own = [s for s in steps if s[0] == j]
        routed = np.zeros(len(zero), bool)
        for s in own:
            routed |= fen[s] > 0
        settled[j] = (routed, sum((capped.get(s, raw[s]) for s in own), zero), sum((raw[s] for s in own), zero))
    return settled


def _by_offer(plan: LayerPlan, part: Part, parts: list[Part], settled: dict, members: Members,
              rounding: str) -> tuple[np.ndarray, np.ndarray]:
    """Hit policy max for one item column: each liability that may pay it offers what it would pay for the
    item alone from the member's pools before the claim (`evaluate._offer`); the most wins, the first of equals."""
    layer, liabilities = plan.layer, plan.liabilities
    routed_fen = {j: sum((np.where(p.liability == j, p.fen, 0) for p in parts
                          if p.covers == _kind(liabilities[j].liability)), np.zeros(len(part.fen), np.int64))
                  for j in range(len(liabilities))}

    def used_before(pools: dict, pool_id: str, amounts: dict, pool_of) -> np.ndarray:
        users = [j for j in range(len(liabilities)) if pool_of(liabilities[j].liability) == pool_id]
        return members.used_before(sum(amounts[j] for j in users), pools[pool_id].amount.fen)

    best_liability, best_row = np.full(len(part.fen), -1, np.int16), np.zeros(len(part.fen), np.int16)
    best = np.full(len(part.fen), -1, np.int64)
    for j, may, row in part.choices:
        liability = liabilities[j].liability
        pool = layer.deductibles[liability.deductible]
        left = np.maximum(pool.amount.fen - used_before(layer.deductibles, pool.id, routed_fen,
                                                        lambda l: l.deductible), 0)
        before = members.before(routed_fen[j])
        offer = liabilities[j].raw_pay(part.fen, np.minimum(left, part.fen), before, row, plan.denominator, rounding)
        if liability.caps:
            raw = {k: settled[k][2] for k in range(len(liabilities))}
            cap = layer.caps[liability.caps[0]]
            used = used_before(layer.caps, cap.id, raw, lambda l: l.caps[0] if l.caps else None)
            offer = np.minimum(offer, np.maximum(cap.amount.fen - used, 0))
        wins = may & (offer > best)
        best_liability, best_row = np.where(wins, np.int16(j), best_liability), np.where(wins, row, best_row)
        best = np.where(wins, offer, best)
    return best_liability, best_row


def _pool_groups(layer: Layer) -> list[list[int]]:
    """The layer's liabilities (by index) in groups that share a deductible or cap, each in liability order."""
    group_of = list(range(len(layer.liabilities)))

    def root(j):
        while group_of[j] != j:
            j = group_of[j]
        return j

    first_user: dict[str, int] = {}
    for j, liability in enumerate(layer.liabilities):
        for pool in (f"deductible/{liability.deductible}", *(f"cap/{c}" for c in liability.caps)):
            if pool in first_user:
                group_of[root(j)] = root(first_user[pool])
            else:
                first_user[pool] = j
    groups: dict[int, list[int]] = {}
    for j in range(len(layer.liabilities)):
        groups.setdefault(root(j), []).append(j)
    return list(groups.values())


def _fill_pools(pools: dict, steps: list, amounts: dict, members: Members, pool_of) -> dict:
    """Each step's share of its annual pool: min(amount, what earlier steps left), step by step in order."""
    taken = {}
    for pool_id, pool in pools.items():
        own = [s for s in steps if pool_of(s[0]) == pool_id]
        if not own:
            continue
        limit = pool.amount.fen
        used = members.used_before(sum(amounts[s] for s in own), limit)
        for s in own:
            taken[s] = np.minimum(amounts[s], np.maximum(limit - used, 0))
            used = used + taken[s]
    return taken
