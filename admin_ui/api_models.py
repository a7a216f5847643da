"""The JSON API's requests and answers as pydantic models: declared once, they validate each request and write
the OpenAPI document (`openapi.py`), so the two cannot drift apart.

Requests are strict: an integer is a JSON integer (not "5", not 5.0, not true), a date is the text YYYY-MM-DD,
and unknown fields are refused. Amounts are integer fen both ways, bounded so they fit 64-bit database integers;
they reach the engine as exact yuan text ("545.09"), never as a float. Enumerations come from `engine.vocab`.
"""
from __future__ import annotations

import copy
import re
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from engine import vocab
from engine.money import MAX_YUAN, fen_to_yuan

from .models import FINDING_OUTCOMES, STATUSES

# Row ids and row versions are 32-bit on every database the admin runs on; a larger number names nothing (404).
MAX_ID = 2**31 - 1
MAX_FEN = MAX_YUAN * 100
# YAML admits tab, line feed, carriage return and printable Unicode; other control characters make no scheme.
# (Lone surrogates are refused too, by _no_surrogates: a pattern naming them is one generators cannot use.)
YAML_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]*$"
# RFC 3339's full-date, from year 1000 (Python's date has no year 0; no scheme or claim predates 1000).
# A scheme file is a few tens of KB; this bound keeps any text within MAX_CONTENT_LENGTH (2 MiB) even when every
# character is sent as a 12-byte JSON escape, so a longer text is a 422 naming the field, never a bare 413.
MAX_YAML = 150_000
ISO_DATE = r"^[1-9]\d{3}-\d{2}-\d{2}$"


def _iso_date(value: Any) -> date:
    if not isinstance(value, str) or not re.fullmatch(ISO_DATE, value):
        raise ValueError("应为 YYYY-MM-DD 格式的日期")
    return date.fromisoformat(value)  # ValueError for a day that does not exist (2023-02-30)


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer is any number without a fraction: 135.0 is 135 (exact below 2**53, and every bound
    here is lower). Text and booleans stay what they are, and strict validation refuses them."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _no_surrogates(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("文本含有无效的 Unicode 代理字符") from exc
    return text


def _enum(values) -> Any:
    return Literal[tuple(values)]


def integer(low: int, high: int, description: str = "") -> Any:
    """A JSON integer within [low, high] (the bounds on int itself, so the document says minimum and maximum)."""
    return Annotated[int, Field(ge=low, le=high, description=description or None), BeforeValidator(_json_integer)]


RowId = integer(1, MAX_ID, "版本编号（行 id）")
ProductId = Annotated[str, Field(min_length=1, max_length=64, description="产品编号，如 xianhuibao")]  # products.id
RowVersion = integer(1, MAX_ID, "读取版本时得到的行版本（乐观并发）")
Fen = integer(0, MAX_FEN, "金额，整数分")
Day = Annotated[date, BeforeValidator(_iso_date), Field(description="YYYY-MM-DD",
                                                        json_schema_extra={"pattern": ISO_DATE})]
Text = Annotated[str, Field(max_length=200)]
Comment = Annotated[str, Field(max_length=2000)]
# Constraints first, validators after: pydantic shows a constraint placed after a validator as an opaque check.
YamlText = Annotated[str, Field(pattern=YAML_TEXT, max_length=MAX_YAML, description="方案文本（YAML）"),
                     AfterValidator(_no_surrogates)]
Identifier = Annotated[Annotated[str, Field(max_length=128)] | integer(0, 2**63 - 1), Field(description="调用方的编号")]


def _request_schema(schema: dict, cls) -> None:
    """Optional fields default to None but are never null in a request: absent is how a client leaves one out,
    so the document shows no `default: null` (which its own schema would refuse). Then the class's extra keys."""
    for field in schema.get("properties", {}).values():
        if "default" in field and field["default"] is None:
            del field["default"]
    schema.update(copy.deepcopy(cls.schema_extra))


