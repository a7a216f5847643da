"""Vectorised settlement: a whole policy year of claims at once, equal to `evaluate.adjudicate` to the fen.

Compiled from the same validated `Version` as the rules path.  The rules path settles one claim at a
time and carries a member's annual accumulators from claim to claim; here every step of every claim
is an array operation:

- eligibility, routing (which liability and ratio row pays a part) and bands: the version's conditions
  as lookup tables (`columns.Decision`), first match by the rules' priority;
- an annual pool (deductible or cap) fills by min(amount, what is left), which is the member's
  running sum saturated at the pool's amount: one cumulative sum per pool (`fen.Members`), then the
  few steps inside one claim (liability order, then part order, as the rules path pays them) in turn;
- progressive segments read the liability's running expense the same way;
- a payment chain runs layer after layer, each seeing what the layers before it left;
- rounding is integer arithmetic on exact numerators (`fen.round_div`), as `money` declares it.

What it cannot do exactly it refuses with `Unsupported` and a reason, and the caller uses the rules path.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property, partial

import numpy as np

from .. import vocab
from ..conditions import Condition
from ..issues import InputError, Issue
from ..model import Layer, Liability, RatioRow, Version
from ..money import ROUNDING_RULES
from .columns import CODE, ClaimBatch, Decision, MemberBatch, day_number, dims_of, predicate
from .fen import INT64_SAFE, Members, member_pieces, Unsupported, apply_ratio, common_denominator, round_div, scale_to
from .fen import split_by_shares as split_columns

OUTCOMES = list(vocab.ELIGIBILITY_OUTCOMES)  # code → outcome
ELIGIBLE = OUTCOMES.index("eligible")
NEVER = 99999999  # a day number after every date
CHUNK = 1 << 15  # claims a piece: its few dozen int64 arrays fit in a 2 MB cache


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
    """One thing every claim may ask a layer to pay (zero where it does not), and where the rules route it."""

    covers: str
    fen: np.ndarray
    liability: np.ndarray  # index into the layer's liabilities, -1: no liability covers it
    row: np.ndarray  # index into that liability's ratio rows


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


ITEMS = "items"  # the parts paid by the (one) liability of item lists; see `VectorVersion.__init__`


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
                raise Unsupported(f"{layer.id}.{liability.id}: more than one cap on one liability")
        for pool in layer.deductibles.values():  # pools fill in liability order: the declared order must be it
            covers = [l.covers for l in layer.liabilities if l.deductible == pool.id]
            in_policy_first = covers == sorted(covers, key=lambda c: c != "in_policy_self_pay")
            if pool.order and (pool.order.value != "in_policy_first" or not in_policy_first):
                raise Unsupported(f"{layer.id}.{pool.id}: deductible order {pool.order.value}")
        # per kind of cost: which liability takes a part (-1: none) and which of its ratio rows, first by priority
        self.routes = {}
        for covers in (*vocab.COVERS, ITEMS):
            candidates = [(route, (j, k)) for j, plan in enumerate(self.liabilities)
                          if _kind(plan.liability) == covers for k, route in enumerate(plan.routes)]
            self.routes[covers] = (Decision([(route, j) for route, (j, _) in candidates], -1),
                                   Decision([(route, k) for route, (_, k) in candidates], 0))

    def route(self, covers: str, columns: dict, n: int, also: np.ndarray | None = None) -> tuple:
        """(liability index, row index) of a part of this kind, as the rules route it: first by priority
        (liability order, then row order); liability -1 where none covers it."""
        liability, row = (decision(columns, n) for decision in self.routes[covers])
        if also is not None:  # a special drug outside the catalogue: no liability takes it
            liability = np.where(also, liability, -1)
        return liability, row


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

    @cached_property
    def insurers(self) -> np.ndarray:
        """claims × insurers: money.split_by_shares of each claim's payout (lead first), built when asked for."""
        return split_columns(self.paid, self.shares)

    def insurer_totals(self) -> list[int]:
        """Each insurer's part of the batch, summed claim by claim without building the claims × insurers table."""
        rest = [int(apply_ratio(self.paid, share, "down").sum()) for share in self.shares[1:]]
        return [int(self.paid.sum()) - sum(rest), *rest]

    @staticmethod
    def join(pieces: list["BatchSettlement"], claim_ids) -> "BatchSettlement":
        """Pieces settled one after another, as one batch."""
        first = pieces[0]
        if len(pieces) == 1:
            return replace(first, claim_ids=claim_ids)

        bounds = np.cumsum([0, *(len(p.paid) for p in pieces)])

        def cat(get):  # into one array allocated once (np.concatenate of many pieces costs twice the memory)
            out = np.empty(bounds[-1], dtype=get(first).dtype)
            for piece, lo, hi in zip(pieces, bounds[:-1], bounds[1:]):
                out[lo:hi] = get(piece)
            return out

        def pairs(get):
            return {key: (cat(lambda p: get(p)[key][0]), cat(lambda p: get(p)[key][1])) for key in get(first)}

        return BatchSettlement(first.version, claim_ids, cat(lambda p: p.outcome), cat(lambda p: p.paid),
                               cat(lambda p: p.patient_remainder), first.shares, pairs(lambda p: p.layers),
                               pairs(lambda p: p.by_liability))

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
    band: np.ndarray  # index into version.bands, -1: not eligible (no premium)
    premium: np.ndarray
    subsidies: np.ndarray  # members × subsidies: what each subsidy paid
    applied: np.ndarray  # members × subsidies: the subsidy is among the payers
    remainder: np.ndarray  # what the person (or whoever they pay with) pays


