"""The member's timeline: decisions that depend on dated history, made by durable-rules over facts and events.

A member's history — birth, enrolment (new or renewal), basic insurance in arrears and its restoration after
back-payment — is asserted as facts, joined on the member; the claim is posted as an event.  The rules say
whether the claim date lies in the member's covered time: not before birth, not before enrolment, not while
benefits are suspended for arrears, not in the waiting period (unless exempt).  Each rule names the facts it
matched, so the trace can say which event decided, and on which date.

Why facts here and nowhere else (docs/engine.md, "Facts and events"): these decisions are not a function of
the claim alone.  So this ruleset is separate from `rules.CompiledRules` (whose memo assumes pure events), is
compiled once per version (`timeline:<ruleset name>`), and each decision asserts the member's facts under a
member key of its own, posts the claim and retracts the facts again: nothing is left in the session.
Days are ISO dates as ordinals, computed in Python (the engine's arithmetic is loose); the rules only compare.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

from .inputs import Claim
from .issues import InputError, Issue
from .model import Provenance, Version
from .rules import CATCH_ALL_PRIORITY, EngineError, _LOCK, _host, once_per_version

_OPEN = date.max.toordinal()  # an arrears episode not (yet) restored
_KEYS = itertools.count()


@dataclass(frozen=True)
class Matched:
    """A fact a timeline rule matched: what it is and its date."""
    type: str  # born | enrolled | arrears
    date: str
    until: str = ""  # arrears: the restoration date, if any

    def describe(self) -> str:
        if self.type == "born":
            return f"{self.date} 出生"
        if self.type == "enrolled":
            return f"{self.date} 参保"
        return f"{self.date} 起基本医保欠费" + (f"，{self.until} 补缴后恢复待遇" if self.until else "，尚未恢复")


@dataclass(frozen=True)
class TimelineDecision:
    rule: str  # the durable rule that fired
    outcome: str  # eligible | suspended | not_covered
    reason: str  # plain Chinese, naming the matched events and their dates
    prov: Provenance
    matched: tuple[Matched, ...]


# rule → (priority, outcome, the facts it joins besides the claim, why in Chinese); `{…}` names a fact's date
_RULES = {
    "timeline.before_birth": (1, "not_covered", ("born",), "就诊日期早于出生日期（{born}）"),
    "timeline.before_enrolment": (2, "not_covered", ("enrolled",), "就诊日期早于参保日期（{enrolled}）"),
    "timeline.suspended": (3, "suspended", ("arrears",), "基本医保欠费期间暂停享受待遇（{arrears}）"),
    "timeline.waiting.exempt_renewal": (4, "eligible", ("enrolled",), "续保人员不设等待期（{enrolled}）"),
    "timeline.waiting.exempt_accident": (5, "eligible", ("enrolled",), "意外伤害不设等待期（{enrolled}）"),
    "timeline.waiting.exempt_newborn": (6, "eligible", ("enrolled", "born"), "新生儿不设等待期（{born}，{enrolled}）"),
    "timeline.waiting": (7, "not_covered", ("enrolled",), "在等待期内（{enrolled}，等待期 {days} 天）"),
    "timeline.restored": (8, "eligible", ("arrears",), "补缴后已恢复待遇（{arrears}）"),
    "timeline.covered": (9, "eligible", ("enrolled",), "在保障期间内（{enrolled}）"),
}


class TimelineRules:
    """One version's timeline ruleset, registered once in the process-wide host."""

    def __init__(self, version: Version):
        self.name = f"timeline:{version.ruleset_name}"
        self.version = version
        self._fired: list[tuple[str, dict]] = []
        self._errors: list[str] = []
        self.rules = self._rules(version)
        # only facts some rule reads may be asserted: any other raises MessageNotHandledException
        self.fact_types = {fact for name in self.rules for fact in _RULES[name][2]}
        _host().set_rulesets({self.name: self._ruleset()})

    def _rules(self, version: Version) -> dict[str, list[dict]]:
        """Rule → its join: a condition per fact, then the claim's, each a list of one-operator dicts."""
        def claim(fact: str, *tests: dict) -> dict:
            return {"clm": {"$and": [{"t": "claim"}, {"member": {fact: "member"}}, *tests]}}

        enrolled = {"enrolled": {"t": "enrolled"}}
        rules = {
            "timeline.before_birth": [{"born": {"t": "born"}}, claim("born", {"$lt": {"day": {"born": "day"}}})],
            "timeline.before_enrolment": [enrolled, claim("enrolled", {"$lt": {"day": {"enrolled": "day"}}})],
        }
        if version.suspend_when_basic_in_arrears:
            rules["timeline.suspended"] = [{"arrears": {"t": "arrears"}},
                                           claim("arrears", {"$gte": {"day": {"arrears": "day"}}},
                                                 {"$lt": {"day": {"arrears": "until"}}})]
            rules["timeline.restored"] = [{"arrears": {"t": "arrears"}},
                                          claim("arrears", {"$gte": {"day": {"arrears": "until"}}})]
        waiting = version.waiting_period
        if waiting and waiting.days:
            in_waiting = {"$lt": {"day": {"enrolled": "waits_until"}}}
            if "renewal" in waiting.exempt:
                rules["timeline.waiting.exempt_renewal"] = [
                    {"enrolled": {"$and": [{"t": "enrolled"}, {"renewal": True}]}}, claim("enrolled", in_waiting)]
            if "accident" in waiting.exempt:
                rules["timeline.waiting.exempt_accident"] = [enrolled, claim("enrolled", in_waiting, {"accident": True})]
            if "newborn" in waiting.exempt:  # born on or after the version's enrolment opened: a baby of this year
                rules["timeline.waiting.exempt_newborn"] = [
                    enrolled, {"born": {"$and": [{"t": "born"}, {"member": {"enrolled": "member"}},
                                                 {"$gte": {"day": _day(version.enrolment[0])}}]}},
                    claim("enrolled", in_waiting)]
            rules["timeline.waiting"] = [enrolled, claim("enrolled", in_waiting)]
        rules["timeline.covered"] = [enrolled, claim("enrolled")]
        return rules

    def _ruleset(self) -> dict:
        """Fresh dicts every time (durable-rules deletes `run` from what it is given)."""
        ruleset = {name: {"all": join, "pri": _RULES[name][0], "run": self._action(name, _RULES[name][2])}
                   for name, join in self.rules.items()}
        ruleset["timeline.otherwise"] = {"all": [{"clm": {"t": "claim"}}], "pri": CATCH_ALL_PRIORITY,
                                         "run": self._action("timeline.otherwise", ())}
        return ruleset

    def _action(self, rule: str, facts: tuple[str, ...]):
        fired, errors = self._fired, self._errors

        def run(c):  # durable swallows exceptions into session state: record them ourselves
            try:
                fired.append((rule, {name: dict(getattr(c, name).items()) for name in facts}))
            except Exception as exc:  # noqa: BLE001 - reported by decide()
                errors.append(f"{rule}: {exc!r}")

        return run

    def decide(self, claim: Claim) -> TimelineDecision:
        member = f"{claim.member.id}#{next(_KEYS)}"  # a key of its own: no fact of another decision can join
        facts = [f for f in _facts(claim, self.version, member) if f["t"] in self.fact_types]
        event = {"t": "claim", "member": member, "day": _day(claim.date), "accident": claim.accident}
        with _LOCK:
            self._fired.clear()
            self._errors.clear()
            host = _host()
            for fact in facts:
                host.assert_fact(self.name, fact)
            try:
                host.post(self.name, event)
            finally:
                for fact in facts:
                    host.retract_fact(self.name, fact)
            fired, errors = list(self._fired), list(self._errors)
        if errors:
            raise EngineError("; ".join(errors))
        if len(fired) != 1:  # a claim decided twice, or not at all, is never guessed at
            raise EngineError(f"{self.name}: claim {claim.claim_id} got {len(fired)} timeline decisions: {fired}")
        return self._read(*fired[0])

    def _read(self, rule: str, items: dict) -> TimelineDecision:
        if rule == "timeline.otherwise":
            return TimelineDecision(rule, "eligible", "未提供参保记录，按保险期间判断", Provenance(), ())
        _, outcome, _, why = _RULES[rule]
        matched = tuple(_matched(name, items[name]) for name in _RULES[rule][2])
        waiting = self.version.waiting_period
        reason = why.format(**{m.type: m.describe() for m in matched}, days=waiting.days if waiting else 0)
        return TimelineDecision(rule, outcome, reason, self._prov(rule), matched)

    def _prov(self, rule: str) -> Provenance:
        if rule.startswith("timeline.waiting"):
            return self.version.waiting_period.prov
        if rule in ("timeline.suspended", "timeline.restored"):
            return self.version.eligibility_prov
        return self.version.section_prov("period")


