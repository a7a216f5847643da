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

Here it is read in Python for the coverage proofs (gap and overlap); `compile` turns the same
mapping into durable-rules conditions, and a test checks the two agree on every point.
"""
from __future__ import annotations

import itertools
from typing import Iterable

from . import vocab


def matches(when: dict, point: dict) -> bool:
    """Does a point (a person or a claim part, as dimension → value) satisfy the condition?"""
    for key, wanted in when.items():
        value = point.get(key)
        if key == "age":
            if value is None:
                return False
            if "min" in wanted and value < wanted["min"]:
                return False
            if "max" in wanted and value > wanted["max"]:
                return False
        elif isinstance(wanted, bool):
            if value is not wanted:
                return False
        elif key == "care":  # a parent code covers its children; rules.compile_when expands the same way
            if value not in vocab.care_covered(wanted):
                return False
        elif value not in wanted:
            return False
    return True


def describe(when: dict) -> str:
    """A condition in plain Chinese: '年龄 19–50 岁、无既往症'."""
    if not when:
        return "所有人"
    parts = []
    for key, wanted in when.items():
        if key == "age":
            parts.append(describe_age(wanted.get("min"), wanted.get("max")))
        elif key in _FLAGS:
            parts.append(_FLAGS[key][0 if wanted else 1])
        else:
            table = _LABELS.get(key, {})
            names = "、".join(vocab.label(table, v) for v in wanted)
            parts.append(f"{vocab.CONDITION_KEYS.get(key, key)}为{names}")
    return "，".join(parts)


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


def dimensions_used(conditions: Iterable[dict], always: Iterable[str] = ()) -> list[str]:
    """The dimensions a set of conditions talks about, in vocabulary order."""
    used = set(always)
    for when in conditions:
        used.update(when)
    return [key for key in vocab.DIMENSIONS if key in used]


def coverage(items: list[tuple[str, dict]], dims: list[str], space: dict | None = None):
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
        hits = [label for label, when in items if matches(when, point)]
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
        when = {k: (v if isinstance(v, bool) else [v]) for k, v in rest}
        text = describe(when) if when else ""
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
