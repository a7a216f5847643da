"""Claims as columns: one NumPy array per dimension, values coded by their place in the vocabulary.

`dims_of` and `holds` are the one place that reads a scheme's `when:` conditions for the vectorised
path: a `Decision` asks the same `Condition.holds` the coverage proofs use (and a test checks against
the compiled rules) at every combination of the few dimensions its conditions name, then
looks each claim up in that table, so the scheme's logic is never rewritten here.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from .. import vocab
from ..conditions import Condition
from ..inputs import Claim, Person
from ..timeline import has_history
from .fen import Unsupported

# Every value a dimension can take, in code order; a claim without a hospital level has the last code.
VALUES: dict[str, list] = {**vocab.DIMENSIONS, "hospital_level": [*vocab.HOSPITAL_LEVELS, None]}
CODE = {dim: {value: i for i, value in enumerate(values)} for dim, values in VALUES.items()}
# sex: a version that reads it is refused (adjudicate._refuse_own_lists), so a member's sex never decides here
PERSON_DIMS = [d for d in vocab.DIMENSIONS if d not in ("care", "hospital_level", "sex")]


MAX_CELLS = 2_000_000  # a decision table larger than this is refused (Unsupported), never approximated


def dims_of(when: Condition) -> list[str]:
    """The dimensions a condition names, in vocabulary order."""
    return [d for d in VALUES if d in when.keys]


def holds(whens: tuple[Condition, ...], point: dict) -> bool:
    """Do all these conditions hold at a point (dimension → value)?"""
    return all(when.holds(point) for when in whens)


class Columns(dict):
    """dimension → codes of a batch or piece, with the flat index of each set of dimensions a decision table
    reads computed once: the tables of eligibility, bands and every route mostly read the same few."""

    def __init__(self, columns: dict):
        super().__init__(columns)
        self._index: dict[tuple, np.ndarray] = {}

    def index(self, dims: tuple, shape: tuple) -> np.ndarray:
        found = self._index.get(dims)
        if found is None:
            found = self._index[dims] = flat_index(self, dims, shape)
        return found


def flat_index(columns: dict, dims: tuple, shape: tuple) -> np.ndarray:
    """Each claim's cell in a table over these dimensions (row-major), as one integer."""
    index = columns[dims[0]].astype(np.intp)
    for dim, size in zip(dims[1:], shape[1:]):
        index *= size
        index += columns[dim]
    return index


class Decision:
    """For each claim, the value of the first candidate whose conditions all hold, else the default: the
    rules' first-match-by-priority, as a table over the dimensions the candidates name."""

    def __init__(self, candidates: list[tuple[tuple[Condition, ...], int]], default: int):
        self.dims = tuple(d for d in VALUES if any(d in dims_of(when) for whens, _ in candidates for when in whens))
        self.shape = tuple(len(VALUES[d]) for d in self.dims)
        size = int(np.prod(self.shape, dtype=np.int64))
        if size > MAX_CELLS:
            raise Unsupported(f"条件涉及的项目（{'、'.join(self.dims)}）共有 {size:,} 种组合，超出上限")
        cells = []
        for values in itertools.product(*(VALUES[d] for d in self.dims)):
            point = dict(zip(self.dims, values))
            cells.append(next((value for whens, value in candidates if holds(whens, point)), default))
        self.table = np.array(cells, dtype=np.int16)  # flat, row-major over self.shape

    def __call__(self, columns: dict, n: int) -> np.ndarray:
        if not self.dims:
            return np.full(n, self.table[0], dtype=np.int16)
        if len(self.dims) == 1:
            return self.table[columns[self.dims[0]]]
        index = columns.index(self.dims, self.shape) if isinstance(columns, Columns) else \
            flat_index(columns, self.dims, self.shape)
        return self.table[index]


def predicate(*whens: Condition) -> Decision:
    """1 where all the conditions hold, else 0."""
    return Decision([(whens, 1)], 0)


