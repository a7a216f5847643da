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
from .issues import InputError, Issue, SchemeError
from .load import Document, load_file
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


CASE_KEYS = {"id", "name", "basis", "source", "version", "claim", "claims", "quote", "expect", "note"}
SETTLEMENT_EXPECT = {"eligibility", "paid", "patient_remainder", "by_liability", "layers", "near", "overall_ratio",
                     "trace"}
QUOTE_EXPECT = {"eligibility", "band", "premium", "payers"}


def case_issues(doc: Document) -> list[Issue]:
    """Structural problems of a case file: a misspelt expectation must fail loudly, never pass silently."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or "product" not in data:
        return [doc.issue("cases.shape", "案例文件需要 product（方案文件名）和 cases（案例列表）两项")]
    issues = []
    for i, case in enumerate(data["cases"]):
        issues += _one_case_issues(doc, case, ("cases", i))
    return issues


def _one_case_issues(doc: Document, case, path: tuple) -> list[Issue]:
    if not isinstance(case, dict):
        return [doc.issue("cases.shape", "每个案例应是一个键值对", path)]
    issues = [doc.issue("cases.missing", f"案例缺少“{key}”", path) for key in ("id", "version", "expect")
              if key not in case]
    issues += [doc.issue("cases.unknown_key", f"不认识的键“{key}”", path + (key,), prefer_key=True)
               for key in case if key not in CASE_KEYS]
    inputs = [key for key in ("claim", "claims", "quote") if key in case]
    if len(inputs) != 1:
        issues.append(doc.issue("cases.input", "每个案例恰好需要 claim、claims、quote 之一", path))
        return issues
    expects = case.get("expect", [])
    expects = expects if isinstance(expects, list) else [expects]
    if "claims" in case and len(expects) != len(case["claims"]):
        issues.append(doc.issue("cases.expect_count", f"{len(case['claims'])} 笔理赔需要同样多的期望结果，"
                                f"实际 {len(expects)} 个", path + ("expect",)))
    allowed = QUOTE_EXPECT if "quote" in case else SETTLEMENT_EXPECT
    for j, expect in enumerate(expects):
        where = path + (("expect", j) if isinstance(case.get("expect"), list) else ("expect",))
        if not isinstance(expect, dict) or not expect:
            issues.append(doc.issue("cases.expect_empty", "期望结果为空：这个案例什么也没检查", where))
            continue
        issues += [doc.issue("cases.unknown_expect", f"不认识的期望项“{key}”；可用：{'、'.join(sorted(allowed))}",
                             where + (key,), prefer_key=True) for key in expect if key not in allowed]
    return issues


def load_cases(path: str | Path) -> tuple[Path, list[dict]]:
    """The product file a case file names, and its cases; SchemeError if the case file is malformed."""
    doc = load_file(path)
    issues = case_issues(doc)
    if issues:
        raise SchemeError(issues)
    return Path(path).parent / doc.data["product"], doc.data["cases"]


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
            accumulators: dict[str, dict] = {}  # per member: claims of different people never share a deductible
            for i, (claim_data, expect) in enumerate(zip(claims, expects, strict=True)):
                claim = parse_claim(claim_data)
                settled = adjudicate(claim, version, accumulators.get(claim.member.id))
                accumulators[claim.member.id] = settled.accumulators
                prefix = f"第 {i + 1} 笔：" if len(claims) > 1 else ""
                _check_settlement(settled.as_dict(), expect, result.failures, prefix)
    except (InputError, SchemeError, KeyError) as exc:
        result.failures.append(f"无法运行：{exc}")
    result.passed = not result.failures
    return result


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
        if not any(all(_trace_field_matches(step.get(k), v) for k, v in wanted.items()) for step in got["trace"]):
            failures.append(f"{prefix}追踪中缺少：{wanted}")


def _trace_field_matches(got, wanted) -> bool:
    """Text fields match by prefix (a clause may be cited by its start); numbers and flags exactly."""
    if isinstance(wanted, str):
        return isinstance(got, str) and got.startswith(wanted)
    if isinstance(wanted, bool) or isinstance(got, bool):
        return got is wanted
    return got == wanted  # numeric trace fields are *_fen: integers compared exactly


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
