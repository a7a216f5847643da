"""The claim simulator: a claim (form or JSON) → the engine's adjudication on any valid version, draft or published.

Drafts are evaluated in engine.sandbox's worker, published versions here (services.evaluate_stored)."""
from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from flask import Blueprint, render_template, request

from engine import InputError, Issue, vocab
from engine.explain import cited

from .auth import requires
from .db import get_or_404
from .models import SchemeVersion
from .services import check_stored, evaluate_stored

bp = Blueprint("simulator", __name__)

FIELDS = ("age", "pre_existing", "low_income", *vocab.SPECIAL_GROUPS, "basic_insurance", "basic_insurance_status",
          "pay_with", "date", "care", "hospital_level", "in_policy_self_pay", "out_of_policy_self_pay", "drug_code",
          "drug_indication", "drug_amount", "plan", "sex", "hospital")
UNLISTED = "名单外医院"  # the form's hospital that is on none of the scheme's lists (its level is the form's)
PAY_WITH = ("self", "employer", "donor")  # who pays the premium in the form's quote (the JSON claim has no payer)


@bp.route("/versions/<int:row_id>/simulate", methods=["GET", "POST"])
@requires("simulate")
def simulate(row_id: int):
    row = get_or_404(SchemeVersion, row_id)
    check = check_stored(row)
    if not check.ok:
        return render_template("simulate.html", row=row, check=check, vocab=vocab, form={}, claim_json="")
    version = check.version
    form = _defaults(version) if request.method == "GET" else \
        {**{k: request.form.get(k, "") for k in FIELDS}, "conditions": request.form.getlist("condition")}
    mode = request.form.get("mode", "form")
    # The JSON box mirrors the form unless the user is working in it.
    claim_json = request.form.get("claim_json", "") if mode == "json" else \
        json.dumps(_claim_data(form), ensure_ascii=False, indent=2)
    context = dict(row=row, check=check, vocab=vocab, form=form, claim_json=claim_json, mode=mode,
                   drugs=_drug_choices(version), pay_with=PAY_WITH,
                   plans=[(p.plan, p.plan_name) for p in version.plans],
                   conditions=version.pre_existing_conditions, hospital_lists=version.hospital_lists,
                   unlisted=UNLISTED)
    try:
        data = _json_claim(claim_json) if mode == "json" else _claim_data(form)
        settlement = evaluate_stored(row, "adjudicate", data)
    except InputError as exc:
        if request.method == "GET":  # the sample claim does not fit this version: just show the form
            return render_template("simulate.html", **context)
        context["input_issues"] = [{"line": i.line, "path": i.where, "message": i.message} for i in exc.issues]
        return render_template("simulate.html", **context), 422
    premium, premium_issue = None, ""
    payer = form.get("pay_with") if mode != "json" and form.get("pay_with") in PAY_WITH else "self"
    try:
        premium = evaluate_stored(row, "quote", {**data["member"], "pay_with": payer})
    except InputError as exc:  # e.g. donated enrolment on a scheme without it: the claim's result still stands
        premium_issue = exc.issues[0].message
    return render_template("simulate.html", **context, result=settlement, premium=premium,
                           premium_issue=premium_issue, liability_names=_liability_names(version),
                           cited=lambda citations: cited(citations, version.sources))


def _defaults(version) -> dict:
    start, end = (date.fromisoformat(d) for d in version.period)
    day = min(start + timedelta(days=151), end)
    return {"age": "65", "pre_existing": "", "low_income": "none", "pay_with": "self", "basic_insurance": "employee",
            "basic_insurance_status": "active", "date": day.isoformat(), "care": "inpatient", "hospital_level": "3",
            "in_policy_self_pay": "54509", "out_of_policy_self_pay": "309100", "drug_code": "",
            "drug_indication": "", "drug_amount": "", "plan": version.plans[0].plan if version.plans else "",
            "sex": "", "hospital": "", "conditions": []}


def _claim_data(form: dict) -> dict:
    """Form fields → the engine's claim shape; amounts stay text (exact yuan), the engine converts to fen."""
    age = form.get("age", "").strip()
    named = list(form.get("conditions") or [])  # the scheme's named pre-existing conditions ticked
    member = {"id": "simulated-member", "age": int(age) if age.isdigit() else age,
              "pre_existing": named or bool(form.get("pre_existing")), "low_income": form.get("low_income") or "none",
              **({"sex": form["sex"]} if form.get("sex") else {}),
              **{group: bool(form.get(group)) for group in vocab.SPECIAL_GROUPS},
              "basic_insurance": form.get("basic_insurance") or "resident",
              "basic_insurance_status": form.get("basic_insurance_status") or "active",
              **({"plan": form["plan"]} if form.get("plan") else {})}
    data = {"claim_id": "simulated", "member": member, "date": form.get("date", "").strip(),
            "care": form.get("care", ""),
            "in_policy_self_pay": form.get("in_policy_self_pay", "").strip() or "0",
            "out_of_policy_self_pay": form.get("out_of_policy_self_pay", "").strip() or "0"}
    if form.get("hospital"):
        data["hospital"] = form["hospital"]
    if form.get("hospital") in ("", None, UNLISTED) and str(form.get("hospital_level", "")).isdigit():
        data["hospital_level"] = int(form["hospital_level"])  # a listed hospital's level comes from its list
    if form.get("drug_code"):
        item = {"code": form["drug_code"], "amount": form.get("drug_amount", "").strip() or "0"}
        data["items"] = [{**item, "indication": form["drug_indication"]} if form.get("drug_indication") else item]
    return data


def _json_claim(text: str) -> dict:
    try:
        data = json.loads(text, parse_float=Decimal)  # money stays exact: never float
    except json.JSONDecodeError as exc:
        raise InputError([Issue("claim.json", f"JSON 格式错误：{exc.msg}", (), "<理赔>", exc.lineno, exc.colno)])
    if not isinstance(data, dict):
        raise InputError([Issue("claim.not_object", "理赔应是一个 JSON 对象", (), "<理赔>", 1, 1)])
    return data


def _liability_names(version) -> dict[str, str]:
    """Settlement keys → names; another layer's liability is named with its layer ("大病保险·…")."""
    return {layer.key_of(l): l.name if layer.kind == "scheme" else f"{layer.name}·{l.name}"
            for terms in (version, *version.plans) for layer in terms.layers for l in layer.liabilities}


def _drug_choices(version) -> list[dict]:
    """Every drug and treatment of the lists the version (and its plans) pay."""
    lists = {k: l for terms in (version, *version.plans) for k, l in terms.item_lists.items()}
    return [{"code": d.code, "name": d.name, "indications": d.indications}
            for item_list in lists.values() for d in item_list.items.values()]
