"""The condition language (`when:`) shared by bands, eligibility, subsidies, liabilities and ratio rows.

A condition is a mapping whose keys are all ANDed:
    age: {min: 19, max: 50}        inclusive, in whole years
    pre_existing: false            true: any pre-existing condition; [cancer, cirrhosis]: any of those the version
                                   names in `pre_existing_conditions`
    sex: female                    one value or a list
    hospital_in: one-stop          the claim's hospital is on that list of the version's `hospital_lists` (a list
                                   of ids: on any of them; {not: [ids]}: on none of them)
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
        listed = {"type": "array", "items": {"enum": list(vocab.DIMENSIONS[key])}, "minItems": 1, "uniqueItems": True}
        if key in SCALAR_KEYS:
            return {"oneOf": [{"enum": list(vocab.DIMENSIONS[key])}, listed]}
        return listed

    @classmethod
    def parse(cls, key: str, written) -> "OneOf":
        return cls(key, tuple(written) if isinstance(written, list) else (written,))

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


@dataclass(frozen=True)
class PreExisting:
    """`pre_existing: true | false | [ids] | {not: [ids]}`: any condition, none, any of the named ones, or none of
    them (no condition, or only others).

    A point's value is a frozenset of the person's condition ids (`UNNAMED` stands for a condition the version
    does not name: a member written `pre_existing: true`); a plain True or False is read as {UNNAMED} or {}.
    On the rules' side the person carries `pre_existing` (any) and `pre_existing.<id>: true|false` for every
    condition the version names.
    """

    key: ClassVar[str] = "pre_existing"
    wanted: bool | None  # True: any; False: none; None: any of `ids` (or, negated, none of them)
    ids: tuple = ()
    negated: bool = False
    names: tuple = field(default=(), compare=False)  # what a person calls each id (the version's list)

    @staticmethod
    def schema(_key: str) -> dict:
        ids = {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN}, "minItems": 1, "uniqueItems": True}
        return {"oneOf": [{"type": "boolean", "description": "true：有既往症（任何一种）；false：无既往症"},
                          {**ids, "description": "有其中任何一种既往症（pre_existing_conditions 的编号）"},
                          {"type": "object", "properties": {"not": ids}, "required": ["not"],
                           "additionalProperties": False, "description": "其中任何一种都没有（无既往症或只有其他既往症）"}]}

    @classmethod
    def parse(cls, _key: str, written, names: dict | None = None) -> "PreExisting":
        if isinstance(written, bool):
            return cls(written)
        negated = isinstance(written, dict)
        ids = tuple(written["not"] if negated else written)
        return cls(None, ids, negated, tuple((names or {}).get(i, i) for i in ids))

    def holds(self, value) -> bool:
        held = as_condition_set(value)
        if self.wanted is not None:
            return bool(held) is self.wanted
        return bool(held & set(self.ids)) is not self.negated

    def compile(self) -> list[dict]:
        if self.wanted is not None:
            return [{"pre_existing": self.wanted}]
        if self.negated:
            return [{f"pre_existing.{i}": False} for i in self.ids]
        return _any_true([f"pre_existing.{i}" for i in self.ids])

    def describe(self) -> str:
        if self.wanted is not None:
            return _FLAGS["pre_existing"][0 if self.wanted else 1]
        names = "、".join(self.names or self.ids)
        return f"没有既往症（{names}）" if self.negated else f"有既往症（{names}）之一" if len(self.ids) > 1 \
            else f"有既往症（{names}）"

    @staticmethod
    def axis(clauses: list) -> list:
        """The people a coverage proof tells apart: no condition, one no clause names, and every combination of
        the named ones some clause mentions (a person may have several)."""
        named = sorted({i for c in clauses if c.wanted is None for i in c.ids})
        if not named:
            return [False, True]
        return [frozenset(), frozenset({UNNAMED}),
                *(frozenset(combo) for n in range(1, len(named) + 1) for combo in itertools.combinations(named, n))]


@dataclass(frozen=True)
class HospitalIn:
    """`hospital_in: one-stop`, `[designated, one-stop]` or `{not: [one-stop]}`: the claim's hospital is on one of
    the version's hospital lists (or on none of them).  A point's value is the frozenset of the lists its hospital
    is on; the rules' event carries `hospital_in.<list>: true|false` for every list of the version."""

    key: ClassVar[str] = "hospital_in"
    lists: tuple
    negated: bool = False
    names: tuple = field(default=(), compare=False)

    @staticmethod
    def schema(_key: str) -> dict:
        ids = {"oneOf": [{"type": "string", "pattern": ID_PATTERN},
                         {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN}, "minItems": 1,
                          "uniqueItems": True}]}
        return {"oneOf": [ids, {"type": "object", "properties": {"not": ids}, "required": ["not"],
                                "additionalProperties": False}],
                "description": "就诊医院在该名单（hospital_lists 的编号）中；{not: 名单} 不在其中"}

    @classmethod
    def parse(cls, _key: str, written, names: dict | None = None) -> "HospitalIn":
        negated = isinstance(written, dict)
        ids = written["not"] if negated else written
        ids = (ids,) if isinstance(ids, str) else tuple(ids)
        return cls(ids, negated, tuple((names or {}).get(i, i) for i in ids))

    def holds(self, value) -> bool:
        on_some = bool(set(value or ()) & set(self.lists))
        return on_some is not self.negated

    def compile(self) -> list[dict]:
        if self.negated:
            return [{f"hospital_in.{i}": False} for i in self.lists]
        return _any_true([f"hospital_in.{i}" for i in self.lists])

    def describe(self) -> str:
        if self.lists == (NO_LIST,):  # a gap or overlap point: a hospital on none of the lists
            return "就诊医院不在任何名单内"
        names = "或".join(f"“{n}”" for n in (self.names or self.lists))
        return f"就诊医院{'不' if self.negated else ''}在{names}名单内"

    @staticmethod
    def axis(clauses: list) -> list:
        """Every combination of the lists the clauses name a hospital may be on (lists may share hospitals)."""
        named = sorted({i for c in clauses for i in c.lists})
        return [frozenset(combo) for n in range(len(named) + 1) for combo in itertools.combinations(named, n)]


