"""Golden cases: YAML files a product manager can read and run (`hmb cases`).

A case file sits beside its product (`products/NAME.cases.yaml`):

    product: NAME.yaml
    cases:
      - id: worked-example
        name: 计算示例
        basis: source        # source: the numbers are the document's own; derived: worked arithmetic
                             # (`source` only if no value the result rests on is assumed: checked)
        source: {doc: DOC, clause: …, quote: …}   # where the numbers come from: a citation, checked like a scheme's
        version: "2023"
        claim: {...}         # or claims: [...] (settled in date order, accumulating) or quote: {...} (a person)
        expect: {...}        # or a list, one per claim

Amounts are in yuan, as in the product files.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from . import vocab
from .citations import BARE_SOURCE, Library, check_citation, library_for, source_paths
from .evaluate import quote
from .explain import ASSUMED_MARK, choice_text
from .inputs import parse_claim, parse_person
from .issues import InputError, Issue, SchemeError
from .load import Document, load_file
from .model import Product, Version
from .money import yuan_to_fen
from .settle import settle_in_order


@dataclass(frozen=True)
class Check:
    """One expectation of a case beside what the engine gave, as data: each reader words it (the CLI in
    Chinese, the admin through its translations). A failure is a check that did not pass."""

    expectation: str  # its key under `expect`: paid, by_liability, layers, near, overall_ratio, trace, band…
    passed: bool
    item: str = ""  # what it names there: a liability, layer or payer id; a settlement field (near)
    claim: int | None = None  # the claim's number (from 1) in a case of several claims
    expected_fen: int | None = None  # money is compared in fen
    actual_fen: int | None = None
    expected: object = None  # anything else as written in the case: an outcome, a band id, a ratio, a trace step
    actual: object = None
    tolerance: Decimal | None = None  # near: relative to the expected amount; overall_ratio: absolute
    rule: str = ""  # the trace step behind the actual value, where there is one
    clause: str = ""

    @property
    def money(self) -> bool:
        return self.expected_fen is not None

    def as_dict(self) -> dict:
        out = {"expectation": self.expectation, "passed": self.passed}
        for key in ("item", "claim", "expected_fen", "actual_fen", "expected", "actual", "tolerance", "rule", "clause"):
            value = getattr(self, key)
            if value not in ("", None):
                out[key] = str(value) if isinstance(value, Decimal) else value
        return out


@dataclass(frozen=True)
class CaseResult:
    id: str
    name: str
    basis: str
    checks: tuple[Check, ...] = ()
    error: str = ""  # why the case could not run (bad input, unknown version); then it fails
    rests_on: tuple[str, ...] = ()  # the assumed values its results rest on ("what【假设】why")

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    @property
    def basis_broken(self) -> bool:
        """A case that says its numbers are the source's own, yet rests on assumed values."""
        return self.basis == "source" and bool(self.rests_on)

    @property
    def passed(self) -> bool:
        return not self.error and not self.failures and not self.basis_broken

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "basis": self.basis, "passed": self.passed,
                **({"error": self.error} if self.error else {}),
                **({"rests_on": list(self.rests_on)} if self.rests_on else {}),
                "failures": [check.as_dict() for check in self.failures]}


def case_file_for(product_path: str | Path) -> Path:
    path = Path(product_path)
    return path.with_name(path.stem + ".cases.yaml")


CASE_KEYS = {"id", "name", "basis", "source", "version", "claim", "claims", "quote", "expect", "note"}
SETTLEMENT_EXPECT = {"eligibility", "paid", "patient_remainder", "by_liability", "layers", "near", "overall_ratio",
                     "trace"}
QUOTE_EXPECT = {"eligibility", "band", "premium", "payers"}


