"""Regimes: the rules that govern a scheme, one declarative YAML file per governing document (`regimes/`).

A regime file names its document, where it applies (region or city, and the period a version must start in)
and its checks.  Each check cites its clause with a verbatim quote (verified against `sources/`), has a
severity (违规 / 需关注 / 需人工确认) and conditions over the scheme's facts (`facts.FACTS`):

    inapplicable: {...}  the rule does not concern this scheme  → 不适用
    violation: {...}     the scheme breaks the rule             → the check's severity
    unknown:   {...}     the facts needed are not known         → 需人工确认
    complies:  {...}     the scheme meets a requirement         → 符合 (otherwise the check's severity)

A check with none of them is an item for a person to confirm.  The condition language is documented in
docs/regimes.md; `checks.py` compiles it to durable-rules.  Loading reports every problem of a file at
file:line:column, as scheme files do.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from jsonschema import Draft202012Validator

from ..citations import CITATION_SCHEMA, Citation, Library, check_citation, load_library, schema_issues
from ..issues import Issue, SchemeError
from ..load import Document, load_file, parse_text
from .facts import FACTS, STATES

REGIMES_DIR = Path(__file__).resolve().parents[2] / "regimes"
SEVERITIES = ("违规", "需关注", "需人工确认")
VERDICTS = ("符合", "违规", "需关注", "需人工确认", "不适用")
OUTCOMES = ("inapplicable", "violation", "unknown", "complies")  # in the order the rules try them

# operator → kinds of fact it applies to
OPERATORS = {
    "eq": ("money", "ratio", "count", "bool", "text", "state"),
    "ne": ("money", "ratio", "count", "bool", "text", "state"),
    "gt": ("money", "ratio", "count"), "gte": ("money", "ratio", "count"),
    "lt": ("money", "ratio", "count"), "lte": ("money", "ratio", "count"),
    "in": ("text", "count", "state"),
    "contains": ("text",),
    "has_any": ("list",), "has_all": ("list",), "only": ("list",),
    "known": tuple({kind for kind, _ in FACTS.values()}),
}
_SCALAR = {"type": ["string", "number", "boolean"]}
_PLAIN_TEXT = {"type": "string", "minLength": 1, "pattern": r"^[^.*+?()\[\]{}|^$\\]+$"}  # no regex metacharacters

REGIME_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "监管规则文件 (hmb regime file, format 1)",
    "$defs": {
        "condition": {
            "type": "object", "minProperties": 1, "additionalProperties": False,
            "properties": {
                "all": {"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1},
                "any": {"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1},
                **{name: {"$ref": "#/$defs/test"} for name in FACTS},
            },
        },
        "test": {"oneOf": [_SCALAR, {
            "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
            "properties": {
                **{op: {"oneOf": [_SCALAR, {"type": "object", "additionalProperties": False, "required": ["fact"],
                                            "properties": {"fact": {"enum": list(FACTS)}}}]}
                   for op in ("eq", "ne", "gt", "gte", "lt", "lte")},
                "in": {"type": "array", "items": _SCALAR, "minItems": 1},
                "contains": _PLAIN_TEXT,
                **{op: {"type": "array", "items": {"type": "string"}, "minItems": 1}
                   for op in ("has_any", "has_all", "only")},
                "known": {"type": "boolean"},
            }}]},
    },
    "type": "object", "additionalProperties": False,
    "required": ["format", "id", "name", "applies", "checks"],
    "properties": {
        "format": {"const": "hmb-regime/1"},
        "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"},
        "name": {"type": "string", "minLength": 1},
        "document": {"type": "string", "minLength": 1},
        "aliases": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "note": {"type": "string", "minLength": 1},
        "applies": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "region": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "city": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "period": {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
                           "properties": {"from": {"type": "string", "format": "date"},
                                          "after": {"type": "string", "format": "date"}}},
            },
        },
        "checks": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "name", "severity"],
            "oneOf": [{"required": ["source"]}, {"required": ["clause"]}],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"},
                "name": {"type": "string", "minLength": 1},
                "source": CITATION_SCHEMA,
                "clause": {"type": "string", "minLength": 1},
                "severity": {"enum": list(SEVERITIES)},
                "note": {"type": "string", "minLength": 1},
                **{outcome: {"$ref": "#/$defs/condition"} for outcome in OUTCOMES},
            },
        }},
    },
}
_VALIDATOR = Draft202012Validator(REGIME_SCHEMA)


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    severity: str
    citation: Citation | None  # None: a check of what the scheme declares about itself
    clause: str
    conditions: dict  # outcome → condition, as written
    note: str = ""

    @property
    def manual(self) -> bool:
        return not set(self.conditions) - {"inapplicable"}

    @property
    def digest(self) -> str:
        """The hash of what the check says: severity, clause, quote and conditions (not its name or note, which
        only word it). A person's finding on the check holds while this and the values it looked at are unchanged."""
        return _digest({"id": self.id, "severity": self.severity, "clause": self.clause,
                        "quote": self.citation.quote if self.citation else None, "conditions": self.conditions})

    @property
    def facts_used(self) -> list[str]:
        """The facts the check looks at, in catalogue order."""
        used: set[str] = set()
        for condition in self.conditions.values():
            used |= _facts_in(condition)
        return [name for name in FACTS if name in used]


