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

from engine import Document, Product, SchemeError, Version, parse_text, product_from_document, resolve_versions
from engine.issues import Issue, format_path


def normalise_newlines(text: str) -> str:
    """Browsers send textarea lines (and Windows files come) with CRLF; stored texts, and their hashes, use LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_digest(text: str) -> str:
    # JSON can carry a lone surrogate ("\ud800"), which is no UTF-8: the digest must not fail on it, and the
    # engine refuses such a text with its line and column.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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
        doc = resolve_versions(parse_text(text, file))[0]  # a version that extends another is kept resolved
    except SchemeError as exc:
        return Analysis(tuple(issue_dict(i) for i in exc.issues))
    try:
        product = product_from_document(doc)  # validates, and builds the model once
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


# ── one version's own document ───────────────────────────────────────────────────────────────

def split_versions(doc: Document, product: Product) -> dict[str, str]:
    """Each version of a product file as a self-contained single-version document with the same engine hash.

    Cut from the text when possible (comments and layout kept); a version that extends another (`extends:`)
    is stored resolved, its item written out as YAML between the file's own header and tail; when neither
    reproduces the hash (anchors shared between versions, flow style…), the whole version is written out.
    """
    texts = {}
    cut = _cut_versions(doc)
    layout = _layout(doc)
    for index, version in enumerate(product.versions):
        resolved = layout.head + _dump_item(doc.data["versions"][index]) + layout.tail if layout else None
        for candidate in (cut[index] if cut else None, resolved, _dump_version(doc, index)):
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


@dataclass(frozen=True)
class _Layout:
    """A product file's text around its versions: the lines up to and including `versions:`, each version
    item's lines (with the comments just above it), and the lines after the last version (later keys)."""

    head: str
    items: tuple[str, ...]
    tail: str


def _layout(doc: Document) -> _Layout | None:
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
    items_text = tuple("".join(lines[bounds[i]:bounds[i + 1]]) for i in range(len(items)))
    return _Layout("".join(lines[:bounds[0]]), items_text, "".join(lines[end:]))


def _cut_versions(doc: Document) -> list[str] | None:
    layout = _layout(doc)
    return None if layout is None else [layout.head + item + layout.tail for item in layout.items]


# ── several versions' documents as one product file ──────────────────────────────────────────

def join_versions(texts: list[str], hashes: list[str] | None = None) -> str:
    """The inverse of split_versions: single-version texts (oldest first) as one product file.

    The product header (format, product, sources, drug lists) and whatever follows the versions come from the
    last text, each version's item from its own text, comments and key order kept; written out as YAML
    instead when the cut does not reproduce every hash (e.g. a text edited into flow style). Verified by
    parsing the result: each version must keep its hash (`hashes`, by default each text's own). A product
    file shares its header across its versions, so when a version's hash depends on a header that differs
    from the last one (another product name, a source added since…), no file holds them all: SchemeError,
    naming the version and what differs.
    """
    parts = [analyse(text) for text in texts]
    for index, result in enumerate(parts):
        if result.version is None:
            raise SchemeError([Issue("admin.join_invalid", f"第 {index + 1} 个版本文本未通过校验或不是单一版本文档，"
                                                           "无法合并", ())])
    expected = list(hashes) if hashes is not None else [r.version.content_hash for r in parts]
    header = parts[-1].doc
    layouts = [_layout(r.doc) for r in parts]
    cut = None if None in layouts else (layouts[-1].head + "".join(_whole_lines(l.items[0]) for l in layouts)
                                        + layouts[-1].tail)
    data = {**header.data, "versions": [r.doc.data["versions"][0] for r in parts]}
    dumped = dump_document(data, "由管理后台合并导出的方案文件（原文件注释未保留）")
    for candidate in (cut, dumped):
        if candidate is not None and _hashes(candidate) == expected:
            return candidate
    raise SchemeError(_join_problems(parts, expected, cut or dumped))


def _whole_lines(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _hashes(text: str) -> list[str] | None:
    result = analyse(text)
    return [v.content_hash for v in result.product.versions] if result.ok else None


def _join_problems(parts: list[Analysis], expected: list[str], candidate: str) -> list[Issue]:
    """Why the versions do not make one file: for each version that lost its hash, the header parts that differ
    from the last version's; else the combined text's own issues."""
    found = _hashes(candidate)
    if found is not None and len(found) != len(expected):
        found = None
    last = parts[-1]
    problems = []
    for index, result in enumerate(parts):
        if found is not None and found[index] == expected[index]:
            continue
        differ = _differing_paths(_header_of(result.doc), _header_of(last.doc))
        if differ:
            problems.append(Issue("admin.join_header",
                                  f"版本 {result.version.key} 的 {'、'.join(differ)} 与最新版本 {last.version.key} 不同："
                                  "一个方案文件的各版本共用产品信息、来源和药品目录，无法合并为一个文件", ("versions", index)))
        elif found is not None:
            problems.append(Issue("admin.join_hash", f"版本 {result.version.key} 合并后内容哈希与已保存的不一致",
                                  ("versions", index)))
    if problems:
        return problems
    combined = analyse(candidate)
    return [Issue(i["code"], i["message"], (), "", i["line"], i["column"]) for i in combined.issues] or \
        [Issue("admin.join", "这些版本无法合并为一个方案文件", ())]


def _header_of(doc: Document) -> dict:
    return {k: v for k, v in doc.data.items() if k != "versions"}


def _differing_paths(a: dict, b: dict, prefix: str = "", depth: int = 2) -> list[str]:
    """Where two mappings differ, as dotted paths down to `depth` levels ("product.name", "sources.xn-news")."""
    paths = []
    for key in [*a, *(k for k in b if k not in a)]:
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if depth > 1 and isinstance(x, dict) and isinstance(y, dict):
            paths += _differing_paths(x, y, f"{prefix}{key}.", depth - 1)
        else:
            paths.append(f"{prefix}{key}")
    return paths


_FLOW_MAX = 110  # characters: a mapping or list this short is written on one line, as product files do


def _short(value) -> bool:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return len(text) <= _FLOW_MAX and "\\n" not in text


class _Dumper(yaml.SafeDumper):
    """YAML as product files are written: lists indented under their key, short mappings and lists on one line."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def represent_mapping(self, tag, mapping, flow_style=None):
        return super().represent_mapping(tag, mapping, _short(mapping) if flow_style is None else flow_style)

    def represent_sequence(self, tag, sequence, flow_style=None):
        return super().represent_sequence(tag, sequence, _short(sequence) if flow_style is None else flow_style)


# Decimals go out as YAML floats (their exact text), which the engine's loader reads back as Decimal.
_Dumper.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", str(v)))


def _dump_item(item: dict) -> str:
    """One version item as YAML lines indented as under `versions:` in a product file."""
    body = yaml.dump({"versions": [item]}, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    return body.split("\n", 1)[1]


def dump_document(data: dict, note: str) -> str:
    body = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
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
