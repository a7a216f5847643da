"""Load: YAML text → plain data, with the line and column of every key and value.

PyYAML's composer gives positioned nodes; we build the data ourselves so that
- every value and every mapping key keeps its (line, column) for error messages,
- decimals become `Decimal` (never float) and dates stay ISO strings,
- duplicate keys are an error instead of a silent overwrite.

Every text is untrusted (the admin's live validation takes it from any logged-in user), so loading is
bounded before anything is built: size, characters, nesting depth, node count *after* alias expansion
(an "alias bomb" of a few hundred bytes expands to billions of nodes), recursive aliases and tags
outside plain YAML are refused with the line and column, in milliseconds (`Limits`, docs/robustness.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path as FsPath

import yaml

from .issues import Issue, SchemeError

# libyaml parses about ten times faster; its marks equal the pure-Python parser's (tested), whose error
# messages we keep: a text libyaml refuses is parsed again by the pure-Python loader for the message.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Limits:
    """What one YAML or JSON text may hold. A product file is tens of KB and about 1,500 nodes."""

    max_bytes: int = 2 * 1024 * 1024
    max_depth: int = 40  # nested mappings and lists
    max_nodes: int = 200_000  # scalars, mappings and lists, every alias counted as what it stands for
    max_number_digits: int = 30  # integer digits or decimal exponent: no amount or ratio needs more


LIMITS = Limits()

# Plain YAML's own types; `!!python/…`, `!!binary`, `!!set`, custom `!tags` are refused.
_ACCEPTED_TAGS = {None, "!"} | {f"tag:yaml.org,2002:{name}" for name in
                                ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")}
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "退格", 11: "垂直制表符", 12: "换页符", 27: "ESC", 127: "DEL"}


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
        return self._scalar(node, path)

    def _mapping(self, node, path: tuple) -> dict:
        try:
            self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        except yaml.constructor.ConstructorError as exc:
            self.problems.append(self._at(exc.problem_mark or node.start_mark, path, "yaml.merge",
                                          "合并键“<<”只能引用映射（键值对）或映射的列表"))
            return {}
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

    def _scalar(self, node, path: tuple = ()):
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # ISO text; the schema checks its format
        if node.tag in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:int"):
            return self._number(node, path)
        try:
            return self.loader.construct_object(node)
        except yaml.constructor.ConstructorError as exc:  # the event scan refuses unknown tags before this
            self.problems.append(self._at(node, path, "yaml.tag", f"无法读取这个值：{exc.problem}"))
            return node.value

    def _number(self, node, path: tuple):
        """A YAML number, exactly (Decimal, never float), within `Limits.max_number_digits`."""
        text = node.value.replace("_", "")
        if node.tag.endswith("float"):
            try:
                number = Decimal(text)
            except InvalidOperation:
                number = Decimal("NaN")  # .inf, .nan
            if not number.is_finite():
                return self._refuse_number(node, path, f"“{node.value}”不是有限的数（不支持 .inf、.nan）")
            if abs(number.adjusted()) > LIMITS.max_number_digits:
                return self._refuse_number(node, path, f"数“{node.value}”超出可处理的范围")
            return number
        digits = len(text.lstrip("+-0")) or 1
        if digits > LIMITS.max_number_digits:
            return self._refuse_number(node, path, f"整数有 {digits} 位，超出可处理的范围（最多 {LIMITS.max_number_digits} 位）")
        return self.loader.construct_object(node)

    def _refuse_number(self, node, path: tuple, message: str) -> str:
        self.problems.append(self._at(node, path, "yaml.number", message))
        return node.value

    def _at(self, node_or_mark, path: tuple, code: str, message: str) -> Issue:
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        line, column = mark.line + 1, mark.column + 1
        return Issue(code=code, message=message, path=path, file=self.file, line=line, column=column)


def parse_text(text: str, file: str = "<text>", limits: Limits = LIMITS) -> Document:
    """Parse YAML (or JSON) text within `limits`; raise SchemeError, with line and column, if it cannot be used."""
    _check_text(text, file, limits)
    root = _compose(text, file)
    if root is None:
        raise SchemeError([Issue("yaml.empty", "文件是空的", (), file, 1, 1)])
    builder = _Builder(file)
    data = builder.build(root)
    if builder.problems:
        raise SchemeError(builder.problems)
    return Document(file=file, data=data, text=text, value_marks=builder.value_marks, key_marks=builder.key_marks)


def _check_text(text: str, file: str, limits: Limits) -> None:
    """Refuse, before composing anything, what could exhaust memory, time or the stack."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise SchemeError([Issue("file.too_large", f"文件有 {size:,} 字节，超过上限 {limits.max_bytes:,} 字节", (),
                                 file, 1, 1)])
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad:
        raise SchemeError([_unacceptable_character(text, file, bad.start())])
    for loader in (_FAST_LOADER, yaml.SafeLoader):  # libyaml stops at some texts the other parser reads further
        try:
            return _scan_events(text, file, limits, loader)
        except yaml.YAMLError:
            pass  # a syntax error: `_compose` reports it with the pure-Python parser's words


