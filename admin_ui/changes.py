"""What a version changes, before anyone approves it: `/versions/<id>/changes`.

Three views of one version against the version it follows, the same page for product managers,
reviewers and regulators (`view`):
1. the semantic diff (engine.diff): "起付线 15,000.00 元 → 8,000.00 元", grouped by area, assumptions marked;
2. the golden cases: this version's own, and the previous version's re-run on this one (claims moved
   by whole years into this period), old expectation beside the new result;
3. the impact report (engine.impact), computed by a background job whose progress the page polls.

Where it runs: durable-rules never frees a compiled ruleset and every edited draft compiles a new
one, so anything evaluated on a text that is not frozen (draft, in review) goes through
engine.sandbox's recycled worker (its progress comes back too). Frozen texts (published, retired) never
change: their rulesets are finite, and they are evaluated here.
"""
from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from engine import SchemeError, Version, vocab
from engine.cases import CaseResult, Check, case_file_for, load_cases
from engine.explain import ASSUMED_MARK
from engine.impact import shift_claim
from engine.issues import InputError
from engine.money import format_yuan, percent

from .auth import requires
from .charts import WAN, grouped_bars, unit_for
from .db import get_or_404
from .i18n import N_, _
from .jobs import SYNC_WAIT_SECONDS, JobState, Work, jobs, key_of, poll_answer
from .models import Product, SchemeVersion
from .pairs import Pair, grouped_changes, previous_of
from .services import check_stored, evaluate_stored, refused_words

bp = Blueprint("changes", __name__)


# ── which version this one follows ────────────────────────────────────────────────────────────

def _pair(row_id: int) -> Pair | None:
    """The row and what it follows, or None when its text does not validate (nothing to compare yet). A previous
    version the current language refuses (a legacy text) cannot be compared by meaning: the row is shown as a
    first version, with that version named."""
    row = get_or_404(SchemeVersion, row_id)
    check = check_stored(row)
    if not check.ok:
        return None
    previous, how = previous_of(row)
    if previous is not None and not check_stored(previous).ok:
        return Pair(row, check, legacy_previous=previous)
    return Pair(row, check, previous, how)


# ── 2. golden cases ───────────────────────────────────────────────────────────────────────────

@dataclass(frozen=True)
class Line:
    """One check of a re-run case: the old expectation, the new result, and for money the change in fen
    (None: not money, or the case could not run and `after` says why)."""

    label: str
    before: str
    after: str
    same: bool
    change_fen: int | None = None


@dataclass(frozen=True)
class CaseRow:
    """One case as the page shows it: engine.cases' checks worded here, in the reader's language."""

    id: str
    name: str
    basis: str
    passed: bool
    failures: tuple[tuple[str, str], ...] = ()  # this version's own case: (what failed, the rule and clause behind it)
    lines: tuple[Line, ...] = ()  # the previous version's case re-run: each check, old expectation beside new result


@dataclass
class GoldenCases:
    file: str = ""  # e.g. "products/zaohuibao.cases.yaml"; "" when the product has none
    own: list[CaseRow] = field(default_factory=list)  # the cases written for this version
    rerun: list[CaseRow] = field(default_factory=list)  # the previous version's cases on this one, side by side
    years: int = 0  # how far the re-run claims were moved
    error: str = ""

    @property
    def own_passed(self) -> int:
        return sum(r.passed for r in self.own)

    @property
    def rerun_changed(self) -> list[CaseRow]:
        return [r for r in self.rerun if not r.passed]

    @property
    def rerun_same(self) -> list[CaseRow]:
        return [r for r in self.rerun if r.passed]


def case_file(product: Product) -> Path | None:
    """products/NAME.cases.yaml beside the product file it was imported from (else NAME = the product id)."""
    folder = Path(current_app.config["PRODUCTS_DIR"])
    names = [Path(product.source_file).name] if product.source_file else []
    for name in [*names, f"{product.id}.yaml"]:
        path = case_file_for(folder / name)
        if path.is_file():
            return path
    return None


def golden_cases(pair: Pair) -> GoldenCases:
    path = case_file(pair.row.product)
    if path is None:
        return GoldenCases()
    result = GoldenCases(file=f"{path.parent.name}/{path.name}")
    try:
        _, cases = load_cases(path)
        mine = run_cases(pair.row, [c for c in cases if str(c["version"]) == pair.row.version_id])
        result.own = [own_row(r, pair.version) for r in mine]
        if pair.previous is not None:
            result.years = int(pair.version.period[0][:4]) - int(pair.old.period[0][:4])
            result.rerun = rerun_previous(pair, [c for c in cases if str(c["version"]) == pair.previous.version_id])
    except SchemeError as exc:  # the case file itself is malformed: say where, run nothing
        first = exc.issues[0]
        result.error = f"{result.file} 第 {first.line} 行：{first.message}"
    except (InputError, TimeoutError, BrokenProcessPool, OSError) as exc:  # the worker failed or timed out
        result.error = str(exc) or type(exc).__name__
    return result


