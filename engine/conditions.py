"""The condition language (`when:`) shared by bands, eligibility, subsidies, liabilities and ratio rows.

A condition is a mapping whose keys are all ANDed:
    age: {min: 19, max: 50}        inclusive, in whole years
    pre_existing: false
    low_income: [dibao, tekun]     'none' means not in a low-income category
    entitled_care: true            优抚对象 (yes/no, like disabled: 残疾人), independent of low_income
    hospital_level: [2, 3]
    care: [inpatient, emergency]   a parent code covers its children (vocab.CARE_CHILDREN): chronic_outpatient
                                   matches claims of chronic_outpatient, _1 and _2; chronic_outpatient_1 only _1
    ...any other key of vocab.DIMENSIONS, as a list of allowed values

This module is the language's one definition: `CLAUSES` says which kind of test each key is, each kind
gives its JSON Schema (`schema.py` builds `when:` from it), and `Condition.parse` reads a `when:` once
into a typed `Condition`.  A Condition both compiles to durable-rules conditions (`compile`, used by
`rules.py`) and is evaluated in Python (`holds`, used by the coverage proofs); a test checks the two
agree on every point.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import ClassVar, Iterable

from . import vocab


# ── the clauses: one per key of a `when:` ─────────────────────────────────────────────────────

@dataclass(frozen=True)
class AgeRange:
    """`age: {min, max}`: whole years, both ends included; an end left out is open."""

    key: ClassVar[str] = "age"
    lo: int | None
    hi: int | None

    @staticmethod
    def schema(_key: str) -> dict:
        bound = {"type": "integer", "minimum": 0}
        return {"type": "object", "properties": {"min": bound, "max": bound}, "additionalProperties": False,
                "minProperties": 1}

    @classmethod
    def parse(cls, _key: str, written: dict) -> "AgeRange":
        return cls(written.get("min"), written.get("max"))

    def holds(self, value) -> bool:
        return value is not None and (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)

    def compile(self) -> list[dict]:
        out = []
        if self.lo is not None:
            out.append({"$gte": {"age": self.lo}})
        if self.hi is not None:
            out.append({"$lte": {"age": self.hi}})
        return out

    def describe(self) -> str:
        return describe_age(self.lo, self.hi)


@dataclass(frozen=True)
class Flag:
    """`pre_existing: false`, `disabled: true`: a yes/no the point must have exactly."""

    key: str
    wanted: bool

    @staticmethod
    def schema(key: str) -> dict:
        if key in vocab.SPECIAL_GROUPS:
            yes, no = vocab.SPECIAL_GROUPS[key]
            return {"type": "boolean", "description": f"true：{yes}；false：{no}"}
        return {"type": "boolean"}

    @classmethod
    def parse(cls, key: str, written: bool) -> "Flag":
        return cls(key, written)

    def holds(self, value) -> bool:
        return value is self.wanted

    def compile(self) -> list[dict]:
        return [{self.key: self.wanted}]

    def describe(self) -> str:
        return _FLAGS[self.key][0 if self.wanted else 1]


@dataclass(frozen=True)
class OneOf:
    """`low_income: [dibao, tekun]`: the point's value is one of those listed.

    `values` is the list as written (explain, diff and compare show it); `matched` is what it matches:
    for `care`, a parent code covers its children too (`vocab.care_covered`, the one definition).
    """

    key: str
    values: tuple
    matched: tuple = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        matched = vocab.care_covered(self.values) if self.key == "care" else self.values
        object.__setattr__(self, "matched", tuple(matched))

    @staticmethod
    def schema(key: str) -> dict:
        return {"type": "array", "items": {"enum": list(vocab.DIMENSIONS[key])}, "minItems": 1, "uniqueItems": True}

    @classmethod
    def parse(cls, key: str, written: list) -> "OneOf":
        return cls(key, tuple(written))

    def holds(self, value) -> bool:
        return value in self.matched

    def compile(self) -> list[dict]:
        if len(self.matched) == 1:
            return [{self.key: self.matched[0]}]
        return [{"$or": [{self.key: value} for value in self.matched]}]

    def describe(self) -> str:
        table = _LABELS.get(self.key, {})
        names = "、".join(vocab.label(table, v) for v in self.values)
        return f"{vocab.CONDITION_KEYS.get(self.key, self.key)}为{names}"


Clause = AgeRange | Flag | OneOf

# What each key of a `when:` is: a range of ages, a yes/no, or a list of allowed values.
CLAUSES: dict[str, type] = {key: AgeRange if key == "age" else Flag if values == [False, True] else OneOf
                            for key, values in vocab.DIMENSIONS.items()}


# ── a condition ───────────────────────────────────────────────────────────────────────────────

@dataclass(frozen=True, eq=False)
class Condition:
    """A parsed `when:`: clauses ANDed, in the order written; `path` is where it stands in the document."""

    clauses: tuple[Clause, ...] = ()
    path: tuple = ()

    @classmethod
    def parse(cls, when: dict, path: tuple = ()) -> "Condition":
        return cls(tuple(CLAUSES[key].parse(key, written) for key, written in when.items()), tuple(path))

    def __eq__(self, other) -> bool:  # as mappings: the order keys are written in does not matter
        return isinstance(other, Condition) and set(self.clauses) == set(other.clauses)

    def __hash__(self) -> int:
        return hash(frozenset(self.clauses))

    def __bool__(self) -> bool:
        """False for the empty condition (everyone, every claim)."""
        return bool(self.clauses)

    def __contains__(self, key: str) -> bool:
        return any(clause.key == key for clause in self.clauses)

    def get(self, key: str) -> Clause | None:
        return next((clause for clause in self.clauses if clause.key == key), None)

    @property
    def keys(self) -> tuple[str, ...]:
        """The dimensions the condition reads."""
        return tuple(clause.key for clause in self.clauses)

    def __and__(self, other: "Condition") -> "Condition":
        """Both conditions; a key of `other` replaces the same key of `self` (as in a dict update)."""
        return Condition(tuple(c for c in self.clauses if c.key not in other) + other.clauses, self.path)

    def holds(self, point: dict) -> bool:
        """Does a point (a person or a claim part, as dimension → value) satisfy the condition?"""
        return all(clause.holds(point.get(clause.key)) for clause in self.clauses)

    def compile(self) -> list[dict]:
        """durable-rules conditions, one operator per dict, to be ANDed."""
        return [part for clause in self.clauses for part in clause.compile()]

    def describe(self) -> str:
        """In plain Chinese: '年龄 19–50 岁，无既往症'."""
        return "，".join(clause.describe() for clause in self.clauses) if self.clauses else "所有人"



def describe(when: Condition) -> str:
    return when.describe()


def describe_age(lo: int | None, hi: int | None) -> str:
    if lo in (None, 0) and hi in (None, vocab.MAX_AGE):
        return "任何年龄"
    if lo == hi:
        return f"{lo} 周岁"
    if lo in (None, 0):
        return f"{hi} 周岁及以下"
    if hi in (None, vocab.MAX_AGE):
        return f"{lo} 周岁及以上"
    return f"{lo}–{hi} 周岁"


_FLAGS = {"pre_existing": ("有既往症", "无既往症"), **vocab.SPECIAL_GROUPS}  # yes/no keys: (true, false) text
_LABELS = {
    "low_income": {vocab.NOT_LOW_INCOME: "非低收入人员", **vocab.LOW_INCOME},
    "hospital_level": vocab.HOSPITAL_LEVELS,
    "care": vocab.CARE,
    "basic_insurance": vocab.BASIC_INSURANCE,
    "basic_insurance_status": vocab.BASIC_STATUS,
    "hukou": vocab.HUKOU,
    "occupation": vocab.OCCUPATION,
}


# ── coverage proofs ───────────────────────────────────────────────────────────────────────────

def dimensions_used(conditions: Iterable[Condition], always: Iterable[str] = ()) -> list[str]:
    """The dimensions a set of conditions talks about, in vocabulary order."""
    used = set(always)
    for when in conditions:
        used.update(when.keys)
    return [key for key in vocab.DIMENSIONS if key in used]


def coverage(items: list[tuple[str, Condition]], dims: list[str], space: dict | None = None):
    """Find every point of the space that no item matches (gaps) or several items match (overlaps).

    items: (label, condition) pairs.  Returns (gaps, overlaps): gaps are lists of points;
    overlaps map a tuple of labels to the points they share.
    """
    space = space or {}
    axes = [space.get(d, vocab.DIMENSIONS[d]) for d in dims]
    gaps: list[dict] = []
    overlaps: dict[tuple, list[dict]] = {}
    for values in itertools.product(*axes):
        point = dict(zip(dims, values))
        hits = [label for label, when in items if when.holds(point)]
        if not hits:
            gaps.append(point)
        elif len(hits) > 1:
            overlaps.setdefault(tuple(hits), []).append(point)
    return gaps, overlaps


def summarise_points(points: list[dict], limit: int = 3) -> str:
    """Group points that differ only by age into age ranges, in Chinese, at most `limit` groups."""
    groups: dict[tuple, list[int]] = {}
    for point in points:
        rest = tuple((k, v) for k, v in point.items() if k != "age")
        groups.setdefault(rest, []).append(point.get("age"))
    lines = []
    for rest, ages in list(groups.items())[:limit]:
        when = Condition.parse({k: (v if isinstance(v, bool) else [v]) for k, v in rest})
        text = when.describe() if when else ""
        if ages and ages[0] is not None:
            age_text = "、".join(describe_age(lo, hi) for lo, hi in _ranges(sorted(ages)))
            text = f"{age_text}，{text}" if text else age_text
        lines.append(text)
    more = len(groups) - limit
    if more > 0:
        lines.append(f"另有 {more} 类")
    return "；".join(lines)


def _ranges(values: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for v in values:
        if ranges and v == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], v)
        else:
            ranges.append((v, v))
    return ranges