def case_issues(doc: Document, library: Library | None = None) -> list[Issue]:
    """Structural problems of a case file: a misspelt expectation must fail loudly, never pass silently; and
    every case's `source:` a citation whose quote is in the cited text (`library`: by default the file's own)."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or "product" not in data:
        return [doc.issue("cases.shape", "案例文件需要 product（方案文件名）和 cases（案例列表）两项")]
    issues = []
    library = library or library_for(doc.file)
    for i, case in enumerate(data["cases"]):
        issues += _one_case_issues(doc, case, ("cases", i))
        if isinstance(case, dict) and "source" in case:
            issues += _source_issues(doc, case["source"], ("cases", i, "source"), library)
    return issues


def _source_issues(doc: Document, source, path: tuple, library: Library) -> list[Issue]:
    """A case's `source:` cited as a scheme's is: {doc, clause, quote, note}, or a list of them, quote verified."""
    if not isinstance(source, (dict, list)) or not source:
        return [doc.issue("provenance.bare_source", BARE_SOURCE, path)]
    issues = []
    for cpath in source_paths(source, path):
        node = doc.get(cpath)
        if not isinstance(node, dict) or not all(isinstance(node.get(k), str) for k in ("doc", "clause", "quote")):
            issues.append(doc.issue("provenance.bare_source", BARE_SOURCE, cpath))
        else:
            issues += check_citation(doc, cpath, library)[1]
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
    checks: list[Check] = []
    rests_on: list[str] = []
    try:
        version = product.version(case["version"])
        if "quote" in case:
            person = parse_person(case["quote"])
            outcome = quote(person, version)
            checks += _quote_checks(outcome.as_dict(), case["expect"])
            rests_on += assumed_basis(version, outcome.trace, quoted=set(case["expect"]),
                                      born=person.birth_date is not None)
        else:
            claims = case["claims"] if "claims" in case else [case["claim"]]
            expects = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
            settled = settle_in_order([parse_claim(data) for data in claims], version)
            for i, ((got, _), expect) in enumerate(zip(settled, expects, strict=True)):
                checks += _settlement_checks(got, expect, i + 1 if len(claims) > 1 else None)
                rests_on += assumed_basis(version, got["trace"])
        error = ""
    except (InputError, SchemeError, KeyError) as exc:
        error = str(exc)
    return CaseResult(case["id"], case.get("name", case["id"]), case.get("basis", "derived"), tuple(checks), error,
                      tuple(dict.fromkeys(rests_on)))


def assumed_basis(version: Version, trace: list[dict], quoted: set | None = None, born: bool = False) -> list[str]:
    """The assumed values a result rests on: each assumed step of its trace (a band, a subsidy, a deductible,
    a ratio, a cap, the deductible's order…), and the choices the steps used without naming them — the
    rounding of any ratio, the covered care that routed a part, and for a quote of a person given by birth
    date (`born`; an age given directly needs no reference date) the age reference date when its band or a
    subsidy it got depends on age.  `quoted`: a quote's expectations (a subsidy moves only who pays, so it
    counts only where the case expects payers)."""
    skip = {"subsidy"} if quoted is not None and "payers" not in quoted else set()
    found = [f"{step['text']}{ASSUMED_MARK}{step['clause'].removeprefix('假设：')}"
             for step in trace if step.get("assumed") and step["step"] not in skip]
    choices = {item.key: item for item in version.choices}
    used = []
    if any(step["step"] in ("ratio", "segment") for step in trace):
        used.append(choices["rounding"])
    if born and _depends_on_age(version, trace):
        used.append(choices["age_reference"])
    routed = {(step.get("layer"), step.get("liability")) for step in trace if step["step"] == "route"}
    used += [l.care_choice for layer in version.layers for l in layer.liabilities
             if (layer.id, l.id) in routed and l.care_choice]
    found += [f"{vocab.CHOICES[c.key]}：{choice_text(c)}{c.prov.assumed}" for c in used if c.prov.is_assumption]
    return found


def _depends_on_age(version: Version, trace: list[dict]) -> bool:
    """Whether a quote's band, or a subsidy it got, is chosen by age (then the age reference date matters)."""
    names = {step["text"] for step in trace}
    band = next((b for b in version.bands if any(f"“{b.name}”" in text for text in names)), None)
    subsidies = [s for s in version.subsidies if any(text.startswith(f"{s.name}：") for text in names)]
    return any("age" in item.when for item in [*([band] if band else []), *subsidies])


def _money(expectation: str, item: str, claim: int | None, want, got_fen: int, step: dict | None) -> Check:
    want_fen = yuan_to_fen(want)
    return Check(expectation, got_fen == want_fen, item, claim, want_fen, got_fen, **_source(step))


