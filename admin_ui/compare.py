"""Compare versions side by side: parameters in one vocabulary, payouts on standard patient profiles, premiums
for standard persons, benefit curves — all computed by the engine (`engine.compare`), nothing recomputed here.

This module chooses the versions, keeps recent results (keyed by the versions' content hashes: the same
texts always give the same figures), runs a long comparison as a background job whose progress the page
polls (static/compare.js), lays out the two SVG charts and writes the Excel and CSV downloads.
Without JavaScript the form is a plain GET and the page computes while the browser waits.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from engine import Version
from engine.compare import comparison_steps, graded_bill_sizes
from engine.explain import ASSUMED_MARK
from engine.money import fen_to_yuan, format_yuan

from .auth import requires
from .charts import (CHART_WIDTH, PLOT_LEFT, PLOT_RIGHT, WAN, YUAN, grouped_bars, legend, nice_step, number,
                     plot_top, scale)
from .db import db
from .export import Flagged, Sheet, Share, Yuan, csv_response, xlsx_response
from .i18n import _
from .jobs import Job, jobs
from .models import SchemeVersion
from .services import check_stored, evaluate_stored

bp = Blueprint("compare", __name__)


# ── choosing versions ─────────────────────────────────────────────────────────────────────────

@dataclass(frozen=True)
class Column:
    """One compared version: its row's id, name and status (for links), the engine's Version and the row."""
    id: int
    name: str
    city: str
    status: str
    version: Version = field(repr=False)
    row: SchemeVersion = field(repr=False)

    @property
    def key(self) -> str:
        return self.version.key


def candidate_rows() -> list[SchemeVersion]:
    return list(db().scalars(select(SchemeVersion).where(SchemeVersion.content_hash.is_not(None))
                             .order_by(SchemeVersion.product_id, SchemeVersion.period_start)).all())


def requested_ids(values: list[str]) -> set[int]:
    return {int(v) for v in values if v.isdigit()}


def chosen_rows(rows: list[SchemeVersion], ids: set[int]) -> list[SchemeVersion]:
    """The versions asked for, in catalogue order; by default each product's latest published one."""
    if ids:
        return [r for r in rows if r.id in ids]
    latest: dict[str, SchemeVersion] = {}
    for row in rows:
        if row.status == "published":
            latest[row.product_id] = row  # ordered by period start: the last one wins
    return list(latest.values())


def columns_of(rows: list[SchemeVersion]) -> tuple[list[Column], list[SchemeVersion]]:
    """The rows as engine versions, and the rows that do not validate (a draft being edited)."""
    columns, broken = [], []
    for row in rows:
        version = check_stored(row).version
        if version is None:
            broken.append(row)
        else:
            columns.append(Column(row.id, f"{row.product.name} {row.version_id}", row.product.city, row.status,
                                  version, row))
    return columns, broken


# ── computing: cached, and in the background when the page asks ──────────────────────────────

_RESULTS: OrderedDict[tuple, dict] = OrderedDict()
_RESULTS_LOCK = threading.Lock()
RESULTS_KEPT = 32


def _result_key(columns: list[Column]) -> tuple:
    return tuple(c.version.content_hash for c in columns)


def cached(columns: list[Column]) -> dict | None:
    with _RESULTS_LOCK:
        result = _RESULTS.get(_result_key(columns))
        if result is not None:
            _RESULTS.move_to_end(_result_key(columns))
        return result


def comparison(columns: list[Column], progress=None) -> dict:
    """The engine's comparison of these versions (amounts in fen), from the cache when it has it."""
    result = cached(columns)
    if result is None:
        result = _compare(columns, progress)
        with _RESULTS_LOCK:
            _RESULTS[_result_key(columns)] = result
            while len(_RESULTS) > RESULTS_KEPT:
                _RESULTS.popitem(last=False)
    return result


def _compare(columns: list[Column], progress=None) -> dict:
    """engine.compare through services.evaluate_stored: in the sandbox's worker when a draft is among them."""
    first, *others = columns
    return evaluate_stored(first.row, "compare", {"others": [c.row for c in others]}, progress)


def start_job(columns: list[Column], page: str) -> Job | None:
    """The comparison in the background (engine.compare reports each evaluation); None when too many run."""
    total = comparison_steps(len(columns), len(graded_bill_sizes()))
    return jobs().start(current_user.id, total, lambda job: comparison(columns, job.progress), page, "compare")


# ── routes ────────────────────────────────────────────────────────────────────────────────────

def _selection() -> tuple[list[SchemeVersion], list[Column], list[SchemeVersion]]:
    rows = candidate_rows()
    columns, broken = columns_of(chosen_rows(rows, requested_ids(request.values.getlist("v"))))
    return rows, columns, broken


