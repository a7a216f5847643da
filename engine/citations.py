"""Citations a reviewer can verify: the cited documents' texts live in `sources/`, and a quote must occur in them.

`sources/index.yaml` lists the documents (id, title, issuer, date, number, kind, file, and `secondary: true`
for a text that reports on the governing document rather than being it).  A citation names a document, a
clause and a short verbatim quote:

    source: {doc: hubei-guidance, clause: 三(二), quote: 不得设立对常见病、多发病的免除责任条款}

and may add `note:`, the author's reading of the passage (shown as 解读, never verified).  A scheme file may
write a list of citations where a value rests on several passages.  The quote must occur in the document's
text exactly as written — same characters, traditional where the document uses them, same punctuation
(full-width or not) — except for whitespace, which is ignored: the texts break lines in the middle of
sentences, and Chinese puts no spaces between words.  A quote that does not occur is reported at the file,
line and column of the citing YAML.

Which library a file is checked against: the nearest `sources/index.yaml` in the file's folder or a folder
above it, else the repository's `sources/` (so test fixtures keep their own small texts beside them, and a
product file is always checked against the texts kept with it).  A text without a file on disk (an admin
draft) is checked against the repository's library unless a caller passes one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from .issues import Issue, SchemeError
from .load import Document, load_file

SOURCES_DIR = Path(__file__).resolve().parent.parent / "sources"
_WHITESPACE = re.compile(r"\s+")

_INDEX_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["format", "documents"],
    "properties": {
        "format": {"const": "hmb-sources/1"},
        "documents": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "title", "issuer", "kind", "file"],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"},
                **{key: {"type": "string", "minLength": 1}
                   for key in ("title", "issuer", "kind", "file", "number", "note")},
                "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                "secondary": {"type": "boolean"},
            }}},
    },
}


@dataclass(frozen=True)
class SourceDocument:
    id: str
    title: str
    issuer: str
    kind: str
    file: str  # path of the text
    text: str
    date: str | None = None
    number: str | None = None
    note: str | None = None
    secondary: bool = False

    @property
    def label(self) -> str:
        """'《title》（issuer，number，date）' with what is known."""
        facts = "，".join(part for part in (self.issuer, self.number, self.date) if part)
        return f"《{self.title}》（{facts}）"

    @cached_property
    def _squeezed(self) -> tuple[str, list[int]]:
        return _squeeze(self.text)

    def find(self, quote: str) -> tuple[int, int] | None:
        """Line and column (1-based) in the document's text where the quote begins, whitespace ignored."""
        wanted = normalise(quote)
        if not wanted:
            return None
        squeezed, offsets = self._squeezed
        at = squeezed.find(wanted)
        if at < 0:
            return None
        before = self.text[:offsets[at]]
        return before.count("\n") + 1, offsets[at] - (before.rfind("\n") + 1) + 1


def normalise(text: str) -> str:
    """The text without whitespace: the only difference a quote may have from its document."""
    return _WHITESPACE.sub("", text)


def _squeeze(text: str) -> tuple[str, list[int]]:
    """The text without whitespace, and for each of its characters the offset in the original."""
    offsets = [i for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(text[i] for i in offsets), offsets


@dataclass(frozen=True)
class Library:
    directory: Path
    documents: dict  # id → SourceDocument

    def get(self, doc_id: str) -> SourceDocument | None:
        return self.documents.get(doc_id)


def load_library(directory: str | Path | None = None) -> Library:
    """The cited documents and their texts; SchemeError (file:line:column) for a broken index or a missing text."""
    return _load_library(Path(directory or SOURCES_DIR).resolve())


def library_for(file: str | Path | None) -> Library:
    """The library a file's citations are checked against: the nearest `sources/` (with an index) in the
    file's folder or above it; the repository's for a text that is not a file on disk."""
    path = Path(file) if file else None
    if path is not None and path.is_file():
        for folder in path.resolve().parents:
            if (folder / "sources" / "index.yaml").is_file():
                return load_library(folder / "sources")
    return load_library()


@lru_cache(maxsize=4)
def _load_library(directory: Path) -> Library:
    doc = load_file(directory / "index.yaml")
    issues = schema_issues(doc, Draft202012Validator(_INDEX_SCHEMA))
    if issues:
        raise SchemeError(issues)
    documents = {}
    for i, entry in enumerate(doc.data["documents"]):
        path = directory / entry["file"]
        if not path.is_file():
            issues.append(doc.issue("sources.missing_text", f"文件 {entry['file']} 不存在", ("documents", i, "file")))
            continue
        if entry["id"] in documents:
            issues.append(doc.issue("sources.duplicate_id", f"来源编号“{entry['id']}”重复", ("documents", i, "id")))
        documents[entry["id"]] = SourceDocument(text=path.read_text(encoding="utf-8"), **{**entry, "file": str(path)})
    if issues:
        raise SchemeError(issues)
    return Library(directory, documents)


def schema_issues(doc: Document, validator: Draft202012Validator) -> list[Issue]:
    """A YAML document checked against a JSON Schema, each error worded as scheme errors are and located."""
    from .validate import _translate  # the same Chinese wording as scheme errors

    return [issue for error in validator.iter_errors(doc.data) for issue in _translate(doc, error)]


# ── citations ─────────────────────────────────────────────────────────────────────────────────

CITATION_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["doc", "clause", "quote"],
    "properties": {"doc": {"type": "string", "minLength": 1}, "clause": {"type": "string", "minLength": 1},
                   "quote": {"type": "string", "minLength": 2},
                   "note": {"type": "string", "minLength": 1, "description": "解读：作者对这段原文的理解（不核对）"}},
}
# a scheme's `source:`: one citation, or several where a value rests on more than one passage
SOURCE_SCHEMA = {"oneOf": [CITATION_SCHEMA, {"type": "array", "items": CITATION_SCHEMA, "minItems": 1}],
                 "description": "出处：{doc: 文件编号, clause: 条款, quote: 原文引语, note: 解读}，或几条出处的列表"}
