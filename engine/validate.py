"""Validate: a parsed scheme document → every problem in it, located and worded for a product manager.

Two passes: the JSON Schema (shape, types, ranges, unknown keys), then — when the shape is sound —
the semantic checks of `semantics.py` (coverage of bands, contiguous segments, references...).
"""
from __future__ import annotations

from decimal import Decimal

from jsonschema import Draft202012Validator, FormatChecker

from .issues import Issue
from .load import Document
from .schema import SCHEME_SCHEMA

_VALIDATOR = Draft202012Validator(SCHEME_SCHEMA, format_checker=FormatChecker())

_TYPE_NAMES = {
    "object": "键值对（mapping）",
    "array": "列表",
    "string": "文字",
    "number": "数值",
    "integer": "整数",
    "boolean": "true 或 false",
}


def validate_document(doc: Document) -> list[Issue]:
    """All problems of a document, schema first; semantic checks only run on a well-shaped document."""
    issues = schema_issues(doc)
    if not issues:
        from .semantics import semantic_issues  # imported here: semantics builds on a valid shape

        issues = semantic_issues(doc)
    return sorted(issues, key=lambda i: (i.line, i.column, i.code))


def schema_issues(doc: Document) -> list[Issue]:
    issues: list[Issue] = []
    for error in _VALIDATOR.iter_errors(doc.data):
        issues.extend(_translate(doc, error))
    return issues


def _translate(doc: Document, error) -> list[Issue]:
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind in ("oneOf", "anyOf"):
        return _translate_choice(doc, error, path)
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in error.schema.get("properties", {})]
        hint = f"此处允许的键：{'、'.join(allowed)}" if allowed else ""
        return [doc.issue("schema.unknown_key", f"不认识的键“{k}”（可能拼错或放错了位置）。{hint}", path + (k,),
                          prefer_key=True) for k in extras]
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return [doc.issue("schema.missing", f"缺少必填项“{missing}”", path + (missing,))]
    return [doc.issue(f"schema.{kind}", _message(error), path)]


def _message(error) -> str:
    kind, value, expected = error.validator, error.instance, error.validator_value
    shown = _show(value)
    if kind == "type":
        names = expected if isinstance(expected, list) else [expected]
        return f"应为{'或'.join(_TYPE_NAMES.get(n, n) for n in names)}，实际是 {shown}"
    if kind == "enum":
        return f"{shown} 不是允许的取值；可选：{'、'.join(str(v) for v in expected)}"
    if kind == "const":
        return f"应为 {expected}，实际是 {shown}"
    if kind == "minimum":
        return f"{shown} 不能小于 {expected}"
    if kind == "maximum":
        hint = "（比例写成 0 到 1 之间的小数，如 80% 写 0.8）" if expected == 1 else ""
        return f"{shown} 不能大于 {expected}{hint}"
    if kind in ("pattern", "format"):
        if "\\d{4}" in str(expected) or expected == "date":
            return f"{shown} 不是有效日期，应写成 YYYY-MM-DD"
        return f"{shown} 格式不对：编号只能用小写字母、数字和 _ . -，且以字母或数字开头"
    if kind == "minItems":
        return f"至少需要 {expected} 项"
    if kind == "uniqueItems":
        return "列表中有重复项"
    if kind == "minLength":
        return "不能为空"
    if kind == "minProperties":
        return "不能为空，至少要写一项"
    return error.message


def _show(value) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dict, list)):
        return "一个键值对" if isinstance(value, dict) else "一个列表"
    return repr(value) if isinstance(value, str) else str(value)


def _translate_choice(doc: Document, error, path: tuple) -> list[Issue]:
    """oneOf/anyOf: report the branch the author most plausibly meant, not every alternative."""
    if not error.context:
        return [doc.issue("schema.ambiguous", "同时满足多种写法；只能选其中一种（例如 amount 和 share 只能写一个）", path)]
    leaves = list(_leaf_errors(error.context))
    meaningful = [e for e in leaves if e.validator not in ("type", "const", "oneOf", "required")
                  or (e.validator == "required" and isinstance(e.instance, dict))]
    if meaningful:
        best = max(meaningful, key=lambda e: (len(e.absolute_path), e.validator != "additionalProperties"))
        return _translate(doc, best)
    return [doc.issue("schema.type", f"{_show(error.instance)} 的写法不对：应为数值、编号，"
                      "或 {value: …, source: …} 形式", path)]


def _leaf_errors(errors):
    for error in errors:
        if error.context:
            yield from _leaf_errors(error.context)
        else:
            yield error
