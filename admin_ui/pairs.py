"""A version and the one it follows: which one that is, and what changed between them by meaning.

Shared by the version page (a summary of the changes) and the changes page (all of them, the golden cases
and the impact), so that both compare with the same version.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine import Version
from engine.diff import AREAS, Change, diff_versions

from .db import db
from .models import SchemeVersion
from .queries import latest_frozen_before, version_by_key
from .schemes import Analysis
from .services import check_stored


@dataclass(frozen=True)
class Pair:
    """A valid version and the one it follows (None: the first of its product)."""

    row: SchemeVersion
    check: Analysis
    previous: SchemeVersion | None = None
    how: str = ""  # "copy": the draft was copied from it; "published": the latest published earlier period
    legacy_previous: SchemeVersion | None = None  # the one it follows, refused by the current language: not compared

    @property
    def version(self) -> Version:
        return self.check.version

    @property
    def old(self) -> Version | None:
        return check_stored(self.previous).version if self.previous else None


def previous_of(row: SchemeVersion) -> tuple[SchemeVersion | None, str]:
    """The copy source recorded in `origin` (what the draft was made from), else the latest published
    (or since retired) version of the product whose period starts earlier."""
    source = _copied_from(row)
    if source is not None and check_stored(source).ok:
        return source, "copy"
    earlier = latest_frozen_before(db(), row)
    return (earlier, "published") if earlier is not None else (None, "")


def _copied_from(row: SchemeVersion) -> SchemeVersion | None:
    if not row.origin.startswith("copy:") or "@" not in row.origin:
        return None
    product_id, version_id = row.origin.removeprefix("copy:").rsplit("@", 1)
    if product_id != row.product_id:
        return None
    return version_by_key(db(), product_id, version_id)


def grouped_changes(old: Version, new: Version) -> list[tuple[str, list[Change]]]:
    """engine.diff's changes under their Chinese area labels, in the engine's fixed area order."""
    groups: dict[str, list[Change]] = {}
    for change in diff_versions(old, new):
        groups.setdefault(change.area, []).append(change)
    return [(AREAS.get(area, area), items) for area, items in groups.items()]
