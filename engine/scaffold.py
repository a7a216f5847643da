"""`hmb new`: the first two files of a new city — a scheme that validates and its golden cases that pass.

Every value in them is a placeholder marked `assumed: "待替换：…"`, so the scheme runs end to end (validate,
cases, explain, review) while every reader sees it is not yet any city's scheme: explain and the review show
each placeholder as an assumption until it is replaced by a sourced value.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).with_name("templates")
PRODUCT_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")  # the scheme language's id (schema.ID)
PLACEHOLDER = "待替换："


def scaffold_files(product_id: str, name: str, year: int, city: str = "", region: str = "") -> dict[str, str]:
    """File name → text of the new scheme and its cases file."""
    values = {"product_id": product_id, "year": year, "previous": year - 1, "title": name,
              "name": _quoted(name), "version_name": _quoted(f"{name} {year} 年度"),
              "city": _quoted(city or f"{PLACEHOLDER}城市"), "region": _quoted(region or f"{PLACEHOLDER}省份")}
    return {f"{product_id}{suffix}": Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
            for suffix, template in ((".yaml", "new-scheme.yaml"), (".cases.yaml", "new-cases.yaml"))}


def _quoted(text: str) -> str:
    """A YAML scalar for any text (a name with ':' or '#' in it stays one string): JSON's quoting is YAML's."""
    return json.dumps(text, ensure_ascii=False)
