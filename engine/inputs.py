"""Persons and claims as they come in (JSON or YAML, amounts in yuan) → checked, typed, in fen.

A bad input names the field and why; every problem is reported, not just the first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from jsonschema import Draft202012Validator, FormatChecker

from . import vocab
from .issues import InputError, Issue
from .load import Document, parse_text
from .money import MoneyError, yuan_to_fen

_MONEY = {"type": ["number", "string"], "pattern": r"^\d+(\.\d{1,2})?$", "minimum": 0}
_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}

PERSON_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": ["string", "integer"]},
        "age": {"type": "integer", "minimum": 0, "maximum": vocab.MAX_AGE},
        "birth_date": _DATE,
        "pre_existing": {"type": "boolean"},
        "low_income": {"enum": vocab.LOW_INCOME_VALUES},
        "basic_insurance": {"enum": list(vocab.BASIC_INSURANCE)},
        "basic_insurance_status": {"enum": list(vocab.BASIC_STATUS)},
        "hukou": {"enum": list(vocab.HUKOU)},
        "occupation": {"enum": list(vocab.OCCUPATION)},
        "pay_with": {"enum": ["self", "personal_account", "employer"]},
        "relation": {"enum": list(vocab.RELATIVES)},
    },
    "oneOf": [{"required": ["age"]}, {"required": ["birth_date"]}],
}

CLAIM_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["claim_id", "member", "date", "care"],
    "properties": {
        "claim_id": {"type": ["string", "integer"]},
        "member": {**PERSON_SCHEMA, "required": ["id"]},
        "date": _DATE,
        "care": {"enum": list(vocab.CARE)},
        "hospital_level": {"enum": list(vocab.HOSPITAL_LEVELS)},
        "in_policy_self_pay": _MONEY,
        "out_of_policy_self_pay": _MONEY,
        "drugs": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "indication", "amount"],
                "properties": {"code": {"type": "string"}, "indication": {"type": "string"}, "amount": _MONEY},
            },
        },
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

PERSON_DEFAULTS = {"pre_existing": False, "low_income": vocab.NOT_LOW_INCOME, "basic_insurance": "resident",
                   "basic_insurance_status": "active", "hukou": "local", "occupation": "general"}


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

    def age_on(self, reference: str) -> int:
        """Whole years of age on the reference date (age given directly is taken as that age)."""
        if self.age is not None:
            return self.age
        born = date.fromisoformat(self.birth_date)
        ref = date.fromisoformat(reference)
        return ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))

    def point(self, reference: str) -> dict:
        """The person as the rules see them: dimension → value."""
        return {"age": self.age_on(reference), "pre_existing": self.pre_existing, "low_income": self.low_income,
                "basic_insurance": self.basic_insurance, "basic_insurance_status": self.basic_insurance_status,
                "hukou": self.hukou, "occupation": self.occupation}


@dataclass(frozen=True)
class DrugItem:
    code: str
    indication: str
    fen: int


@dataclass(frozen=True)
class Claim:
    claim_id: str
    member: Person
    date: str
    care: str
    hospital_level: int | None
    in_policy_fen: int  # settled form: in-policy self-pay; bill form: the catalogue-covered bill
    out_of_policy_fen: int
    drugs: tuple[DrugItem, ...]
    raw_bill: bool
    data: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def total_fen(self) -> int:
        return self.in_policy_fen + self.out_of_policy_fen + sum(d.fen for d in self.drugs)


def _check(validator, doc: Document) -> None:
    from .validate import _translate  # the same Chinese wording as scheme errors

    issues: list[Issue] = []
    for error in validator.iter_errors(doc.data):
        issues.extend(_translate(doc, error))
    if issues:
        raise InputError(sorted(issues, key=lambda i: (i.line, i.column)))


def _person(data: dict) -> Person:
    merged = {**PERSON_DEFAULTS, **data}
    return Person(id=str(merged.get("id", "")), age=merged.get("age"), birth_date=merged.get("birth_date"),
                  pre_existing=merged["pre_existing"], low_income=merged["low_income"],
                  basic_insurance=merged["basic_insurance"], basic_insurance_status=merged["basic_insurance_status"],
                  hukou=merged["hukou"], occupation=merged["occupation"],
                  pay_with=merged.get("pay_with", "self"), relation=merged.get("relation", "self"))


def parse_person(data: dict, file: str = "<person>") -> Person:
    _check(_PERSON_VALIDATOR, Document(file=file, data=data))
    return _person(data)


def parse_claim(data, file: str = "<claim>", doc: Document | None = None) -> Claim:
    doc = doc or Document(file=file, data=data)
    _check(_CLAIM_VALIDATOR, doc)
    settled = "in_policy_self_pay" in data or "out_of_policy_self_pay" in data
    if settled and "bill" in data:
        raise InputError([doc.issue("claim.two_forms", "一份理赔只能是已结算形式（in_policy_self_pay / out_of_policy_self_pay）"
                                    "或原始账单形式（bill）之一", ("bill",))])
    if "bill" in data:
        in_fen = _fen(doc, data["bill"]["in_policy"], ("bill", "in_policy"))
        out_fen = _fen(doc, data["bill"]["out_of_policy"], ("bill", "out_of_policy"))
    else:
        in_fen = _fen(doc, data.get("in_policy_self_pay", 0), ("in_policy_self_pay",))
        out_fen = _fen(doc, data.get("out_of_policy_self_pay", 0), ("out_of_policy_self_pay",))
    drugs = tuple(DrugItem(d["code"], d["indication"], _fen(doc, d["amount"], ("drugs", i, "amount")))
                  for i, d in enumerate(data.get("drugs", [])))
    return Claim(claim_id=str(data["claim_id"]), member=_person(data["member"]), date=data["date"], care=data["care"],
                 hospital_level=data.get("hospital_level"), in_policy_fen=in_fen, out_of_policy_fen=out_fen,
                 drugs=drugs, raw_bill="bill" in data, data=data)


def _fen(doc: Document, value, path: tuple) -> int:
    try:
        return yuan_to_fen(value)
    except MoneyError as exc:
        raise InputError([doc.issue("claim.money", str(exc), path)]) from exc


def load_claims(path: str) -> list[Claim]:
    """A claim file: one claim object or a list of them (JSON or YAML), with line numbers in errors."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise InputError([Issue("file.unreadable", f"无法读取文件：{exc}", (), path)]) from exc
    doc = parse_text(text, path)
    items = doc.data if isinstance(doc.data, list) else [doc.data]
    claims = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError([doc.issue("claim.not_object", "每一份理赔应是一个对象（键值对）", (i,))])
        prefix = (i,) if isinstance(doc.data, list) else ()
        sub = Document(file=path, data=item,
                       value_marks={k[len(prefix):]: v for k, v in doc.value_marks.items() if k[:len(prefix)] == prefix},
                       key_marks={k[len(prefix):]: v for k, v in doc.key_marks.items() if k[:len(prefix)] == prefix})
        claims.append(parse_claim(item, path, sub))
    return claims
