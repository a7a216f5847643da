"""The bridge to the engine: scheme text → issues, product and version; one version's own document; next year's copy.

Everything here is pure (text in, data out) so routes, the importer and tests share it.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

import yaml

from engine import Document, Product, SchemeError, Version, parse_text, product_from_document, validate_document
from engine.issues import Issue, format_path


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def issue_dict(issue: Issue) -> dict:
    return {"line": issue.line, "column": issue.column, "path": format_path(issue.path), "code": issue.code,
            "message": issue.message}


@dataclass(frozen=True)
class Analysis:
    """What the engine makes of one text: its issues (located), and when there are none, the product."""

    issues: tuple[dict, ...] = ()
    product: Product | None = None
    doc: Document | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.issues and self.product is not None

    @property
    def version(self) -> Version | None:
        return self.product.versions[0] if self.product and len(self.product.versions) == 1 else None


@lru_cache(maxsize=128)
def analyse(text: str, file: str = "<方案>") -> Analysis:
    """Parse and validate with the engine. Cached by text: a published text never changes, so neither does this."""
    try:
        doc = parse_text(text, file)
    except SchemeError as exc:
        return Analysis(tuple(issue_dict(i) for i in exc.issues))
    issues = validate_document(doc)
    if issues:
        return Analysis(tuple(issue_dict(i) for i in issues), doc=doc)
    try:
        product = product_from_document(doc)
    except SchemeError as exc:
        return Analysis(tuple(issue_dict(i) for i in exc.issues), doc=doc)
    return Analysis((), product, doc)


def check_draft(text: str, product_id: str | None = None, version_id: str | None = None) -> Analysis:
    """Engine validation plus what a stored version needs: exactly one version, of the expected product and id."""
    result = analyse(text)
    if result.product is None:
        return result
    doc, product = result.doc, result.product
    extra = []
    if len(product.versions) != 1:
        extra.append(doc.issue("admin.one_version", f"一个版本文档只能包含一个版本，现在有 {len(product.versions)} 个"
                                                    "（其他年度是各自的版本）", ("versions",)))
    if product_id and product.id != product_id:
        extra.append(doc.issue("admin.product_id", f"产品编号应为“{product_id}”，不能在版本中修改", ("product", "id")))
    if version_id and product.versions and product.versions[0].id != version_id:
        extra.append(doc.issue("admin.version_id", f"版本编号应为“{version_id}”，不能在编辑时修改",
                               ("versions", 0, "id")))
    if not extra:
        return result
    return Analysis(tuple(issue_dict(i) for i in extra), None, doc)


def version_of(text: str) -> Version:
    """The engine Version of a stored (valid, single-version) text."""
    result = analyse(text)
    if result.version is None:
        raise SchemeError([Issue("admin.invalid", "该版本文本未通过校验", ())])
    return result.version


# ── one version's own document ───────────────────────────────────────────────────────────────

def split_versions(doc: Document, product: Product) -> dict[str, str]:
    """Each version of a product file as a self-contained single-version document with the same engine hash.

    Cut from the text when possible (comments and layout kept); when the cut does not reproduce the hash
    (anchors shared between versions, flow style…), the version is written out as YAML instead.
    """
    texts = {}
    cut = _cut_versions(doc)
    for index, version in enumerate(product.versions):
        for candidate in (cut[index] if cut else None, _dump_version(doc, index)):
            if candidate is not None and _same_version(candidate, version):
                texts[version.id] = candidate
                break
        else:
            raise SchemeError([Issue("admin.split", f"版本“{version.id}”无法单独成文（哈希不一致）",
                                     ("versions", index), doc.file)])
    return texts


def _same_version(text: str, version: Version) -> bool:
    result = analyse(text)
    return result.version is not None and result.version.content_hash == version.content_hash


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _cut_versions(doc: Document) -> list[str] | None:
    lines = doc.text.splitlines(keepends=True)
    items = doc.data.get("versions") if isinstance(doc.data, dict) else None
    if not items or ("versions",) not in doc.key_marks:
        return None
    versions_line = doc.key_marks[("versions",)][0]  # 1-based
    starts = [doc.value_marks[("versions", i)][0] - 1 for i in range(len(items))]  # 0-based
    later_keys = [doc.key_marks[(k,)][0] - 1 for k in doc.data if doc.key_marks[(k,)][0] > versions_line]
    end = min(later_keys, default=len(lines))

    def back_over_filler(index: int, floor: int) -> int:
        while index > floor and _is_filler(lines[index - 1]):
            index -= 1
        return index

    bounds = [back_over_filler(s, (starts[i - 1] + 1) if i else versions_line) for i, s in enumerate(starts)]
    end = back_over_filler(end, starts[-1] + 1)
    bounds.append(end)
    head, tail = lines[:bounds[0]], lines[end:]
    return ["".join(head + lines[bounds[i]:bounds[i + 1]] + tail) for i in range(len(items))]


class _Dumper(yaml.SafeDumper):
    pass


# Decimals go out as YAML floats (their exact text), which the engine's loader reads back as Decimal.
_Dumper.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", str(v)))


def dump_document(data: dict, note: str) -> str:
    body = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120)
    return f"# {note}\n{body}"


def _dump_version(doc: Document, index: int) -> str:
    data = dict(doc.data)
    data["versions"] = [doc.data["versions"][index]]
    return dump_document(data, f"由管理后台从 {doc.file} 导出的单一版本文档（原文件注释未保留）")


# ── next year's draft ─────────────────────────────────────────────────────────────────────────

def shift_year(iso: str, years: int = 1) -> str:
    day = date.fromisoformat(iso)
    try:
        return day.replace(year=day.year + years).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28).isoformat()


def next_year_text(text: str) -> tuple[str, str]:
    """A copy of a single-version text for the following policy year: new id, name, period and enrolment.

    Returns (new version id, text). Edits are made in place in the text so comments and sources stay.
    """
    doc = parse_text(text)
    item = doc.data["versions"][0]
    year = int(item["period"]["start"][:4]) + 1
    product_name = doc.data["product"]["name"]
    edits = {("versions", 0, "id"): str(year), ("versions", 0, "name"): f"{product_name}（{year} 年度）"}
    for block in ("period", "enrolment"):
        for end in ("start", "end"):
            edits[("versions", 0, block, end)] = shift_year(item[block][end])
    new_text = _replace_scalars(doc, edits)
    copied = parse_text(new_text).data["versions"][0]
    if copied["id"] != str(year) or copied["period"]["start"] != edits[("versions", 0, "period", "start")]:
        data = json.loads(json.dumps(doc.data, default=str))  # fallback: rewrite the whole document
        data["versions"][0].update(id=str(year), name=edits[("versions", 0, "name")])
        for block in ("period", "enrolment"):
            for end in ("start", "end"):
                data["versions"][0][block][end] = edits[("versions", 0, block, end)]
        new_text = dump_document(data, f"{year} 年度草稿，复制自 {item['id']}")
    return str(year), new_text


def _yaml_scalar(value: str) -> str:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value  # a plain date, as product files write them
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


_SCALAR = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\'|[^,}\]#\n]*[^,}\]#\s]')


def _replace_scalars(doc: Document, edits: dict) -> str:
    lines = doc.text.splitlines(keepends=True)
    for path in sorted(edits, key=lambda p: doc.value_marks[p], reverse=True):
        line, column = doc.value_marks[path]
        text = lines[line - 1]
        match = _SCALAR.match(text, column - 1)
        if match is None:
            continue  # left as it was; the caller verifies and falls back
        new = _yaml_scalar(edits[path])
        lines[line - 1] = text[:match.start()] + new + text[match.end():]
    return "".join(lines)
