"""Products and their versions: the list, one version in plain Chinese (with what changed since the previous
one), its text, next year's draft."""
from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from engine.explain import ASSUMED_MARK, choice_text, describe_version
from engine.model import Layer, Liability, Version
from engine.money import format_yuan, percent

from .api_models import MAX_ID
from .auth import requires
from .db import db, get_or_404
from .i18n import _
from .models import SchemeVersion
from .pairs import Pair, grouped_changes, previous_of
from . import signoff
from .queries import all_products, overrides_of
from .services import (LOCAL_TZ, Conflict, WorkflowError, check_stored, create_next_draft, explain_rules, is_legacy,
                       unified_diff)

bp = Blueprint("catalogue", __name__)

SUMMARY_LINES = 12  # changes listed on the version page; the changes page lists them all


@bp.get("/")
@requires("view")
def index():
    products = all_products(db())
    report = current_app.extensions.get("hmb_import_report")
    legacy = {v.id for p in products for v in p.versions if is_legacy(v)}  # after an upgrade: what to copy and fix
    return render_template("products.html", products=products, report=report, legacy=legacy)


@bp.get("/versions/<int:row_id>")
@requires("view")
def version(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    check = check_stored(row)
    explained = describe_version(check.version) if check.ok else None
    previous, _how = previous_of(row)  # the version the changes page compares with, so the two pages agree
    summary = change_summary(Pair(row, check, previous), SUMMARY_LINES) if previous else None
    text_diff = unified_diff(previous.yaml_text, row.yaml_text, (previous.key, row.key)) if previous else ""
    liabilities = [marked_liability(item, check.version) for item in explained["liabilities"]] if explained else []
    plans = [{**plan, "liabilities": [marked_liability(item, check.version.for_plan(plan["id"]))
                                      for item in plan["liabilities"]]}
             for plan in (explained["plans"] if explained else [])]
    return render_template("version.html", row=row, check=check, explained=explained, assumed_mark=ASSUMED_MARK,
                           previous=previous, summary=summary, text_diff=text_diff, liabilities=liabilities,
                           plans=plans, signoff=publishing_signoff(row, check.ok))


def publishing_signoff(row: SchemeVersion, valid: bool) -> dict:
    """What the version page says of the sign-off: the admins' overrides, and for a version in review (the one
    step the sign-off gates) whether open violations keep it from being published."""
    if row.status == "in_review" and valid:
        return signoff.report_of(db(), row)["signoff"]
    return {"overrides": [signoff.override_shown(o) for o in overrides_of(db(), row.id)], "open": [], "uncovered": []}


def change_summary(pair: Pair, lines: int) -> dict | None:
    """The changes page's semantic diff (pairs.grouped_changes) cut to its first `lines` changes:
    {"groups": [(area label, changes)…], "count": all changes, "hidden": those not listed}.
    None when there is nothing to compare by meaning: this text or the previous one does not validate."""
    if not pair.check.ok or pair.old is None:
        return None
    groups, shown, room = grouped_changes(pair.old, pair.version), [], lines
    for label, items in groups:
        if room <= 0:
            break
        shown.append((label, items[:room]))
        room -= len(shown[-1][1])
    count = sum(len(items) for _label, items in groups)
    return {"groups": shown, "count": count, "hidden": count - sum(len(items) for _label, items in shown)}


def marked_liability(item: dict, version: Version) -> dict:
    """A liability sentence cut into pieces, its assumed figures marked, with the assumptions that concern it.

    The engine lists assumptions at the end; a regulator reading "按 80% 赔付" next to a source reference
    should see there and then that the 80% is not from the source. Which figures are assumed comes from the
    typed model (the liability's deductible, ratios and caps), never from reading the engine's sentences.
    """
    layer = next(layer for layer in version.layers if layer.id == item["layer"])
    liability = next(l for l in layer.liabilities if l.id == item["id"])
    mine = assumed_figures(layer, liability)
    return {**item, "pieces": _cut(item["text"], mine), "assumptions": mine}


def assumed_figures(layer: Layer, liability: Liability) -> list[dict]:
    """[{"what", "figure", "reason"}…]: each assumed value or choice of the liability, its figure as
    engine.explain writes it in the liability's sentence, 【假设】 included (a zero deductible reads
    "不设起付线【假设】")."""
    found = []
    if liability.care_choice and liability.care_choice.prov.is_assumption:
        found.append({"what": f"{liability.name} 就医类型", "figure": choice_text(liability.care_choice),
                      "reason": liability.care_choice.prov.assumed})
    deductible = layer.deductibles[liability.deductible]
    for pool in [deductible, *(layer.caps[c] for c in liability.caps)]:
        if pool.amount.prov.is_assumption:
            amount = f"{format_yuan(pool.amount.fen)} 元"
            figure = "不设起付线" if pool is deductible and not pool.amount.fen else amount
            found.append({"what": f"{pool.name} {amount}", "figure": figure + ASSUMED_MARK,
                          "reason": pool.amount.prov.assumed})
    if not deductible.inline and deductible.amount.fen:  # a shared deductible: that it is shared, its order
        if deductible.prov.is_assumption:
            found.append({"what": f"{deductible.name} 共用", "figure": f"共用{ASSUMED_MARK}",
                          "reason": deductible.prov.assumed})
        if deductible.order and deductible.order.prov.is_assumption:
            found.append({"what": f"{deductible.name} 扣减顺序", "figure": choice_text(deductible.order),
                          "reason": deductible.order.prov.assumed})
    for row in liability.rows:
        rates = [("比例", row.rate)] if row.rate is not None else [("分段比例", s.rate) for s in row.segments]
        found += [{"what": f"{liability.name} {kind} {percent(rate.value)}", "figure": percent(rate.value) + ASSUMED_MARK,
                   "reason": rate.prov.assumed} for kind, rate in rates if rate.prov.is_assumption]
    return found


def _cut(text: str, marks: list[dict]) -> list[tuple[str, dict | None]]:
    """[(piece, assumption or None)…]: each assumed figure's first whole occurrence in the text, marked once."""
    spans = {}
    for a in marks:
        start = _first_whole(text, a["figure"])
        if start >= 0:
            spans.setdefault(start, a)
    pieces, at = [], 0
    for start, a in sorted(spans.items()):
        if start >= at:
            pieces += [(text[at:start], None), (a["figure"], a)]
            at = start + len(a["figure"])
    pieces.append((text[at:], None))
    return [p for p in pieces if p[0]]


def _first_whole(text: str, figure: str) -> int:
    """Where `figure` first stands whole in `text` ("0.00 元" is not the end of "500,000.00 元"), else -1."""
    at = text.find(figure)
    while at > 0 and text[at - 1] in "0123456789,.":
        at = text.find(figure, at + 1)
    return at


@bp.get("/versions/<int:row_id>/yaml")
@requires("view")
def version_yaml(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    return Response(row.yaml_text, mimetype="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{row.product_id}-{row.version_id}.yaml"'})


@bp.post("/products/<product_id>/next-draft")
@requires("draft.create")
def next_draft(product_id: str):
    """Next year's draft, copied from the latest version or from the version the form names (`source`: a row id,
    the button on a legacy version's page)."""
    source = request.form.get("source", "")
    if source and not (source.isdigit() and int(source) <= MAX_ID):
        abort(404)
    try:
        row = create_next_draft(db(), current_user, product_id, int(source) if source else None)
    except Conflict as exc:
        flash(exc.message, "error")
        if exc.row_id:
            return redirect(url_for("catalogue.version", row_id=exc.row_id))
        return redirect(url_for("catalogue.index"))
    except WorkflowError as exc:
        abort(exc.status, exc.message)
    flash(_("已建立 {key} 草稿（复制自 {source}），请修改后提交审核。", key=row.key,
            source=row.origin.removeprefix("copy:")), "ok")
    return redirect(url_for("editor.edit", row_id=row.id))


@bp.get("/rules")
@requires("view")
def rules():
    """Which rules applied to a claim dated D, as known on K (a GET form: the answer is a link one can send)."""
    products = all_products(db())
    today = datetime.now(LOCAL_TZ).date()
    product_id = request.args.get("product") or (products[0].id if products else "")
    claim_date, known_on = _arg_date("claim_date"), _arg_date("known_on") or today
    answer = now = None
    if claim_date and any(p.id == product_id for p in products):
        answer = explain_rules(db(), product_id, claim_date, known_on)
        # Asked about the past: say whether what is known today gives another answer.
        now = explain_rules(db(), product_id, claim_date, today) if known_on < today else None
    return render_template("rules.html", products=products, product_id=product_id, claim_date=claim_date,
                           known_on=known_on, answer=answer, now=now, bad_date=_bad_dates())


def _arg_date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _bad_dates() -> bool:
    return any(request.args.get(n) and _arg_date(n) is None for n in ("claim_date", "known_on"))