def _day(iso: str) -> int:
    return date.fromisoformat(iso).toordinal()


def _iso(day: int) -> str:
    return date.fromordinal(day).isoformat()


def _matched(name: str, fact: dict) -> Matched:
    until = fact.get("until", _OPEN)
    return Matched(name, _iso(fact["day"]), _iso(until) if name == "arrears" and until != _OPEN else "")


def _facts(claim: Claim, version: Version, member: str) -> list[dict]:
    """The member's history as facts: birth, the enrolment for this version, and each arrears episode with
    the date it was restored (an episode runs from the first day in arrears to the restoration, exclusive)."""
    person = claim.member
    facts = []
    if person.birth_date:
        facts.append({"t": "born", "member": member, "day": _day(person.birth_date)})
    enrolments = [e for e in person.events if e.type == "enrolled" and e.date <= version.period[1]]
    if enrolments:  # the latest one on or before the period's end is this policy year's
        latest = enrolments[-1]
        days = version.waiting_period.days if version.waiting_period else 0
        facts.append({"t": "enrolled", "member": member, "day": _day(latest.date), "renewal": latest.renewal,
                      "waits_until": _day(latest.date) + days})
    facts += [{"t": "arrears", "member": member, "day": start, "until": until}
              for start, until in _arrears_episodes(claim)]
    return facts


def _arrears_episodes(claim: Claim) -> list[tuple[int, int]]:
    """(first day in arrears, day restored or open) for each episode; a restoration needs arrears before it."""
    episodes, open_since = [], None
    for i, event in enumerate(claim.member.events):
        if event.type == "basic_arrears" and open_since is None:
            open_since = _day(event.date)
        elif event.type == "restored":
            if open_since is None:
                raise InputError([Issue("claim.member.events", f"{event.date} 补缴恢复待遇，但此前没有基本医保欠费记录"
                                        "（type: basic_arrears）", ("member", "events"))])
            episodes.append((open_since, _day(event.date)))
            open_since = None
    if open_since is not None:
        episodes.append((open_since, _OPEN))
    return episodes


_COMPILED: dict[str, TimelineRules] = {}


def compiled(version: Version) -> TimelineRules:
    """A version's timeline ruleset, compiled once per process per content hash."""
    return once_per_version(_COMPILED, version, TimelineRules)


def has_history(claim: Claim) -> bool:
    """Whether a claim has any history the timeline could decide on."""
    return bool(claim.member.birth_date or claim.member.events)

