"""Integer-fen arithmetic on arrays, equal to `engine.money` to the fen.

A ratio is a Decimal with a few decimal places, so amount × ratio is an exact fraction
amount × numerator / 10^k: the rounding `money.round_fen` does with Decimal is done here on the
integer numerator with `//` and `%`, which is exact (no float ever touches an amount).
"""
from __future__ import annotations

from decimal import Decimal

import numpy as np

# Products of an amount and a numerator stay below this, so int64 arithmetic is exact; a batch whose
# amounts could exceed it is refused (the caller falls back to the rules path).
INT64_SAFE = 2**62


class Unsupported(Exception):
    """The vectorised path cannot settle this version or batch exactly; use the rules path."""


def fraction(ratio: Decimal) -> tuple[int, int]:
    """Decimal('0.675') → (675, 1000): numerator over a power of ten."""
    sign, digits, exponent = ratio.as_tuple()
    if sign or not isinstance(exponent, int):
        raise Unsupported(f"比例 {ratio} 不是有限的非负数")
    numerator = int("".join(map(str, digits)) or "0")
    if exponent >= 0:
        return numerator * 10**exponent, 1
    return numerator, 10**-exponent


def scale_to(ratio: Decimal, denominator: int) -> int:
    """The numerator of a ratio over a common denominator (a power of ten at least its own)."""
    numerator, own = fraction(ratio)
    return numerator * (denominator // own)


def common_denominator(ratios) -> int:
    return max((fraction(r)[1] for r in ratios), default=1)


def round_div(exact: np.ndarray, denominator: int, rounding: str) -> np.ndarray:
    """exact / denominator rounded to a whole fen by the declared rule; exact is a non-negative int64 array.

    Half-up is one floor division: with exact = q·d + r, (exact + ⌊d/2⌋) // d is q + 1 exactly when
    r ≥ d − ⌊d/2⌋, i.e. when 2r ≥ d."""
    if denominator == 1:
        return exact
    if rounding == "down":
        return exact // denominator
    if rounding == "half_up":
        return (exact + denominator // 2) // denominator
    if rounding == "half_even":
        quotient, remainder = np.divmod(exact, denominator)
        twice = 2 * remainder
        return quotient + ((twice > denominator) | ((twice == denominator) & (quotient % 2 == 1)))
    raise Unsupported(f"舍入规则 {rounding!r}")


def apply_ratio(fen: np.ndarray, ratio: Decimal, rounding: str) -> np.ndarray:
    """money.apply_ratio on every element."""
    numerator, denominator = fraction(ratio)
    return round_div(fen * numerator, denominator, rounding)


def split_by_shares(fen: np.ndarray, shares: list[Decimal]) -> np.ndarray:
    """money.split_by_shares on every element: one column per share, the first takes the rest."""
    rest = [apply_ratio(fen, share, "down") for share in shares[1:]]
    lead = fen - sum(rest, np.zeros_like(fen))
    return np.stack([lead, *rest], axis=1)


def member_pieces(member: np.ndarray, size: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive pieces of about `size` claims, each cut where a new member begins."""
    n = len(member)
    starts = np.flatnonzero(np.r_[True, member[1:] != member[:-1]]) if n else np.zeros(0, np.int64)
    cuts = np.unique(starts[np.minimum(np.searchsorted(starts, np.arange(0, n, max(size, 1))), len(starts) - 1)])
    bounds = [*cuts.tolist(), n] if n else [0, 0]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo] or [(0, n)]


class Members:
    """Running sums within each member's claims (the batch is sorted by member, then date, then claim)."""

    def __init__(self, member: np.ndarray):
        n = len(member)
        self.member = member
        changes = np.flatnonzero(member[1:] != member[:-1]) + 1
        self.starts = np.concatenate([[0], changes]) if n else changes
        self.counts = np.diff(self.starts, append=n)  # claims of each member

    def __len__(self) -> int:
        return len(self.member)

    def most_claims(self) -> int:
        """The most claims one member has."""
        return int(self.counts.max(initial=0))

    def before(self, values: np.ndarray) -> np.ndarray:
        """For each claim, the sum of the values of the same member's earlier claims: the running sum less
        what it was at the member's first claim."""
        earlier = np.cumsum(values)
        earlier -= values
        return earlier - np.repeat(earlier[self.starts], self.counts)

    def used_before(self, values: np.ndarray, limit: int) -> np.ndarray:
        """How much of an annual pool (deductible or cap) earlier claims used: min(limit, their sum).

        A pool fills by min(amount, what is left) step after step, which is the running sum saturated
        at the limit, so it needs no loop."""
        return np.minimum(self.before(values), limit)
