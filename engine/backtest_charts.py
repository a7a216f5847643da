"""Charts of a backtest report: the distribution of single payouts and the claims ratio of each premium band.

Drawn once with Matplotlib (no pyplot state: a `Figure` on the Agg canvas) and written as PNG, or as an HTML page
with the same drawing inline as SVG (its text kept as text, so it can be searched and read aloud).  The labels
are Chinese, so a CJK font must be on the machine (Debian's fonts-noto-cjk, which scripts/services installs);
without one a chart is refused with a clear error rather than drawn with empty boxes.

The figures are the report's, amounts in integer fen; floats appear only as bar heights on the page.
"""
from __future__ import annotations

import html
import io
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from .money import format_yuan, percent

SIZE, DPI = (12, 5), 100  # inches; the PNG is 1200 × 500 pixels
BAR, LINE, MINIMUM = "#0b5cad", "#e07b00", "#c92a2a"
_CJK_FILES = ("NotoSansCJK", "NotoSerifCJK", "SourceHanSans", "wqy-zenhei", "wqy-microhei", "DroidSansFallback")


class ChartError(Exception):
    """The chart cannot be drawn as asked (no CJK font, an unknown file type)."""


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of a CJK font Matplotlib can use, or None."""
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if "CJK SC" in entry.name:
            return entry.name
    for path in font_manager.findSystemFonts():  # installed after Matplotlib built its font cache
        if any(name in Path(path).name for name in _CJK_FILES):
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
    return None


def short_yuan(yuan: int) -> str:
    """5000 → '5,000', 50000 → '5万', 125000 → '12.5万': bounds short enough to sit side by side under bars."""
    if yuan < 10_000:
        return f"{yuan:,}"
    return f"{format((Decimal(yuan) / 10_000).normalize(), 'f')}万"


def payout_labels(buckets: list[dict]) -> list[str]:
    """'< 100', '100–500', …, '30万–50万', '≥ 50万': each band of single payouts (yuan) by its bounds."""
    bounds = [short_yuan(b["from_yuan"]) for b in buckets]
    labels = [f"{lo}–{hi}" if i else f"< {hi}" for i, (lo, hi) in enumerate(zip(bounds, bounds[1:]))]
    return [*labels, f"≥ {bounds[-1]}"]


def figure(report: dict):
    """The two charts side by side, as a Matplotlib Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    payouts, ratios = fig.subplots(1, 2, width_ratios=(3, 2))
    buckets = report["payouts"]["buckets"]
    payouts.bar(payout_labels(buckets), [b["claims"] for b in buckets], color=BAR)
    payouts.set_title("单笔赔付的分布")
    payouts.set_xlabel("单笔赔付（元）")
    payouts.set_yscale("log")  # heavy-tailed: a handful of very large payouts beside many small ones
    payouts.set_ylabel("赔付件数（对数刻度）")
    payouts.tick_params(axis="x", labelrotation=35, labelsize=8)
    bands = list(report["premium"]["by_band"].values())
    shares = [float(Decimal(b["claims_ratio"]) * 100) for b in bands]  # bar heights only
    ratios.bar([b["name"] for b in bands], shares, color=BAR)
    ratios.axhline(float(Decimal(report["claims"]["claims_ratio"]) * 100), color=LINE, linestyle="--",
                   label=f"总赔付率 {percent(Decimal(report['claims']['claims_ratio']))}")
    minimum = report.get("minimum_claims_ratio")
    if minimum:
        ratios.axhline(float(Decimal(minimum["ratio"]) * 100), color=MINIMUM, linestyle=":",
                       label=f"最低赔付率 {percent(Decimal(minimum['ratio']))}")
    ratios.set_title("各档位赔付率")
    ratios.set_ylabel("赔付率（%）")
    ratios.tick_params(axis="x", labelrotation=20, labelsize=8)
    ratios.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"{report['version']} · {report['population']} · 保费 {format_yuan(report['premium']['total_fen'])} 元 · "
                 f"赔付 {format_yuan(report['claims']['paid_fen'])} 元")
    return fig


def write_chart(report: dict, path: str | Path) -> None:
    """PNG or HTML (inline SVG) by the file's suffix."""
    import matplotlib

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".html"):
        raise ChartError("图表文件应以 .png 或 .html 结尾")
    font = cjk_font()
    if font is None:
        raise ChartError("没有可用的中文字体，无法画图：请安装 fonts-noto-cjk（Debian：apt-get install fonts-noto-cjk）")
    with matplotlib.rc_context({"font.family": [font], "svg.fonttype": "none", "axes.unicode_minus": False}):
        fig = figure(report)
        if suffix == ".png":
            fig.savefig(path, format="png")
            return
        svg = io.StringIO()
        fig.savefig(svg, format="svg")
    path.write_text(html_page(report, svg.getvalue()), encoding="utf-8")


def html_page(report: dict, svg: str) -> str:
    """A standalone page: a heading, the charts inline, the figures behind them as tables."""
    drawing = svg[svg.index("<svg"):]  # without the XML declaration and doctype
    title = html.escape(f"{report['version']} 回测：{report['population']}")
    payouts = "".join(f"<tr><td>{html.escape(label)}</td><td>{b['claims']:,}</td></tr>"
                      for label, b in zip(payout_labels(report["payouts"]["buckets"]), report["payouts"]["buckets"]))
    bands = "".join(f"<tr><td>{html.escape(b['name'])}</td><td>{format_yuan(b['premium_fen'])}</td>"
                    f"<td>{format_yuan(b['paid_fen'])}</td><td>{percent(Decimal(b['claims_ratio']))}</td></tr>"
                    for b in report["premium"]["by_band"].values())
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:"Noto Sans CJK SC",sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}td:first-child{{text-align:left}}svg{{max-width:100%;height:auto}}</style>
</head><body>
<h1>{title}</h1>
<p>赔付率 {percent(Decimal(report['claims']['claims_ratio']))}，理赔 {report['claims']['count']:,} 件，
获赔 {report['members_paid']['members']:,} 人</p>
{drawing}
<h2>单笔赔付的分布</h2>
<table><tr><th>单笔赔付（元）</th><th>件数</th></tr>{payouts}</table>
<h2>各档位赔付率</h2>
<table><tr><th>档位</th><th>保费（元）</th><th>赔付（元）</th><th>赔付率</th></tr>{bands}</table>
</body></html>
"""
