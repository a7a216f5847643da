"""Explanations speak a person's words: `hmb explain` of every version (the three products, the plans fixture and the fourth city)
shows no code identifier — no id, code, key, field path or enum value the scheme file writes, and nothing shaped
like one (snake_case, dotted paths) — only names from the scheme and the Chinese vocabulary (engine/vocab.py).
The admin's version page likewise: tests/admin/test_plain_words_page.py."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import load_product, vocab
from engine.cli import main
from engine.load import load_file

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = sorted(p for p in (ROOT / "products").glob("*.yaml") if not p.name.endswith(".cases.yaml"))
SCHEMES = PRODUCTS + [ROOT / "tests" / "fixtures" / name for name in ("two-plans.yaml", "shanghai.yaml")]
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@#-]*$")
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@#-]*[A-Za-z0-9]|[A-Za-z]")
SHAPED_LIKE_A_CODE = re.compile(r"[A-Za-z]_[A-Za-z]|[a-z]\.[a-z]|[a-z]@")  # snake_case, field.path, product@version
HUMAN_TEXT = {"name", "title", "issuer", "note", "assumed", "source", "description", "kind", "date_note", "number",
              "quote", "clause"}


def codes_of(data, key=None) -> set[str]:
    """Every identifier a scheme file writes: its keys, and every code-shaped value outside human text."""
    if isinstance(data, dict):
        return set(map(str, data)) | {c for k, v in data.items() for c in codes_of(v, k)}
    if isinstance(data, list):
        return {c for item in data for c in codes_of(item, key)}
    if isinstance(data, str) and key not in HUMAN_TEXT and CODE.match(data) and re.search("[A-Za-z]", data):
        return {data}
    return set()


VOCABULARY_CODES = {str(code) for table in (vocab.CARE, vocab.COVERS, vocab.PAYERS, vocab.LOW_INCOME, vocab.LAYER_KINDS,
                                            vocab.RELATIVES, vocab.REGIMES, vocab.HIT_POLICIES, vocab.CHOICES,
                                            vocab.ELIGIBILITY_OUTCOMES, vocab.WAITING_EXEMPTIONS, vocab.BASIC_STATUS)
                    for code in table}


FILE_NAME = re.compile(r"\.(yaml|json|txt|md)$")  # a file named as where something came from: shown on purpose


def codes_shown(text: str, codes: set[str]) -> list[str]:
    return sorted({t for t in TOKEN.findall(text)
                   if (t in codes or SHAPED_LIKE_A_CODE.search(t)) and not FILE_NAME.search(t)})


def test_the_check_catches_codes():
    """The detector itself: a code of the file, a field path and a snake_case word are caught; names are not."""
    codes = codes_of(load_file(PRODUCTS[0]).data) | VOCABULARY_CODES
    assert codes_shown("监管依据：cbirc-2021-city-customised；funding.donated_enrolment；pay_with donor；"
                       "chronic_outpatient_1；eligibility.otherwise；档位 everyone", codes) == \
        ["cbirc-2021-city-customised", "chronic_outpatient_1", "donor", "eligibility.otherwise", "everyone",
         "funding.donated_enrolment", "pay_with"]
    assert codes_shown("阿基仑赛注射液（CAR-T）；EGFR 突变阳性；1,500,000.00 元；2025-01-01", codes) == []


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda p: p.stem)
def test_explain_of_every_version_shows_no_code(scheme: Path):
    codes = codes_of(load_file(scheme).data) | VOCABULARY_CODES
    for version in load_product(scheme).versions:
        result = CliRunner().invoke(main, ["explain", str(scheme), "--year", version.id])
        assert result.exit_code == 0, result.output
        assert codes_shown(result.output, codes) == [], f"{scheme.name}@{version.id}"
