"""Compile: a scheme version → a durable-rules ruleset that decides *which* (never *how much*).

Rules choose the eligibility outcome, the premium band, which subsidies apply, and — for each part
of a claim — which liability pays it and which ratio row applies.  Each choice is a small typed value
(`InBand`, `Subsidised`, `Route`, `EligibilityRuleMet`, `BuiltinRefusal`, `NoRuleMatched`); Python then
computes the amounts in fen from those choices (see `evaluate.py`).

How durable-rules is used here, and the traps this module guards against (fresh dicts, one operator per
dict, a catch-all per message type, swallowed errors, a synchronous host, rulesets that can never be
replaced, loose comparisons), are described in docs/engine.md.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from durable import engine as durable_engine

from . import vocab
from .conditions import OneOf
from .model import Version

CATCH_ALL_PRIORITY = 100_000

# Every dimension value an event may carry, with its exact type: durable-rules compares loosely
# ("150" <= 50 and 0 == false both match), so anything else is refused before it reaches the engine.
_TYPED_VALUES = {key: frozenset((type(v), v) for v in values)
                 for key, values in {**vocab.DIMENSIONS, "covers": list(vocab.COVERS)}.items()}
_NAMES = ("layer", "list", "candidate", "subsidy", "exclusion")
# Attributes named after the scheme's own lists (conditions.PreExisting, HospitalIn): yes/no each.
_LIST_FLAGS = ("pre_existing.", "hospital_in.")


class EngineError(RuntimeError):
    """The rules engine failed to decide: a bug, never a property of the input."""


class _SyncHost(durable_engine.Host):
    """A durable-rules host without its background timers: every action runs inside `post`."""

    def _run(self):
        self._d_timer = None
        self._t_timer = None


_LOCK = threading.RLock()


@dataclass
class MemoSettings:
    """How `CompiledRules.decide` answers: by default each event is projected onto the attributes some rule of
    its message type reads (more events share a memo key, posts are smaller) and repeated events are answered
    from the memo.  The benchmark's "posted" path switches the memo off; the memo test switches both off, so
    that every event is posted whole to durable-rules."""

    enabled: bool = True
    project: bool = True
    size: int = 100_000  # events remembered per ruleset before the memo starts afresh


MEMO = MemoSettings()
_HOST: _SyncHost | None = None
_COMPILED: dict[str, "CompiledRules"] = {}


# ── what the rules decide ─────────────────────────────────────────────────────────────────────

@dataclass(frozen=True)
class InBand:
    """A person's premium band."""
    band: str


@dataclass(frozen=True)
class Subsidised:
    """A subsidy applies to the person (one event is posted per subsidy)."""
    subsidy: str


@dataclass(frozen=True)
class Route:
    """A part of a claim is paid by this liability of this layer, at this ratio row (index in `rows`)."""
    layer: str
    liability: str
    row: int


@dataclass(frozen=True)
class EligibilityRuleMet:
    """One of the version's own eligibility conditions holds: the person is not eligible, or suspended."""
    outcome: str
    rule: str  # the condition's id


@dataclass(frozen=True)
class BuiltinRefusal:
    """A refusal every scheme may switch on: no basic insurance, or basic insurance in arrears."""
    outcome: str
    reason: str  # basic_insurance_required | basic_insurance_suspended


@dataclass(frozen=True)
class Excluded:
    """A named exclusion refuses the claim (message `claim`) or an item it names (message `item`)."""
    exclusion: str  # the exclusion's id


@dataclass(frozen=True)
class NoRuleMatched:
    """The catch-all of a message type: eligible; no band; no subsidy; no liability covers the part."""
    message_type: str


Choice = InBand | Subsidised | Route | EligibilityRuleMet | BuiltinRefusal | Excluded | NoRuleMatched


@dataclass(frozen=True)
class Decision:
    rule: str  # the durable rule that fired
    value: Choice  # what it decided


def _host() -> _SyncHost:
    global _HOST
    if _HOST is None:
        _HOST = _SyncHost()
    return _HOST


def _all(*conditions: dict) -> dict:
    flat = [c for c in conditions if c]
    return flat[0] if len(flat) == 1 else {"$and": flat}


# ── ruleset ───────────────────────────────────────────────────────────────────────────────────

