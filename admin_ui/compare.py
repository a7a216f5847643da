"""The comparison page (`/compare`): the versions to compare, the figures with their two SVG charts, and the
Excel and CSV downloads; what it shows comes from admin_ui/comparison.py.

A long comparison runs as a background job whose progress the page polls (static/job_form.js); without
JavaScript the form is a plain GET and the page computes while the browser waits.
"""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_login import current_user

from engine.explain import ASSUMED_MARK

from .auth import requires
from .charts import (CHART_WIDTH, PLOT_LEFT, PLOT_RIGHT, WAN, YUAN, grouped_bars, legend, nice_step, number,
                     plot_top, scale)
from .comparison import (Column, chosen_rows, columns_of, comparison, comparison_csv, comparison_work,
                         comparison_xlsx, requested_ids)
from .db import db
from .i18n import _
from .jobs import jobs
from .models import SchemeVersion
from .queries import valid_versions

bp = Blueprint("compare", __name__)


# ── routes ────────────────────────────────────────────────────────────────────────────────────

def _selection() -> tuple[list[SchemeVersion], list[Column], list[SchemeVersion]]:
    rows = valid_versions(db())
    columns, broken = columns_of(chosen_rows(rows, requested_ids(request.values.getlist("v"))))
    return rows, columns, broken


@bp.get("/compare")
@requires("view")
def index():
    rows, columns, broken = _selection()
    result = comparison(columns, current_user.id) if columns else None
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
    job = jobs().start(comparison_work(columns, page), current_user.id) if columns else None
    if job is None:  # nothing to compute, or too many jobs: the script goes to the plain page
        return jsonify({"finished": True, "done": 0, "total": 0, "error": "", "page": page}), 200
    return jsonify({**job.as_json(), "poll": url_for("compare.job_status", job_id=job.id)}), 202


@bp.get("/compare/jobs/<job_id>")
@requires("view")
def job_status(job_id: str):
    job = jobs().owned(job_id, current_user.id)
    if job is None:
        abort(404)
    return jsonify(job.as_json())


@bp.get("/compare.csv")
@requires("view")
def csv_file():
    return _download(comparison_csv)


@bp.get("/compare.xlsx")
@requires("view")
def xlsx_file():
    return _download(comparison_xlsx)


def _download(write):
    """The comparison as a file; none when no chosen version validates (a legacy text, a draft being edited)."""
    _rows, columns, broken = _selection()
    if not columns:
        return render_template("error.html", code=409, message=_("所选版本都未通过当前校验（或不存在），没有可下载的比较。"),
                               issues=[{"line": 0, "message": row.key} for row in broken],
                               back=url_for("compare.index")), 409
    return write(columns, comparison(columns, current_user.id))


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


