"""Validate: a parsed scheme document → every problem in it, located and worded for a product manager.

Two passes: the JSON Schema (shape, types, ranges, unknown keys), then — on the typed model (`model.py`) of
what can be read — the semantic checks of `semantics.py` (coverage of bands, contiguous segments,
references...): a broken entry or version does not hide the problems of the rest (`salvage.py`).
"""
from __future__ import annotations

import calendar
import difflib
import re
from decimal import Decimal

from jsonschema import Draft202012Validator, FormatChecker

from . import vocab
from .citations import BARE_SOURCE, Library, library_for
from .inherit import failed_versions, resolve_versions
from .issues import Issue
from .load import Document
from .model import Product, build_product
from .salvage import salvage
from .schema import DATE, ID, SCHEME_SCHEMA, VERSION
from .semantics import semantic_issues

_VALIDATOR = Draft202012Validator(SCHEME_SCHEMA, format_checker=FormatChecker())

_TYPE_NAMES = {
    "object": "键值对（mapping）",
    "array": "列表",
    "string": "文字",
    "number": "数值",
    "integer": "整数",
    "boolean": "true 或 false",
}
_PATTERN_HINTS = {
    DATE["pattern"]: "不是日期格式：日期写成 YYYY-MM-DD，如 2025-01-01",
    ID["pattern"]: "格式不对：编号只能用小写字母、数字和 _ . -，且以字母或数字开头",
    VERSION["properties"]["id"]["pattern"]: "格式不对：版本编号只能用字母、数字和 _ . -，如 \"2025\"",
    r"^\d+(\.\d{1,2})?$": "不是金额：金额写成数字，以元为单位，最多两位小数",  # amounts in claims (inputs.py)
}
_PROVENANCE_KEYS = {"source", "assumed"}
# Chinese labels for the codes an enum may offer, so that “可选” reads as words, not only codes.
# One table per vocabulary: the same code (none) means different things in different lists.
_LABEL_TABLES = (vocab.CARE, vocab.COVERS, {vocab.NOT_LOW_INCOME: "非低收入人员", **vocab.LOW_INCOME},
                 vocab.LAYER_KINDS, vocab.RELATIVES, vocab.BASIC_INSURANCE, vocab.BASIC_STATUS, vocab.HUKOU,
                 vocab.OCCUPATION, vocab.HOSPITAL_LEVELS, vocab.PAYERS, vocab.ELIGIBILITY_OUTCOMES,
                 vocab.WAITING_EXEMPTIONS, vocab.MEMBER_EVENTS, vocab.SURPLUS_DESTINATIONS, vocab.DEADLINE_UNITS)


def validate_document(doc: Document, library: Library | None = None) -> list[Issue]:
    """All problems of a document: schema problems, and semantic ones of every soundly shaped version."""
    return check(doc, library)[0]


def check(doc: Document, library: Library | None = None) -> tuple[list[Issue], Product | None]:
    """The problems of a document, in text order, and its typed model: versions that extend another are resolved
    first (`inherit.py`), then JSON Schema, then the semantic checks on the model of what can be read, quotes
    looked up in `library` (by default the one kept with the file: `citations.library_for`).  With schema
    problems, that is the document without its broken entries and versions (`salvage.py`: what is safe to check
    there), so both kinds are reported together; the model is then of that part only, and None when a problem
    outside the versions (product, sources) leaves nothing.  A version that cannot be resolved is left out whole,
    its inheritance problem reported (not the schema problems of what it writes alone)."""
    doc, inherited = resolve_versions(doc)
    unresolved = failed_versions(inherited)
    issues = inherited + [i for i in schema_issues(doc) if not (len(i.path) > 1 and i.path[:1] == ("versions",)
                                                                and i.path[1] in unresolved)]
    library = library or library_for(doc.file)
    if not issues:
        product = build_product(doc.data, doc.file)
        return _in_text_order(semantic_issues(doc, product, library)), product
    readable = salvage(doc, issues, schema_issues)
    if readable is None:
        return _in_text_order(issues), None
    product = build_product(readable.doc.data, doc.file, skip_versions=readable.broken_versions | unresolved)
    issues += [issue for issue in semantic_issues(readable.doc, product, library) if readable.trusted(issue)]
    return _in_text_order(issues), product


def _in_text_order(issues: list[Issue]) -> list[Issue]:
    """Sorted by place; a problem of a value that several versions inherit from where it is written is reported
    once (the same words at the same line and column say nothing more)."""
    once = {(i.line, i.column, i.code, i.message): i for i in reversed(issues)}
    return sorted(once.values(), key=lambda i: (i.line, i.column, i.code))


