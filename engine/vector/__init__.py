"""The vectorised path: a whole portfolio of claims settled with NumPy, equal to the rules path to the fen.

    plan = compile_version(version)            # raises Unsupported (with the reason) → use the rules path
    batch = batch_from_claims(settlement_order(claims), plan.age_reference)
    settled = plan.adjudicate(batch)           # BatchSettlement: columns of fen, claim by claim
    settled = settle_apart(version, claims)    # each claim on its own (profiles, benefit curves)

`tests/test_vectorised.py` checks it against `evaluate.adjudicate` claim by claim; `bench/portfolio.py`
measures it.
"""
from __future__ import annotations

import numpy as np

from ..inputs import Claim
from ..model import Version
from .adjudicate import OUTCOMES, BatchPremiums, BatchSettlement, VectorVersion
from .columns import ClaimBatch, MemberBatch, batch_from_claims, members_from_persons, settlement_order
from .fen import Unsupported

_COMPILED: dict[str, VectorVersion] = {}


def compile_version(version: Version) -> VectorVersion:
    """A version compiled for arrays, once per content hash; Unsupported says why it cannot be."""
    plan = _COMPILED.get(version.ruleset_name)
    if plan is None:
        plan = _COMPILED[version.ruleset_name] = VectorVersion(version)
    return plan


def settle_apart(version: Version, claims: list[Claim]) -> BatchSettlement:
    """Each claim on its own, with fresh accumulators (a standard profile, a point of a benefit curve), in the
    order given; Unsupported (with the reason) → use the rules path."""
    plan = compile_version(version)
    batch = batch_from_claims(claims, plan.age_reference)
    batch.member = np.arange(len(batch))  # every claim its own member: nothing accumulates from one to the next
    return plan.adjudicate(batch)


__all__ = ["OUTCOMES", "BatchPremiums", "BatchSettlement", "ClaimBatch", "MemberBatch", "Unsupported",
           "VectorVersion", "batch_from_claims", "compile_version", "members_from_persons", "settle_apart",
           "settlement_order"]
