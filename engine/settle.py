"""Several claims settled one after another: each against what the earlier ones used of the year's pools.

The one loop for `hmb claim` on a file of claims, golden cases with several claims and anything else
that settles a sequence.  Where the accumulators live is the book's business: `InMemory` carries them
from claim to claim; `ledger.Ledger` keeps them in a database and pays each claim id once.
"""
from __future__ import annotations

from typing import Protocol, Sequence

from .accumulators import Accumulators
from .evaluate import adjudicate
from .inputs import Claim
from .model import Version


class Book(Protocol):
    def settle(self, claim: Claim, version: Version, trace: bool = True) -> tuple[dict, bool]:
        """(settlement as JSON-ready data, whether the claim had been settled before)."""


class InMemory:
    """Accumulators carried in memory, per member and policy year, for as long as the object lives."""

    def __init__(self) -> None:
        self._used: dict[tuple[str, str], Accumulators] = {}  # (member, version) → accumulators

    def accumulators(self, version: Version, member_id: str) -> Accumulators:
        return dict(self._used.get((member_id, version.key), {}))

    def settle(self, claim: Claim, version: Version, trace: bool = True) -> tuple[dict, bool]:
        scope = (claim.member.id, version.key)
        settled = adjudicate(claim, version, self._used.get(scope), trace=trace)
        self._used[scope] = settled.accumulators
        return settled.as_dict(), False


def settle_in_order(claims: Sequence[Claim], version: Version, book: Book | None = None,
                    trace: bool = True) -> list[tuple[dict, bool]]:
    """Settle claims in date order (claims of the same day in the order given), each after the earlier ones;
    the results come back in the order of `claims`."""
    book = book or InMemory()
    results: list = [None] * len(claims)
    for i in sorted(range(len(claims)), key=lambda i: claims[i].date):
        results[i] = book.settle(claims[i], version, trace)
    return results
