"""Load: YAML text → plain data, with the line and column of every key and value.

PyYAML's composer gives positioned nodes; we build the data ourselves so that
- every value and every mapping key keeps its (line, column) for error messages,
- decimals become `Decimal` (never float) and dates stay ISO strings,
- duplicate keys are an error instead of a silent overwrite.
"""
from __future__ import annotations

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
        """Line and column (1-based) for a path; falls back to the nearest ancestor that has one."""
        path = tuple(path)
        while True:
            marks = (self.key_marks, self.value_marks) if prefer_key else (self.value_marks, self.key_marks)
            for table in marks:
                if path in table:
                    return table[path]
            if not path:
                return (1, 1)
            path = path[:-1]

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
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        raise SchemeError([Issue("yaml.syntax", f"YAML 格式错误：{detail}", (), file, line, column)]) from exc
    if root is None:
        raise SchemeError([Issue("yaml.empty", "文件是空的", (), file, 1, 1)])
    builder = _Builder(file)
    data = builder.build(root)
    if builder.problems:
        raise SchemeError(builder.problems)
    return Document(file=file, data=data, text=text, value_marks=builder.value_marks, key_marks=builder.key_marks)


def load_file(path: str | FsPath) -> Document:
    """Read and parse a scheme file."""
    path = FsPath(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemeError([Issue("file.unreadable", f"无法读取文件：{exc}", (), str(path), 0, 0)]) from exc
    return parse_text(text, str(path))
