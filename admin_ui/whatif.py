"""The pricing what-if page (`/versions/<id>/whatif`): a form of the version's parameters (a new value, or
candidate values for a grid), a population and a target claims ratio; the figures of every candidate and a
chart of their claims ratios. The engine computes everything (engine/whatif.py, docs/whatif.md).

It runs as a background job whose progress the page polls (static/job_form.js, as the comparison page);
without JavaScript the form is a plain GET and the page computes while the browser waits. The what-if runs
in this process on the vectorised path, which compiles nothing in durable-rules; a candidate the
vectorised path refuses is reported as such here (the command line settles it on the rules path), since
rulesets compiled for candidates would never be freed in a web process.
"""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_login import current_user

from engine.money import format_yuan
from engine.population import load_population
from engine.whatif import (Change, ChangeError, Parameter, default_target, evaluate, grid, parameters, prepare,
                           target_ratio)

from .auth import requires
from .backtests import population_problem
from .charts import PLOT_LEFT, PLOT_RIGHT, grouped_bars, scale
from .db import get_or_404
from .i18n import _
from .jobs import SYNC_WAIT_SECONDS, JobFailed, Work, jobs, key_of
from .models import SchemeVersion
from .paths import REPO_ROOT
from .services import check_stored, refused_words

bp = Blueprint("whatif", __name__)

POPULATIONS = REPO_ROOT / "populations"
RESIDENTS = 100_000  # the form's default: a quick look (a city's population file has millions)
MAX_RESIDENTS = 4_000_000
MAX_CANDIDATES = 200


class FormError(ValueError):
    pass


# ── the form ──────────────────────────────────────────────────────────────────────────────────

def populations() -> list[str]:
    return sorted(p.name for p in POPULATIONS.glob("*.yaml"))


def _ratio(text: str, what: str) -> Decimal | None:
    if not text.strip():
        return None
    try:
        return target_ratio(text)
    except ChangeError as exc:
        raise FormError(f"{what}：{exc}") from None


def request_of(version, values) -> dict:
    """The form's values, checked and JSON-ready (the job's key): population file, residents, fixed changes and
    grid axes (fen or ratio as text), target and ceiling of the claims ratio, whether members answer the price."""
    if values.get("population") not in populations():
        raise FormError(_("请选择人群文件"))
    problem = population_problem(version, POPULATIONS / values["population"])
    if problem:
        raise FormError(problem)
    try:
        residents = int(values.get("residents") or RESIDENTS)
    except ValueError:
        residents = 0
    if not 1_000 <= residents <= MAX_RESIDENTS:
        raise FormError(_("居民人数应在 1,000 到 4,000,000 之间"))
    fixed, axes = [], []
    try:
        for name, parameter in parameters(version).items():
            if values.get(f"set:{name}", "").strip():
                fixed.append((name, str(parameter.parse(values[f"set:{name}"]))))
            candidates = [v for v in values.get(f"grid:{name}", "").replace("，", ",").split(",") if v.strip()]
            if candidates:
                axes.append((name, [str(parameter.parse(v)) for v in candidates]))
    except ChangeError as exc:
        raise FormError(str(exc)) from None
    if {n for n, _v in fixed} & {n for n, _v in axes}:
        raise FormError(_("同一参数不能既改为一个值又作网格候选"))
    if _candidates(axes) > MAX_CANDIDATES:
        raise FormError(_("网格有 {n} 个候选方案，最多 {most} 个", n=_candidates(axes), most=MAX_CANDIDATES))
    target = _ratio(values.get("target", ""), _("目标赔付率")) or default_target(version)
    ceiling = _ratio(values.get("ceiling", ""), _("最高赔付率")) or Decimal(1)
    return {"population": values["population"], "residents": residents, "fixed": fixed, "axes": axes,
            "target": str(target) if target is not None else None, "ceiling": str(ceiling),
            "take_up": values.get("take_up", "on") == "on"}


def _candidates(axes: list) -> int:
    count = 1
    for _name, values in axes:
        count *= len(values)
    return count


def whatif_work(row: SchemeVersion, asked: dict, page: str) -> Work:
    """The what-if as a job: the population's year drawn (one step), each candidate (a step each), the version as
    published (one step). Its result: engine.whatif.grid's report with the published version's figures."""
    def run(progress):
        check = check_stored(row)
        known = parameters(check.version)
        year = prepare(check.doc, check.version.id, load_population(POPULATIONS / asked["population"]),
                       asked["residents"], respond=asked["take_up"], rules_fallback=False)
        progress(1)
        fixed = [Change(known[n], _typed(known[n], v)) for n, v in asked["fixed"]]
        axes = [(known[n], [_typed(known[n], v) for v in values]) for n, values in asked["axes"]]
        target = Decimal(asked["target"]) if asked["target"] else None
        report = grid(year, axes, fixed, target, Decimal(asked["ceiling"]), progress=lambda done, _total: progress(done + 1))
        report["base"] = evaluate(year, [], target)
        return report

    return Work("whatif", key_of("whatif", row.yaml_text, asked), _candidates(asked["axes"]) + 2, run, page)