# ── the compiled version ──────────────────────────────────────────────────────────────────────

def _refuse_own_lists(version: Version) -> None:
    """Terms over the scheme's own named lists, sex and exclusions are settled on the rules path only."""
    if version.pre_existing_conditions:
        raise Unsupported(f"{version.key}: named pre-existing conditions (pre_existing_conditions)")
    if version.hospital_lists:
        raise Unsupported(f"{version.key}: hospital lists (hospital_lists)")
    if any("sex" in when for when in version.conditions()):
        raise Unsupported(f"{version.key}: conditions on sex")
    if any(exclusion.checked for exclusion in version.exclusions):
        raise Unsupported(f"{version.key}: exclusions the engine applies (exclusions with when, items or lists)")


class VectorVersion:
    """A version compiled for arrays; raises Unsupported when it cannot be settled exactly this way."""

    def __init__(self, version: Version):
        if version.rounding not in ROUNDING_RULES:
            raise Unsupported(f"rounding rule {version.rounding!r}")
        listed = [l for l in version.scheme_layer.liabilities if l.covers is None]
        if version.plans or len(listed) > 1:  # items then need the rules' routing by list and the hit policy
            raise Unsupported(f"{version.key}: plans, or more than one liability of item lists")
        _refuse_own_lists(version)
        self.version = version
        self.eligibility = eligibility_decision(version)
        self.band = Decision([((b.when,), i) for i, b in enumerate(version.bands)], -1)
        self.subsidies = [predicate(s.when) for s in version.subsidies]
        self.layers = [LayerPlan(layer, common_denominator(_layer_ratios(layer))) for layer in version.layers]
        self.catalogue = _catalogue(version)
        self.age_reference = {"period_start": version.period[0],
                              "enrolment_start": version.enrolment[0]}.get(version.age_reference,
                                                                            version.age_reference)

    # ── premiums ──

    def quote(self, members: MemberBatch) -> BatchPremiums:
        """evaluate.quote for every member: band, premium and subsidies in the declared order."""
        n, columns = len(members), members.columns
        outcome = self.eligibility(columns, n)
        band = self.band(columns, n)
        priced = outcome != OUTCOMES.index("not_eligible")
        if (band[priced] < 0).any():  # validation proves the bands cover everyone
            raise Unsupported(f"{self.version.key}: a member matches no premium band")
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
                             np.stack(applied, axis=1) if applied else np.zeros(shape, bool), remaining)

    # ── claims ──

    def adjudicate(self, batch: ClaimBatch, chunk: int = CHUNK, workers: int = 1) -> BatchSettlement:
        """evaluate.adjudicate for every claim of the batch, accumulators carried per member from zero.

        The batch is cut into pieces of about `chunk` claims at member boundaries (a member's pools never
        span two pieces), so every array of a piece stays in the processor's cache; `workers` threads
        settle pieces side by side (NumPy releases the GIL).  The result does not depend on either."""
        self._check(batch)
        pieces = [batch.slice(lo, hi) for lo, hi in member_pieces(batch.member, chunk)]
        settle = partial(self._adjudicate_piece, windows=self._catalogue_windows(batch))
        if workers > 1 and len(pieces) > 1:
            with ThreadPoolExecutor(workers) as pool:
                settled = list(pool.map(settle, pieces))
        else:
            settled = [settle(piece) for piece in pieces]
        return BatchSettlement.join(settled, batch.claim_ids)

    def _adjudicate_piece(self, batch: ClaimBatch, windows: tuple) -> BatchSettlement:
        n, columns = len(batch), batch.columns
        outcome = self.eligibility(batch.person_columns(), n)
        eligible = outcome == ELIGIBLE
        result = BatchSettlement(self.version.key, None, outcome, np.zeros(n, np.int64), batch.total,
                                 [i.share.value for i in self.version.insurers])
        in_policy = np.where(eligible, batch.in_policy, 0)
        drugs_ok = self._drugs_in_catalogue(batch, windows)
        for plan in self.layers:
            scheme = plan.layer.kind == "scheme"
            applies = eligible & (batch.raw_bill | scheme)
            parts = [self._part(plan, "in_policy_self_pay", np.where(applies, in_policy, 0), columns, n)]
            if scheme:
                parts.append(self._part(plan, "out_of_policy_self_pay", np.where(eligible, batch.out_of_policy, 0),
                                        columns, n))
                parts += [self._part(plan, ITEMS, np.where(eligible, batch.drug_fen[:, d], 0), columns, n,
                                     drugs_ok[:, d]) for d in range(batch.drug_fen.shape[1])]
            paid_in, layer_paid = _pay_layer(plan, parts, batch.member, self.version.rounding, result.by_liability)
            in_policy = in_policy - paid_in
            result.layers[plan.layer.id] = (applies, layer_paid)
            result.patient_remainder = result.patient_remainder - layer_paid
            if scheme:
                result.paid = layer_paid
        return result

    def _part(self, plan: LayerPlan, covers: str, fen: np.ndarray, columns: dict, n: int, also=None) -> Part:
        liability, row = plan.route(covers, columns, n, also)
        return Part(covers, fen, liability, row)

    def _catalogue_windows(self, batch: ClaimBatch) -> tuple[np.ndarray, np.ndarray]:
        """For each (drug code, indication) of the batch: the first and last day the catalogue covers it."""
        shape = (len(batch.drug_codes), len(batch.drug_indications))
        valid_from, valid_to = np.full(shape, NEVER, np.int64), np.zeros(shape, np.int64)  # unknown: never valid
        for c, code in enumerate(batch.drug_codes):
            drug = self.catalogue.get(code)
            for k, indication in enumerate(batch.drug_indications):
                if drug is not None and (not drug.indications or indication in drug.indications):
                    valid_from[c, k] = day_number(drug.valid_from) if drug.valid_from else 0
                    valid_to[c, k] = day_number(drug.valid_to) if drug.valid_to else NEVER
        return valid_from, valid_to

    @staticmethod
    def _drugs_in_catalogue(batch: ClaimBatch, windows: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Each drug on each claim: in the catalogue, for that indication, on the claim date."""
        valid_from, valid_to = windows
        if not valid_from.size:
            return np.zeros(batch.drug_fen.shape, bool)
        date = batch.date[:, None]
        return ((valid_from[batch.drug_code, batch.drug_indication] <= date)
                & (date <= valid_to[batch.drug_code, batch.drug_indication]))

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
        if biggest * widest * 16 >= INT64_SAFE or int(batch.total.sum()) >= INT64_SAFE:
            raise Unsupported("amounts too large for exact int64 arithmetic")

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


def _flag(issues: list, batch: ClaimBatch, bad: np.ndarray, code: str, path: tuple, message: str) -> None:
    where = np.flatnonzero(bad)
    if len(where):
        ids = batch.claim_ids or [str(i) for i in range(len(batch))]
        named = "、".join(ids[i] for i in where[:5]) + ("…" if len(where) > 5 else "")
        issues.append(Issue(code, f"{len(where)} 份理赔（{named}）：{message}", path))


def _catalogue(version: Version) -> dict:
    entries = [(code, drug) for l in version.scheme_layer.liabilities for list_id in l.lists
               for code, drug in version.item_lists[list_id].items.items()]
    catalogue = dict(entries)
    if len(catalogue) < len(entries):  # the rules try each list in turn (indications, validity): not one table
        raise Unsupported(f"{version.key}: an item on several lists of its liability")
    return catalogue


def _pay_layer(plan: LayerPlan, parts: list[Part], member: np.ndarray, rounding: str, by_liability: dict):
    """Deductibles, ratios, caps of one layer for every claim; returns (in-policy paid, layer total).

    Liabilities that share no pool are independent, so each group of them is settled on just the claims
    with something routed to it (the others add nothing to its pools) and the results put back in place."""
    n = len(member)
    in_policy_paid, total = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for group in plan.groups:
        in_group = np.zeros(len(plan.liabilities) + 1, bool)  # the last cell answers for -1 (no liability)
        in_group[group] = True
        reached = np.zeros(n, bool)
        for part in parts:
            reached |= in_group[part.liability] & (part.fen > 0)
        where = np.flatnonzero(reached)
        subset = [Part(p.covers, p.fen[where], p.liability[where], p.row[where]) for p in parts]
        settled = _pay_group(plan, group, subset, Members(member[where]), rounding)
        for j, (routed, paid) in settled.items():
            full_routed, full_paid = np.zeros(n, bool), np.zeros(n, np.int64)
            full_routed[where], full_paid[where] = routed, paid
            by_liability[plan.layer.key_of(plan.liabilities[j].liability)] = (full_routed, full_paid)
            total[where] += paid
            if _kind(plan.liabilities[j].liability) == "in_policy_self_pay":
                in_policy_paid[where] += paid
    return in_policy_paid, total


def _pay_group(plan: LayerPlan, group: list[int], parts: list[Part], members: Members, rounding: str) -> dict:
    """liability index → (a positive part reached it, paid) for the claims given, in the rules path's order."""
    liabilities = plan.liabilities
    steps = [(j, p) for j in group for p, part in enumerate(parts)
             if part.covers == _kind(liabilities[j].liability)]  # the order the rules path pays them in
    zero = np.zeros(len(members.first), np.int64)
    fen = {(j, p): np.where(parts[p].liability == j, parts[p].fen, 0) for j, p in steps}
    deducted = _fill_pools(plan.layer.deductibles, steps, fen, members,
                           lambda j: liabilities[j].liability.deductible)
    raw = {}
    for j in group:
        own = [s for s in steps if s[0] == j]
        before = members.before(sum((fen[s] for s in own), zero))
        for s in own:
            raw[s] = liabilities[j].raw_pay(fen[s], deducted[s], before, parts[s[1]].row, plan.denominator, rounding)
            before = before + fen[s]
    capped = _fill_pools(plan.layer.caps, steps, raw, members,
                         lambda j: liabilities[j].liability.caps[0] if liabilities[j].liability.caps else None)
    settled = {}
    for j in group:
        own = [s for s in steps if s[0] == j]
        routed = np.zeros(len(zero), bool)
        for s in own:
            routed |= fen[s] > 0
        settled[j] = (routed, sum((capped.get(s, raw[s]) for s in own), zero))
    return settled


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