def schema_issues(doc: Document) -> list[Issue]:
    issues: list[Issue] = []
    for error in _VALIDATOR.iter_errors(doc.data):
        issues.extend(_translate(doc, error))
    return issues


def _translate(doc: Document, error) -> list[Issue]:
    path = tuple(error.absolute_path)
    kind = error.validator
    if path[-1:] == ("source",) and isinstance(error.instance, str):  # the free text of the first edition
        return [doc.issue("provenance.bare_source", f"{BARE_SOURCE}（这里写的是“{error.instance}”）", path)]
    if kind in ("oneOf", "anyOf"):
        return _translate_choice(doc, error, path)
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in error.schema.get("properties", {})]
        homes = _HOMES if id(error.schema) in _SCHEME_PARTS else {}  # claims (inputs.py) have other homes
        return [doc.issue("schema.unknown_key", _unknown_key_message(k, allowed, homes), path + (k,),
                          prefer_key=True) for k in extras]
    if kind == "required":
        return _translate_missing(doc, error, path)
    if kind == "type" and _number_option([error.schema]) and _written_number(error.instance) is not None:
        return [doc.issue("schema.number_text", _number_text_message(error.instance, error.schema), path)]
    if kind == "format" and not re.search(error.schema.get("pattern", ""), str(error.instance)):
        return []  # not even shaped like one (YYYY-MM-DD): the pattern error already says so
    return [doc.issue(f"schema.{kind}", _message(error), path)]


def _unknown_key_message(key: str, allowed: list[str], homes: dict) -> str:
    guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    if guess:
        return f"不认识的键“{key}”：是否想写“{guess[0]}”？"
    if 0 < len(homes.get(key, ())) <= 3:
        return f"“{key}”不能写在这里：它应写在 {'、'.join(sorted(homes[key]))} 之下"
    hint = f"此处允许的键：{'、'.join(allowed)}" if allowed else "此处不能再写别的键"
    return f"不认识的键“{key}”（可能拼错或放错了位置）。{hint}"


def _key_homes(schema: dict, parent: str, homes: dict) -> dict:
    """key → names of the keys it may be written under, to tell where a misplaced key belongs."""
    _SCHEME_PARTS.add(id(schema))
    for key, sub in schema.get("properties", {}).items():
        homes.setdefault(key, set()).add(parent)
        _key_homes(sub, key, homes)
    for sub in schema.get("oneOf", []) + schema.get("anyOf", []):
        _key_homes(sub, parent, homes)
    for part in ("items", "additionalProperties", "else"):  # `else`: a version item (schema.VERSION_ITEM)
        if isinstance(schema.get(part), dict):
            _key_homes(schema[part], parent, homes)
    return homes


_SCHEME_PARTS: set = set()  # ids of the scheme schema's parts, filled by _key_homes
_HOMES = _key_homes(SCHEME_SCHEMA, "文件顶层", {})


def _translate_missing(doc: Document, error, path: tuple) -> list[Issue]:
    missing = error.message.split("'")[1] if "'" in error.message else "?"
    known = error.schema.get("properties", {})
    extras = [k for k in error.instance if k not in known] if isinstance(error.instance, dict) else []
    if difflib.get_close_matches(missing, extras, n=1, cutoff=0.75):
        return []  # a misspelling of it is reported as an unknown key that names it
    return [doc.issue("schema.missing", f"缺少必填项“{missing}”", path + (missing,))]


def _message(error) -> str:
    kind, value, expected = error.validator, error.instance, error.validator_value
    shown = _show(value)
    if kind == "type":
        names = expected if isinstance(expected, list) else [expected]
        quote = ""
        if names == ["string"] and isinstance(value, (int, Decimal)):  # bool is an int: true/false too
            quote = "（数字或 true/false 当作文字时要加引号，如 \"2025\"）"
        return f"应为{'或'.join(_TYPE_NAMES.get(n, n) for n in names)}，实际是 {shown}{quote}"
    if kind == "enum":
        return _enum_message(value, expected)
    if kind == "const":
        return f"应为 {expected}，实际是 {shown}"
    if kind == "minimum":
        return f"{shown} 不能小于 {expected}"
    if kind == "maximum":
        hint = "（比例写成 0 到 1 之间的小数，如 80% 写 0.8）" if expected == 1 else ""
        return f"{shown} 不能大于 {expected}{hint}"
    if kind == "pattern":
        return f"{shown} {_PATTERN_HINTS.get(expected, f'不符合格式 {expected}')}"
    if kind == "format" and expected == "date":
        return f"{shown} {_date_problem(str(value))}"
    if kind == "minItems":
        return f"至少需要 {expected} 项"
    if kind == "uniqueItems":
        return "列表中有重复项"
    if kind == "minLength":
        return "不能为空" if value == "" else f"{shown} 太短，至少 {expected} 个字"
    if kind == "minProperties":
        return "不能为空，至少要写一项"
    return error.message


