"""Persons and claims as they come in (JSON or YAML, amounts in yuan) → checked, typed, in fen.

A bad input names the field and why; every problem is reported, not just the first.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from jsonschema import Draft202012Validator, FormatChecker

from . import vocab
from .issues import InputError, Issue, SchemeError
from .load import Document, load_file
from .money import MAX_YUAN, MoneyError, yuan_to_fen

_MONEY = {"type": ["number", "string"], "pattern": r"^\d+(\.\d{1,2})?$", "minimum": 0}
_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
# a drug or treatment on the claim: its code in the scheme's lists, the indication (drugs whose list names
# indications), the amount, and where it was given (defaults to the claim's care)
_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code", "amount"],
    "properties": {"code": {"type": "string"}, "indication": {"type": "string"}, "amount": _MONEY,
                   "where": {"enum": list(vocab.CARE)}},
}

PERSON_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": ["string", "integer"]},
        "age": {"type": "integer", "minimum": 0, "maximum": vocab.MAX_AGE},
        "birth_date": _DATE,
        # true/false, or the named conditions (ids of the version's pre_existing_conditions) the person has
        "pre_existing": {"oneOf": [{"type": "boolean"},
                                   {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"},
                                    "uniqueItems": True}]},
        "sex": {"enum": list(vocab.SEX)},
        "low_income": {"enum": vocab.LOW_INCOME_VALUES},
        **{code: {"type": "boolean"} for code in vocab.SPECIAL_GROUPS},
        "basic_insurance": {"enum": list(vocab.BASIC_INSURANCE)},
        "basic_insurance_status": {"enum": list(vocab.BASIC_STATUS)},
        "hukou": {"enum": list(vocab.HUKOU)},
        "occupation": {"enum": list(vocab.OCCUPATION)},
        "pay_with": {"enum": vocab.PAY_WITH},
        "relation": {"enum": list(vocab.RELATIVES)},
        "plan": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"},  # the plan enrolled in, if the version has plans
    },
    "oneOf": [{"required": ["age"]}, {"required": ["birth_date"]}],
}

# One dated event of a member's history (engine/timeline.py): enrolment (a renewal or new), basic insurance in
# arrears from a date, restoration of benefits after back-payment.
MEMBER_EVENT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {"type": {"enum": list(vocab.MEMBER_EVENTS)}, "date": _DATE, "from": _DATE,
                   "renewal": {"type": "boolean"}},
    "if": {"properties": {"type": {"const": "basic_arrears"}}},
    "then": {"required": ["from"], "properties": {"type": True, "from": True}, "additionalProperties": False},
    "else": {"required": ["date"], "properties": {"type": True, "date": True, "renewal": True},
             "additionalProperties": False},
}

ITEM_KEYS = ("drugs", "items")

CLAIM_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["claim_id", "member", "date", "care"],
    "properties": {
        "claim_id": {"type": ["string", "integer"]},
        "member": {**PERSON_SCHEMA, "required": ["id"],
                   "properties": {**PERSON_SCHEMA["properties"],
                                  "events": {"type": "array", "items": MEMBER_EVENT_SCHEMA}}},
        "accident": {"type": "boolean"},
        "date": _DATE,
        "care": {"enum": list(vocab.CARE)},
        "hospital_level": {"enum": list(vocab.HOSPITAL_LEVELS)},
        "hospital": {"type": "string", "minLength": 1},  # a hospital's code on the version's hospital lists
        "in_policy_self_pay": _MONEY,
        "out_of_policy_self_pay": _MONEY,
        "items": {"type": "array", "items": _ITEM},
        "drugs": {"type": "array", "items": _ITEM},  # the first edition's name for `items`
        "bill": {
            "type": "object",
            "additionalProperties": False,
            "required": ["in_policy", "out_of_policy"],
            "properties": {"in_policy": _MONEY, "out_of_policy": _MONEY},
        },
        "note": {"type": "string"},
    },
}

_PERSON_VALIDATOR = Draft202012Validator(PERSON_SCHEMA, format_checker=FormatChecker())
_CLAIM_VALIDATOR = Draft202012Validator(CLAIM_SCHEMA, format_checker=FormatChecker())

PERSON_DEFAULTS = {"pre_existing": False, "low_income": vocab.NOT_LOW_INCOME, "entitled_care": False, "disabled": False,
                   "basic_insurance": "resident", "basic_insurance_status": "active", "hukou": "local",
                   "occupation": "general"}


@dataclass(frozen=True)
class MemberEvent:
    type: str  # vocab.MEMBER_EVENTS
    date: str  # ISO date: the enrolment, the first day in arrears, or the restoration
    renewal: bool = False  # an enrolment that renews last year's policy


@dataclass(frozen=True)
class Person:
    id: str
    age: int | None
    birth_date: str | None
    pre_existing: bool
    low_income: str
    basic_insurance: str
    basic_insurance_status: str
    hukou: str
    occupation: str
    pay_with: str = "self"
    relation: str = "self"
    entitled_care: bool = False  # 优抚对象
    disabled: bool = False  # 残疾人
    events: tuple[MemberEvent, ...] = ()  # dated history, in date order (a claim's member only)
    plan: str | None = None  # the plan enrolled in, when the version declares plans
    sex: str | None = None  # vocab.SEX; None: not stated (a scheme that reads it then asks for it)
    conditions: tuple[str, ...] = ()  # the named pre-existing conditions (`pre_existing: [ids]`)

    def age_on(self, reference: str) -> int:
        """Whole years of age on the reference date (age given directly is taken as that age).

        Someone born after the reference date (a baby enrolled during the year) is 0, not −1: the
        bands cover 0–150 and nothing else."""
        if self.age is not None:
            return self.age
        born = date.fromisoformat(self.birth_date)
        ref = date.fromisoformat(reference)
        age = max(ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day)), 0)
        if age > vocab.MAX_AGE:
            raise InputError([Issue("person.birth_date", f"出生日期 {self.birth_date} 到 {reference} 已满 {age} 岁，"
                                    f"超过 {vocab.MAX_AGE} 岁：请核对", ("birth_date",))])
        return age

    def point(self, reference: str) -> dict:
        """The person as the rules see them: dimension → value."""
        point = {"age": self.age_on(reference), "pre_existing": self.pre_existing, "low_income": self.low_income,
                 "entitled_care": self.entitled_care, "disabled": self.disabled,
                 "basic_insurance": self.basic_insurance, "basic_insurance_status": self.basic_insurance_status,
                 "hukou": self.hukou, "occupation": self.occupation}
        if self.sex is not None:
            point["sex"] = self.sex
        return point


@dataclass(frozen=True)
class ClaimItem:
    """A drug or treatment the claim asks to be paid: code, indication (or None), amount, where given."""
    code: str
    indication: str | None
    fen: int
    where: str  # a care code: the claim's own care unless the item says otherwise


@dataclass(frozen=True)
class Claim:
    claim_id: str
    member: Person
    date: str
    care: str
    hospital_level: int | None
    in_policy_fen: int  # settled form: in-policy self-pay; bill form: the catalogue-covered bill
    out_of_policy_fen: int
    items: tuple[ClaimItem, ...]
    raw_bill: bool
    accident: bool = False  # care for an accidental injury (exempt from some waiting periods)
    hospital: str | None = None  # the hospital's code, when the claim states it (hospital lists)
    data: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def total_fen(self) -> int:
        return self.in_policy_fen + self.out_of_policy_fen + sum(i.fen for i in self.items)


def _schema_issues(validator, doc: Document) -> list[Issue]:
    from .validate import _translate  # the same Chinese wording as scheme errors

    issues: list[Issue] = []
    for error in validator.iter_errors(doc.data):
        if error.validator == "pattern" and error.validator_value == _MONEY["pattern"]:
            issues.append(doc.issue("claim.money", f"{error.instance!r} 不是金额：金额以元为单位，写成不带负号、"
                                    "最多两位小数的数，如 1234.5", tuple(error.absolute_path)))
        else:
            issues.extend(_translate(doc, error))
    return issues


def _raise(issues: list[Issue]) -> None:
    if issues:
        raise InputError(sorted(issues, key=lambda i: (i.line, i.column)))


def _person(data: dict) -> Person:
    merged = {**PERSON_DEFAULTS, **data}
    age = merged.get("age")  # int(): a YAML/JSON 30.0 passes the schema as an integer but is a Decimal
    written = merged["pre_existing"]  # true/false, or the named conditions the person has
    named = tuple(written) if isinstance(written, list) else ()
    return Person(id=str(merged.get("id", "")), age=None if age is None else int(age),
                  birth_date=merged.get("birth_date"),
                  pre_existing=bool(written), conditions=named, sex=merged.get("sex"), low_income=merged["low_income"],
                  entitled_care=merged["entitled_care"], disabled=merged["disabled"],
                  basic_insurance=merged["basic_insurance"], basic_insurance_status=merged["basic_insurance_status"],
                  hukou=merged["hukou"], occupation=merged["occupation"],
                  pay_with=merged.get("pay_with", "self"), relation=merged.get("relation", "self"),
                  plan=merged.get("plan"),
                  events=tuple(sorted((MemberEvent(e["type"], e.get("date") or e["from"], e.get("renewal", False))
                                       for e in merged.get("events", [])), key=lambda e: e.date)))


def parse_person(data: dict, file: str = "<person>") -> Person:
    _raise(_schema_issues(_PERSON_VALIDATOR, Document(file=file, data=data)))
    return _person(data)


def parse_claim(data, file: str = "<claim>", doc: Document | None = None) -> Claim:
    """A checked claim; InputError lists every problem: shape, amounts and form together."""
    doc = doc or Document(file=file, data=data)
    issues = _schema_issues(_CLAIM_VALIDATOR, doc)
    if not isinstance(data, dict):
        _raise(issues)
    shape_problems = {issue.path for issue in issues}
    fen = {path: _fen(doc, value, path, issues) for path, value in _money_fields(data) if path not in shape_problems}
    settled = "in_policy_self_pay" in data or "out_of_policy_self_pay" in data
    if settled and "bill" in data:
        issues.append(doc.issue("claim.two_forms", "一份理赔只能是已结算形式（in_policy_self_pay / out_of_policy_self_pay）"
                                "或原始账单形式（bill）之一", ("bill",)))
    _raise(issues)
    if "bill" in data:
        in_fen, out_fen = fen[("bill", "in_policy")], fen[("bill", "out_of_policy")]
    else:
        in_fen, out_fen = fen.get(("in_policy_self_pay",), 0), fen.get(("out_of_policy_self_pay",), 0)
    items = tuple(ClaimItem(d["code"], d.get("indication"), fen[(key, i, "amount")], d.get("where", data["care"]))
                  for key in ITEM_KEYS for i, d in enumerate(data.get(key, [])))
    level = data.get("hospital_level")  # int(): 2.0 passes the enum but is a Decimal, which the rules cannot take
    return Claim(claim_id=str(data["claim_id"]), member=_person(data["member"]), date=data["date"], care=data["care"],
                 hospital_level=None if level is None else int(level), in_policy_fen=in_fen, out_of_policy_fen=out_fen,
                 items=items, raw_bill="bill" in data, accident=data.get("accident", False),
                 hospital=data.get("hospital"), data=data)


def _money_fields(data: dict):
    """(path, value) of every amount present in a claim, whatever shape the rest is in."""
    for key in ("in_policy_self_pay", "out_of_policy_self_pay"):
        if key in data:
            yield (key,), data[key]
    bill = data.get("bill")
    if isinstance(bill, dict):
        for key in ("in_policy", "out_of_policy"):
            if key in bill:
                yield ("bill", key), bill[key]
    for key in ITEM_KEYS:
        items = data.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and "amount" in item:
                yield (key, i, "amount"), item["amount"]


def _fen(doc: Document, value, path: tuple, issues: list[Issue]) -> int:
    try:
        fen = yuan_to_fen(value)
    except MoneyError as exc:
        issues.append(doc.issue("claim.money", str(exc), path))
        return 0
    if fen > MAX_YUAN * 100:
        issues.append(doc.issue("claim.money", f"金额 {value} 元超过上限 {MAX_YUAN:,} 元：请核对单位（元）", path))
    return fen


def load_claims(path: str) -> list[Claim]:
    """A claim file: one claim object or a list of them (JSON or YAML), with line numbers in errors."""
    try:
        doc = load_file(path)
    except SchemeError as exc:  # not well-formed JSON/YAML: a bad input, located like any other
        raise InputError(exc.issues) from exc
    items = doc.data if isinstance(doc.data, list) else [doc.data]
    if not items:
        raise InputError([doc.issue("claim.none", "文件里没有理赔：应是一个理赔对象，或理赔对象的列表")])
    claims, issues = [], []
    for i, item in enumerate(items):
        prefix = (i,) if isinstance(doc.data, list) else ()
        if not isinstance(item, dict):
            issues.append(doc.issue("claim.not_object", "每一份理赔应是一个对象（键值对）", prefix))
            continue
        try:
            claims.append(parse_claim(item, path, _sub_document(doc, prefix)))
        except InputError as exc:  # name the claim: the path says which one of the list
            issues += [replace(issue, path=prefix + tuple(issue.path)) for issue in exc.issues]
    _raise(issues)
    return claims


def _sub_document(doc: Document, prefix: tuple) -> Document:
    """One claim of a file, keeping the line and column of each of its values."""
    def strip(marks: dict) -> dict:
        return {k[len(prefix):]: v for k, v in marks.items() if k[:len(prefix)] == prefix}
    return Document(file=doc.file, data=doc.data[prefix[0]] if prefix else doc.data,
                    value_marks=strip(doc.value_marks), key_marks=strip(doc.key_marks))