@bp.get("/compare")
@requires("view")
def index():
    rows, columns, broken = _selection()
    result = comparison(columns) if columns else None
    return render_template("compare.html", rows=rows, columns=columns, broken=broken, result=result,
                           chosen={c.id for c in columns}, ids=[c.id for c in columns],
                           curve=curve_chart(result, columns) if result else None,
                           zoom=curve_chart(result, columns, ZOOM_TOP, 260) if result else None,
                           premium=premium_chart(result, columns) if result else None,
                           mark=ASSUMED_MARK, percent=lambda ratio: f"{Decimal(ratio) * 100:.2f}%")


@bp.post("/compare/jobs")
@requires("view")
def start():
    """Start computing the comparison in the background (CSRF-checked like every POST); poll the answer's URL."""
    _, columns, _broken = _selection()
    page = url_for("compare.index", v=[c.id for c in columns])
    job = start_job(columns, page) if columns else None
    if job is None:  # nothing to compute, or too many jobs: the script goes to the plain page
        return jsonify({"finished": True, "done": 0, "total": 0, "error": "", "page": page}), 200
    return jsonify({**job.as_dict(), "poll": url_for("compare.job_status", job_id=job.id)}), 202


@bp.get("/compare/jobs/<job_id>")
@requires("view")
def job_status(job_id: str):
    job = jobs().get(job_id, current_user.id)
    if job is None:
        abort(404)
    return jsonify(job.as_dict())


@bp.get("/compare.csv")
@requires("view")
def csv_file():
    _, columns, _broken = _selection()
    return comparison_csv(columns, comparison(columns))


@bp.get("/compare.xlsx")
@requires("view")
def xlsx_file():
    _, columns, _broken = _selection()
    return comparison_xlsx(columns, comparison(columns))


# ── charts: geometry in admin_ui.charts, markup in _charts.html / compare.html ─────────────────

ZOOM_TOP = 20 * WAN  # the second curve chart: the first 200,000 yuan, where deductibles set the schemes apart


