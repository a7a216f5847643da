"""`hmb explain` of every version of the three products marks every assumed value where it is shown, lists
every assumption at the end, and shows names, never the codes a scheme file is written in.

The assumed values are found by walking the model (not through explain), and each is looked for in the
text as the value followed by 【假设】.
"""
import re

import pytest

from engine import vocab
from engine.explain import version_text
from engine.model import money_choices
from engine.money import format_yuan, percent

PRODUCTS = ("ganzhou", "xianhuibao", "zaohuibao")
MARK = "【假设】"
# an identifier as a scheme file writes it: lower-case ASCII joined by _ . or - (cbirc-2021-city-customised,
# funding.donated_enrolment, chronic_outpatient_1); dates and amounts begin with a digit, names like CAR-T are upper
CODE = re.compile(r"(?<![A-Za-z0-9])[a-z][a-z0-9]*(?:[_.\-/][a-z0-9]+)+(?![A-Za-z0-9])")


def versions(load):
    return [(name, v) for name in PRODUCTS for v in load(name).versions]


@pytest.fixture(scope="module")
def all_versions(products_dir):
    from engine import load_product
    return [v for name in PRODUCTS for v in load_product(products_dir / f"{name}.yaml").versions]


def assumed_fragments(version):
    """(what, the text that must stand in the explanation) for every assumed value of the version's model."""
    def amount(a):
        return f"{format_yuan(a.fen)} 元{MARK}"

    found = []
    for band in version.bands:
        if band.amount.prov.is_assumption:
            found.append((f"band {band.name}", amount(band.amount)))
        if band.prov.is_assumption:
            found.append((f"band scope {band.name}", f"{band.when.describe()}{MARK}"))
    for layer in version.layers:
        for pool in [*layer.deductibles.values(), *layer.caps.values()]:
            if pool.amount.prov.is_assumption:
                found.append((pool.name, f"不设起付线{MARK}" if pool.amount.fen == 0 else amount(pool.amount)))
        for liability in layer.liabilities:
            for row in liability.rows:
                rates = ([row.rate] if row.rate else []) + [s.rate for s in row.segments]
                found += [(liability.name, f"{percent(r.value)}{MARK}") for r in rates if r.prov.is_assumption]
    for subsidy in version.subsidies:
        if subsidy.amount and subsidy.amount.prov.is_assumption:
            found.append((subsidy.name, amount(subsidy.amount)))
        if subsidy.share and subsidy.share.prov.is_assumption:
            found.append((subsidy.name, f"{percent(subsidy.share.value)}{MARK}"))
    for insurer in version.insurers:
        if insurer.share.prov.is_assumption:
            found.append((insurer.name, f"{insurer.name}{'（主承保）' if insurer.lead else ''} "
                                        f"{percent(insurer.share.value)}{MARK}"))
    labels = {"rounding": vocab.ROUNDING, "age_reference": vocab.AGE_REFERENCE,
              "deductible_order": vocab.DEDUCTIBLE_ORDERS, "subsidy_order": vocab.SUBSIDY_ORDERS}
    for item in money_choices(version):
        if not item.prov.is_assumption:
            continue
        if item.key == "care":
            shown = "、".join(vocab.CARE[c] for c in item.value)
        elif item.key.startswith("filing."):
            shown = vocab.FILING_STATES[item.value]
        elif item.key in labels:
            shown = labels[item.key][item.value]
        else:  # one-stop settlement: its wording is explain's own; it must at least be listed
            found.append((item.key, vocab.CHOICES[item.key]))
            continue
        found.append((item.key, f"{shown}{MARK}"))
    return found


def test_every_assumed_value_of_every_version_is_marked_where_it_is_shown(all_versions):
    checked = 0
    for version in all_versions:
        text = version_text(version)
        body, _, listed = text.partition("\n【假设】以下")
        for what, fragment in assumed_fragments(version):
            assert fragment in (listed if fragment in vocab.CHOICES.values() else body), \
                f"{version.key}: {what} not marked: {fragment!r}"
            checked += 1
    assert checked > 100  # the walk found the products' assumptions (deductibles, ratios, caps, choices…)


def test_every_assumed_choice_is_in_the_list_at_the_end(all_versions):
    for version in all_versions:
        listed = version_text(version).partition("\n【假设】以下")[2]
        for item in money_choices(version):
            if item.prov.is_assumption:
                assert item.prov.assumed in listed, f"{version.key}: {item.key}"


def test_a_liability_line_never_lets_an_assumed_value_read_as_sourced(all_versions):
    """The issue's case: 枣惠保's liability lines cite the source, and their assumed ratios sit right beside it."""
    zz = next(v for v in all_versions if v.key == "zaohuibao@2025")
    line = next(l for l in version_text(zz).splitlines() if l.strip().startswith("1. 医保目录内个人自付"))
    assert f"80%{MARK}" in line and f"40%{MARK}" in line and f"1,500,000.00 元{MARK}" in line
    assert f"住院{MARK}" in line  # covered care: the source names inpatient care only in passing


def test_explanations_show_names_not_codes(all_versions):
    for version in all_versions:
        text = version_text(version)
        assert not CODE.findall(text), f"{version.key}: {sorted(set(CODE.findall(text)))}"
        ids = {b.id for b in version.bands} | {s.id for s in version.subsidies} | set(version.sources) \
            | {l.id for layer in version.layers for l in layer.liabilities}
        words = set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text))
        assert not ids & words, f"{version.key}: {ids & words}"