def code_array(dim: str, values) -> np.ndarray:
    codes = CODE[dim]
    return np.fromiter((codes[v] for v in values), dtype=np.int16)


def day_number(iso_date: str) -> int:
    """'2025-06-30' → 20250630: ISO dates order as these integers do."""
    return int(iso_date.replace("-", ""))


@dataclass
class ClaimBatch:
    """Claims of one policy year, sorted by member, date and claim id (the order accumulators fill in).

    columns: dimension → codes (age is the age on the claim date); age_ref: age on the version's reference
    date (eligibility and bands read it); amounts in fen; items (drugs and treatments) as (claims × most items
    on one claim) matrices, fen 0 where a claim has fewer; item_care: where each item was given (care codes),
    None when every item was given in its claim's care; plan: each claim's member's plan, an index into
    plan_ids (None: every member without a plan).
    """

    member: np.ndarray
    date: np.ndarray  # day_number
    columns: dict[str, np.ndarray]
    age_ref: np.ndarray
    in_policy: np.ndarray
    out_of_policy: np.ndarray
    raw_bill: np.ndarray
    drug_fen: np.ndarray
    drug_code: np.ndarray  # index into drug_codes
    drug_indication: np.ndarray  # index into drug_indications
    drug_codes: list[str] = field(default_factory=list)
    drug_indications: list[str] = field(default_factory=list)
    claim_ids: list[str] | None = None
    item_care: np.ndarray | None = None
    plan: np.ndarray | None = None
    plan_ids: list[str | None] = field(default_factory=lambda: [None])

    def __len__(self) -> int:
        return len(self.member)

    @property
    def total(self) -> np.ndarray:
        total = self.in_policy + self.out_of_policy
        for column in range(self.drug_fen.shape[1]):  # column by column: a row sum over two drugs is slow
            total += self.drug_fen[:, column]
        return total

    def plan_codes(self) -> np.ndarray:
        return self.plan if self.plan is not None else np.zeros(len(self), np.int16)

    def select(self, which) -> "ClaimBatch":
        """The claims at `which`: a slice (views, no copies) or an index array in order (copies)."""
        def pick(array):
            return None if array is None else array[which]
        ids = self.claim_ids
        if ids is not None:
            ids = ids[which] if isinstance(which, slice) else [ids[i] for i in which]
        return replace(self, member=pick(self.member), date=pick(self.date),
                       columns={dim: codes[which] for dim, codes in self.columns.items()}, age_ref=pick(self.age_ref),
                       in_policy=pick(self.in_policy), out_of_policy=pick(self.out_of_policy),
                       raw_bill=pick(self.raw_bill), drug_fen=pick(self.drug_fen), drug_code=pick(self.drug_code),
                       drug_indication=pick(self.drug_indication), claim_ids=ids, item_care=pick(self.item_care),
                       plan=pick(self.plan))

    def slice(self, lo: int, hi: int) -> "ClaimBatch":
        """Claims lo to hi (views, no copies)."""
        return self.select(slice(lo, hi))

    def person_columns(self) -> dict[str, np.ndarray]:
        """The member as eligibility and bands see them: age on the reference date."""
        return {**self.columns, "age": self.age_ref}


def settlement_order(claims: list[Claim]) -> list[Claim]:
    """The order a member's annual pools fill in: by member, then date, then claim id."""
    return sorted(claims, key=lambda c: (c.member.id, c.date, c.claim_id))


def plan_column(plans) -> tuple[np.ndarray | None, list]:
    """Each one's plan as an index into the distinct plans named (None: nobody names a plan)."""
    plans = list(plans)
    plan_ids = list(dict.fromkeys(plans))
    if plan_ids in ([], [None]):
        return None, [None]
    codes = {p: i for i, p in enumerate(plan_ids)}
    return np.fromiter((codes[p] for p in plans), np.int16, len(plans)), plan_ids


