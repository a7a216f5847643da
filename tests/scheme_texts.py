"""Small scheme files for tests that need specific parameters (not products: nothing here is sourced from a city).

Default version (every amount in yuan):
  shared deductible pool 10,000 for in_policy and out_of_policy, used in-policy first (`order`);
  one shared cap "total" 100,000
  in_policy      80 %, inpatient            out_of_policy  50 %, inpatient
  special_drugs  no deductible, 50 %, cap 50,000, inpatient / outpatient / pharmacy;
                 catalogue: drug-a for cancer-a, valid 2024-03-01 to 2024-06-30 (the 2024 version)
  insurers       lead 40 %, one co-insurer 60 %
  eligibility    basic insurance required; suspended while basic insurance is in arrears or terminated
"""
from __future__ import annotations

import textwrap
from pathlib import Path

from engine import load_library, load_product_text

# the made-up documents these schemes (and tests/fixtures/) cite, with their texts: quotes are checked as in products
FIXTURE_SOURCES = load_library(Path(__file__).parent / "fixtures" / "sources")

TEMPLATE = """\
format: hmb-scheme/1
product: {id: test-scheme, name: 测试方案, city: 测试市, region: 测试省}
sources:
  doc: {title: 测试用来源, issuer: 测试机构}
drug_lists:
  drugs:
    name: 测试特药目录
    source: {doc: doc, clause: 第九条, quote: 第九条}
    drugs:
      - code: drug-a
        name: 甲药
        indications: [{code: cancer-a, name: 甲癌}]
        valid_from: 2024-03-01
        valid_to: 2024-06-30
versions:
@VERSIONS@"""

VERSION = """\
- id: "@YEAR@"
  name: 测试 @YEAR@
  period: {start: @YEAR@-01-01, end: @YEAR@-12-31}
  enrolment: {start: @YEAR@-01-01, end: @YEAR@-03-31}
  regulation: {regimes: [test], pricing: flat}
  insurers:
    source: {doc: doc, clause: 第二条, quote: 第二条}
@INSURERS@
  filings: {authorisation: true, actuarial_opinion: true, legal_opinion: true, source: {doc: doc, clause: 第一条, quote: 第一条}}
  settlement: {rounding: @ROUNDING@, one_stop: false, source: {doc: doc, clause: 第一条, quote: 第一条}}
  eligibility:
    basic_insurance_required: true
    suspend_when_basic_in_arrears: true
    source: {doc: doc, clause: 第三条, quote: 第三条}
@CONDITIONS@
  premium:
    age_reference: period_start
    source: {doc: doc, clause: 第四条, quote: 第四条}
    bands:
@BANDS@
@FUNDING@
  chain:
    after: [basic]
@CHAIN@
@POOLS@
  liabilities:
@LIABILITIES@"""

POOLS = """\
deductibles:
  - {id: shared, name: 共用起付线, amount: 10000, order: @ORDER@, source: {doc: doc, clause: 第五条, quote: 第五条}}
caps:
  - {id: total, name: 共用保额, amount: 100000, source: {doc: doc, clause: 第六条, quote: 第六条}}"""

INSURERS = """\
lead: {name: 主承保公司, share: 0.4}
co:
  - {name: 共保公司, share: 0.6}"""

BANDS = "- {id: everyone, name: 统一保费, when: {}, amount: 50}"

SPECIAL_DRUGS = """\
- id: special_drugs
  name: 特药
  covers: special_drugs
  care: [inpatient, outpatient, pharmacy]
  drug_list: drugs
  deductible: 0
  ratio: 0.5
  cap: 50000
  source: {doc: doc, clause: 第九条, quote: 第九条}"""

LIABILITIES = """\
- id: in_policy
  name: 目录内
  covers: in_policy_self_pay
  care: [inpatient]
  deductible: shared
  ratio: 0.8
  cap: total
  source: {doc: doc, clause: 第七条, quote: 第七条}
- id: out_of_policy
  name: 目录外
  covers: out_of_policy_self_pay
  care: [inpatient]
  deductible: shared
  ratio: 0.5
  cap: total
  source: {doc: doc, clause: 第八条, quote: 第八条}
""" + SPECIAL_DRUGS


def _block(text: str, indent: int) -> str:
    return textwrap.indent(textwrap.dedent(text).strip("\n"), " " * indent) if text else ""


def scheme_text(years=("2024",), rounding="half_up", order="in_policy_first", insurers=INSURERS, conditions="",
                bands=BANDS, liabilities=LIABILITIES, chain="", funding="", pools=POOLS) -> str:
    versions = []
    for year in years:
        body = (VERSION.replace("@YEAR@", year).replace("@ROUNDING@", rounding)
                .replace("@INSURERS@", _block(insurers, 4)).replace("@CONDITIONS@", _block(conditions, 4))
                .replace("@BANDS@", _block(bands, 6)).replace("@CHAIN@", _block(chain, 4))
                .replace("@FUNDING@", _block(funding, 2)).replace("@POOLS@", _block(pools, 2))
                .replace("@ORDER@", order)
                .replace("@LIABILITIES@", _block(liabilities, 4)))
        versions.append(_block(body, 2))
    text = TEMPLATE.replace("@VERSIONS@", "\n".join(versions) + "\n")
    return "\n".join(line for line in text.split("\n") if line.strip()) + "\n"  # drop empty placeholders


def scheme(**options):
    """A validated test product (engine.load_product_text)."""
    return load_product_text(scheme_text(**options), "<test-scheme>", FIXTURE_SOURCES)


def version(**options):
    return scheme(**options).versions[0]