def _enum_message(value, allowed: list) -> str:
    labels = next((table for table in _LABEL_TABLES if set(allowed) <= set(table)), {})
    choices = "、".join(f"{v}（{labels[v]}）" if v in labels else str(v) for v in allowed)
    guess = difflib.get_close_matches(str(value), [str(v) for v in allowed], n=1, cutoff=0.75)
    hint = f"是否想写 {guess[0]}？" if guess else ""
    if isinstance(value, str) and value in vocab.SPECIAL_GROUPS:  # a yes/no key of its own, not one value of a list
        hint = f"{vocab.SPECIAL_GROUPS[value][0]}是单独的条件，写成 {value}: true；"
    return f"{_show(value)} 不是允许的取值；{hint}可选：{choices}"


def _date_problem(text: str) -> str:
    """Why a YYYY-MM-DD text is not a date: say which part does not exist."""
    year, month, day = (int(part) for part in text.split("-"))
    if not 1 <= month <= 12:
        return f"不是有效日期：没有 {month} 月"
    return f"不是有效日期：{year} 年 {month} 月没有 {day} 日（该月只有 {calendar.monthrange(year, month)[1]} 天）"


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as written in YAML, not Python's True
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: …" for k in value) + "}"
    if isinstance(value, list):
        return "一个列表"
    return repr(value) if isinstance(value, str) else str(value)


# ── numbers written as text: '50万', '80%', '1.8万元' ──────────────────────────────────────────────

_UNITS = {"": 1, "百": 100, "千": 1000, "k": 1000, "万": 10_000, "w": 10_000, "亿": 100_000_000}
_NUMBER_TEXT = re.compile(r"^\s*[¥￥]?\s*(\d[\d,，]*(?:\.\d+)?)\s*(百|千|k|万|w|亿)?\s*(元|块|天|日|周岁|岁)?\s*$", re.I)
_PERCENT_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[%％]\s*$")


def _written_number(value) -> Decimal | None:
    """The number a text stands for when it is a number with a unit ('50万' → 500000, '80%' → 0.8), else None."""
    if not isinstance(value, str):
        return None
    if match := _PERCENT_TEXT.match(value):
        return Decimal(match.group(1)) / 100
    if match := _NUMBER_TEXT.match(value):
        digits = match.group(1).replace(",", "").replace("，", "")
        return Decimal(digits) * _UNITS[(match.group(2) or "").lower()]
    return None


def _number_option(options: list) -> dict | None:
    """The option (searched through nested choices) that takes a number, if any: the value's expected type."""
    for option in options:
        if option.get("type") in ("number", "integer"):
            return option
        found = _number_option(option.get("oneOf", []) + option.get("anyOf", []))
        if found is not None:
            return found
    return None


def _number_text_message(value: str, number: dict) -> str:
    """'50万' where an amount is expected: say it is a number in yuan, and which number."""
    meant = _written_number(value)
    shown = format(meant.normalize(), "f")
    if number.get("maximum") == 1:
        return f"{_show(value)} 须为 0 到 1 之间的小数（如 {shown}）：比例不写 %"
    if number.get("type") == "integer":
        return f"{_show(value)} 须为整数（如 {shown}），不加单位或引号"
    return f"{_show(value)} 须为以元计的数字（如 {shown}）：不写“万”“元”等单位，也不加引号"


# ── oneOf / anyOf: several ways to write one thing ───────────────────────────────────────────────

