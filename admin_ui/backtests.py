"""A version's year on a population: `/versions/<id>/backtest`.

The page lists the population files of `populations/` (`HMB_POPULATIONS_DIR`); the backtest (engine.backtest) of
the chosen one runs as a background job (admin_ui/jobs.py) whose progress the page polls, with the same script as
the changes page's impact. Its figures are shown as tables and inline SVG charts (admin_ui/charts.py): premium
income by band and payer, each plan's members, premium, claims and claims ratio (a version with plans), claims by
liability, the claims ratio by band, the distribution of single payouts, the share of members paid, the
co-insurers' split, and the year against the regime's minimum claims ratio.  A population file that does not
say how members choose among the version's plans is refused on the page, with the reason, before any job runs.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from engine import vocab
from engine.backtest_charts import payout_labels
from engine.issues import SchemeError
from engine.model import Version
from engine.money import format_yuan, percent
from engine.population import load_population, plan_choice_issues

from .auth import requires
from .charts import YUAN, grouped_bars, unit_for
from .db import get_or_404
from .i18n import _
from .jobs import SYNC_WAIT_SECONDS, JobState, Work, jobs, key_of, poll_answer
from .models import SchemeVersion
from .services import check_stored, evaluate_stored, refused_words

bp = Blueprint("backtests", __name__)
MAX_RESIDENTS = 2_000_000  # a Zaozhuang-sized city and more; the job runs in seconds on the vectorised path


def population_files() -> list[Path]:
    folder = Path(current_app.config["POPULATIONS_DIR"])
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _chosen() -> tuple[Path | None, int | None]:
    """The population file and size asked for: a file of the folder by name (nothing else), a bounded size."""
    files = {p.name: p for p in population_files()}
    path = files.get(request.args.get("population", ""))
    residents = request.args.get("residents", type=int)
    if residents is not None and not 1 <= residents <= MAX_RESIDENTS:
        residents = None
    return path, residents


def population_problem(version: Version, path: Path) -> str | None:
    """Why the population file cannot be used for this version (it does not say how members choose among the
    version's plans), or None.  A file with other errors is left to the job, which reports them."""
    if not version.plans:
        return None
    try:
        issues = plan_choice_issues(load_population(path), version)
    except SchemeError:
        return None
    return _("这个人群文件不能用于本版本：{why}", why="；".join(i.message for i in issues)) if issues else None


def backtest_work(row: SchemeVersion, path: Path, residents: int | None) -> Work:
    """engine.backtest of the row on the file, keyed by the version's and the file's content (a file edited on
    disk is another backtest); progress: pieces of the claims settled."""
    content_hash = check_stored(row).version.content_hash
    payload = {"population": str(path), "residents": residents}

    def run(progress) -> dict:
        return evaluate_stored(row, "backtest", payload, progress)  # progress(done, total): pieces settled

    return Work("backtest", key_of(content_hash, path.name, path.read_text(encoding="utf-8"), residents), 20, run)


# ── what the page shows ───────────────────────────────────────────────────────────────────────

def _ratio(text: str) -> str:
    return percent(Decimal(text))


def backtest_view(report: dict, row: SchemeVersion) -> dict:
    """The report as rows of strings and chart geometry: formatting stays out of the template."""
    version = check_stored(row).version
    names = version.liability_names()
    premium, claims, minimum = report["premium"], report["claims"], report["minimum_claims_ratio"]
    summary = [(_("居民人数"), f"{report['residents']:,}"), (_("参保人数"), f"{report['insured']:,}"),
               (_("保费收入（元）"), format_yuan(premium["total_fen"])),
               (_("理赔件数"), f"{claims['count']:,}"), (_("赔付件数"), f"{claims['paid_count']:,}"),
               (_("赔付金额（元）"), format_yuan(claims["paid_fen"])), (_("赔付率"), _ratio(claims["claims_ratio"])),
               (_("获赔人数"), f"{report['members_paid']['members']:,}"),
               (_("获赔人数占参保人数"), _ratio(report["members_paid"]["share"]))]
    payouts = report["payouts"]
    return {
        "summary": summary,
        "bands": [(b["name"], f"{b['members']:,}", format_yuan(b["premium_fen"]), format_yuan(b["paid_fen"]),
                   _ratio(b["claims_ratio"])) for b in premium["by_band"].values()],
        "plans": [(f"{p['name']}（{plan}）", f"{p['members']:,}", format_yuan(p["premium_fen"]), f"{p['claims']:,}",
                   format_yuan(p["paid_fen"]), _ratio(p["claims_ratio"])) for plan, p in report["by_plan"].items()],
        "payers": [(vocab.PAYERS.get(key, key), format_yuan(p["fen"])) for key, p in premium["by_payer"].items()],
        "liabilities": [(names.get(key, key), format_yuan(fen)) for key, fen in claims["by_liability"].items()],
        "insurers": [(i["insurer"], _("主承保") if i["lead"] else _("共保"), _ratio(i["share"]),
                      format_yuan(i["premium_fen"]), format_yuan(i["paid_fen"])) for i in report["insurers"]],
        "minimum": minimum and {"ratio": _ratio(minimum["ratio"]), "required": format_yuan(minimum["required_fen"]),
                                "paid": format_yuan(claims["paid_fen"]), "shortfall": format_yuan(minimum["shortfall_fen"]),
                                "surplus": format_yuan(max(claims["paid_fen"] - minimum["required_fen"], 0)),
                                "met": minimum["shortfall_fen"] == 0, "clause": minimum["clause"]},
        "quantiles": [(label, format_yuan(payouts[key])) for label, key in
                      ((_("中位数"), "p50"), ("P90", "p90"), ("P99", "p99"), (_("最高"), "max_fen"))],
        "extract": report["claims_source"].get("file"),
        "assumptions": report["assumptions"],
        "charts": backtest_charts(report),
    }


def backtest_charts(report: dict) -> list[dict]:
    """Premium and claims by band (元 or 万元), the claims ratio by band (%), single payouts by size (claims)."""
    bands = list(report["premium"]["by_band"].items())
    money = [{"id": key, "name": b["name"], "cells": [{"fen": b["premium_fen"]}, {"fen": b["paid_fen"]}]}
             for key, b in bands]
    unit = unit_for(max((c["fen"] for g in money for c in g["cells"]), default=0))
    ratios = [{"id": key, "name": b["name"], "cells": [{"fen": _basis_points(b["claims_ratio"]),
                                                         "tooltip": _ratio(b["claims_ratio"])}]} for key, b in bands]
    buckets = report["payouts"]["buckets"]
    sizes = [{"id": str(b["from_yuan"]), "name": label,
              "cells": [{"fen": b["claims"], "tooltip": _("{n} 件", n=f"{b['claims']:,}")}]}
             for label, b in zip(payout_labels(buckets), buckets)]
    return [
        {"css": "backtest-bands", "title": _("各档位的保费与赔付"), "group": "band",
         "axis": _("金额（万元）") if unit != YUAN else _("金额（元）"),
         "chart": grouped_bars([("premium", _("保费")), ("paid", _("赔付"))], money, unit)},
        {"css": "backtest-ratios", "title": _("各档位赔付率"), "group": "band", "axis": _("赔付率（%）"),
         "chart": grouped_bars([("ratio", _("赔付率"))], ratios, 100)},  # basis points in whole percent
        {"css": "backtest-payouts", "title": _("单笔赔付的分布（元）"), "group": "payout", "axis": _("赔付件数"),
         "chart": grouped_bars([("claims", _("赔付件数"))], sizes, 1)},
    ]


def _basis_points(ratio: str) -> int:
    return int(Decimal(ratio) * 10000)


# ── routes ────────────────────────────────────────────────────────────────────────────────────

@bp.get("/versions/<int:row_id>/backtest")
@requires("view")
def page(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    check = check_stored(row)
    path, residents = _chosen()
    context = {"row": row, "check": check, "files": population_files(), "chosen": path, "residents": residents,
               "max_residents": MAX_RESIDENTS, "job": None, "backtest": None, "problem": None}
    if check.ok and path is not None:
        context["problem"] = population_problem(check.version, path)
    if check.ok and path is not None and not context["problem"]:
        work = backtest_work(row, path, residents)
        job = jobs().start(work, current_user.id) if request.args.get("run") else None
        if job is not None:  # the no-JavaScript path: start (or join) the job and wait for it
            job = jobs().wait(job.id, SYNC_WAIT_SECONDS)
        result = job.result if job is not None and job.status == "done" else jobs().result_for(work.kind, work.key)
        context.update(_result_context(row, job, result))
    return render_template("backtest.html", **context)


@bp.get("/versions/<int:row_id>/backtest.json")
@requires("view")
def backtest_json(row_id: int):
    """Starts the job (or joins the user's own); `?job=ID` reports that job only. Once done, also its rendered figures."""
    row = get_or_404(SchemeVersion, row_id)
    path, residents = _chosen()
    check = check_stored(row)
    if not check.ok or path is None:
        return {"status": "unavailable", "error": refused_words(row, _("请选择人群文件；本版本须通过校验。"))}, 409
    problem = population_problem(check.version, path)
    if problem:
        return {"status": "unavailable", "error": problem}, 409
    return poll_answer(lambda: jobs().start(backtest_work(row, path, residents), current_user.id), lambda job: {
        "html": render_template("_backtest_result.html", row=row, **_result_context(row, job, job.result))})


def _result_context(row: SchemeVersion, job: JobState | None, result: dict | None) -> dict:
    return {"job": job, "backtest": backtest_view(result, row) if result is not None else None}
