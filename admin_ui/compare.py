"""Compare versions side by side on standard patient profiles: premium and payout, computed by the engine.

Each profile's claim is dated inside each version's own policy period (150 days after its start), so a
2023 scheme and a 2025 scheme are judged on the same person and the same bill.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import Blueprint, render_template, request
from sqlalchemy import select

from engine import InputError, adjudicate, parse_claim, quote
from engine.money import fen_to_yuan, yuan_to_fen

from .auth import requires
from .db import db
from .export import csv_response
from .models import SchemeVersion
from .schemes import check_draft

bp = Blueprint("compare", __name__)

# Standard profiles, amounts in yuan (the settled form: what basic insurance left to the patient).
PROFILES = (
    {"id": "xianning-example", "name": "65 岁职工，住院大额费用（咸宁来源示例）",
     "member": {"age": 65, "basic_insurance": "employee"}, "care": "inpatient", "hospital_level": 3,
     "in_policy_self_pay": "54509", "out_of_policy_self_pay": "309100"},
    {"id": "adult-moderate", "name": "40 岁居民，住院中等费用",
     "member": {"age": 40}, "care": "inpatient", "hospital_level": 2,
     "in_policy_self_pay": "30000", "out_of_policy_self_pay": "10000"},
    {"id": "adult-large", "name": "30 岁居民，住院高额费用",
     "member": {"age": 30}, "care": "inpatient", "hospital_level": 3,
     "in_policy_self_pay": "120000", "out_of_policy_self_pay": "200000"},
    {"id": "pre-existing", "name": "58 岁既往症患者，住院",
     "member": {"age": 58, "pre_existing": True}, "care": "inpatient", "hospital_level": 3,
     "in_policy_self_pay": "60000", "out_of_policy_self_pay": "40000"},
    {"id": "low-income", "name": "45 岁低保对象，住院",
     "member": {"age": 45, "low_income": "dibao"}, "care": "inpatient", "hospital_level": 2,
     "in_policy_self_pay": "40000", "out_of_policy_self_pay": "15000"},
    {"id": "chronic", "name": "70 岁门诊慢特病",
     "member": {"age": 70, "basic_insurance": "employee"}, "care": "chronic_outpatient", "hospital_level": 2,
     "in_policy_self_pay": "15000", "out_of_policy_self_pay": "0"},
)


@dataclass
class Cell:
    premium_fen: int | None = None
    paid_fen: int | None = None
    total_fen: int = 0
    note: str = ""  # why there is no figure (not eligible, input refused…)

    @property
    def share(self) -> str:
        if not self.paid_fen or not self.total_fen:
            return ""
        return f"{self.paid_fen * 100 / self.total_fen:.1f}%"


def _comparison():
    rows = db().scalars(select(SchemeVersion).where(SchemeVersion.content_hash.is_not(None))
                        .order_by(SchemeVersion.product_id, SchemeVersion.period_start)).all()
    wanted = {int(v) for v in request.args.getlist("v") if v.isdigit()}
    chosen = [r for r in rows if r.id in wanted] if wanted else _latest_published(rows)
    columns = [(row, check_draft(row.yaml_text, row.product_id, row.version_id).version) for row in chosen]
    columns = [(row, version) for row, version in columns if version is not None]
    table = [(profile, [evaluate(profile, version) for _, version in columns]) for profile in PROFILES]
    return rows, columns, table


@bp.get("/compare")
@requires("view")
def index():
    rows, columns, table = _comparison()
    return render_template("compare.html", rows=rows, columns=columns, table=table,
                           chosen={r.id for r, _ in columns})


@bp.get("/compare.csv")
@requires("view")
def download():
    """One line per profile and version; amounts in yuan with two decimals (exact, from integer fen)."""
    _, columns, table = _comparison()
    lines = ([profile["id"], profile["name"], row.key, row.status, row.content_hash,
              str(fen_to_yuan(cell.total_fen)), _yuan(cell.premium_fen), _yuan(cell.paid_fen), cell.note]
             for profile, cells in table for (row, _), cell in zip(columns, cells))
    return csv_response("hmb-compare.csv", ["profile", "profile_name", "version", "status", "content_hash",
                                            "self_pay_yuan", "premium_yuan", "paid_yuan", "note"], lines)


def _yuan(fen: int | None) -> str:
    return "" if fen is None else str(fen_to_yuan(fen))


def _latest_published(rows: list[SchemeVersion]) -> list[SchemeVersion]:
    latest: dict[str, SchemeVersion] = {}
    for row in rows:
        if row.status == "published":
            latest[row.product_id] = row  # ordered by period start: the last one wins
    return list(latest.values())


def evaluate(profile: dict, version) -> Cell:
    """One profile under one version: its premium (quote) and what the scheme pays (adjudicate)."""
    start, end = (date.fromisoformat(d) for d in version.period)
    day = min(start + timedelta(days=150), end).isoformat()
    claim_data = {"claim_id": profile["id"], "member": {"id": profile["id"], **profile["member"]}, "date": day,
                  **{k: profile[k] for k in ("care", "hospital_level", "in_policy_self_pay", "out_of_policy_self_pay")}}
    cell = Cell(total_fen=yuan_to_fen(profile["in_policy_self_pay"]) + yuan_to_fen(profile["out_of_policy_self_pay"]))
    try:
        claim = parse_claim(claim_data, f"<{profile['id']}>")
        settled = adjudicate(claim, version, trace=False)
    except InputError as exc:
        cell.note = exc.issues[0].message
        return cell
    cell.paid_fen = settled.paid_fen
    if settled.eligibility.outcome != "eligible":
        cell.note = settled.eligibility.as_dict()["label"]
    try:
        cell.premium_fen = quote(claim.member, version, trace=False).premium_fen
    except InputError as exc:
        cell.note = cell.note or exc.issues[0].message
    return cell