def batch_from_claims(claims: list[Claim], age_reference: str) -> ClaimBatch:
    """Parsed claims (already in `settlement_order`) as columns."""
    if any(has_history(c) for c in claims):  # dated facts are joined by the timeline rules, on the rules path
        raise Unsupported("参保人写了出生日期或带日期的事件")
    if any(c.member.conditions for c in claims):  # the rules path checks them against the version's list
        raise Unsupported("参保人写了列名的既往症")
    members = {m: i for i, m in enumerate(dict.fromkeys(c.member.id for c in claims))}
    points = [c.member.point(c.date) for c in claims]
    columns = {dim: code_array(dim, (p[dim] for p in points)) for dim in PERSON_DIMS}
    columns["care"] = code_array("care", (c.care for c in claims))
    columns["hospital_level"] = code_array("hospital_level", (c.hospital_level for c in claims))
    width = max((len(c.items) for c in claims), default=0)
    codes = {code: i for i, code in enumerate(dict.fromkeys(d.code for c in claims for d in c.items))}
    indications = {ind: i for i, ind in enumerate(dict.fromkeys(d.indication for c in claims for d in c.items))}
    drug_fen = np.zeros((len(claims), width), np.int64)
    drug_code = np.zeros((len(claims), width), np.int32)
    drug_indication = np.zeros((len(claims), width), np.int32)
    item_care = np.repeat(columns["care"][:, None], width, axis=1)
    for i, claim in enumerate(claims):
        for j, item in enumerate(claim.items):
            drug_fen[i, j] = item.fen
            drug_code[i, j] = codes[item.code]
            drug_indication[i, j] = indications[item.indication]
            item_care[i, j] = CODE["care"][item.where]
    plan, plan_ids = plan_column(c.member.plan for c in claims)
    return ClaimBatch(
        member=np.fromiter((members[c.member.id] for c in claims), np.int64, len(claims)),
        date=np.fromiter((day_number(c.date) for c in claims), np.int64, len(claims)),
        columns=columns,
        age_ref=np.fromiter((c.member.age_on(age_reference) for c in claims), np.int16, len(claims)),
        in_policy=np.fromiter((c.in_policy_fen for c in claims), np.int64, len(claims)),
        out_of_policy=np.fromiter((c.out_of_policy_fen for c in claims), np.int64, len(claims)),
        raw_bill=np.fromiter((c.raw_bill for c in claims), bool, len(claims)),
        drug_fen=drug_fen, drug_code=drug_code, drug_indication=drug_indication,
        drug_codes=list(codes), drug_indications=list(indications), claim_ids=[c.claim_id for c in claims],
        item_care=item_care if (item_care != columns["care"][:, None]).any() else None, plan=plan, plan_ids=plan_ids)


@dataclass
class MemberBatch:
    """Persons to price: dimension codes with the age on the version's reference date; plan as in ClaimBatch."""

    columns: dict[str, np.ndarray]
    plan: np.ndarray | None = None
    plan_ids: list[str | None] = field(default_factory=lambda: [None])

    def __len__(self) -> int:
        return len(self.columns["age"])

    def plan_codes(self) -> np.ndarray:
        return self.plan if self.plan is not None else np.zeros(len(self), np.int16)

    def select(self, which) -> "MemberBatch":
        return MemberBatch({dim: codes[which] for dim, codes in self.columns.items()},
                           None if self.plan is None else self.plan[which], self.plan_ids)


def members_from_persons(persons: list[Person], age_reference: str) -> MemberBatch:
    if any(p.conditions for p in persons):
        raise Unsupported("参保人写了列名的既往症")
    points = [p.point(age_reference) for p in persons]
    plan, plan_ids = plan_column(p.plan for p in persons)
    return MemberBatch({dim: code_array(dim, (p[dim] for p in points)) for dim in PERSON_DIMS}, plan, plan_ids)