def run_cases(row: SchemeVersion, cases: list[dict]) -> list[CaseResult]:
    """engine.cases.run_case on each case, against this row's text (in the sandbox unless frozen)."""
    if not cases:
        return []
    return evaluate_stored(row, "cases", cases)["results"]


def moved_case(case: dict, old: Version, new: Version) -> dict:
    """A case of the old version as a case of the new one: claims moved by whole years; a quote has no date."""
    moved = {**case, "version": new.id}
    if "claim" in case:
        moved["claim"] = _moved_claim(case["claim"], old, new)
    if "claims" in case:
        moved["claims"] = [_moved_claim(claim, old, new) for claim in case["claims"]]
    return moved


def _moved_claim(claim: dict, old: Version, new: Version) -> dict:
    return shift_claim(claim, old, new) if "date" in claim else claim


def rerun_previous(pair: Pair, cases: list[dict]) -> list[CaseRow]:
    results = run_cases(pair.row, [moved_case(case, pair.old, pair.version) for case in cases])
    return [rerun_row(result, pair.old, pair.version) for result in results]


def own_row(result: CaseResult, version: Version) -> CaseRow:
    failures = [(_("{label}：应为 {expected}，实际 {actual}", label=check_label(check, version),
                   expected=check_value(check, version, expected=True),
                   actual=check_value(check, version, expected=False)), _basis(check))
                for check in result.failures]
    if result.error:
        failures.append((_("无法运行：{error}", error=result.error), ""))
    return CaseRow(result.id, result.name, result.basis, result.passed, failures=tuple(failures))


def rerun_row(result: CaseResult, old: Version, new: Version) -> CaseRow:
    """Each check of an old case: the old expectation (in the old version's names), the new result (in the
    new one's) and, for money, the difference in fen; a case that could not run says why, as text."""
    lines = [Line(check_label(check, old), check_value(check, old, expected=True),
                  check_value(check, new, expected=False), check.passed,
                  None if not check.money else 0 if check.passed else check.actual_fen - check.expected_fen)
             for check in result.checks]
    if result.error:
        lines.append(Line("", "", _("无法运行：{error}", error=result.error), False))
    return CaseRow(result.id, result.name, result.basis, result.passed, lines=tuple(lines))


# What each expectation of a case file is called (engine.cases.Check.expectation).
CHECK_LABELS = {"eligibility": N_("资格"), "band": N_("档位"), "premium": N_("保费"), "payers": N_("缴费方"),
                "paid": N_("赔付"), "patient_remainder": N_("个人负担"), "by_liability": N_("责任"),
                "layers": N_("赔付层"), "overall_ratio": N_("总报销比例"), "trace": N_("计算过程")}
NEAR_FIELDS = {"paid_fen": "paid", "patient_remainder_fen": "patient_remainder"}  # settlement field → expectation


def check_label(check: Check, version: Version) -> str:
    """'第 2 笔：责任 医保目录内个人自付': what a check compared, named as the version names it."""
    expectation, item = check.expectation, check.item
    if expectation == "near":  # a settlement field, named as the exact expectation on it would be
        kind, _dot, rest = item.partition(".")
        expectation, item = (kind, rest) if kind == "by_liability" else (NEAR_FIELDS.get(item, item), "")
    names = {"by_liability": version.liability_names(), "layers": {layer.id: layer.name for layer in version.layers},
             "payers": vocab.PAYERS}.get(expectation, {})
    label = " ".join(filter(None, (_(CHECK_LABELS.get(expectation, expectation)), names.get(item, item))))
    if check.expectation == "near":
        label = _("{label}（约数）", label=label)
    return _("第 {n} 笔：{label}", n=check.claim, label=label) if check.claim else label


