"""Annual accumulators: how much of each pool a member has used in one policy year, under a typed key.

Adjudication reads them and returns them updated (`evaluate.adjudicate`); a file of claims or a golden
case carries them from claim to claim in memory (`settle.settle_in_order`); the ledger keeps them in a
database, one row per key (`ledger.py`).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PoolKind(StrEnum):
    DEDUCTIBLE = "deductible"  # the part of a deductible pool already met
    CAP = "cap"  # the part of a cap pool already paid
    EXPENSE = "expense"  # a liability's cumulative expense: where its progressive segments start


@dataclass(frozen=True, order=True)
class PoolKey:
    """One annual pool of one member under one version of a product (a policy year)."""

    member: str
    version: str  # "product@version"
    layer: str  # the payment-chain layer whose pool it is ("scheme" for the scheme itself)
    kind: PoolKind
    pool: str  # the pool's id; for EXPENSE, the liability's

    def as_dict(self) -> dict:
        return {"member": self.member, "version": self.version, "layer": self.layer, "kind": self.kind.value,
                "pool": self.pool}


Accumulators = dict[PoolKey, int]  # key → fen used this policy year


def accumulators_as_list(accumulators: Accumulators) -> list[dict]:
    """JSON-ready, in key order: [{member, version, layer, kind, pool, fen}, …]."""
    return [{**key.as_dict(), "fen": fen} for key, fen in sorted(accumulators.items())]