class Request(BaseModel):
    # python-re: the YAML pattern names surrogates, which the default (Rust) engine cannot express.
    model_config = ConfigDict(strict=True, extra="forbid", regex_engine="python-re", json_schema_extra=_request_schema)
    schema_extra: ClassVar[dict] = {}


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


# ── errors ────────────────────────────────────────────────────────────────────────────────────

class Issue(Answer):
    """One problem: where (path in the document or the request, line and column when there is a text) and why."""

    code: str
    message: str
    path: str = ""
    line: int = 0
    column: int = 0


class Error(BaseModel):
    """Every error of the API, whatever its status."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"ok": False, "error": "没有这个版本", "issues": []},
        {"ok": False, "error": "请求不符合接口说明", "issues": [
            {"code": "request.missing", "message": "缺少此字段", "path": "body.row_version", "line": 0, "column": 0}]},
        {"ok": False, "error": "服务器内部错误，请把编号告诉管理员", "issues": [], "reference": "9f1c2a7be3d04c55"}]})

    ok: Literal[False] = False
    error: str = Field(description="说明（中文）")
    issues: list[Issue] = Field(default_factory=list, description="逐条问题：字段或文本位置，以及原因")
    reference: str | None = Field(default=None, description="仅 500：服务器日志中的编号")


# ── versions ──────────────────────────────────────────────────────────────────────────────────

class VersionSummary(Answer):
    id: int
    key: str = Field(examples=["xianhuibao@2023"])
    product: str
    version: str
    name: str
    status: _enum(STATUSES)
    content_hash: str | None
    row_version: int
    period: list[str | None] = Field(description="保障期间 [起, 止]")
    effective: list[str | None] = Field(description="生效期间 [起, 止]（发布时设定）")
    origin: str
    review_comment: str | None


class Version(VersionSummary):
    valid: bool
    legacy: bool = Field(description="保存时通过了校验、当前方案语言不再接受的文本（如按旧版方案语言发布的版本）："
                                     "issues 列出问题；文本不会改写，要继续使用须复制为新草稿修正")
    issues: list[Issue]
    explained: dict[str, Any] | None = Field(description="通俗解释（engine.explain.describe_version）")


class Product(Answer):
    id: str
    name: str
    city: str
    region: str
    versions: list[VersionSummary]


class Products(Answer):
    products: list[Product]


class VersionIssues(VersionSummary):
    issues: list[Issue]


# ── validate ──────────────────────────────────────────────────────────────────────────────────

class ValidateRequest(Request):
    yaml: YamlText


class Validation(Answer):
    ok: bool
    issues: list[Issue]
    digest: str = Field(description="文本的 SHA-256")
    content_hash: str | None = Field(description="通过校验时，版本的引擎哈希")


# ── evaluate: amounts in fen ──────────────────────────────────────────────────────────────────

class Person(Request):
    """An insured person: `age` or `birth_date`, exactly one of them."""

    schema_extra: ClassVar[dict] = {
        "oneOf": [{"required": ["age"]}, {"required": ["birth_date"]}],
        "examples": [{"age": 30}, {"birth_date": "1958-03-01", "basic_insurance": "employee", "pay_with": "employer"}]}

    id: Identifier = None
    age: integer(0, vocab.MAX_AGE) = None
    birth_date: Day = None
    pre_existing: bool | Annotated[list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]],
                                   Field(max_length=20)] = Field(
        default=None, description="是否有既往症；或所患的列名既往症（版本 pre_existing_conditions 的编号）")
    sex: _enum(vocab.SEX) = None
    low_income: _enum(vocab.LOW_INCOME_VALUES) = None
    entitled_care: bool = Field(default=None, description=vocab.SPECIAL_GROUPS["entitled_care"][0])
    disabled: bool = Field(default=None, description=vocab.SPECIAL_GROUPS["disabled"][0])
    basic_insurance: _enum(vocab.BASIC_INSURANCE) = None
    basic_insurance_status: _enum(vocab.BASIC_STATUS) = None
    hukou: _enum(vocab.HUKOU) = None
    occupation: _enum(vocab.OCCUPATION) = None
    pay_with: _enum(vocab.PAY_WITH) = None
    relation: _enum(vocab.RELATIVES) = None
    plan: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64,
                               description="参保方案的编号（版本分方案时必填）")] = None

    @model_validator(mode="after")
    def _age_or_birth_date(self):
        if (self.age is None) == (self.birth_date is None):
            raise ValueError("age 与 birth_date 须有且只有一个")
        return self

    def engine_input(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


class Member(Person):
    schema_extra: ClassVar[dict] = {
        "oneOf": [{"required": ["age"]}, {"required": ["birth_date"]}],
        "examples": [{"id": "m1", "age": 65, "basic_insurance": "employee"}]}

    id: Identifier


class Item(Request):
    """A drug or treatment of the claim, routed by the scheme's item lists."""

    code: Text
    indication: Text = Field(default=None, description="适应症（目录写了适应症时必填）")
    amount_fen: Fen
    where: _enum(vocab.CARE) = Field(default=None, description="给药或治疗的地方；不写即本次就医类型")