@dataclass(frozen=True)
class Regime:
    id: str
    name: str
    file: str
    document: object  # citations.SourceDocument | None
    aliases: tuple[str, ...]
    applies: dict
    checks: tuple[Check, ...]
    content_hash: str
    note: str = ""

    def applicability(self, version) -> tuple[bool, str]:
        """Does the regime govern this version, and why (by region or city, and period — not by declaration)?"""
        reasons = []
        if "region" in self.applies:
            if version.region not in self.applies["region"]:
                return False, f"适用于{'、'.join(self.applies['region'])}，方案在{version.region}"
            reasons.append(f"方案在{version.region}")
        if "city" in self.applies:
            if version.city not in self.applies["city"]:
                return False, f"适用于{'、'.join(self.applies['city'])}，方案在{version.city}"
            reasons.append(f"方案在{version.city}")
        period = self.applies.get("period", {})
        start = version.period[0]
        if "from" in period:
            if start < period["from"]:
                return False, f"适用于 {period['from']} 及以后开始的保险期间，本版本始于 {start}"
            reasons.append(f"保险期间始于 {start}（不早于 {period['from']}）")
        if "after" in period:
            if start <= period["after"]:
                return False, f"适用于 {period['after']} 之后开始的保险期间，本版本始于 {start}"
            reasons.append(f"保险期间始于 {start}（晚于 {period['after']}）")
        return True, "，".join(reasons) or "适用于所有方案"

    def listed_by(self, version) -> bool:
        return bool({self.id, *self.aliases} & set(version.regimes))


def _digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _facts_in(condition: dict) -> set[str]:
    found: set[str] = set()
    for key, value in condition.items():
        if key in ("all", "any"):
            for part in value:
                found |= _facts_in(part)
        else:
            found.add(key)
            if isinstance(value, dict):
                other = next(iter(value.values()))
                if isinstance(other, dict):
                    found.add(other["fact"])
    return found


# ── loading ───────────────────────────────────────────────────────────────────────────────────

def load_regime_text(text: str, file: str, library: Library | None = None) -> Regime:
    return _build(parse_text(text, file), library or load_library())


def load_regime(path: str | Path, library: Library | None = None) -> Regime:
    return _build(load_file(path), library or load_library())