UNNAMED = "*"  # a pre-existing condition the version's list does not name
NO_LIST = "*"  # describing a point: a hospital on none of the lists
ID_PATTERN = "^[a-z0-9][a-z0-9_.-]*$"


def as_condition_set(value) -> frozenset:
    """A person's pre-existing conditions as a set, from a yes/no or the set itself."""
    if isinstance(value, bool) or value is None:
        return frozenset({UNNAMED}) if value else frozenset()
    return frozenset(value)


def _any_true(attributes: list[str]) -> list[dict]:
    if len(attributes) == 1:
        return [{attributes[0]: True}]
    return [{"$or": [{a: True} for a in attributes]}]


SCALAR_KEYS = ("sex",)  # keys that may also be written as one value: `sex: female`


Clause = AgeRange | Flag | OneOf | PreExisting | HospitalIn

# What each key of a `when:` is: a range of ages, a yes/no, a list of allowed values, or a scheme's own list.
CLAUSES: dict[str, type] = {key: AgeRange if key == "age" else Flag if values == [False, True] else OneOf
                            for key, values in vocab.DIMENSIONS.items()}
CLAUSES["pre_existing"] = PreExisting
CLAUSES["hospital_in"] = HospitalIn
# keys whose values are the scheme's own ids: what they are called is the version's (`Condition.parse(names=…)`)
NAMED_KEYS = ("pre_existing", "hospital_in")


# ── a condition ───────────────────────────────────────────────────────────────────────────────

@dataclass(frozen=True, eq=False)
class Condition:
    """A parsed `when:`: clauses ANDed, in the order written; `path` is where it stands in the document."""

    clauses: tuple[Clause, ...] = ()
    path: tuple = ()

    @classmethod
    def parse(cls, when: dict, path: tuple = (), names: dict | None = None) -> "Condition":
        """`names`: for the keys of NAMED_KEYS, id → what the version calls it (shown by describe)."""
        names = names or {}
        return cls(tuple(CLAUSES[key].parse(key, written, names.get(key)) if key in NAMED_KEYS
                         else CLAUSES[key].parse(key, written) for key, written in when.items()), tuple(path))

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
    "sex": vocab.SEX,
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
    return [key for key in CLAUSES if key in used]


def coverage(items: list[tuple[str, Condition]], dims: list[str], space: dict | None = None):
    """Find every point of the space that no item matches (gaps) or several items match (overlaps).

    items: (label, condition) pairs.  Returns (gaps, overlaps): gaps are lists of points;
    overlaps map a tuple of labels to the points they share.
    """
    space = space or {}
    axes = [space.get(d) or _axis(d, [when for _, when in items]) for d in dims]
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


def _axis(dim: str, conditions: list[Condition]) -> list:
    """Every value of a dimension a coverage proof must try: the vocabulary's, or for a key over the scheme's own
    lists, the combinations the conditions tell apart."""
    if dim in NAMED_KEYS:
        return CLAUSES[dim].axis([when.get(dim) for when in conditions if dim in when])
    return vocab.DIMENSIONS[dim]


def _as_written(key: str, value):
    """A point's value as a `when:` would write it (for describing gaps and overlaps)."""
    if key == "pre_existing" and isinstance(value, frozenset):
        named = sorted(value - {UNNAMED})
        return named if named else bool(value)
    if key == "hospital_in":
        return sorted(value) if value else {"not": [NO_LIST]}
    return value if isinstance(value, bool) else [value]


def summarise_points(points: list[dict], limit: int = 3, names: dict | None = None) -> str:
    """Group points that differ only by age into age ranges, in Chinese, at most `limit` groups."""
    groups: dict[tuple, list[int]] = {}
    for point in points:
        rest = tuple((k, v) for k, v in point.items() if k != "age")
        groups.setdefault(rest, []).append(point.get("age"))
    lines = []
    for rest, ages in list(groups.items())[:limit]:
        when = Condition.parse({k: _as_written(k, v) for k, v in rest}, names=names)
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
