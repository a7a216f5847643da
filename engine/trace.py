"""The trace: one line per step of a decision, naming the rule, the clause behind it and the amounts.

Regulators read it (as Chinese text, see `explain.trace_text`); tests assert on it.  With tracing
off, `Trace.add` is a no-op, so the hot path pays nothing for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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
    citations: tuple = ()  # the passages behind `clause` (citations.Citation), for readers that name documents

    def as_dict(self) -> dict:
        # written out: dataclasses.asdict deep-copies every field and dominated the cost of a traced claim
        out = {"step": self.step, "rule": self.rule, "clause": self.clause, "assumed": self.assumed, "text": self.text}
        for key in ("layer", "liability", "amount_fen", "result_fen"):
            value = getattr(self, key)
            if value not in ("", None):
                out[key] = value
        if self.citations:
            out["sources"] = [citation.as_dict() for citation in self.citations]
        return out


class Trace:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.steps: list[Step] = []

    def add(self, step: str, rule: str, prov: Provenance | None, text: str | Callable[[], str], **amounts) -> None:
        """Record a step; `text` may be a function, called only when tracing is on (formatting costs)."""
        if not self.enabled:
            return
        clause, assumed = (prov.ref(), prov.is_assumption) if prov else ("", False)
        self.steps.append(Step(step, rule, clause, assumed, text() if callable(text) else text, **amounts,
                               citations=prov.source or () if prov else ()))

    def as_list(self) -> list[dict]:
        return [s.as_dict() for s in self.steps]