def _typed(parameter: Parameter, text: str) -> int | Decimal:
    return int(text) if parameter.kind == "money" else Decimal(text)


# ── routes ────────────────────────────────────────────────────────────────────────────────────

@bp.get("/versions/<int:row_id>/whatif")
@requires("simulate")
def page(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    check = check_stored(row)
    context = {"row": row, "check": check, "populations": populations(), "form": request.args,
               "residents": RESIDENTS}
    if not check.ok:
        return render_template("whatif.html", **context)
    version = check.version
    context.update(parameters=parameters(version).values(), target=default_target(version))
    if not request.args.get("run"):
        return render_template("whatif.html", **context)
    try:
        asked = request_of(version, request.args)
    except FormError as exc:
        return render_template("whatif.html", **context, error=str(exc)), 400
    try:
        report = jobs().result(whatif_work(row, asked, request.full_path), current_user.id, SYNC_WAIT_SECONDS)
    except JobFailed as exc:
        return render_template("whatif.html", **context, error=str(exc)), 500
    return render_template("whatif.html", **context, report=report, view=result_view(report, version))


@bp.post("/versions/<int:row_id>/whatif/jobs")
@requires("simulate")
def start(row_id: int):
    """Start the what-if in the background (CSRF-checked like every POST); poll the answer's URL."""
    row = get_or_404(SchemeVersion, row_id)
    check = check_stored(row)
    if not check.ok:
        return jsonify({"error": refused_words(row, _("本版本未通过校验，不能试算。"))}), 409
    try:
        asked = request_of(check.version, request.form)
    except FormError as exc:
        return jsonify({"error": str(exc)}), 400
    fields = {k: v for k, v in request.form.items() if k != "csrf_token" and v.strip()}
    page_url = url_for("whatif.page", row_id=row.id, **fields, run="1")
    job = jobs().start(whatif_work(row, asked, page_url), current_user.id)
    if job is None:  # too many jobs: the script goes to the plain page, which computes in the request
        return jsonify({"finished": True, "done": 0, "total": 0, "error": "", "page": page_url}), 200
    return jsonify({**job.as_json(), "poll": url_for("whatif.job_status", row_id=row.id, job_id=job.id)}), 202


@bp.get("/versions/<int:row_id>/whatif/jobs/<job_id>")
@requires("simulate")
def job_status(row_id: int, job_id: str):
    job = jobs().owned(job_id, current_user.id)
    if job is None or job.kind != "whatif":
        abort(404)
    return jsonify(job.as_json())


# ── the result, for the page ──────────────────────────────────────────────────────────────────

RATIO_UNIT = 100  # claims ratios drawn in basis points, labelled in percent (1 % = 100)


def _basis_points(ratio: str) -> int:
    return int(Decimal(ratio) * 10_000)


def result_view(report: dict, version) -> dict:
    """Rows of the ranking table and the chart of claims ratios by candidate (in candidate order)."""
    names = {key: name for key, name, _band in version.priced_bands()}
    rows = [{**row, "priced": {key: _priced(row.get(key), names) for key in ("break_even", "target")}}
            for row in report["candidates"]]
    return {"rows": rows, "base": {**report["base"], "priced": {key: _priced(report["base"].get(key), names)
                                                               for key in ("break_even", "target")}},
            "chart": ratio_chart(report)}


def _priced(priced: dict | None, names: dict) -> dict | None:
    if not priced:
        return None
    return {**priced, "bands": [(names.get(b, b), format_yuan(fen)) for b, fen in priced["bands_fen"].items()]}


def ratio_chart(report: dict, height: int = 260) -> dict:
    """Bars: each candidate's claims ratio (0 for an invalid one), with the target range as two lines."""
    ordered = sorted(report["candidates"], key=lambda r: r["candidate"])
    groups = [{"id": str(r["candidate"]), "name": f"#{r['candidate']}",
               "cells": [{"fen": _basis_points(r["claims_ratio"]) if "claims_ratio" in r else 0,
                          "assumed": not r["within_target"]}]} for r in ordered]
    chart = grouped_bars([("claims_ratio", _("赔付率"))], groups, RATIO_UNIT, height)
    top_tick = chart["y_ticks"][-1]
    y_top = int(Decimal(top_tick["label"]) * RATIO_UNIT)
    lines = []
    for label, ratio in ((_("目标下限"), report["range"][0]), (_("上限"), report["range"][1])):
        points = _basis_points(ratio)
        if 0 < points <= y_top:
            lines.append({"label": label, "y": chart["bottom"] - scale(points, y_top, height), "ratio": ratio})
    return {**chart, "lines": lines, "left": PLOT_LEFT, "right": PLOT_RIGHT}
