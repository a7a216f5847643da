"""Schema and semantic problems reported together: a schema problem takes out only the entry it is in (a band,
a liability, a pool…), the rest of the version is still checked for meaning — and no conclusion about a list as
a whole (a gap, shares adding up, a reference) is drawn from a list that lost an entry."""
from __future__ import annotations

from engine.issues import format_path

from test_broken_schemes import BASE, issues_for, line_of, mutate

BAND_OVERLAP = ("{age: {min: 51, max: 150}", "{age: {min: 50, max: 150}")  # bands[1] and bands[2] of versions[1]


def found(text: str) -> set:
    return {(i.code, format_path(i.path), i.line) for i in issues_for(text)}


def test_a_band_overlap_is_reported_beside_a_schema_error_in_a_liability_of_the_same_version():
    text = mutate(mutate(BASE, *BAND_OVERLAP), "        cap: 500000\n", "        cap: 50万\n")
    assert found(text) == {
        ("schema.number_text", "versions[1].liabilities[2].cap", line_of(text, "cap: 50万")),
        ("band.overlap", "versions[1].premium.bands[2].when", line_of(text, "{age: {min: 50, max: 150}")),
    }


def test_the_bands_left_are_checked_for_overlaps_but_not_for_gaps():
    """Without the broken band the pre-existing are not covered: that gap is the broken band's, not a problem."""
    text = mutate(mutate(BASE, *BAND_OVERLAP), "          amount: 99\n", "          amount: 99元\n")
    assert found(text) == {
        ("schema.number_text", "versions[1].premium.bands[3].amount", line_of(text, "amount: 99元")),
        ("band.overlap", "versions[1].premium.bands[2].when", line_of(text, "{age: {min: 50, max: 150}")),
    }


def test_problems_after_a_taken_out_entry_are_located_at_their_own_line():
    """Paths are mapped back to the document as written: the liability after a broken one keeps its index."""
    text = mutate(BASE, "        cap: 500000\n", "        cap: 50万\n")  # liabilities[2]
    text = mutate(text, "        cap: 20000\n", "        cap: 500\n")  # liabilities[3]: below its deductible
    assert ("liability.cap_below_deductible", "versions[1].liabilities[3].cap", line_of(text, "cap: 500\n")) \
        in found(text)


def test_a_reference_to_a_broken_pool_is_not_reported_as_unknown():
    text = mutate(BASE, "{id: total, name: 住院共用保额, amount: 1500000,", "{id: total, name: 住院共用保额, amount: 150万,")
    assert {code for code, _, _ in found(text)} == {"schema.number_text"}


def test_shares_are_not_added_up_without_a_broken_co_insurer():
    text = mutate(BASE, "{name: 示例财产保险股份有限公司, share: 0.4}", "{name: 示例财产保险股份有限公司, share: 40%}")
    text = mutate(text, *BAND_OVERLAP)
    assert {code for code, _, _ in found(text)} == {"schema.number_text", "band.overlap"}


def test_a_broken_drug_leaves_the_versions_checked():
    text = mutate(BASE, "        valid_from: 2023-01-01\n", "        valid_from: 2023-13-01\n")
    text = mutate(text, *BAND_OVERLAP)
    assert {code for code, _, _ in found(text)} == {"schema.format", "band.overlap"}


def test_a_version_broken_outside_its_entries_is_left_out_whole():
    """A bad period makes every date of the version doubtful: its semantic checks wait; the other version's run."""
    text = mutate(BASE, "      end: 2025-12-31\n", "      end: 2025-12-32\n")
    text = mutate(text, *BAND_OVERLAP)  # versions[1]: hidden behind its period
    text = mutate(text, "        ratio: 0.75\n", "        ratio: 0.75\n        cap_note: 首年\n")  # versions[0]
    text = mutate(text, "amount: 59, source", "amount: 59.001, source")  # versions[0]: semantic
    assert {code for code, _, _ in found(text)} == {"schema.format", "schema.unknown_key", "money.precision"}
