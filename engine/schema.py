"""The scheme language, as a JSON Schema (Draft 2020-12).

Built in Python so each object kind is declared once; `hmb schema` prints it as JSON.
Every object rejects unknown keys: a misplaced key is an error, never silently ignored.
Objects that hold numbers may carry provenance: `source: {doc, clause, quote, note}` (a citation whose quote
validation finds in the document's text, engine/citations.py; or a list of them) or `assumed: "reason"`.
"""
from __future__ import annotations

from . import vocab
from .citations import SOURCE_SCHEMA
from .conditions import CLAUSES
from .money import MAX_YUAN

PROVENANCE = {
    "source": SOURCE_SCHEMA,
    "assumed": {"type": "string", "minLength": 2, "description": "来源未规定时的假设及理由"},
}
ID = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"}
TEXT = {"type": "string", "minLength": 1}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "format": "date"}


def obj(properties: dict, required: tuple = (), provenance: bool = True, **extra) -> dict:
    props = dict(properties)
    if provenance:
        props.update(PROVENANCE)
    schema = {"type": "object", "properties": props, "additionalProperties": False, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def enum_list(values) -> dict:
    return {"type": "array", "items": {"enum": list(values)}, "minItems": 1, "uniqueItems": True}


def sourced(value_schema: dict) -> dict:
    """A number or a choice, or {value: …, source|assumed} to give it its own provenance."""
    return {"oneOf": [value_schema, obj({"value": value_schema}, required=("value",))]}


choice = sourced  # a choice that moves money (rounding, deductible order, covered care…) is written the same way


STATE = {"enum": [True, False, "unknown"]}  # declared, not declared, unknown (the source does not say)
FILING = choice(STATE)
DEDUCTIBLE_ORDER = choice({"enum": ["in_policy_first", "out_of_policy_first", "pro_rata", "best_for_patient"]})

MONEY = sourced({"type": "number", "minimum": 0, "maximum": MAX_YUAN})
RATE = sourced({"type": "number", "minimum": 0, "maximum": 1})

# `when:`, from the condition language's one definition (conditions.CLAUSES: each key's kind of test)
CONDITION = obj({key: clause.schema(key) for key, clause in CLAUSES.items()}, provenance=False)

SEGMENT = obj({"from": MONEY, "to": MONEY, "rate": RATE}, required=("from", "rate"))
SEGMENTS = {"type": "array", "items": SEGMENT, "minItems": 1}
RATIO_ROW = obj({"when": CONDITION, "rate": RATE, "segments": SEGMENTS}, required=("when",),
                oneOf=[{"required": ["rate"]}, {"required": ["segments"]}])
RATIO = {
    "oneOf": [
        RATE,
        obj({"rows": {"type": "array", "items": RATIO_ROW, "minItems": 1}}, required=("rows",)),
        obj({"segments": SEGMENTS}, required=("segments",)),
    ]
}
# Days from enrolment during which claims are not paid, and who is exempt (engine/timeline.py decides).
WAITING_PERIOD = obj({"days": {"type": "integer", "minimum": 0, "maximum": 366},
                      "exempt": {"type": "array", "items": {"enum": list(vocab.WAITING_EXEMPTIONS)}, "uniqueItems": True}},
                     required=("days",))
POOL_REF = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$", "not": {"const": "none"}}  # "none" = no cap
DEDUCTIBLE_REF = {"oneOf": [POOL_REF, MONEY]}
CAP_REF = {"oneOf": [{"const": "none"}, POOL_REF, {"type": "array", "items": POOL_REF, "minItems": 1}, MONEY]}
POOL = obj({"id": ID, "name": TEXT, "amount": MONEY}, required=("id", "name", "amount"))
# a deductible shared by liabilities for different costs declares the order in which one claim uses it
DEDUCTIBLE_POOL = obj({"id": ID, "name": TEXT, "amount": MONEY, "order": DEDUCTIBLE_ORDER},
                      required=("id", "name", "amount"))

LIABILITY = obj(
    {
        "id": ID,
        "name": TEXT,
        "covers": {"enum": [*vocab.COVERS, "special_drugs"],
                   "description": "费用类别；special_drugs 是 lists: [drug_list] 的旧写法"},
        "lists": {"type": "array", "items": ID, "minItems": 1, "uniqueItems": True,
                  "description": "本责任赔付的项目目录（drug_lists、treatment_lists 的编号）"},
        "care": choice(enum_list(vocab.CARE)),
        "when": CONDITION,
        "deductible": DEDUCTIBLE_REF,
        "ratio": RATIO,
        "cap": CAP_REF,
        "drug_list": ID,
        "note": TEXT,
    },
    required=("id", "name", "care", "deductible", "ratio", "cap"),
    # a cost kind or item lists (both written: a semantic error that says why)
    **{"if": {"not": {"required": ["lists"]}}, "then": {"required": ["covers"]}},
)

LAYER = obj(
    {
        "id": ID,
        "name": TEXT,
        "kind": {"enum": list(vocab.LAYER_KINDS)},
        "deductibles": {"type": "array", "items": DEDUCTIBLE_POOL},
        "caps": {"type": "array", "items": POOL},
        "liabilities": {"type": "array", "items": LIABILITY},
    },
    required=("id", "name", "kind"),
)

BAND = obj({"id": ID, "name": TEXT, "when": CONDITION, "amount": MONEY}, required=("id", "name", "when", "amount"))
SUBSIDY = obj(
    {
        "id": ID,
        "name": TEXT,
        "payer": {"enum": ["government", "donor", "employer", "assistance_fund"]},
        "when": CONDITION,
        "amount": MONEY,
        "share": RATE,
    },
    required=("id", "name", "payer", "when"),
    oneOf=[{"required": ["amount"]}, {"required": ["share"]}],
)
INSURER = obj({"name": TEXT, "share": RATE}, required=("name", "share"))

# The version's own lists: named pre-existing conditions, hospitals (designated, one-stop…), exclusions.
PRE_EXISTING_CONDITION = obj({"id": ID, "name": TEXT}, required=("id", "name"))
HOSPITAL_CODE = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}
HOSPITAL = obj({"code": HOSPITAL_CODE, "name": TEXT, "level": {"enum": list(vocab.HOSPITAL_LEVELS)},
                "grade": {"enum": list(vocab.HOSPITAL_GRADES), "description": "等次：甲、乙、丙（可不写）"}},
               required=("code", "name", "level"))
