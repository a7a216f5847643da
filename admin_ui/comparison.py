"""Versions side by side, as the comparison page, its downloads and the API give them: which versions, the
engine's figures for them (`engine.compare`, nothing recomputed here) and the Excel and CSV files.

The figures are work for the job registry (admin_ui/jobs.py), keyed by the versions' content hashes: the
same texts always give the same figures, so a result computed once — as a background job the page polls,
or in a request — answers everyone until it expires, whichever process computed it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine import Version
from engine.compare import by_plan, comparison_steps, graded_bill_sizes
from engine.explain import ASSUMED_MARK
from engine.money import fen_to_yuan, format_yuan

from .export import Flagged, Sheet, Share, Yuan, csv_response, xlsx_response
from .i18n import _
from .jobs import SYNC_WAIT_SECONDS, Work, jobs, key_of
from .models import SchemeVersion
from .services import check_stored, evaluate_stored


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
        else:  # a version with plans is a column a plan, as engine.compare lays them out
            columns += [Column(row.id, f"{row.product.name} {row.version_id}" + (f" {terms.plan_name}" if terms.plan
                                                                                 else ""),
                               row.product.city, row.status, terms, row) for terms in by_plan([version])]
    return columns, broken


# ── computing: through the job registry ───────────────────────────────────────────────────────

def comparison_work(columns: list[Column], page: str = "") -> Work:
    """engine.compare through services.evaluate_stored (in the sandbox's worker when a draft is among them);
    its progress: one step per evaluation."""
    first, *others = list({c.row.id: c.row for c in columns}.values())  # a version with plans: its row once
    total = comparison_steps(len(columns), len(graded_bill_sizes()))

    def run(progress) -> dict:
        return evaluate_stored(first, "compare", {"others": others}, progress)

    return Work("compare", key_of(*(c.version.content_hash for c in columns)), total, run, page)


def comparison(columns: list[Column], owner_id: int | None = None) -> dict:
    """The engine's comparison of these versions (amounts in fen): computed already by anyone, else now."""
    return jobs().result(comparison_work(columns), owner_id, SYNC_WAIT_SECONDS)


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