def check_value(check: Check, version: Version, expected: bool) -> str:
    """One side of a check, the expectation or the result, as the page shows it."""
    fen, value = (check.expected_fen, check.expected) if expected else (check.actual_fen, check.actual)
    if check.money:
        amount = f"{format_yuan(fen)} {_('元')}"
        if check.expectation == "near" and expected:
            return _("约 {amount}（±{tolerance}）", amount=amount, tolerance=percent(check.tolerance))
        return amount
    if check.expectation == "band":
        return _band_name(value, version)
    if check.expectation == "eligibility":
        return vocab.ELIGIBILITY_OUTCOMES.get(value, value)
    if check.expectation == "overall_ratio":
        ratio = f"{(value * 100).quantize(Decimal('0.01'))}%"
        return _("{ratio}（±{tolerance}）", ratio=ratio, tolerance=percent(check.tolerance)) if expected else ratio
    if check.expectation == "trace":
        if expected:
            return "，".join(f"{k}: {v}" for k, v in value.items())
        return _("有这一步") if check.passed else _("没有这一步")
    return str(value)


def _basis(check: Check) -> str:
    return "：".join(filter(None, (check.rule, check.clause)))


def _band_name(band_id: str, version: Version) -> str:
    return next((band.name for band in version.bands if band.id == band_id), band_id)


# ── 3. impact: a background job (admin_ui/jobs.py) ───────────────────────────────────────────

def population() -> int:
    return int(current_app.config["IMPACT_POPULATION"])  # admin_ui.config: HMB_IMPACT_POPULATION


def impact_work(pair: Pair) -> Work:
    """engine.impact of the pair, keyed by what determines it: both texts' hashes and the population size.
    Its progress: `done` of 2 × population members, priced and claimed under the old, then the new version
    (the message says which)."""
    size, row, payload = population(), pair.row, {"previous": pair.previous, "population": population()}

    def run(progress) -> dict:
        report = lambda label, done, total: progress((total if label == "new" else 0) + done, message=label)  # noqa: E731
        return evaluate_stored(row, "impact", payload, report)

    return Work("impact", key_of(pair.version.content_hash, pair.old.content_hash, size), 2 * size, run)


def start_impact(pair: Pair) -> JobState | None:
    return jobs().start(impact_work(pair), current_user.id)


# ── 3. impact: what the page shows ────────────────────────────────────────────────────────────

def _signed(fen: int) -> str:
    return ("+" if fen > 0 else "−" if fen < 0 else "") + format_yuan(abs(fen))


def _ratio(text: str) -> str:
    """'1.238' → '123.80%': always two decimals, so the two columns line up."""
    return f"{(Decimal(text) * 100).quantize(Decimal('0.01'))}%"


def impact_view(report: dict, old: Version, new: Version) -> dict:
    """The report as rows of (label, old, new, change) strings: formatting stays out of the template."""
    before, after = report["population"]["old"], report["population"]["new"]
    ratio_change = ((Decimal(after["claims_ratio"]) - Decimal(before["claims_ratio"])) * 100).quantize(Decimal("0.01"))
    summary = [
        (_("参保人数"), f"{before['members']:,}", f"{after['members']:,}", _signed_count(after["members"] - before["members"])),
        (_("保费收入（元）"), format_yuan(before["premium_fen"]), format_yuan(after["premium_fen"]),
         _signed(after["premium_fen"] - before["premium_fen"])),
        (_("赔付金额（元）"), format_yuan(before["paid_fen"]), format_yuan(after["paid_fen"]),
         _signed(after["paid_fen"] - before["paid_fen"])),
        (_("赔付率"), _ratio(before["claims_ratio"]), _ratio(after["claims_ratio"]),
         _("{n} 个百分点", n=("+" if ratio_change > 0 else "−" if ratio_change < 0 else "") + str(abs(ratio_change)))),
        (_("获赔人数"), f"{before['claimants']:,}", f"{after['claimants']:,}", _signed_count(after["claimants"] - before["claimants"])),
    ]
    return {"summary": summary, "bands": _band_rows(before, after), "liabilities": _liability_rows(before, after, old, new),
            "profiles": [(p["name"], format_yuan(p["old_paid_fen"]), format_yuan(p["new_paid_fen"]),
                          _signed(p["change_fen"])) for p in report["profiles"]],
            "population": report["population"], "charts": impact_charts(report, old, new)}


def _signed_count(n: int) -> str:
    return f"+{n:,}" if n > 0 else f"−{-n:,}" if n < 0 else "0"


def _band_rows(before: dict, after: dict) -> list[dict]:
    """Bands of both versions by id; a band only one version has shows "—" on the other side."""
    rows = []
    for band_id in [*before["by_band"], *(b for b in after["by_band"] if b not in before["by_band"])]:
        old, new = before["by_band"].get(band_id), after["by_band"].get(band_id)
        rows.append({"id": band_id, "name": (new or old)["name"],
                     "old_members": f"{old['members']:,}" if old else "—", "new_members": f"{new['members']:,}" if new else "—",
                     "old_premium": format_yuan(old["premium_fen"]) if old else "—",
                     "new_premium": format_yuan(new["premium_fen"]) if new else "—",
                     "change": _signed((new or {}).get("premium_fen", 0) - (old or {}).get("premium_fen", 0))})
    return rows