def _source(step: dict | None) -> dict:
    return {"rule": step["rule"], "clause": step["clause"]} if step else {}


def _settlement_checks(got: dict, expect: dict, claim: int | None) -> list[Check]:
    checks = _eligibility_checks(got, expect, claim)
    for key in ("paid", "patient_remainder"):  # totals: no one step, no one clause behind them
        if key in expect:
            checks.append(_money(key, "", claim, expect[key], got[f"{key}_fen"], None))
    for liability, want in expect.get("by_liability", {}).items():
        checks.append(_money("by_liability", liability, claim, want, got["by_liability"].get(liability, 0),
                             _liability_step(got, liability)))
    layers = {layer["layer"]: layer["paid_fen"] for layer in got["layers"]}
    for layer, want in expect.get("layers", {}).items():
        checks.append(_money("layers", layer, claim, want, layers.get(layer, 0), None))
    for field_name, spec in expect.get("near", {}).items():
        want_fen, got_fen = yuan_to_fen(spec["value"]), _lookup(got, field_name)
        tolerance = Decimal(str(spec["tolerance"]))
        checks.append(Check("near", abs(got_fen - want_fen) <= want_fen * tolerance, field_name, claim, want_fen,
                            got_fen, tolerance=tolerance, **_source(_field_step(got, field_name))))
    if "overall_ratio" in expect:
        spec = expect["overall_ratio"]
        want, tolerance = Decimal(str(spec["value"])), Decimal(str(spec["tolerance"]))
        ratio = Decimal(yuan_to_fen(spec["prior_paid"]) + got["paid_fen"]) / yuan_to_fen(spec["bill"])
        checks.append(Check("overall_ratio", abs(ratio - want) <= tolerance, claim=claim, expected=want, actual=ratio,
                            tolerance=tolerance))
    for wanted in expect.get("trace", []):
        found = any(all(_trace_field_matches(step.get(k), v) for k, v in wanted.items()) for step in got["trace"])
        checks.append(Check("trace", found, claim=claim, expected=wanted))
    return checks


def _eligibility_checks(got: dict, expect: dict, claim: int | None) -> list[Check]:
    if "eligibility" not in expect:
        return []
    outcome = got["eligibility"]  # a quote's or a settlement's: both name the rule and clause that decided
    return [Check("eligibility", outcome["outcome"] == expect["eligibility"], claim=claim,
                  expected=expect["eligibility"], actual=outcome["outcome"], **_source(outcome))]


def _step(got: dict, **fields) -> dict | None:
    """The last trace step with these fields."""
    return next((s for s in reversed(got["trace"]) if all(s.get(k) == v for k, v in fields.items())), None)


def _liability_step(got: dict, key: str) -> dict | None:
    """The last step of a liability as `by_liability` names it: the scheme's own by id, another layer's as
    "layer.liability"."""
    if "." in key:
        layer, liability = key.split(".", 1)
    else:
        layer = next((l["layer"] for l in got["layers"] if l["kind"] == "scheme"), None)
        liability = key
    return _step(got, liability=liability, **({"layer": layer} if layer else {}))


def _field_step(got: dict, field_name: str) -> dict | None:
    liability = field_name.removeprefix("by_liability.")
    return _liability_step(got, liability) if liability != field_name else None


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


def _quote_checks(got: dict, expect: dict) -> list[Check]:
    checks = _eligibility_checks(got, expect, None)
    band = _step(got, step="band")
    if "band" in expect:
        checks.append(Check("band", got["band"] == expect["band"], expected=expect["band"], actual=got["band"],
                            **_source(band)))
    if "premium" in expect:
        checks.append(_money("premium", "", None, expect["premium"], got["premium_fen"], band))
    paid_by: dict[str, int] = {}
    for payer in got["payers"]:
        paid_by[payer["payer"]] = paid_by.get(payer["payer"], 0) + payer["fen"]
    for payer, want in expect.get("payers", {}).items():
        checks.append(_money("payers", payer, None, want, paid_by.get(payer, 0), None))
    return checks