HOSPITAL_LIST = obj({"name": TEXT, "hospitals": {"type": "array", "items": HOSPITAL, "minItems": 1}},
                    required=("name", "hospitals"))
EXCLUSION = obj(
    {"id": ID, "name": TEXT, "common": {"type": "boolean", "description": "是否常见病、多发病（监管不允许免除）"},
     "when": {**CONDITION, "description": "程序能判断时：免除符合此条件的理赔（或与 items/lists 一起：这些人的这些项目）"},
     "items": {"type": "array", "items": ID, "minItems": 1, "uniqueItems": True,
               "description": "免除的药品或治疗项目编码（目录中的编码）"},
     "lists": {"type": "array", "items": ID, "minItems": 1, "uniqueItems": True,
               "description": "免除其全部项目的目录编号"}},
    required=("id", "name", "common"))

PLAN = obj(
    {
        "id": ID,
        "name": TEXT,
        "description": TEXT,
        "bands": {"type": "array", "items": BAND, "minItems": 1, "description": "本方案的保费档位（代替版本的档位）"},
        "deductibles": {"type": "array", "items": POOL},
        "caps": {"type": "array", "items": POOL},
        "liabilities": {"type": "array", "items": LIABILITY,
                        "description": "与版本共同责任同编号者代替之，新编号者增加"},
        "drop": {"type": "array", "items": ID, "uniqueItems": True, "description": "本方案没有的共同责任编号"},
    },
    required=("id", "name"),
)

# 结余滚存: what is left of a year's premiums rolls over (to: where), or not, or the source does not say.
SURPLUS = obj({"rolls_over": STATE, "to": {"enum": list(vocab.SURPLUS_DESTINATIONS)}}, required=("rolls_over",))
# Claims-service terms: declared, shown and reviewed; they move no money.
PAYMENT_DEADLINE = obj({"id": ID, "name": TEXT, "days": {"type": "integer", "minimum": 1, "maximum": 366},
                        "unit": {"enum": list(vocab.DEADLINE_UNITS)}}, required=("id", "name", "days", "unit"))