BARE_SOURCE = ("出处须写明文件、条款和原文引语：写成 {doc: 文件编号, clause: 条款, quote: 原文中的原话}，"
               "对原文的解读写在 note 中")


@dataclass(frozen=True)
class Citation:
    doc: str
    clause: str
    quote: str
    note: str | None = None  # the author's reading of the passage (解读): shown, not verified
    at: tuple[int, int] | None = field(default=None, compare=False)  # line and column of the quote, once verified

    @staticmethod
    def all_of(source) -> tuple["Citation", ...]:
        """A `source:` as written (one citation or a list) as citations."""
        nodes = source if isinstance(source, list) else [source]
        return tuple(Citation(n["doc"], n["clause"], n["quote"], n.get("note")) for n in nodes)

    def ref(self) -> str:
        """'gz-plan 三(四) “第一年保费原则上不超过100元”': the trace's machine-readable clause."""
        return f"{self.doc} {self.clause} “{self.quote}”"

    def as_dict(self) -> dict:
        out = {"doc": self.doc, "clause": self.clause, "quote": self.quote}
        if self.note:
            out["note"] = self.note
        if self.at:
            out["line"] = self.at[0]
        return out


def check_citation(doc: Document, path: tuple, library: Library) -> tuple[Citation | None, list[Issue]]:
    """The citation at `path` of a YAML document ({doc, clause, quote}), verified against the library."""
    node = doc.get(path)
    document = library.get(node["doc"])
    if document is None:
        known = "、".join(library.documents)
        return None, [doc.issue("citation.unknown_document", f"引用了未收录原文的文件“{node['doc']}”：引文无从核对；"
                                f"请把原文放进 {library.directory.name}/ 并登记在它的 index.yaml 中。已收录：{known}",
                                path + ("doc",))]
    at = document.find(node["quote"])
    if at is None:
        return None, [doc.issue("citation.quote_not_found",
                                f"引文“{node['quote']}”不在《{document.title}》的原文中（原文见 {document.file}；"
                                "引文须逐字照录，只忽略空白）", path + ("quote",))]
    return Citation(node["doc"], node["clause"], node["quote"], node.get("note"), at), []


def source_paths(source, path: tuple) -> list[tuple]:
    """The path of each citation of a `source:` as written: itself, or each item of its list."""
    return [path + (i,) for i in range(len(source))] if isinstance(source, list) else [path]


def citation_paths(data, path: tuple = (), key: str = "source"):
    """Every place in a document where a citation mapping ({doc, clause, quote}) stands under `key`."""
    if isinstance(data, dict):
        for name, value in data.items():
            if name == key and isinstance(value, dict) and "quote" in value:
                yield path + (name,)
            else:
                yield from citation_paths(value, path + (name,), key)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from citation_paths(item, path + (i,), key)


def verify_document(doc: Document, library: Library | None = None, key: str = "source") -> list[Issue]:
    """Every citation of a YAML document checked against the library's texts."""
    library = library or load_library()
    issues: list[Issue] = []
    for path in citation_paths(doc.data, key=key):
        issues += check_citation(doc, path, library)[1]
    return issues
