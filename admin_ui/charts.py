"""Chart geometry for inline SVG: computed here from integer fen, drawn by the macros in _charts.html.

No chart library: the admin runs offline under a CSP that allows only its own files, and a server-drawn
SVG prints, scales and needs no script. Positions are Decimal pixels; amounts stay integer fen.
"""
from __future__ import annotations

from decimal import Decimal

PALETTE = ("#0b5cad", "#e07b00", "#2f9e44", "#9c36b5", "#c92a2a", "#1098ad", "#5c940d", "#d6336c")
DASHES = ("", "10 5", "3 4", "14 5 3 5")  # identical curves (same rules, two years) still show both lines
CHART_WIDTH, PLOT_LEFT, PLOT_RIGHT = 1100, 96, 1070
LEGEND_PER_ROW, LEGEND_ROW = 4, 24
YUAN, WAN = 100, 1_000_000  # fen in 1 元, in 1 万元


def nice_step(top: int, ticks: int, smallest: int) -> int:
    """The smallest 1-2-5 step (≥ smallest) that reaches `top` in at most `ticks` steps."""
    step = smallest
    while True:
        for multiple in (1, 2, 5):
            if multiple * step * ticks >= top:
                return multiple * step
        step *= 10


def scale(value: int, top: int, pixels: int) -> Decimal:
    return (Decimal(pixels) * value / top).quantize(Decimal("0.1"))


def number(fen: int, unit: int) -> str:
    """fen in a whole unit (1 万元, 1 元) without trailing zeros: 2500000 → '2.5' (万元)."""
    return format((Decimal(fen) / unit).normalize(), "f")


def bar_label(fen: int, unit: int) -> str:
    """A bar's value, short: 万元 to one decimal (145,306.99 元 → '14.5'), 元 to the fen without trailing zeros."""
    places = Decimal("0.1") if unit == WAN else Decimal("0.01")
    return format((Decimal(fen) / unit).quantize(places).normalize(), "f")


def legend(names: list[str]) -> list[dict]:
    """One entry per series: its colour, dash pattern and place above the plot."""
    return [{"name": name, "colour": PALETTE[i % len(PALETTE)], "dash": DASHES[i % len(DASHES)],
             "x": PLOT_LEFT + (i % LEGEND_PER_ROW) * 250, "y": 18 + (i // LEGEND_PER_ROW) * LEGEND_ROW}
            for i, name in enumerate(names)]


def plot_top(series: int) -> int:
    """Where the plot starts: below as many legend rows as the series need."""
    return 30 + LEGEND_ROW * ((series - 1) // LEGEND_PER_ROW + 1)


def unit_for(most_fen: int) -> int:
    """万元 for amounts that reach 10 万元, else 元: axis labels stay short."""
    return WAN if most_fen >= 10 * WAN else YUAN


def grouped_bars(series: list[tuple[str, str]], groups: list[dict], unit: int = YUAN, height: int = 240) -> dict:
    """Grouped bars: one group per item (`groups`: id, name, cells), one bar per series (`series`: key, name).

    Each cell is {"fen": int, "assumed": bool, "tooltip": str}; an assumed value is drawn pale and marked; a
    tooltip replaces the amount in yuan for values that are not money (claims counted, a ratio in basis points). Amounts are labelled in
    `unit` (YUAN or WAN); a negative amount is drawn as zero height (charts here show payouts and premiums).
    """
    names = [name for _key, name in series]
    width, top = PLOT_RIGHT - PLOT_LEFT, plot_top(len(series))
    most = max((c["fen"] for g in groups for c in g["cells"]), default=0) or unit
    step = nice_step(most, 5, unit)
    y_top = -(-most // step) * step
    group_width = Decimal(width) / max(len(groups), 1)
    bar = min(Decimal(40), (group_width - 24) / len(series)).quantize(Decimal("0.1"))
    colours, drawn = legend(names), []
    for g, group in enumerate(groups):
        first = PLOT_LEFT + group_width * g + (group_width - bar * len(series)) / 2
        bars = []
        for i, ((key, name), cell) in enumerate(zip(series, group["cells"])):
            tall = scale(max(cell["fen"], 0), y_top, height)
            bars.append({"x": (first + bar * i).quantize(Decimal("0.1")), "width": bar - 2, "y": top + height - tall,
                         "height": tall, "colour": colours[i]["colour"], "fen": cell["fen"],
                         "label": bar_label(cell["fen"], unit), "assumed": cell.get("assumed", False), "key": key,
                         "tooltip": cell.get("tooltip"),
                         "name": name, "centre": (first + bar * i + (bar - 2) / 2).quantize(Decimal("0.1"))})
        drawn.append({"id": group["id"], "name": group["name"], "bars": bars,
                      "centre": (PLOT_LEFT + group_width * g + group_width / 2).quantize(Decimal("0.1"))})
    return {"width": CHART_WIDTH, "height": top + height + 50, "left": PLOT_LEFT, "right": PLOT_RIGHT, "top": top,
            "bottom": top + height, "legend": colours, "groups": drawn, "unit": unit,
            "y_ticks": [{"at": top + height - scale(v, y_top, height), "label": number(v, unit)}
                        for v in range(0, y_top + 1, step)]}