class CompiledRules:
    """A version's ruleset, registered once in the process-wide host."""

    def __init__(self, version: Version):
        self.name = version.ruleset_name
        self.rule_count = 0
        self._sink: list[tuple[int, Decision]] = []
        self._errors: list[str] = []
        self.conditions: dict[str, dict] = {}  # rule name → its compiled condition, for inspection and tests
        self._memo: dict[tuple, Decision] = {}
        ruleset = self._ruleset(version)
        self.rule_count = len(ruleset)
        self._reads = _attributes_read(self.conditions)
        _host().set_rulesets({self.name: ruleset})

    def _action(self, rule: str, value: Choice):
        decision = Decision(rule, value)
        sink, errors = self._sink, self._errors

        def run(c):  # durable swallows exceptions into session state: record them ourselves
            try:
                sink.append((c.m["rid"], decision))
            except Exception as exc:  # noqa: BLE001 - reported by decide()
                errors.append(f"{rule}: {exc!r}")

        return run

    def _rule(self, rules: dict, name: str, condition: dict, priority: int, value: Choice) -> None:
        if name in rules:  # e.g. a band called "otherwise": it would silently replace the catch-all
            raise EngineError(f"{self.name}: two rules named {name!r}; that id is reserved by the engine")
        self.conditions[name] = condition
        rules[name] = {"all": [{"m": condition}], "pri": priority, "run": self._action(name, value)}

    def _ruleset(self, version: Version) -> dict:
        rules: dict = {}
        self._eligibility_rules(rules, version)
        for i, band in enumerate(version.bands):
            self._rule(rules, f"band.{band.id}", _all({"t": "band"}, *band.when.compile()), i, InBand(band.id))
        for i, subsidy in enumerate(version.subsidies):
            self._rule(rules, f"subsidy.{subsidy.id}",
                       _all({"t": "subsidy"}, {"subsidy": subsidy.id}, *subsidy.when.compile()), i,
                       Subsidised(subsidy.id))
        for layer in version.layers:
            for j, liability in enumerate(layer.liabilities):
                for k, row in enumerate(liability.rows):
                    self._rule(rules, f"route.{layer.id}.{liability.id}.{k}", _route_condition(layer.id, liability, row),
                               j * 100 + k, Route(layer.id, liability.id, k))
        message_types = ["eligibility", "band", "subsidy", "part"]
        if any(e.checked for e in version.exclusions):
            self._exclusion_rules(rules, version)
            message_types += ["claim", "item"]
        for message_type in message_types:
            self._rule(rules, f"{message_type}.otherwise", {"t": message_type}, CATCH_ALL_PRIORITY,
                       NoRuleMatched(message_type))
        return rules

    def _exclusion_rules(self, rules: dict, version: Version) -> None:
        """A whole-claim exclusion answers the claim's `claim` message; one that names items answers the `item`
        message posted for each item it names (list membership is looked up before the engine, as for routing).
        The first written wins."""
        for i, exclusion in enumerate(e for e in version.exclusions if e.checked):
            if exclusion.whole_claim:
                self._rule(rules, f"exclusion.{exclusion.id}", _all({"t": "claim"}, *exclusion.when.compile()), i,
                           Excluded(exclusion.id))
            else:
                self._rule(rules, f"exclusion.{exclusion.id}.item",
                           _all({"t": "item"}, {"exclusion": exclusion.id}, *exclusion.when.compile()), i,
                           Excluded(exclusion.id))

    def _eligibility_rules(self, rules: dict, version: Version) -> None:
        """Built-in refusals first, then the version's not-eligible conditions, then suspensions."""
        t = {"t": "eligibility"}
        if version.basic_insurance_required:
            self._rule(rules, "eligibility.basic_insurance_required", _all(t, {"basic_insurance": "none"}),
                       0, BuiltinRefusal("not_eligible", "basic_insurance_required"))
        for i, rule in enumerate(version.eligibility_rules):
            priority = (10 if rule.outcome == "not_eligible" else 110) + i
            self._rule(rules, f"eligibility.{rule.id}", _all(t, *rule.when.compile()), priority,
                       EligibilityRuleMet(rule.outcome, rule.id))
        if version.suspend_when_basic_in_arrears:
            self._rule(rules, "eligibility.basic_insurance_suspended",
                       _all(t, {"$or": [{"basic_insurance_status": "arrears"},
                                        {"basic_insurance_status": "terminated"}]}), 100,
                       BuiltinRefusal("suspended", "basic_insurance_suspended"))

    def decide(self, events: list[dict]) -> list[Decision]:
        """One decision per event, in order.

        A ruleset never changes and an event leaves no state behind (each is consumed by exactly one
        rule), so a decision is a pure function of the event: repeated events are answered from a
        bounded memo and only new ones are posted to durable-rules, together in one batch.
        """
        for event in events:  # before the memo: 0 == False and 1 == True would share its keys
            _check_types(event)
        if MEMO.project:  # only what some rule of that message type reads can change its decision: drop the rest
            events = [{k: v for k, v in event.items() if k in self._reads[event["t"]]} for event in events]
        if not MEMO.enabled:
            return self._post(events)
        keys = [tuple(sorted(event.items())) for event in events]
        with _LOCK:
            missing = list(dict.fromkeys(k for k in keys if k not in self._memo))
            if missing:
                if len(self._memo) + len(missing) > MEMO.size:
                    self._memo.clear()
                self._memo.update(zip(missing, self._post([dict(k) for k in missing])))
            return [self._memo[k] for k in keys]

    def _post(self, events: list[dict]) -> list[Decision]:
        """Post events (each gets a `rid`) in one batch to durable-rules."""
        if not events:
            return []  # durable-rules' post_batch segfaults on an empty batch
        messages = [dict(event, rid=i) for i, event in enumerate(events)]
        with _LOCK:
            self._sink.clear()
            self._errors.clear()
            _host().post_batch(self.name, messages)
            fired = list(self._sink)
            errors = list(self._errors)
        if errors:
            raise EngineError("; ".join(errors))
        found = dict(fired)
        if len(fired) != len(found):  # an event consumed twice would be paid twice: never guess which
            raise EngineError(f"{self.name}: an event got more than one decision: {fired}")
        if len(found) != len(messages):
            raise EngineError(f"{self.name}: {len(messages) - len(found)} event(s) got no decision")
        return [found[i] for i in range(len(messages))]


