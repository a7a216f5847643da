"""Problems found in a scheme file or a claim, located so a product manager can find and fix them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

Path = tuple  # of str keys and int indices


def format_path(path: Iterable) -> str:
    """('versions', 2, 'ratio', 'segments', 1, 'from') → 'versions[2].ratio.segments[1].from'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "（文档根）"


@dataclass(frozen=True)
class Issue:
    """One problem: where (file, line, column, path in the document), what (code) and why (message)."""

    code: str
    message: str
    path: Path = ()
    file: str = ""
    line: int = 0
    column: int = 0

    @property
    def where(self) -> str:
        place = self.file or "<输入>"
        if self.line:
            place += f":{self.line}:{self.column}"
        return place

    def __str__(self) -> str:
        return f"{self.where}: {format_path(self.path)}: {self.message} [{self.code}]"

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "path": format_path(self.path),
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


class IssuesError(Exception):
    """An error that carries every issue found, not just the first."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))

    def __reduce__(self):  # rebuilt from its issues when it crosses a process boundary (engine.sandbox)
        return (type(self), (self.issues,))


class SchemeError(IssuesError):
    """A scheme file that cannot be used."""


class InputError(IssuesError):
    """A claim, person or request that cannot be evaluated."""