class Bill(Request):
    """A raw bill, run through the version's payment chain (basic insurance, …, this scheme)."""

    in_policy_fen: Fen
    out_of_policy_fen: Fen


class Claim(Request):
    """A claim: what basic insurance left (`*_self_pay_fen`), or a raw `bill`."""

    schema_extra: ClassVar[dict] = {"examples": [
        {"claim_id": "c1", "member": {"id": "m1", "age": 65, "basic_insurance": "employee"}, "date": "2023-06-01",
         "care": "inpatient", "hospital_level": 3, "in_policy_self_pay_fen": 5450900,
         "out_of_policy_self_pay_fen": 30910000}]}

    claim_id: Identifier
    member: Member
    date: Day
    care: _enum(vocab.CARE)
    hospital_level: Annotated[_enum(vocab.HOSPITAL_LEVELS), BeforeValidator(_json_integer)] = None
    hospital: Text = Field(default=None, description="就诊医院的编码（版本的医院名单 hospital_lists）")
    in_policy_self_pay_fen: Fen = None
    out_of_policy_self_pay_fen: Fen = None
    items: Annotated[list[Item], Field(max_length=50)] = None
    drugs: Annotated[list[Item], Field(max_length=50, description="items 的旧名")] = None
    bill: Bill = None
    accident: bool = Field(default=None, description="意外伤害就医（部分方案的等待期对此豁免）")
    note: Comment = None

    def engine_input(self) -> dict:
        """The engine's claim: the same fields, amounts as exact yuan text."""
        data = {"claim_id": self.claim_id, "member": self.member.engine_input(), "date": self.date.isoformat(),
                "care": self.care, "hospital_level": self.hospital_level, "hospital": self.hospital, "note": self.note,
                "accident": self.accident,
                "in_policy_self_pay": _yuan(self.in_policy_self_pay_fen),
                "out_of_policy_self_pay": _yuan(self.out_of_policy_self_pay_fen)}
        for key in ("items", "drugs"):
            if getattr(self, key) is not None:
                data[key] = [{k: v for k, v in {"code": i.code, "indication": i.indication, "amount": _yuan(i.amount_fen),
                                                "where": i.where}.items() if v is not None} for i in getattr(self, key)]
        if self.bill is not None:
            data["bill"] = {"in_policy": _yuan(self.bill.in_policy_fen),
                            "out_of_policy": _yuan(self.bill.out_of_policy_fen)}
        return {k: v for k, v in data.items() if v is not None}


def _yuan(fen: int | None) -> str | None:
    return None if fen is None else str(fen_to_yuan(fen))


class Eligibility(Answer):
    outcome: _enum(vocab.ELIGIBILITY_OUTCOMES)
    label: str
    reason: str | None = None


class Quote(Answer):
    version: str
    eligibility: Eligibility
    band: str | None
    premium_fen: int | None
    payers: list[dict[str, Any]]
    trace: list[dict[str, Any]]


class Settlement(Answer):
    claim_id: str | int
    version: str
    ruleset: str
    eligibility: Eligibility
    paid_fen: int
    by_liability: dict[str, int]
    patient_remainder_fen: int
    insurers: list[dict[str, Any]]
    trace: list[dict[str, Any]]


