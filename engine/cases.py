"""Golden cases: YAML files a product manager can read and run (`hmb cases`).

A case file sits beside its product (`products/NAME.cases.yaml`):

    product: NAME.yaml
    cases:
      - id: worked-example
        name: 计算示例
        basis: source        # source: the numbers are the document's own; derived: worked arithmetic
        source: DOC clause   # where the numbers come from
        version: "2023"
        claim: {...}         # or claims: [...] (in order, accumulating) or quote: {...} (a person)
        expect: {...}        # or a list, one per claim

Amounts are in yuan, as in the product files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .evaluate import adjudicate, quote
from .inputs import parse_claim, parse_person
from .issues import InputError, SchemeError
from .load import load_file
from .model import Product
from .money import format_yuan, yuan_to_fen


@dataclass
class CaseResult:
    id: str
    name: str
    basis: str
    passed: bool
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "basis": self.basis, "passed": self.passed,
                "failures": self.failures}


def case_file_for(product_path: str | Path) -> Path:
    path = Path(product_path)
    return path.with_name(path.stem + ".cases.yaml")


def load_cases(path: str | Path) -> tuple[Path, list[dict]]:
    """The product file a case file names, and its cases."""
    doc = load_file(path)
    data = doc.data
    if not isinstance(data, dict) or "cases" not in data or "product" not in data:
        raise SchemeError([doc.issue("cases.shape", "案例文件需要 product 和 cases 两项")])
    return Path(path).parent / data["product"], data["cases"]


def run_case(product: Product, case: dict) -> CaseResult:
    result = CaseResult(case["id"], case.get("name", case["id"]), case.get("basis", "derived"), True)
    try:
        version = product.version(case["version"])
        if "quote" in case:
            outcome = quote(parse_person(case["quote"]), version)
            _check_quote(outcome.as_dict(), case["expect"], result.failures)
        else:
            claims = case["claims"] if "claims" in case else [case["claim"]]
            expects = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
            accumulators: dict = {}
            for i, (claim_data, expect) in enumerate(zip(claims, expects)):
                settled = adjudicate(parse_claim(claim_data), version, accumulators)
                accumulators = settled.accumulators
                prefix = f"第 {i + 1} 笔：" if len(claims) > 1 else ""
                _check_settlement(settled.as_dict(), expect, result.failures, prefix)
    except (InputError, SchemeError, KeyError) as exc:
        result.failures.append(f"无法运行：{exc}")
    result.passed = not result.failures
    return result


def run_file(path: str | Path, product: Product) -> list[CaseResult]:
    _, cases = load_cases(path)
    return [run_case(product, case) for case in cases]


def _fen(value) -> int:
    return yuan_to_fen(value)


def _compare_money(label: str, got: int, want, failures: list[str], prefix: str = "") -> None:
    if got != _fen(want):
        failures.append(f"{prefix}{label}：应为 {format_yuan(_fen(want))} 元，实际 {format_yuan(got)} 元")


def _check_settlement(got: dict, expect: dict, failures: list[str], prefix: str) -> None:
    if "eligibility" in expect and got["eligibility"]["outcome"] != expect["eligibility"]:
        failures.append(f"{prefix}资格：应为 {expect['eligibility']}，实际 {got['eligibility']['outcome']}")
    if "paid" in expect:
        _compare_money("赔付", got["paid_fen"], expect["paid"], failures, prefix)
    if "patient_remainder" in expect:
        _compare_money("个人负担", got["patient_remainder_fen"], expect["patient_remainder"], failures, prefix)
    for liability, want in expect.get("by_liability", {}).items():
        _compare_money(f"责任 {liability}", got["by_liability"].get(liability, 0), want, failures, prefix)
    layers = {layer["layer"]: layer["paid_fen"] for layer in got["layers"]}
    for layer, want in expect.get("layers", {}).items():
        _compare_money(f"赔付层 {layer}", layers.get(layer, 0), want, failures, prefix)
    for field_name, spec in expect.get("near", {}).items():
        value = Decimal(_lookup(got, field_name)) / 100
        if abs(value - Decimal(str(spec["value"]))) > Decimal(str(spec["value"])) * Decimal(str(spec["tolerance"])):
            failures.append(f"{prefix}{field_name}：应约为 {spec['value']} 元（±{spec['tolerance']}），实际 {value}")
    if "overall_ratio" in expect:
        spec = expect["overall_ratio"]
        ratio = (Decimal(_fen(spec["prior_paid"]) + got["paid_fen"]) / _fen(spec["bill"]))
        if abs(ratio - Decimal(str(spec["value"]))) > Decimal(str(spec["tolerance"])):
            failures.append(f"{prefix}总报销比例：应为 {spec['value']}（±{spec['tolerance']}），实际 {ratio:.6f}")
    for wanted in expect.get("trace", []):
        if not any(all(str(step.get(k, "")).startswith(str(v)) for k, v in wanted.items()) for step in got["trace"]):
            failures.append(f"{prefix}追踪中缺少：{wanted}")


def _lookup(got: dict, dotted: str):
    value = got
    for part in dotted.split("."):
        value = value[part]
    return value


def _check_quote(got: dict, expect: dict, failures: list[str]) -> None:
    if "eligibility" in expect and got["eligibility"]["outcome"] != expect["eligibility"]:
        failures.append(f"资格：应为 {expect['eligibility']}，实际 {got['eligibility']['outcome']}")
    if "band" in expect and got["band"] != expect["band"]:
        failures.append(f"档位：应为 {expect['band']}，实际 {got['band']}")
    if "premium" in expect:
        _compare_money("保费", got["premium_fen"], expect["premium"], failures)
    paid_by = {}
    for payer in got["payers"]:
        paid_by[payer["payer"]] = paid_by.get(payer["payer"], 0) + payer["fen"]
    for payer, want in expect.get("payers", {}).items():
        _compare_money(f"缴费方 {payer}", paid_by.get(payer, 0), want, failures)
