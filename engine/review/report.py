"""The review report, in Chinese: the scheme summarised with every value beside its source or assumption,
compliance results grouped by regime (clause, quote, verdict, the scheme values looked at), items for a person
to confirm, worked examples on the standard profiles with their traces, and the changes since the previous
version.  `report_data` is JSON-ready (amounts in fen); `render_html` and `write_pdf` present it.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from ..compare import by_plan, profile_claim, standard_profiles
from ..diff import diff_versions
from ..evaluate import adjudicate
from ..explain import ASSUMED_MARK, describe_version, trace_text
from ..inputs import parse_claim
from ..load import parse_text
from ..model import Product, Version
from ..money import format_yuan
from . import Review, review, version_data
from .checks import Verdict
from .regimes import VERDICTS

_ENV = Environment(loader=PackageLoader("engine.review", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["yuan"] = lambda fen: f"{format_yuan(fen)} 元"


def report_data(result: Review) -> dict:
    version = result.version
    regimes = [_regime(r) for r in result.regimes if r.applies]
    verdicts = [c for r in regimes for c in r["checks"]]
    return {
        "title": f"{_full_name(version)} 合规审查报告",
        "version": version.key,
        "ruleset": version.ruleset_name,
        "scheme": describe_version(version),
        "counts": {v: sum(1 for c in verdicts if c["verdict"] == v) for v in VERDICTS},
        "regimes": regimes,
        "not_applicable": [{"id": r.regime.id, "name": r.regime.name, "why": r.why, "listed": r.listed}
                           for r in result.regimes if not r.applies],
        "listed_unknown": [name for name in version.regimes
                           if not any(r.listed for r in result.regimes if name in (r.regime.id, *r.regime.aliases))],
        "to_confirm": [{"regime": r["name"], **c} for r in regimes for c in r["checks"] if c["verdict"] == "需人工确认"],
        "facts": [f.as_dict() for f in result.facts.values()],
        "examples": worked_examples(version),
        "changes": changes_since_previous(result),
        "assumed_mark": ASSUMED_MARK,
    }


def review_report(text: str, product: Product, version: Version, others: list[Version], population: int = 2_000
                  ) -> dict:
    """The report of a version stored on its own (one version per text, as the admin keeps them), reviewed
    among the product's other versions (for the first year, an in-year change and the previous version)."""
    doc = parse_text(text, product.file)
    siblings = replace(product, versions=(version, *(o for o in others if o.key != version.key)))
    return report_data(review(siblings, version, version_data(doc, version), population=population))


def _full_name(version: Version) -> str:
    if version.name.startswith(version.product_name):
        return version.name
    return f"{version.product_name} {version.name}"


def _regime(result) -> dict:
    regime, document = result.regime, result.regime.document
    return {"id": regime.id, "name": regime.name, "why": result.why, "listed": result.listed, "note": regime.note,
            "document": None if document is None else {
                "id": document.id, "label": document.label, "secondary": document.secondary, "note": document.note,
                "file": Path(document.file).name},
            "checks": [_check(v) for v in result.verdicts]}


def _check(verdict: Verdict) -> dict:
    check = verdict.check
    return {"id": check.id, "name": check.name, "clause": check.clause, "severity": check.severity,
            "quote": check.citation.quote if check.citation else None,
            "quote_line": check.citation.at[0] if check.citation else None,
            "verdict": verdict.verdict, "rule": verdict.rule, "note": check.note, "manual": check.manual,
            "assumed": verdict.assumed,
            "looked_at": [f.as_dict() for f in verdict.looked_at],
            # what a person's finding on the check is tied to: it is carried while both are unchanged
            "definition_hash": check.digest, "values_hash": verdict.values_digest}


def worked_examples(version: Version) -> list[dict]:
    """Each standard profile paid under the version (under each of its plans, where it has plans), with its trace."""
    examples = []
    for terms in by_plan([version]):
        for profile in standard_profiles()["profiles"]:
            settled = adjudicate(parse_claim(profile_claim(profile, terms)), version, trace=True)
            examples.append({"id": profile["id"] + (f"/{terms.plan}" if terms.plan else ""),
                             "name": f"{terms.plan_name}：{profile['name']}" if terms.plan else profile["name"],
                             "paid_fen": settled.paid_fen, "remainder_fen": settled.patient_remainder_fen,
                             "trace": trace_text(settled.trace, version.sources)})
    return examples


def changes_since_previous(result: Review) -> dict | None:
    """The changes from the version whose period starts last before this one's."""
    earlier = [v for v in result.product.versions if v.period[0] < result.version.period[0]]
    if not earlier:
        return None
    previous = max(earlier, key=lambda v: v.period[0])
    return {"previous": previous.key, "previous_name": previous.name,
            "items": [c.as_dict() for c in diff_versions(previous, result.version)]}


def render_html(data: dict) -> str:
    """The report as a standalone page (styles included), for a file or a PDF."""
    return _ENV.get_template("report.html").render(**data)


def render_body(data: dict) -> str:
    """The report's content without page and styles, for a page of the admin (escaped: safe to insert)."""
    return _ENV.get_template("_report_body.html").render(**data)


def write_pdf(data: dict, path: str | Path) -> None:
    Path(path).write_bytes(write_pdf_bytes(data))


def write_pdf_bytes(data: dict) -> bytes:
    from weasyprint import HTML  # imported here: WeasyPrint loads Pango, which only the PDF needs

    return HTML(string=render_html(data)).write_pdf()


def report_text(data: dict) -> str:
    """The results for a terminal: one line per check, grouped by regime."""
    counts = "，".join(f"{k} {n}" for k, n in data["counts"].items())
    lines = [data["title"], f"{data['version']}（{data['ruleset']}）", counts]
    for regime in data["regimes"]:
        source = regime["document"]["label"] if regime["document"] else "方案自身声明"
        secondary = "（二手来源：公开报道要点）" if regime["document"] and regime["document"]["secondary"] else ""
        lines += ["", f"【{regime['name']}】{source}{secondary}；适用：{regime['why']}"]
        for check in regime["checks"]:
            values = "；".join(f"{f['label']} {f['text']}{ASSUMED_MARK if f['assumed'] else ''}"
                              for f in check["looked_at"])
            quote = f"“{check['quote']}”" if check["quote"] else ""
            lines.append(f"  [{check['verdict']}] {check['name']} 〔{check['clause']} {quote}〕"
                         + (f" — {values}" if values else ""))
    for regime in data["not_applicable"]:
        lines.append(f"不适用：{regime['name']}（{regime['why']}）")
    return "\n".join(lines)