def curve_chart(result: dict, columns: list[Column], bill_top: int | None = None, height: int = 360) -> dict:
    """Payout against total self-pay, one polyline per version (up to `bill_top` fen of self-pay); axes in 万元.

    Versions with the same rules draw the same line: the earlier ones are drawn wider, so each still shows
    as a coloured edge under the later, thinner ones (and the dash patterns differ)."""
    keep = [i for i, b in enumerate(result["curves"]["bill_fen"]) if bill_top is None or b <= bill_top]
    bills = [result["curves"]["bill_fen"][i] for i in keep]
    curves = [[paid[i] for i in keep] for paid in result["curves"]["paid_fen"]]
    width, top = PLOT_RIGHT - PLOT_LEFT, plot_top(len(columns))
    highest = max(max(c) for c in curves) or 1
    x_step, y_step = nice_step(max(bills) or 1, 10, WAN // 10), nice_step(highest, 8, WAN // 10)
    x_top, y_top = -(-max(bills) // x_step) * x_step or x_step, -(-highest // y_step) * y_step
    x = lambda fen: PLOT_LEFT + scale(fen, x_top, width)  # noqa: E731
    y = lambda fen: top + height - scale(fen, y_top, height)  # noqa: E731
    lines, last = [], max(len(columns) - 1, 1)
    for i, (style, column, paid) in enumerate(zip(legend([c.name for c in columns]), columns, curves)):
        points = [{"x": x(b), "y": y(p), "bill_fen": b, "paid_fen": p} for b, p in zip(bills, paid)]
        lines.append({**style, "key": column.key, "points": points, "stroke": (2 + Decimal(3) * (last - i) / last).quantize(Decimal("0.1")),
                      "path": " ".join(f"{p['x']},{p['y']}" for p in points)})
    return {"width": CHART_WIDTH, "height": top + height + 64, "left": PLOT_LEFT, "right": PLOT_RIGHT,
            "top": top, "bottom": top + height, "legend": legend([c.name for c in columns]), "lines": lines,
            "x_ticks": [{"at": x(v), "label": number(v, WAN)} for v in range(0, x_top + 1, x_step)],
            "y_ticks": [{"at": y(v), "label": number(v, WAN)} for v in range(0, y_top + 1, y_step)],
            "x_top": number(x_top, WAN), "out_share": f"{Decimal(result['curves']['out_of_policy_share']) * 100:.0f}"}


def premium_chart(result: dict, columns: list[Column], height: int = 240) -> dict:
    """Grouped bars: one group per standard person, one bar per version; premiums in 元."""
    groups = [{"id": p["id"], "name": p["name"], "cells": [{"fen": c["premium_fen"], "assumed": c["assumed"]}
                                                         for c in p["cells"]]} for p in result["premiums"]]
    return grouped_bars([(c.key, c.name) for c in columns], groups, YUAN, height)


# ── exports: the same figures as the page, amounts in yuan from integer fen ──────────────────

def comparison_sheets(columns: list[Column], result: dict) -> list[Sheet]:
    names = [c.name for c in columns]
    parameters = Sheet(_("参数"), [_("参数"), *names], [
        [row["label"], *(Flagged(marked, "；".join(reasons)) if assumed else value
                         for value, marked, assumed, reasons in zip(row["values"], row["marked"], row["assumed"],
                                                                     row["reasons"]))]
        for row in result["parameters"]], widths={1: 16, **{i + 2: 36 for i in range(len(names))}})
    payouts = Sheet(_("标准病例赔付"), [
        _("标准病例"), _("目录内自付（元）"), _("目录外自付（元）"), _("自付合计（元）"),
        *(f"{name} {what}" for name in names for what in (_("赔付（元）"), _("个人负担（元）"), _("赔付比例")))],
        [[p["name"], Yuan(p["in_policy_fen"]), Yuan(p["out_of_policy_fen"]), Yuan(p["total_fen"]),
          *(cell for c in p["cells"] for cell in (Yuan(c["paid_fen"]), Yuan(c["remainder_fen"]),
                                                  Share(Decimal(c["ratio"]))))]
         for p in result["profiles"]], widths={1: 40})
    premiums = Sheet(_("保费"), [_("标准人群"), *(f"{name} {what}" for name in names
                                                 for what in (_("档位"), _("保费（元）"), _("个人缴费（元）")))],
                     [[p["name"], *(cell for c in p["cells"] for cell in (
                         Flagged(f"{ASSUMED_MARK}{c['band_name']}") if c["assumed"] else c["band_name"],
                         Yuan(c["premium_fen"]), Yuan(c["self_pay_fen"])))] for p in result["premiums"]],
                     widths={1: 18})
    curve = result["curves"]
    share = f"{Decimal(curve['out_of_policy_share']) * 100:.0f}%"
    curves = Sheet(_("收益曲线"), [_("个人自付合计（元；目录外占 {share}）", share=share),
                                 *(f"{name} {_('赔付（元）')}" for name in names)],
                   [[Yuan(bill), *(Yuan(paid[i]) for paid in curve["paid_fen"])]
                    for i, bill in enumerate(curve["bill_fen"])], widths={1: 24},
                   scatter={"title": _("收益曲线：赔付与个人自付"), "x_title": _("个人自付合计（元）"),
                            "y_title": _("本方案赔付（元）")})
    return [parameters, payouts, premiums, curves]


def comparison_xlsx(columns: list[Column], result: dict):
    return xlsx_response("hmb-compare.xlsx", comparison_sheets(columns, result))


CSV_HEADER = ["section", "item", "name", "measure", "version", "value", "note"]


def comparison_csv(columns: list[Column], result: dict):
    """Long form, one line per figure and version: any number of versions, one header, easy to pivot."""
    return csv_response("hmb-compare.csv", CSV_HEADER, comparison_lines(columns, result))


def comparison_lines(columns: list[Column], result: dict):
    keys = [c.key for c in columns]
    for row in result["parameters"]:
        for key, marked, reasons in zip(keys, row["marked"], row["reasons"]):
            yield ["参数", row["key"], row["label"], "value", key, marked, "；".join(reasons)]
    for p in result["profiles"]:
        for key, c in zip(keys, p["cells"]):
            for measure, value in (("paid_yuan", Yuan(c["paid_fen"])), ("remainder_yuan", Yuan(c["remainder_fen"])),
                                   ("ratio", c["ratio"])):
                yield ["标准病例赔付", p["id"], p["name"], measure, key, value, c["note"]]
    for p in result["premiums"]:
        for key, c in zip(keys, p["cells"]):
            note = ASSUMED_MARK if c["assumed"] else ""
            for measure, value in (("band", c["band_name"]), ("premium_yuan", Yuan(c["premium_fen"])),
                                   ("self_pay_yuan", Yuan(c["self_pay_fen"]))):
                yield ["保费", p["id"], p["name"], measure, key, value, note]
    curve = result["curves"]
    for i, bill in enumerate(curve["bill_fen"]):
        for key, paid in zip(keys, curve["paid_fen"]):
            yield ["收益曲线", str(fen_to_yuan(bill)), f"个人自付 {format_yuan(bill)} 元", "paid_yuan", key,
                   Yuan(paid[i]), f"目录外占 {curve['out_of_policy_share']}"]
