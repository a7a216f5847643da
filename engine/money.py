"""Money: integer fen everywhere, and the one place where rounding happens.

Amounts enter as yuan (YAML numbers or claim JSON, up to two decimals) and become
integer fen on load.  Ratios are `Decimal`.  The only operation that can produce a
fraction of a fen is a ratio applied to an amount, and it rounds here, by the rule the
scheme version declares (`settlement.rounding`).
"""
from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

ROUNDING_RULES = {
    "half_up": ROUND_HALF_UP,      # 四舍五入 (the default in Chinese claim settlement)
    "half_even": ROUND_HALF_EVEN,  # banker's rounding
    "down": ROUND_DOWN,            # truncate toward zero: never pay a fraction of a fen
}
DEFAULT_ROUNDING = "half_up"
# No amount in a scheme or on a bill comes near this; it keeps fen inside 64-bit database integers and
# within exact Decimal arithmetic (28 significant digits).
MAX_YUAN = 1_000_000_000


class MoneyError(ValueError):
    """An amount that is not a whole number of fen."""


def yuan_to_fen(value: object) -> int:
    """Convert a yuan amount (int, Decimal or numeric string; never float) to integer fen."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(f"金额必须是精确数值，不能是浮点数: {value!r}")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"不是金额: {value!r}") from exc
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise MoneyError(f"金额最多两位小数（到分）: {value}")
    return int(fen)


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def format_yuan(fen: int) -> str:
    """12345678 → '123,456.78'."""
    return f"{fen_to_yuan(fen):,}"


def round_fen(exact: Decimal, rounding: str = DEFAULT_ROUNDING) -> int:
    """The one rounding point: an exact amount in fen → a whole fen, by the declared rule."""
    return int(exact.quantize(Decimal(1), rounding=ROUNDING_RULES[rounding]))


def apply_ratio(fen: int, ratio: Decimal, rounding: str = DEFAULT_ROUNDING) -> int:
    """fen × ratio, rounded to a whole fen by the declared rule."""
    return round_fen(Decimal(fen) * ratio, rounding)


def split_by_shares(fen: int, shares: list[Decimal]) -> list[int]:
    """Split an amount by shares summing to 1: the parts sum exactly to the amount, none is negative.

    Every share after the first rounds down and the first (the lead insurer) takes the rest, the
    tail difference.  Rounding each share half-up instead could overshoot: eight co-insurers at 10 %
    of 5 fen would each get 1 fen and leave the lead −3.
    """
    rest = [apply_ratio(fen, share, "down") for share in shares[1:]]
    return [fen - sum(rest), *rest] if shares else []


def percent(ratio: Decimal) -> str:
    """Decimal('0.8') → '80%'; Decimal('0.675') → '67.5%'."""
    text = format((ratio * 100).normalize(), "f")
    return f"{text}%"