def _attributes_read(conditions: dict[str, dict]) -> dict[str, set]:
    """For each message type, every attribute some rule's condition reads (always including `t`)."""
    reads: dict[str, set] = {}
    for condition in conditions.values():
        names = _names_in(condition)
        message_type = _message_type(condition)
        reads.setdefault(message_type, {"t"}).update(names)
    return reads


def _names_in(condition) -> set:
    if isinstance(condition, list):
        return set().union(*(_names_in(c) for c in condition)) if condition else set()
    names = set()
    for key, value in condition.items():
        if key.startswith("$"):
            names |= _names_in(value)
        else:
            names.add(key)
    return names


def _message_type(condition: dict) -> str:
    if "t" in condition:
        return condition["t"]
    return next(c["t"] for c in condition["$and"] if "t" in c)


def _check_types(event: dict) -> None:
    """Refuse a dimension value the vocabulary does not have, or has with another type (2.0, "2", True)."""
    for key, value in event.items():
        allowed = _TYPED_VALUES.get(key)
        if allowed is None:
            if key.startswith(_LIST_FLAGS) and type(value) is not bool:
                raise EngineError(f"{key}={value!r} is not a yes/no; the rules would compare it loosely")
            if key in _NAMES and type(value) is not str:  # ids of the scheme's own lists and liabilities
                raise EngineError(f"{key}={value!r} is not an id; the rules would compare it loosely")
            continue
        try:
            known = (type(value), value) in allowed
        except TypeError:  # unhashable, e.g. a list
            known = False
        if not known:
            raise EngineError(f"{key}={value!r} is not a value of the vocabulary; the rules would compare it loosely")


def _route_condition(layer_id: str, liability, row) -> dict:
    """A cost kind's part goes to the liability that pays that kind; an item to the liability it is offered to
    (one event per liability whose lists hold it), if one of its lists holds it; then care, then the rest."""
    what = ([{"covers": liability.covers}] if liability.covers is not None
            else [{"candidate": liability.id}, *OneOf("list", liability.lists).compile()])
    return _all({"t": "part"}, {"layer": layer_id}, *what, *OneOf("care", liability.care).compile(),
                *liability.when.compile(), *row.when.compile())


def once_per_version(cache: dict, version: Version, build):
    """`build(version)`, built once per process per content hash: a ruleset can never be replaced."""
    with _LOCK:
        built = cache.get(version.ruleset_name)
        if built is None:
            built = cache[version.ruleset_name] = build(version)
        return built


def compiled(version: Version) -> CompiledRules:
    """The compiled ruleset of a version; compiled once per process per content hash."""
    return once_per_version(_COMPILED, version, CompiledRules)