def _unacceptable_character(text: str, file: str, index: int) -> Issue:
    code = ord(text[index])
    name = _CONTROL_NAMES.get(code, "控制字符" if code < 32 or 127 <= code < 160 else "不可打印字符")
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return Issue("yaml.character", f"这里有一个不可接受的字符 U+{code:04X}（{name}）：请删除它", (), file, line, column)


def _scan_events(text: str, file: str, limits: Limits, loader) -> None:
    """One pass over the parser's events (no recursion, nothing built): depth, expanded size, aliases, tags.

    Each open mapping or list counts the nodes under it; an anchor remembers the size of what it names,
    so an alias adds that size without being expanded, and an alias to a node still open is recursive.
    """
    sizes: dict[str, int] = {}  # anchor → nodes it stands for
    stack: list[list] = []  # per open collection: [anchor, nodes so far]
    total = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)) and event.tag not in _ACCEPTED_TAGS:
            raise _refusal(file, event, "yaml.tag", f"不支持的标签“{event.tag}”：方案文件只用普通的 YAML 数据")
        if isinstance(event, yaml.AliasEvent):
            if any(frame[0] == event.anchor for frame in stack):
                raise _refusal(file, event, "yaml.recursive_alias", f"别名“*{event.anchor}”引用了包含它自己的锚点")
            added = sizes.get(event.anchor, 1)  # an undefined alias is the composer's error to report
        elif isinstance(event, yaml.ScalarEvent):
            added = 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            if len(stack) > limits.max_depth:
                raise _refusal(file, event, "yaml.too_deep", f"嵌套超过 {limits.max_depth} 层")
            added = 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes = stack.pop()
            if anchor:
                sizes[anchor] = nodes
            if stack:
                stack[-1][1] += nodes
            continue
        else:
            continue
        total += added
        if stack and not isinstance(event, yaml.CollectionStartEvent):
            stack[-1][1] += added
        if total > limits.max_nodes:
            raise _refusal(file, event, "yaml.too_many_nodes",
                           f"展开别名后超过 {limits.max_nodes:,} 个节点（可能是“别名炸弹”）：请不要层层引用锚点")


def _refusal(file: str, event, code: str, message: str) -> SchemeError:
    mark = event.start_mark
    return SchemeError([Issue(code, message, (), file, mark.line + 1, mark.column + 1)])


def _compose(text: str, file: str):
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        pass
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise SchemeError([_syntax_issue(text, file, exc)]) from exc
    except yaml.YAMLError as exc:  # e.g. a reader error the character check did not foresee
        raise SchemeError([Issue("yaml.syntax", f"YAML 格式错误：{exc}", (), file, 1, 1)]) from exc


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
    prefix = "\n".join(lines[: line - 1])
    try:
        _check_text(prefix, "", LIMITS)  # the lines above are as untrusted as the rest
        root = yaml.compose(prefix, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, SchemeError):
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


def load_file(path: str | FsPath, limits: Limits = LIMITS) -> Document:
    """Read and parse a scheme, claim or other YAML/JSON file."""
    return parse_text(read_text(path, limits), str(path), limits)


def read_text(path: str | FsPath, limits: Limits = LIMITS) -> str:
    """A file's UTF-8 text; a file larger than the limit is refused before it is read whole."""
    try:
        with FsPath(path).open("rb") as handle:
            raw = handle.read(limits.max_bytes + 1)
        if len(raw) > limits.max_bytes:
            raise SchemeError([Issue("file.too_large", f"文件超过上限 {limits.max_bytes:,} 字节", (), str(path), 1, 1)])
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemeError([Issue("file.unreadable", f"无法读取文件：{exc}", (), str(path), 0, 0)]) from exc
