"""Version inheritance: a version that writes `extends: "2024"` writes only what changes from version 2024.

`resolve_versions` replaces every such version of a parsed document by its resolved version, before anything
else looks at it: the resolved version is what the schema and the semantic checks validate, what the model is
built from and hashed, and what diff, explain and the admin show.  Every resolved value keeps the line and
column where it is written — in the version itself or in the one it inherits it from — so an error in an
inherited value points at the line that wrote it.

The merge (docs/scheme-language.md, “版本继承”), applied from the version a chain starts from down:
- a mapping merges key by key: a key the child writes replaces the parent's value, or, when both are mappings,
  merges into it; a key the child does not write keeps the parent's value; `key: null` removes the parent's key;
  a provenance is one statement: a child that writes `source:` or `assumed:` replaces both of the parent's
  (a citation, or a list of them, whole: never merged key by key);
  a value written with its own provenance (`{value: …, source|assumed: …}`) is one value, replaced whole;
- a list whose entries all have an `id` (in the parent and in the child) merges by id: a child entry replaces
  the parent's entry of that id whole, where it stands; `{id: X, remove: true}` removes entry X; a new entry goes
  right after the entry written before it in the child's list (at the start when it is the child's first);
- anything else the child writes (a number, a text, a list without ids) replaces the parent's value whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .issues import Issue
from .load import Document

EXTENDS = "extends"
REMOVE = "remove"
PROVENANCE = ("source", "assumed")


@dataclass
class _Resolution:
    """The resolved versions of one document: data by index, and where each resolved path is written."""

    doc: Document
    issues: list[Issue] = field(default_factory=list)
    data: dict = field(default_factory=dict)  # version index → resolved mapping
    origin: dict = field(default_factory=dict)  # version index → {path in the resolved version: raw path}
    failed: set = field(default_factory=set)  # indices that cannot be resolved


def resolve_versions(doc: Document) -> tuple[Document, list[Issue]]:
    """The document with its extending versions resolved, and the problems of the inheritance itself (unknown or
    circular `extends`, removing what the parent does not have).  A version that cannot be resolved stays as
    written (with its `extends`); its problems are reported here, at `versions[i].extends` or below."""
    versions = doc.data.get("versions") if isinstance(doc.data, dict) else None
    if not isinstance(versions, list) or not any(_extends(v) for v in versions):
        return doc, []
    state = _Resolution(doc)
    for index in range(len(versions)):
        _resolve(state, index, ())
    resolved = [state.data.get(i, item) for i, item in enumerate(versions)]
    value_marks, key_marks = dict(doc.value_marks), dict(doc.key_marks)
    for index in state.origin:
        _relocate(doc, index, state.origin[index], value_marks, key_marks)
    data = {**doc.data, "versions": resolved}
    return replace(doc, data=data, value_marks=value_marks, key_marks=key_marks), state.issues


def failed_versions(issues: list[Issue]) -> set[int]:
    """Indices of the versions an inheritance problem leaves unresolved (their schema problems are noise)."""
    return {i.path[1] for i in issues if i.code.startswith("inherit.") and len(i.path) > 1}


def _extends(item) -> bool:
    return isinstance(item, dict) and EXTENDS in item


def _version_id(item) -> str | None:
    return str(item["id"]) if isinstance(item, dict) and "id" in item else None


def _resolve(state: _Resolution, index: int, chain: tuple[int, ...]) -> bool:
    """Resolve version `index` (and what it extends first); False when it cannot be."""
    if index in state.failed:
        return False
    if index in state.data or not _extends(state.doc.data["versions"][index]):
        return True
    versions = state.doc.data["versions"]
    child, at = versions[index], ("versions", index)
    parent_id = child[EXTENDS]
    ids = [_version_id(v) for v in versions]
    problem = None
    if not isinstance(parent_id, str):
        problem = ("inherit.extends_type", f"extends 应写成版本编号的文字，如 extends: \"2024\"（加引号），实际是 {parent_id!r}")
    elif parent_id not in ids:
        known = "、".join(i for i in ids if i is not None and i != _version_id(child)) or "无"
        problem = ("inherit.unknown", f"继承的版本“{parent_id}”不存在；本文件的其他版本：{known}")
    elif ids.index(parent_id) in (*chain, index):
        path = (*chain, index)
        _report_cycle(state, list(path[path.index(ids.index(parent_id)):]), ids)
        return False
    if problem:
        state.failed.add(index)
        state.issues.append(state.doc.issue(problem[0], problem[1], at + (EXTENDS,)))
        return False
    parent = ids.index(parent_id)
    if not _resolve(state, parent, (*chain, index)):
        state.failed.add(index)
        if not _in_cycle(state, index):
            state.issues.append(state.doc.issue("inherit.parent_broken", f"继承的版本“{parent_id}”本身无法确定"
                                                "（见它的问题），本版本也就无法确定", at + (EXTENDS,)))
        return False
    parent_data = state.data.get(parent, versions[parent])
    parent_origin = state.origin.get(parent, {})
    merger = _Merger(state, lambda rel: parent_origin.get(rel, ("versions", parent) + rel), at)
    own = {k: v for k, v in child.items() if k != EXTENDS}
    found = len(state.issues)
    merged = merger.merge(parent_data, (), own, ())
    if len(state.issues) > found:  # left as written (with its `extends`), so resolving again reports it again
        state.failed.add(index)
        return False
    state.data[index] = merged
    state.origin[index] = merger.origin
    return True


def _report_cycle(state: _Resolution, members: list[int], ids: list) -> None:
    """Each version of a cycle fails, and says so, its loop read from itself."""
    for n, member in enumerate(members):
        loop = [ids[m] for m in members[n:] + members[:n]] + [ids[member]]
        state.failed.add(member)
        state.issues.append(state.doc.issue("inherit.cycle", f"版本继承成环：{' → '.join(loop)}"
                                            "（每个版本只能继承另一个不继承它的版本）", ("versions", member, EXTENDS)))


def _in_cycle(state: _Resolution, index: int) -> bool:
    """Was this version's failure already reported as part of a cycle (no second message for it)?"""
    return any(i.code == "inherit.cycle" and i.path[1] == index for i in state.issues)


