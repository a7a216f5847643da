"""The engine bridge: one version's own document, next year's copy (pure functions, no app)."""
from __future__ import annotations

from admin_ui.schemes import analyse, check_draft, next_year_text, shift_year, split_versions
from engine import load_product_text

from .conftest import XIANHUIBAO


def _two_versions_sharing_an_anchor() -> str:
    text = XIANHUIBAO.read_text(encoding="utf-8")
    text = text.replace("    filings:\n", "    filings: &filings\n", 1)
    start = text.index('  - id: "2023"')
    item = text[start:]
    head, filings_on = item.split("    filings: &filings\n", 1)
    rest = filings_on[filings_on.index("    settlement:"):]
    second = (head.replace('id: "2023"', 'id: "2024"').replace("2023-", "2024-").replace("2022-12", "2023-12")
              + "    filings: *filings\n" + rest.replace("2023-", "2024-"))
    return text + second


def test_a_version_that_borrows_an_anchor_has_its_item_written_out():
    text = _two_versions_sharing_an_anchor()
    whole = analyse(text)
    assert whole.ok, whole.issues
    texts = split_versions(whole.doc, whole.product)
    assert "    filings: &filings\n" in texts["2023"]  # cut from the file, comments kept
    # the alias cannot stand alone: the item is written out as YAML, between the file's own header and tail
    assert "*filings" not in texts["2024"] and texts["2024"].startswith(text.splitlines()[0] + "\n")
    for version in whole.product.versions:
        alone = load_product_text(texts[version.id])
        assert alone.versions[0].content_hash == version.content_hash


def test_next_year_moves_id_name_and_dates_and_keeps_everything_else():
    text = XIANHUIBAO.read_text(encoding="utf-8")
    new_id, copied = next_year_text(text)
    assert new_id == "2024"
    version = load_product_text(copied).versions[0]
    assert (version.id, version.period, version.enrolment) == ("2024", ("2024-01-01", "2024-12-31"),
                                                               ("2023-12-01", "2024-03-31"))
    assert version.name == "咸惠保（2024 年度）"
    changed = [(a, b) for a, b in zip(text.splitlines(), copied.splitlines()) if a != b]
    assert len(changed) == 6 and len(text.splitlines()) == len(copied.splitlines())


def test_leap_day_moves_to_the_28th():
    assert shift_year("2024-02-29") == "2025-02-28" and shift_year("2023-03-01") == "2024-03-01"


def test_a_stored_version_holds_exactly_one_version():
    body = check_draft(_two_versions_sharing_an_anchor(), "xianhuibao")
    assert [i["code"] for i in body.issues] == ["admin.one_version"] and not body.ok
