"""Run a regime's checks in durable-rules: the scheme's facts are asserted, one event per check is posted,
and the rules decide every verdict (符合 / 违规 / 需关注 / 需人工确认); Python only formats.

Per check, up to four rules join the check's event with the scheme fact — inapplicable (priority 0), violation
(1), unknown (2), complies (3) — and a catch-all (100) answers when none matches, so every event gets exactly
one answer.
The durable-rules traps are handled as in engine/rules.py: rulesets are built from fresh dicts, each
condition dict holds one operator, actions never raise into the engine, the host runs synchronously under
one lock, and a ruleset (never replaceable) is named by the regime and the hash of its file.  One session
serves every review: the scheme fact is asserted, the checks posted, and the fact retracted, under the lock.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass


from ..rules import _LOCK, _host  # one host and one lock for every durable-rules call: the C engine is not thread-safe
from .facts import Fact, engine_value
from .regimes import OUTCOMES, Check, Regime

_PRIORITY = {"inapplicable": 0, "violation": 1, "unknown": 2, "complies": 3}
_CATCH_ALL = 100
_OPERATORS = {"eq": None, "ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}


_COMPILED: dict[str, "CompiledRegime"] = {}
_REVIEW_IDS = itertools.count()


@dataclass(frozen=True)
class Verdict:
    check: Check
    verdict: str  # 符合 / 违规 / 需关注 / 需人工确认
    rule: str  # the durable rule that decided it
    looked_at: tuple[Fact, ...]

    @property
    def assumed(self) -> bool:
        """Does the verdict rest on an assumed value?"""
        return any(f.assumed for f in self.looked_at)

    @property
    def values_digest(self) -> str:
        """The hash of the scheme values the check looked at (name and engine value of each fact, and where a
        computed figure comes from when the fact says)."""
        values = [[f.name, f.value, *([f.detail] if f.detail else [])] for f in self.looked_at]
        return hashlib.sha256(json.dumps(values, ensure_ascii=False, default=str).encode()).hexdigest()


# ── conditions ────────────────────────────────────────────────────────────────────────────────

def compile_condition(condition: dict) -> dict:
    """A regime condition → one durable-rules condition (one operator per dict)."""
    parts = []
    for name, test in condition.items():
        if name in ("all", "any"):
            inner = [compile_condition(part) for part in test]
            parts.append(inner[0] if len(inner) == 1 else {"$and" if name == "all" else "$or": inner})
        else:
            parts.append(_test(name, test))
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _test(name: str, test) -> dict:
    """One fact's test.  A test never matches a fact the scheme does not state (nor one compared with an
    unstated fact): durable-rules would compare a missing value loosely; only `known: false` looks for absence."""
    op, value = next(iter(test.items())) if isinstance(test, dict) else ("eq", test)
    if op == "known":
        return {"$ex" if value else "$nex": {name: 1}}
    stated = [{"$ex": {name: 1}}] + ([{"$ex": {value["fact"]: 1}}] if isinstance(value, dict) else [])
    return _both([*stated, _compare(name, op, value)])


def _compare(name: str, op: str, value) -> dict:
    if op in _OPERATORS:
        operand = {"$m": value["fact"]} if isinstance(value, dict) else engine_value(name, value)
        return {name: operand} if _OPERATORS[op] is None else {_OPERATORS[op]: {name: operand}}
    if op == "in":
        return _either([{name: engine_value(name, v)} for v in value])
    # `$iany`/`$iall` take one plain test of the item: with `$or`/`$and` inside, durable-rules reads an
    # uninitialised node while compiling and fails now and then with "error code: 102" (docs/engine.md).
    if op == "contains":
        return {"$mt": {name: f".*{_literal(value)}.*"}}
    if op == "has_any":
        return _either([{"$iany": {name: {"$i": v}}} for v in value])
    if op == "has_all":
        return _both([{"$iany": {name: {"$i": v}}} for v in value])
    return {"$iall": {name: {"$mt": {"$i": "|".join(_literal(v) for v in value)}}}}  # only


def _literal(text: str) -> str:
    """`text` as a durable-rules pattern matching exactly it (its escape character is %; a pattern matches whole)."""
    return re.sub(r"([.|?*+()\[\]{}%])", r"%\1", text)


def _either(parts: list[dict]) -> dict:
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _both(parts: list[dict]) -> dict:
    return parts[0] if len(parts) == 1 else {"$and": parts}


# ── rulesets ──────────────────────────────────────────────────────────────────────────────────

class CompiledRegime:
    """A regime's ruleset, registered once in this module's host."""

    def __init__(self, regime: Regime):
        self.regime = regime
        self.name = f"regime:{regime.id}#{regime.content_hash[:12]}"
        self._sink: list[tuple[str, str, str]] = []  # (check id, outcome, rule)
        self.conditions: dict[str, dict] = {}  # rule name → compiled condition, for inspection and tests
        _host().set_rulesets({self.name: self._ruleset()})

    def _action(self, check_id: str, outcome: str, rule: str):
        """The action only records which rule fired: nothing in it can raise into the engine (which would
        swallow the error into the session state)."""
        sink = self._sink
        return lambda c: sink.append((check_id, outcome, rule))

    def _ruleset(self) -> dict:
        ruleset = {}
        for check in self.regime.checks:
            event = {"$and": [{"t": "check"}, {"check": check.id}]}
            for outcome in OUTCOMES:
                if outcome in check.conditions:
                    rule = f"{check.id}.{outcome}"
                    scheme = {"$and": [{"t": "scheme"}, compile_condition(check.conditions[outcome])]}
                    self.conditions[rule] = scheme
                    ruleset[rule] = {"all": [{"e": event}, {"f": scheme}], "pri": _PRIORITY[outcome],
                                     "run": self._action(check.id, outcome, rule)}
            rule = f"{check.id}.otherwise"
            ruleset[rule] = {"all": [{"e": event}], "pri": _CATCH_ALL, "run": self._action(check.id, "otherwise", rule)}
        # A fact no rule's condition matches is refused (MessageNotHandledException): this rule takes every
        # scheme fact and waits for an event that is never posted, so asserting always succeeds.
        ruleset["scheme.held"] = {"all": [{"f": {"t": "scheme"}}, {"e": {"t": "never"}}], "pri": _CATCH_ALL,
                                  "run": self._action("", "held", "scheme.held")}
        return ruleset

    def run(self, facts: dict[str, Fact]) -> list[Verdict]:
        """Every check's verdict for one scheme's facts."""
        fact = {"t": "scheme", "review": next(_REVIEW_IDS),
                **{name: f.value for name, f in facts.items() if f.value is not None}}
        with _LOCK:
            self._sink.clear()
            host = _host()
            host.assert_fact(self.name, fact)
            try:
                for check in self.regime.checks:
                    host.post(self.name, {"t": "check", "check": check.id})
            finally:
                host.retract_fact(self.name, fact)
            decided = list(self._sink)
        if sorted(c for c, _, _ in decided) != sorted(c.id for c in self.regime.checks):
            raise RuntimeError(f"{self.name}: the rules did not give exactly one verdict per check: {decided}")
        by_id = {check_id: (outcome, rule) for check_id, outcome, rule in decided}
        return [_verdict(check, *by_id[check.id], facts) for check in self.regime.checks]


def _verdict(check: Check, outcome: str, rule: str, facts: dict[str, Fact]) -> Verdict:
    if outcome == "inapplicable":
        verdict = "不适用"
    elif outcome == "violation":
        verdict = check.severity
    elif outcome == "unknown":
        verdict = "需人工确认"
    elif outcome == "complies":
        verdict = "符合"
    else:  # no rule but the catch-all: a requirement not met, an item for a person, or nothing violated
        verdict = check.severity if ("complies" in check.conditions or check.manual) else "符合"
    return Verdict(check, verdict, rule, tuple(facts[name] for name in check.facts_used))


def compiled(regime: Regime) -> CompiledRegime:
    key = f"{regime.id}#{regime.content_hash}"
    with _LOCK:
        if key not in _COMPILED:
            _COMPILED[key] = CompiledRegime(regime)
        return _COMPILED[key]


def run_checks(regime: Regime, facts: dict[str, Fact]) -> list[Verdict]:
    return compiled(regime).run(facts)