class _Merger:
    """Merges one child version into its resolved parent, noting where each resulting value is written."""

    def __init__(self, state: _Resolution, parent_at, child_at: tuple):
        self.state, self.parent_at, self.child_at = state, parent_at, child_at
        self.origin: dict = {}

    def merge(self, parent, p_rel: tuple, child, c_rel: tuple, dst: tuple = ()):
        if isinstance(parent, dict) and isinstance(child, dict) and "value" not in child:
            self.origin[dst] = self.child_at + c_rel
            return self._mapping(parent, p_rel, child, c_rel, dst)
        if isinstance(parent, list) and isinstance(child, list) and _by_id(parent, child):
            self.origin[dst] = self.child_at + c_rel
            return self._by_id(parent, p_rel, child, c_rel, dst)
        return self._take(child, lambda rel: self.child_at + c_rel + rel, dst)

    def _mapping(self, parent: dict, p_rel: tuple, child: dict, c_rel: tuple, dst: tuple) -> dict:
        result = {}
        own_provenance = any(child.get(key) is not None for key in PROVENANCE)
        for key, value in parent.items():
            if key in PROVENANCE and own_provenance and key not in child:
                continue  # a provenance is one statement: the child's replaces the parent's source and assumption
            if key not in child:
                result[key] = self._take(value, lambda rel, k=key: self.parent_at(p_rel + (k,) + rel), dst + (key,))
            elif key in PROVENANCE and child[key] is not None:  # a citation (or a list of them) is one statement too: never merged key by key
                result[key] = self._take(child[key], lambda rel, k=key: self.child_at + c_rel + (k,) + rel, dst + (key,))
            elif child[key] is not None:
                result[key] = self.merge(value, p_rel + (key,), child[key], c_rel + (key,), dst + (key,))
        for key, value in child.items():
            if key in parent:
                continue
            if value is None:
                self._problem(c_rel + (key,), f"“{key}: null”表示删除继承来的这一项，但所继承的版本没有“{key}”")
            else:
                result[key] = self._take(value, lambda rel, k=key: self.child_at + c_rel + (k,) + rel, dst + (key,))
        return result

    def _by_id(self, parent: list, p_rel: tuple, child: list, c_rel: tuple, dst: tuple) -> list:
        # slots: [id, value, raw path of the value (a function of the path below it), removed]
        slots = [[item["id"], item, (lambda rel, i=i: self.parent_at(p_rel + (i,) + rel)), False]
                 for i, item in enumerate(parent)]
        by_id = {slot[0]: slot for slot in slots}
        written: set = set()
        anchor = None
        for i, item in enumerate(child):
            at = (lambda rel, i=i: self.child_at + c_rel + (i,) + rel)
            key = item["id"]
            if key in written:
                self._problem(c_rel + (i, "id"), f"编号“{key}”在这个列表中写了两次")
                continue
            written.add(key)
            if REMOVE in item:
                if not self._removal(item, c_rel + (i,), key in by_id):
                    continue
                by_id[key][3] = True
                anchor = by_id[key]
            elif key in by_id:
                by_id[key][1:3] = [item, at]
                anchor = by_id[key]
            else:
                slot = [key, item, at, False]
                slots.insert(0 if anchor is None else slots.index(anchor) + 1, slot)
                by_id[key] = anchor = slot
        kept = [slot for slot in slots if not slot[3]]
        return [self._take(value, where, dst + (n,)) for n, (_, value, where, _) in enumerate(kept)]

    def _removal(self, item: dict, rel: tuple, present: bool) -> bool:
        """Is `{id: X, remove: true}` well written and is there an X to remove?"""
        if item[REMOVE] is not True or set(item) != {"id", REMOVE}:
            self._problem(rel + (REMOVE,), "删除继承来的条目写成 {id: 编号, remove: true}，不写其他键")
            return False
        if not present:
            self._problem(rel + ("id",), f"要删除的“{item['id']}”在所继承的版本的这个列表中不存在")
            return False
        return True

    def _take(self, value, where, dst: tuple):
        """A value as written (in the child or the parent): every path below it located where it is written."""
        self.origin[dst] = where(())
        if isinstance(value, dict):
            for key, sub in value.items():
                self._take(sub, lambda rel, k=key: where((k,) + rel), dst + (key,))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                self._take(sub, lambda rel, i=i: where((i,) + rel), dst + (i,))
        return value

    def _problem(self, rel: tuple, message: str) -> None:
        self.state.issues.append(self.state.doc.issue("inherit.merge", message, self.child_at + rel))


def _by_id(parent: list, child: list) -> bool:
    """Lists of things with ids merge by id; any other list is replaced whole."""
    return all(isinstance(item, dict) and isinstance(item.get("id"), (str, int)) for item in [*parent, *child]) \
        and bool(child)


def _relocate(doc: Document, index: int, origin: dict, value_marks: dict, key_marks: dict) -> None:
    """Marks of a resolved version: each path where its value is written (in it, or in what it inherits)."""
    prefix = ("versions", index)
    for table in (value_marks, key_marks):
        for path in [p for p in table if p[:2] == prefix and len(p) > 2]:
            del table[path]
    for rel, raw in origin.items():
        if not rel:
            continue  # the version item itself stays where it is written
        if raw in doc.value_marks:
            value_marks[prefix + rel] = doc.value_marks[raw]
        if raw in doc.key_marks:
            key_marks[prefix + rel] = doc.key_marks[raw]