SERVICE = obj({
    "no_application": {"oneOf": [STATE, obj({"value": STATE, "scope": TEXT, "since": DATE}, required=("value",))],
                       "description": "免申即赔：无需参保人申请，由系统自动理赔"},
    "payment_deadlines": {"type": "array", "items": PAYMENT_DEADLINE, "minItems": 1,
                          "description": "赔款到账时限"},
})

VERSION = obj(
    {
        "id": {"type": "string", "pattern": r"^[0-9A-Za-z][0-9A-Za-z_.-]*$"},
        "name": TEXT,
        "note": TEXT,
        "period": obj({"start": DATE, "end": DATE}, required=("start", "end")),
        "enrolment": obj({"start": DATE, "end": DATE}, required=("start", "end")),
        "regulation": obj(
            {
                "regimes": {"type": "array", "items": TEXT, "minItems": 1},
                "pricing": {"enum": ["flat", "differentiated"]},
                "limits": obj({
                    "premium_max": MONEY,
                    "deductible_max": MONEY,
                    "cap_min": MONEY,
                    "claims_ratio_min": RATE,
                }),
                # What the scheme declares about its own conduct; absent means unknown (the review asks a person).
                "surplus_rollover": {"type": "boolean", "description": "结余资金转入下一保险期滚存使用（第一版的写法，"
                                                                       "同 surplus: {rolls_over: …}）"},
                "backtest": {"enum": ["yearly", "none"], "description": "精算回溯：每年（yearly）或不做（none）"},
                "promised_claims_ratio": RATE,
                "social_insurance_distinguished": {"type": "boolean",
                                                   "description": "宣传、销售、理赔中与基本医疗保险等社会保险明确区分"},
                "disclosure": {"type": "array", "items": {"enum": list(vocab.DISCLOSURE_ITEMS)}, "uniqueItems": True},
                "data_items": {"type": "array", "items": {"enum": list(vocab.DATA_ITEMS)}, "uniqueItems": True},
            },
            required=("regimes", "pricing"),
        ),
        "insurers": obj(
            {"lead": INSURER, "co": {"type": "array", "items": INSURER}, "term_years": {"type": "integer", "minimum": 1}},
            required=("lead",),
        ),
        "filings": obj(
            {"authorisation": FILING, "actuarial_opinion": FILING, "legal_opinion": FILING},
            required=("authorisation", "actuarial_opinion", "legal_opinion"),
        ),
        "settlement": obj({"rounding": choice({"enum": ["half_up", "half_even", "down"]}),
                           "one_stop": choice({"type": "boolean"}),
                           "one_stop_at": {**ID, "description": "一站式结算只在这个医院名单（hospital_lists）内"}}),
        "eligibility": obj(
            {
                "basic_insurance_required": {"type": "boolean"},
                "suspend_when_basic_in_arrears": {"type": "boolean"},
                "conditions": {"type": "array", "items": obj(
                    {"id": ID, "name": TEXT, "when": CONDITION, "outcome": {"enum": ["not_eligible", "suspended"]}},
                    required=("id", "name", "when", "outcome"))},
                "waiting_period": WAITING_PERIOD,
            },
            required=("basic_insurance_required", "suspend_when_basic_in_arrears"),
        ),
        "premium": obj(
            {
                "age_reference": choice({"oneOf": [{"enum": ["period_start", "enrolment_start"]}, DATE]}),
                "bands": {"type": "array", "items": BAND, "minItems": 1},
            },
            required=("age_reference", "bands"),
        ),
        "funding": obj(
            {
                "personal_account": obj({
                    "allowed": {"type": "boolean"},
                    "relatives": enum_list(vocab.RELATIVES),
                    "basic_insurance": enum_list(["employee", "resident"]),
                }, required=("allowed",)),
                "group_enrolment": {"type": "boolean"},
                "donated_enrolment": {"type": "boolean",
                                      "description": "允许爱心企业等捐赠方为指定人员缴纳资助后剩余的全部保费（pay_with: donor），不设固定金额"},
                "subsidies": {"type": "array", "items": SUBSIDY},
                "subsidy_order": choice({"const": "as_written"}),  # several subsidies: each takes what is left
            }
        ),
        "chain": obj(
            {
                "after": {"type": "array", "items": {"enum": [k for k in vocab.LAYER_KINDS if k != "scheme"]}},
                "layers": {"type": "array", "items": LAYER, "minItems": 1},
            },
            required=("after",),
        ),
        "deductibles": {"type": "array", "items": DEDUCTIBLE_POOL},
        "caps": {"type": "array", "items": POOL},
        "liabilities": {"type": "array", "items": LIABILITY, "minItems": 1},
        # Named exclusions; `common: true` marks one of a common or frequent disease (regulators forbid those).
        "exclusions": {"type": "array", "items": EXCLUSION},
        "pre_existing_conditions": {"type": "array", "items": PRE_EXISTING_CONDITION, "minItems": 1,
                                    "description": "方案列名的既往症；参保人写 pre_existing: [编号…]，条件写 pre_existing: [编号…]"},
        "hospital_lists": {"type": "object", "propertyNames": ID, "additionalProperties": HOSPITAL_LIST,
                           "minProperties": 1, "description": "医院名单（定点医院、一站式结算医院…）；条件写 hospital_in: 名单编号"},
        "surplus": SURPLUS,
        "service": SERVICE,
        "plans": {"type": "array", "items": PLAN, "minItems": 1,
                  "description": "参保人在其中选择一个的方案（如基础版、升级版）"},
        "hit_policy": {"enum": list(vocab.HIT_POLICIES),
                       "description": "一个项目有几项责任都能赔付时谁赔：first 书写在前者，max 赔得多者"},
    },
    required=("id", "name", "period", "enrolment", "regulation", "insurers", "filings", "eligibility",
              "premium", "chain", "liabilities"),
)