def _liability_paid(before: dict, after: dict, old: Version, new: Version) -> list[tuple[str, str, int, int]]:
    """(id, name, old paid, new paid) for each liability either version paid under."""
    names = {**old.liability_names(), **new.liability_names()}
    ids = [*before["by_liability"], *(i for i in after["by_liability"] if i not in before["by_liability"])]
    return [(i, names.get(i, i), before["by_liability"].get(i, 0), after["by_liability"].get(i, 0)) for i in ids]


def _liability_rows(before: dict, after: dict, old: Version, new: Version) -> list[tuple[str, str, str, str]]:
    return [(name, format_yuan(was), format_yuan(now), _signed(now - was))
            for _id, name, was, now in _liability_paid(before, after, old, new)]


def impact_charts(report: dict, old: Version, new: Version) -> list[dict]:
    """Old beside new as grouped bars: paid per liability over the population, and each standard profile's payout."""
    before, after = report["population"]["old"], report["population"]["new"]
    series = [(v.key, f"{v.product_name} {v.id}") for v in (old, new)]  # short: the legend has 250 px an entry
    liabilities = [{"id": i, "name": name, "cells": [{"fen": was}, {"fen": now}]}
                   for i, name, was, now in _liability_paid(before, after, old, new)]
    profiles = [{"id": p["id"], "name": p["name"].split("（")[0],  # the short name fits under its bars
                 "cells": [{"fen": p["old_paid_fen"]}, {"fen": p["new_paid_fen"]}]} for p in report["profiles"]]
    charts = []
    for css, group, title, groups in (("impact-liabilities", "liability", _("参考人群按责任的赔付"), liabilities),
                                      ("impact-profiles", "profile", _("标准病例的赔付"), profiles)):
        if groups:
            unit = unit_for(max(c["fen"] for g in groups for c in g["cells"]))
            charts.append({"css": css, "title": title, "group": group,
                           "axis": _("赔付（万元）") if unit == WAN else _("赔付（元）"),
                           "chart": grouped_bars(series, groups, unit)})
    return charts


# ── routes ────────────────────────────────────────────────────────────────────────────────────

@bp.get("/versions/<int:row_id>/changes")
@requires("view")
def page(row_id: int):
    pair = _pair(row_id)
    if pair is None:  # a draft that does not validate: show why, compare nothing
        row = get_or_404(SchemeVersion, row_id)
        return render_template("changes.html", row=row, pair=None, check=check_stored(row))
    context = {"row": pair.row, "pair": pair, "check": pair.check, "assumed_mark": ASSUMED_MARK}
    if pair.previous is None:
        return render_template("changes.html", **context, groups=[], change_count=0, cases=golden_cases(pair))
    work = impact_work(pair)
    job = jobs().start(work, current_user.id) if request.args.get("impact") else None
    if job is not None:  # the no-JavaScript path: start (or join) the job and wait for it
        job = jobs().wait(job.id, SYNC_WAIT_SECONDS)
    result = job.result if job is not None and job.status == "done" else jobs().result_for(work.kind, work.key)
    groups = grouped_changes(pair.old, pair.version)
    return render_template("changes.html", **context, groups=groups, change_count=sum(len(g[1]) for g in groups),
                           cases=golden_cases(pair), **_impact_context(pair, job, result))


@bp.get("/versions/<int:row_id>/changes/impact.json")
@requires("view")
def impact_json(row_id: int):
    """Starts the job (or joins the user's own), then reports it; `?job=ID` reports that job only, so a job
    that failed — its process died — is said to have failed rather than started again at each poll.
    Once done, also the result and its rendered table."""
    pair = _pair(row_id)
    if pair is None or pair.previous is None:
        refused = get_or_404(SchemeVersion, row_id) if pair is None else pair.legacy_previous
        why = _("没有可比较的上一版本，或本版本未通过校验。")
        return {"status": "unavailable", "error": refused_words(refused, why) if refused else why}, 409
    return poll_answer(lambda: start_impact(pair), lambda job: {
        "result": job.result,
        "html": render_template("_changes_impact.html", pair=pair, **_impact_context(pair, job, job.result))})


def _impact_context(pair: Pair, job: JobState | None, result: dict | None) -> dict:
    return {"job": job, "impact": impact_view(result, pair.old, pair.version) if result is not None else None}

