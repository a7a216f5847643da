"""`hmb backtest --chart`: the payout distribution and the claims ratio by band, as a PNG that is drawn (its size,
not blank, in colour) or an HTML page whose inline SVG and tables carry the report's text; no CJK font: a clear
error, exit 1."""
from __future__ import annotations

import html
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from PIL import Image

from engine import backtest_charts
from engine.backtest_charts import DPI, SIZE, payout_labels
from engine.cli import main
from engine.money import format_yuan, percent

pytestmark = pytest.mark.skipif(backtest_charts.cjk_font() is None, reason="no CJK font (apt-get install fonts-noto-cjk)")
ARGS = ["backtest", "products/ganzhou.yaml", "--year", "2024", "--population", "populations/zaozhuang.yaml",
        "--residents", "20000", "--json"]


def run(*extra) -> tuple[int, dict]:
    result = CliRunner().invoke(main, [*ARGS, *extra])
    return result.exit_code, json.loads(result.output)


def test_png_is_drawn(tmp_path):
    path = tmp_path / "backtest.png"
    code, report = run("--chart", str(path))
    assert code == 0
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (SIZE[0] * DPI, SIZE[1] * DPI)
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, bars, lines: not one flat colour
    bar_blue = (0x0b, 0x5c, 0xad)
    assert sum(n for n, c in colours if c == bar_blue) > 2000  # the bars are there
    assert report["premium"]["by_band"] and report["minimum_claims_ratio"]


def test_html_carries_the_figures_as_text(tmp_path):
    path = tmp_path / "backtest.html"
    code, report = run("--chart", str(path))
    assert code == 0
    page = path.read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and "单笔赔付的分布" in page and "各档位赔付率" in page
    assert f"最低赔付率 {percent(Decimal(report['minimum_claims_ratio']['ratio']))}" in page  # drawn and labelled
    for band in report["premium"]["by_band"].values():
        assert band["name"] in page and format_yuan(band["paid_fen"]) in page
    for label, bucket in zip(payout_labels(report["payouts"]["buckets"]), report["payouts"]["buckets"]):
        assert f"<td>{html.escape(label)}</td><td>{bucket['claims']:,}</td>" in page


def test_no_cjk_font_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(backtest_charts, "cjk_font", lambda: None)
    path = tmp_path / "backtest.png"
    code, output = run("--chart", str(path))
    assert code == 1 and not path.exists()
    assert "fonts-noto-cjk" in output["errors"][0]["message"]
    result = CliRunner().invoke(main, [*ARGS, "--chart", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2
