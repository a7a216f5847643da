"""Load: YAML text → plain data, with the line and column of every key and value.

PyYAML's composer gives positioned nodes; we build the data ourselves so that
- every value and every mapping key keeps its (line, column) for error messages,
- decimals become `Decimal` (never float) and dates stay ISO strings,
- duplicate keys are an error instead of a silent overwrite.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path as FsPath

import yaml

from .issues import Issue, SchemeError


@dataclass
class Document:
    """A parsed YAML file: its data and where each part of it stands in the text."""

    file: str
    data: object
    text: str = ""
    value_marks: dict = field(default_factory=dict)  # path → (line, column) of the value
    key_marks: dict = field(default_factory=dict)  # path → (line, column) of the key that names it

    def locate(self, path: tuple, prefer_key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) for a path; falls back to the nearest ancestor that has one.

        A mapping or list under a key is located at its key (`bands:`), not at its first entry:
        a problem with the whole of it, or a key missing from it, belongs on the line that names it.
        """
        path = tuple(path)
        while True:
            prefer = prefer_key or isinstance(self.get(path), (dict, list))
            marks = (self.key_marks, self.value_marks) if prefer else (self.value_marks, self.key_marks)
            for table in marks:
                if path in table:
                    return table[path]
            if not path:
                return (1, 1)
            path = path[:-1]

    def get(self, path: tuple):
        """The value at a path, or None where the path does not exist."""
        return _value_at(self.data, path)

    def issue(self, code: str, message: str, path: tuple = (), prefer_key: bool = False) -> Issue:
        line, column = self.locate(path, prefer_key)
        return Issue(code=code, message=message, path=tuple(path), file=self.file, line=line, column=column)


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.loader = yaml.SafeLoader("")
        self.value_marks: dict = {}
        self.key_marks: dict = {}
        self.problems: list[Issue] = []

    def _mark(self, node) -> tuple[int, int]:
        return (node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node, path: tuple = ()):
        self.value_marks[path] = self._mark(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node, path: tuple) -> dict:
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        result: dict = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                key = str(key)
                self.problems.append(self._at(key_node, path + (key,), "yaml.key_not_text",
                                              f"键“{key}”必须是文字（数字或布尔值作键请加引号）"))
            if key in result:
                self.problems.append(self._at(key_node, path + (key,), "yaml.duplicate_key",
                                              f"键“{key}”在同一处出现了两次，后一个会覆盖前一个"))
            self.key_marks[path + (key,)] = self._mark(key_node)
            result[key] = self.build(value_node, path + (key,))
        return result

    def _scalar(self, node):
        if node.tag == "tag:yaml.org,2002:float":
            return Decimal(node.value.replace("_", ""))
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # ISO text; the schema checks its format
        return self.loader.construct_object(node)

    def _at(self, node, path: tuple, code: str, message: str) -> Issue:
        line, column = self._mark(node)
        return Issue(code=code, message=message, path=path, file=self.file, line=line, column=column)


def parse_text(text: str, file: str = "<text>") -> Document:
    """Parse YAML text; raise SchemeError (with line and column) if it is not well-formed YAML."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise SchemeError([_syntax_issue(text, file, exc)]) from exc
    if root is None:
        raise SchemeError([Issue("yaml.empty", "文件是空的", (), file, 1, 1)])
    builder = _Builder(file)
    data = builder.build(root)
    if builder.problems:
        raise SchemeError(builder.problems)
    return Document(file=file, data=data, text=text, value_marks=builder.value_marks, key_marks=builder.key_marks)


# ── YAML syntax errors, in words a product manager can act on ────────────────────────────────────

# (text in PyYAML's context or problem, Chinese explanation, report where the construct began?)
# Unclosed quotes and brackets are noticed lines later; the author must fix the line that opened them.
_SYNTAX_HINTS = (
    ("'\\t'", "缩进里有制表符（Tab）：YAML 只能用空格缩进，请把 Tab 换成空格", False),
    ("while scanning a quoted scalar", "从这里开始的引号没有闭合", True),
    ("while parsing a flow mapping", "从这里开始的 {…} 没有正确闭合，或其中的项之间缺少逗号", True),
    ("while parsing a flow sequence", "从这里开始的 […] 没有正确闭合，或其中的项之间缺少逗号", True),
    ("while scanning a simple key", "这一行缺少“键: 值”中的冒号和空格", True),
    ("mapping values are not allowed here",
     "这里不能出现“键: 值”：可能这一行比上一行多缩进了，或文字中有“: ”（冒号加空格）需要整体加引号", False),
    ("expected <block end>", "缩进不一致：这一行没有和同一层的其他键或列表项对齐", False),
    ("undefined alias", "引用了未定义的锚点（*名称 之前要有 &名称）", False),
)


def _syntax_issue(text: str, file: str, exc: yaml.MarkedYAMLError) -> Issue:
    said = f"{exc.context or ''} {exc.problem or ''}"
    hint, at_start = next(((h, s) for key, h, s in _SYNTAX_HINTS if key in said), ("YAML 格式错误", False))
    mark = (exc.context_mark if at_start else None) or exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    detail = " ".join(part for part in (exc.context, exc.problem) if part)
    message = f"{hint}（YAML 解析器：{detail}）"
    return Issue("yaml.syntax", message, _path_at_line(text, line), file, line, column)


def _path_at_line(text: str, line: int) -> tuple:
    """Best guess of the document path a broken line belongs to, from the well-formed lines above it.

    The lines before it are parsed on their own; the line belongs under the last key above it that is
    indented less (it is nested in it) or equally (it is its sibling).  A guess for the message only.
    """
    lines = text.splitlines()
    if not 1 < line <= len(lines):
        return ()
    try:
        root = yaml.compose("\n".join(lines[: line - 1]), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ()
    if root is None:
        return ()
    builder = _Builder("")
    data = builder.build(root)
    column, item, key = _line_shape(lines, line)
    above = [(mark, path) for path, mark in builder.key_marks.items() if mark[1] <= column]
    if not above:
        return ()
    (_, key_column), key_path = max(above)
    nested = key_column < column or (item and isinstance(_value_at(data, key_path), list))
    path = key_path if nested else key_path[:-1]
    value = _value_at(data, path)
    if item and isinstance(value, list):
        path, value = path + (len(value),), None
    if key and (value is None or isinstance(value, dict)):  # a scalar above means the line continues it
        path += (key,)
    return path


def _line_shape(lines: list[str], line: int) -> tuple[int, bool, str | None]:
    """(1-based column where the line's content starts, does it start a list item, its key if any)."""
    raw = lines[line - 1]
    spaces = len(raw) - len(raw.lstrip(" "))
    if raw[spaces:spaces + 1] == "\t" and spaces == 0:
        # Indented with tabs: assume the level of the line above, the usual intent.
        above = next((l for l in reversed(lines[: line - 1]) if l.strip()), "")
        spaces = len(above) - len(above.lstrip(" "))
    content = raw.strip()
    item = content.startswith("- ") or content == "-"
    match = re.match(r"([A-Za-z0-9_.-]+)\s*:(\s|$)", content[2:].lstrip() if item else content)
    return spaces + 1, item, match.group(1) if match else None


def _value_at(data, path: tuple):
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def load_file(path: str | FsPath) -> Document:
    """Read and parse a scheme file."""
    path = FsPath(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemeError([Issue("file.unreadable", f"无法读取文件：{exc}", (), str(path), 0, 0)]) from exc
    return parse_text(text, str(path))