# A version that extends another writes only what changes (engine/inherit.py merges it into that version before
# anything is checked, so this shape is for editors reading the raw file; the resolved version meets VERSION).
EXTENDING_VERSION = {
    "type": "object",
    "properties": {**{key: {} for key in VERSION["properties"]}, "id": VERSION["properties"]["id"],
                   "extends": {"type": "string", "description": "所继承的版本编号（同一文件中的另一版本），只写与它不同之处"}},
    "required": ["id", "extends"],
    "additionalProperties": False,
}
VERSION_ITEM = {"if": {"required": ["extends"]}, "then": EXTENDING_VERSION, "else": VERSION}

DRUG = obj(
    {
        "code": ID,
        "name": TEXT,
        "indications": {"type": "array", "items": obj({"code": ID, "name": TEXT}, required=("code", "name"),
                                                       provenance=False), "minItems": 1},  # optional: any indication
        "valid_from": DATE,
        "valid_to": DATE,
    },
    required=("code", "name", "valid_from"),
)
TREATMENT = obj({"code": ID, "name": TEXT, "valid_from": DATE, "valid_to": DATE}, required=("code", "name"))

SOURCE_DOC = obj(
    {"title": TEXT, "issuer": TEXT, "date": DATE, "date_note": TEXT, "number": TEXT, "file": TEXT, "kind": TEXT},
    required=("title", "issuer"),
    provenance=False,
)

SCHEME_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://hmb.example/schema/scheme-1.json",
    "title": "惠民保方案 (hmb scheme file, format 1)",
    **obj(
        {
            "format": {"const": "hmb-scheme/1"},
            "product": obj(
                {"id": ID, "name": TEXT, "city": TEXT, "region": TEXT, "description": TEXT},
                required=("id", "name", "city", "region"),
                provenance=False,
            ),
            "sources": {"type": "object", "propertyNames": ID, "additionalProperties": SOURCE_DOC, "minProperties": 1},
            "drug_lists": {
                "type": "object",
                "propertyNames": ID,
                "additionalProperties": obj({"name": TEXT, "drugs": {"type": "array", "items": DRUG, "minItems": 1}},
                                            required=("name", "drugs")),
            },
            "treatment_lists": {
                "type": "object",
                "propertyNames": ID,
                "additionalProperties": obj({"name": TEXT, "treatments": {"type": "array", "items": TREATMENT,
                                                                           "minItems": 1}},
                                            required=("name", "treatments")),
            },
            "versions": {"type": "array", "items": VERSION_ITEM, "minItems": 1},
        },
        required=("format", "product", "sources", "versions"),
        provenance=False,
    ),
}