def _translate_choice(doc: Document, error, path: tuple) -> list[Issue]:
    """Report the problems of the way of writing the author most plausibly meant, not of every way."""
    options = error.validator_value
    number = _number_option(options)
    if number is not None and _written_number(error.instance) is not None:  # '50万' for an amount: not an id's pattern
        return [doc.issue("schema.number_text", _number_text_message(error.instance, number), path)]
    if all(set(option) == {"required"} for option in options):
        return _translate_either(doc, error, path, [option["required"][0] for option in options])
    if not error.context:
        written = "；".join(_describe(options[i]) for i in _matching(error))
        return [doc.issue("schema.ambiguous", f"{_show(error.instance)} 同时符合多种写法（{written}），"
                          "无法判断是哪一种", path)]
    branches: dict[int, list] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    plausible = {i: errs for i, errs in branches.items() if not any(_wrong_shape(e, path) for e in errs)}
    if not plausible or _matches_no_key(error.instance, [options[i] for i in plausible]):
        alternatives = "；".join(_describe(option) for option in options)
        return [doc.issue("schema.type", f"{_show(error.instance)} 的写法不对，应为以下之一：{alternatives}", path)]
    best = max(plausible, key=lambda i: _fit(options[i], error.instance, plausible[i]))
    return [issue for sub in plausible[best] for issue in _translate(doc, sub)]


def _translate_either(doc: Document, error, path: tuple, keys: list[str]) -> list[Issue]:
    """`oneOf: [{required: [a]}, {required: [b]}]`: exactly one of the keys a, b must be written."""
    if not isinstance(error.instance, dict):
        return []  # not a mapping at all: the type error says so
    written = [k for k in keys if k in error.instance]
    either = "或".join(f"“{k}”" for k in keys)
    if len(written) > 1:
        return [doc.issue("schema.ambiguous", f"{'和'.join(f'“{k}”' for k in written)}只能写一个（{either}二选一）",
                          path + (written[-1],), prefer_key=True)]
    known = error.schema.get("properties", {})
    if any(difflib.get_close_matches(k, keys, n=1, cutoff=0.75) for k in error.instance if k not in known):
        return []  # a misspelling of one of them is reported as an unknown key that names it
    return [doc.issue("schema.missing", f"缺少{either}（二者必须写一个）", path)]


def _matching(error) -> list[int]:
    """Indices of the options an instance satisfies (a oneOf error without context matched several)."""
    return [i for i, option in enumerate(error.validator_value)
            if _VALIDATOR.evolve(schema=option).is_valid(error.instance)]


def _wrong_shape(error, path: tuple) -> bool:
    """Does this error say the option is for another kind of value altogether (a number, not a mapping)?"""
    if tuple(error.absolute_path) != path:
        return False
    if error.validator in ("oneOf", "anyOf"):
        return bool(error.context) and all(_wrong_shape(sub, path) for sub in error.context)
    return error.validator in ("type", "const")


def _matches_no_key(instance, options: list[dict]) -> bool:
    """A mapping none of whose keys belongs to, or resembles a key of, any option."""
    if not isinstance(instance, dict):
        return False
    keys = set(instance) - _PROVENANCE_KEYS
    return bool(keys) and not any(_fit(option, instance, [])[:2] != (0, 0) for option in options)


def _fit(option: dict, instance, errors: list) -> tuple:
    """How well an instance fits an option: keys it shares, keys that look misspelt, fewest errors."""
    keys = set(instance) - _PROVENANCE_KEYS if isinstance(instance, dict) else set()
    names = _option_keys(option) - _PROVENANCE_KEYS
    close = [k for k in keys - names if difflib.get_close_matches(k, names, n=1, cutoff=0.75)]
    return (len(keys & names), len(close), -len(errors))


def _option_keys(option: dict) -> set:
    keys = set(option.get("properties", {})) | set(option.get("required", []))
    for sub in option.get("oneOf", []) + option.get("anyOf", []):
        keys |= _option_keys(sub)
    return keys


def _describe(option: dict) -> str:
    """One way of writing a value, in words: “数值”, “编号”, “{value: …, source/assumed: …}”."""
    if "const" in option:
        return f"“{option['const']}”"
    if "enum" in option:
        return "、".join(str(v) for v in option["enum"])
    if "oneOf" in option or "anyOf" in option:
        return "；".join(_describe(sub) for sub in option.get("oneOf", option.get("anyOf")))
    if option.get("pattern") == DATE["pattern"]:
        return "日期 YYYY-MM-DD"
    if "pattern" in option:
        return "编号"
    if option.get("type") == "object":
        required = option.get("required", [])
        return "{" + ", ".join(f"{k}: …" for k in required) + (", source/assumed: …}" if "source" in
                                                               option.get("properties", {}) else "}")
    if option.get("type") == "array":
        return f"{_describe(option.get('items', {}))}的列表"
    return _TYPE_NAMES.get(option.get("type"), str(option))
