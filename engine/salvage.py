"""What of a badly shaped scheme can still be checked for meaning, so that schema and semantic problems are
reported together (a band overlap is not hidden behind a `cap: 50万` elsewhere in the version).

A schema problem inside one entry of a list (a band, a liability, a pool, a subsidy, a drug…) takes out that
entry only: the document is read without it, the model is built from the rest and the semantic checks run on
it.  That is safe because dropping an entry can hide a problem but never make one up — except for the checks
that speak of a list *as a whole*: a gap in the bands, co-insurers' shares adding up to 1, a reference to a
pool that was taken out, a plan dropping a liability that was taken out.  Those conclusions are discarded for a
version whose list lost an entry.  A problem anywhere else in a version (its period, its premium section, a
list as a whole) leaves that version out; one outside the versions (product, sources) leaves nothing to build.
The document read this way locates every problem in the original text: paths are mapped back to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .issues import Issue
from .load import Document

ANY = object()  # one key of a mapping of lists (drug_lists: {id: …})
# Lists whose entries can be left out, as paths inside a version or (for item lists) inside the document;
# a plan's own liabilities are not among them: without one, the common liability of that id would stand in.
VERSION_LISTS = {("premium", "bands"): {"band.gap"}, ("liabilities",): {"plan.drop_unknown"},
                 ("deductibles",): {"liability.unknown_pool"}, ("caps",): {"liability.unknown_pool"},
                 ("funding", "subsidies"): set(), ("eligibility", "conditions"): set(),
                 ("insurers", "co"): {"insurers.shares"}, ("plans",): set(),
                 ("chain", "layers", ANY, "liabilities"): {"chain.layer_empty"},
                 ("chain", "layers", ANY, "deductibles"): {"liability.unknown_pool"},
                 ("chain", "layers", ANY, "caps"): {"liability.unknown_pool"}}
DOCUMENT_LISTS = {("drug_lists", ANY, "drugs"): set(), ("treatment_lists", ANY, "treatments"): set()}


@dataclass
class Readable(Document):
    """The document without its broken entries; `issue` locates a problem in the original."""

    original: Document | None = None
    kept: dict = field(default_factory=dict)  # path of a list → original index of each entry kept

    def original_path(self, path: tuple) -> tuple:
        path = list(path)
        for i in range(len(path)):
            indices = self.kept.get(tuple(path[:i]))
            if indices is not None and isinstance(path[i], int) and path[i] < len(indices):
                path[i] = indices[path[i]]
        return tuple(path)

    def issue(self, code: str, message: str, path: tuple = (), prefer_key: bool = False) -> Issue:
        return self.original.issue(code, message, self.original_path(path), prefer_key)


@dataclass(frozen=True)
class Salvage:
    doc: Readable
    broken_versions: frozenset  # versions left out whole
    incomplete: dict  # version index → codes of whole-list conclusions not to be trusted there

    def trusted(self, issue: Issue) -> bool:
        where = issue.path[1] if issue.path[:1] == ("versions",) and len(issue.path) > 1 else None
        return issue.code not in self.incomplete.get(where, ())


def _entry(path: tuple) -> tuple[tuple, set] | None:
    """The innermost droppable list entry holding `path` (the entry's path) and the codes its loss voids."""
    found = None
    candidates = [(("versions", ANY) + pattern, codes) for pattern, codes in VERSION_LISTS.items()]
    candidates += list(DOCUMENT_LISTS.items())
    for pattern, codes in candidates:
        n = len(pattern)
        if len(path) > n and isinstance(path[n], int) and all(p is ANY or p == q for p, q in zip(pattern, path)):
            if found is None or n + 1 > len(found[0]):
                found = (path[:n + 1], codes)
    return found


def salvage(doc: Document, issues: list[Issue], schema_issues) -> Salvage | None:
    """The readable part of a document with schema problems, or None if nothing outside a version can be read."""
    entries, broken, incomplete = {}, set(), {}
    for issue in issues:
        path = tuple(issue.path)
        if len(path) < 2 or path[0] != "versions":
            entry = _entry(path)
            if entry is None:
                return None
            entries[entry[0]] = entry[1]
            continue
        entry = _entry(path)
        if entry is None:
            broken.add(path[1])
        else:
            entries[entry[0]] = entry[1]
            incomplete.setdefault(path[1], set()).update(entry[1])
    data, kept = _without(doc.data, set(entries))
    readable = Readable(doc.file, data, doc.text, original=doc, kept=kept)
    emptied = {path for path, indices in kept.items() if not indices}
    for issue in schema_issues(readable):
        path = tuple(issue.path)
        if issue.code == "schema.minItems" and path in emptied:
            continue  # a list whose every entry was taken out: read as empty, its whole-list checks voided
        if len(path) < 2 or path[0] != "versions":
            return None
        broken.add(path[1])
    return Salvage(readable, frozenset(broken), incomplete)


def _without(data, entries: set) -> tuple[object, dict]:
    """A copy of the data without the entries at those paths (each a list's path plus an index), and for each list
    that lost entries, the original index of every entry kept.  Only the lists on the way are copied."""
    kept: dict = {}

    def copy(node, path: tuple):
        if not any(entry[:len(path)] == path and len(entry) > len(path) for entry in entries):
            return node
        if isinstance(node, dict):
            return {key: copy(value, path + (key,)) for key, value in node.items()}
        indices = [i for i in range(len(node)) if path + (i,) not in entries]
        if len(indices) < len(node):
            kept[path] = indices
        return [copy(node[i], path + (i,)) for i in indices]

    return copy(data, ()), kept