def load_regimes(directory: str | Path | None = None, library: Library | None = None) -> list[Regime]:
    """Every regime file of a folder (`regimes/` by default); SchemeError lists the problems of them all."""
    library = library or load_library()
    regimes, issues = [], []
    for path in sorted(Path(directory or REGIMES_DIR).glob("*.yaml")):
        try:
            regimes.append(load_regime(path, library))
        except SchemeError as exc:
            issues += exc.issues
    if issues:
        raise SchemeError(issues)
    return sorted(regimes, key=lambda r: r.document is None)  # governing documents first, the scheme's own last


def _build(doc: Document, library: Library) -> Regime:
    issues = schema_issues(doc, _VALIDATOR)
    if issues:
        raise SchemeError(issues)
    data = doc.data
    document = library.get(data["document"]) if "document" in data else None
    if "document" in data and document is None:
        issues.append(doc.issue("regime.unknown_document", f"来源文件“{data['document']}”未收录在 sources/index.yaml",
                                ("document",)))
    checks, seen = [], set()
    for i, item in enumerate(data["checks"]):
        path = ("checks", i)
        if item["id"] in seen:
            issues.append(doc.issue("regime.duplicate_check", f"检查编号“{item['id']}”重复", path + ("id",)))
        seen.add(item["id"])
        citation = None
        if "source" in item:
            citation, problems = check_citation(doc, path + ("source",), library)
            issues += problems
        conditions = {outcome: item[outcome] for outcome in OUTCOMES if outcome in item}
        for outcome, condition in conditions.items():
            issues += _condition_issues(doc, condition, path + (outcome,))
        if not set(conditions) - {"inapplicable"} and item["severity"] != "需人工确认":
            issues.append(doc.issue("regime.no_condition", "没有 violation / unknown / complies 条件的检查只能是"
                                    "需人工确认的事项", path + ("severity",)))
        checks.append(Check(item["id"], item["name"], item["severity"], citation,
                            citation.clause if citation else item["clause"], conditions, item.get("note", "")))
    if issues:
        raise SchemeError(issues)
    return Regime(data["id"], data["name"], doc.file, document, tuple(data.get("aliases", [])), data["applies"],
                  tuple(checks), _digest(data), data.get("note", ""))


def _condition_issues(doc: Document, condition: dict, path: tuple) -> list[Issue]:
    """What the schema cannot say: each operator fits its fact's kind, and values are of that kind."""
    issues: list[Issue] = []
    for name, test in condition.items():
        if name in ("all", "any"):
            for i, part in enumerate(test):
                issues += _condition_issues(doc, part, path + (name, i))
            continue
        kind, label = FACTS[name]
        op, value = next(iter(test.items())) if isinstance(test, dict) else ("eq", test)
        where = path + (name, op) if isinstance(test, dict) else path + (name,)
        if kind not in OPERATORS[op]:
            issues.append(doc.issue("regime.operator", f"“{label}”（{name}）不能用 {op}：{op} 只用于 "
                                    f"{'、'.join(OPERATORS[op])} 类事实", where, prefer_key=True))
        elif isinstance(value, dict) and FACTS[value["fact"]][0] != kind:
            issues.append(doc.issue("regime.compare_kinds", f"“{label}”不能与“{FACTS[value['fact']][1]}”比较："
                                    "两者类型不同", where, prefer_key=True))
        elif op != "known":
            issues += _value_issues(doc, kind, label, value if isinstance(value, list) else [value], where)
    return issues


def _value_issues(doc: Document, kind: str, label: str, values: list, where: tuple) -> list[Issue]:
    number = (int, Decimal)
    expected = {"money": number, "ratio": number, "count": (int,), "bool": (bool,), "text": (str,), "state": (str,), "list": (str,)}[kind]
    for value in values:
        if isinstance(value, dict):
            continue
        wrong_type = not isinstance(value, expected) or (kind != "bool" and isinstance(value, bool))
        if wrong_type or (kind == "state" and value not in STATES):
            hint = f"可选：{'、'.join(STATES)}" if kind == "state" else f"应为{kind}类取值"
            return [doc.issue("regime.value", f"“{label}”的取值 {value!r} 不对：{hint}", where)]
    return []
