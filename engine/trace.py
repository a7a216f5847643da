"""The trace: one line per step of a decision, naming the rule, the clause behind it and the amounts.

Regulators read it (as Chinese text, see `explain.trace_text`); tests assert on it.  With tracing
off, `Trace.add` is a no-op, so the hot path pays nothing for it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .model import Provenance


@dataclass(frozen=True)
class Step:
    step: str  # eligibility | band | subsidy | route | deductible | ratio | segment | cap | paid | ...
    rule: str  # the durable rule that decided, or the engine step that computed
    clause: str  # source reference, or "假设：…" for an assumed value
    assumed: bool
    text: str  # the step in plain Chinese
    layer: str = ""
    liability: str = ""
    amount_fen: int | None = None  # what the step started from
    result_fen: int | None = None  # what it produced

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}


class Trace:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.steps: list[Step] = []

    def add(self, step: str, rule: str, prov: Provenance | None, text: str, **amounts) -> None:
        if not self.enabled:
            return
        clause, assumed = (prov.ref(), prov.is_assumption) if prov else ("", False)
        self.steps.append(Step(step, rule, clause, assumed, text, **amounts))

    def as_list(self) -> list[dict]:
        return [s.as_dict() for s in self.steps]
