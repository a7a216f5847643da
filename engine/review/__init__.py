"""Regulator review: the rules that govern a scheme version, checked with citations.

    facts.py    the scheme's facts, derived from the validated model (and computed figures)
    regimes.py  regime files (regimes/*.yaml): checks with clause, verified quote, severity, conditions
    checks.py   the checks compiled to durable-rules; the rules give the verdicts
    report.py   the review report: JSON, HTML and PDF

A regime applies by the version's region or city and period, whether or not the scheme lists it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..inherit import resolve_versions
from ..load import Document
from ..model import Product, Version, build_product
from .checks import Verdict, run_checks
from .facts import Fact, derive_facts
from .regimes import Regime, load_regimes


@dataclass
class RegimeResult:
    regime: Regime
    applies: bool
    why: str  # why it applies or not
    listed: bool  # the scheme lists it in regulation.regimes
    verdicts: list[Verdict] = field(default_factory=list)


@dataclass
class Review:
    product: Product
    version: Version
    facts: dict[str, Fact]
    regimes: list[RegimeResult]

    @property
    def verdicts(self) -> list[Verdict]:
        return [v for r in self.regimes for v in r.verdicts]


def version_data(doc: Document, version: Version) -> dict:
    """The validated YAML mapping of one version, resolved when it extends another (declared terms the typed
    model does not carry)."""
    return next(item for item in resolve_versions(doc)[0].data["versions"] if str(item["id"]) == version.id)


def review(product: Product, version: Version, data: dict, regimes: list[Regime] | None = None,
           population: int = 2_000) -> Review:
    """Every applicable regime's checks run on the version's facts."""
    facts = derive_facts(product, version, data, population=population)
    results = []
    for regime in regimes if regimes is not None else load_regimes():
        applies, why = regime.applicability(version)
        result = RegimeResult(regime, applies, why, regime.listed_by(version))
        if applies:
            result.verdicts = run_checks(regime, facts)
        results.append(result)
    return Review(product, version, facts, results)


def review_document(doc: Document, year: str, population: int = 2_000) -> Review:
    """Review one version of a validated scheme document (KeyError: no such version)."""
    product = build_product(resolve_versions(doc)[0].data, doc.file)
    version = product.version(year)
    return review(product, version, version_data(doc, version), population=population)