# ── rules in force, comparison ────────────────────────────────────────────────────────────────

class RulesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_request_schema)
    schema_extra: ClassVar[dict] = {}

    claim_date: Day = Field(description="就诊（理赔）日期 D")
    known_on: Day = Field(default=None, description="按哪一天所知 K（中国时间当日结束时）；默认现在")


class KnownVersion(VersionSummary):
    published_at: str | None
    retired_at: str | None
    retired_as_of_known_on: bool = Field(description="K 日时已停用（不再销售；其生效期内的理赔仍按它处理）")


class RulesInForce(Answer):
    ok: Literal[True]
    product: str
    claim_date: str
    known_on: str
    known_by: str = Field(description="K 对应的时刻（UTC）")
    version: KnownVersion | None = Field(description="适用的版本；K 日前尚无覆盖 D 的已发布版本时为 null")
    superseded: list[KnownVersion]
    published_later: list[KnownVersion]


COMPARE_MAX = 6  # a comparison of more columns no longer fits a page, and each costs seconds


class CompareQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: Annotated[list[RowId], Field(min_length=1, max_length=COMPARE_MAX,
                                    description="版本编号（行 id），可重复，如 ?v=1&v=2")]
    format: Literal["json", "csv", "xlsx"] = "json"


class Comparison(Answer):
    ok: Literal[True]
    versions: list[dict[str, Any]]
    parameters: list[dict[str, Any]] = Field(description="每个参数一行，每个版本一个值；assumed 为真表示该值基于假设")
    profiles: list[dict[str, Any]] = Field(description="标准病例：每个版本的 paid_fen、remainder_fen、ratio")
    premiums: list[dict[str, Any]] = Field(description="标准人群：每个版本的档位、premium_fen、self_pay_fen")
    curves: dict[str, Any]


# ── workflow ──────────────────────────────────────────────────────────────────────────────────

class RowVersionRequest(Request):
    row_version: RowVersion


class SaveRequest(RowVersionRequest):
    yaml: YamlText


class ApproveRequest(RowVersionRequest):
    effective_from: Day
    effective_to: Day
    comment: Comment = ""


class SendBackRequest(RowVersionRequest):
    comment: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S", description="退回意见（必填）")]


class RetireRequest(RowVersionRequest):
    comment: Comment = ""


# ── sign-off ──────────────────────────────────────────────────────────────────────────────────

CheckId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]  # as regime files


class FindingRequest(Request):
    # The regime of what a scheme declares about itself applies to every version, so the example names a check
    # any version's review has (tests/admin/test_api_doc.py holds it to regimes/declared.yaml).
    schema_extra: ClassVar[dict] = {"examples": [
        {"regime": "declared", "check": "pricing-as-declared", "outcome": "complies"},
        {"regime": "declared", "check": "pricing-as-declared", "outcome": "incomplete", "comment": "请补充定价说明"}]}

    regime: CheckId = Field(description="规则文件编号，如 hubei-2021")
    check: CheckId = Field(description="检查编号，如 no-preconditions")
    outcome: _enum(FINDING_OUTCOMES) = Field(description="complies 符合 / fails 不符合 / incomplete 需补充")
    comment: Comment = Field(default="", description="意见（不符合、需补充时必填）")
    replaces: RowId = Field(default=None, description="所见的本版本当前意见编号（review 中 finding.replaces）；"
                                                      "本版本尚无意见时不写")


class FindingAnswer(Answer):
    ok: Literal[True]
    id: int
    check: str = Field(description="规则文件编号/检查编号")
    verdict: str = Field(description="记录时引擎的结论")
    outcome: _enum(FINDING_OUTCOMES)
    label: str
    comment: str
    replaces: int | None
    by: str


class OverrideRequest(Request):
    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S", description="放行理由（必填）")]


class OverrideAnswer(Answer):
    ok: Literal[True]
    id: int
    reason: str
    checks: list[dict[str, Any]] = Field(description="放行的违规检查（记录时未解决的各项）")
    content_hash: str
    by: str
