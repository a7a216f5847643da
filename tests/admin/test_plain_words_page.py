"""The admin's version page of every version (the three products and the plans fixture) speaks a person's words
(see tests/test_plain_words.py), outside the places that show codes on purpose — <code>: the version key, the
content hash, the ruleset, a drug's claim code, a problem's path in the document; <pre>: the YAML text diff."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import select
from test_plain_words import SCHEMES, VOCABULARY_CODES, codes_of, codes_shown

from admin_ui.models import SchemeVersion
from engine import load_product
from engine.load import load_file

from .conftest import Browser


class _Reading(HTMLParser):
    """The text a person reads on a page: not the head, scripts, or <code> (codes shown on purpose)."""

    SKIP = {"head", "script", "style", "code", "pre"}  # <pre>: the YAML text diff, the file as written

    def __init__(self):
        super().__init__()
        self.skipping, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in self.SKIP

    def handle_endtag(self, tag):
        self.skipping -= tag in self.SKIP

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


@pytest.fixture
def app(make_app, tmp_path):
    folder = tmp_path / "three-products"
    folder.mkdir()
    for path in SCHEMES:
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return make_app(PRODUCTS_DIR=str(folder))


def test_the_version_page_of_every_version_shows_no_code(app, session):
    regulator = Browser(app, "regulator")
    codes = {c for path in SCHEMES for c in codes_of(load_file(path).data)} | VOCABULARY_CODES
    rows = session.scalars(select(SchemeVersion)).all()
    assert len(rows) == sum(len(load_product(p).versions) for p in SCHEMES)
    for row in rows:
        reading = _Reading()
        reading.feed(regulator.get(f"/versions/{row.id}").get_data(as_text=True))
        assert codes_shown(" ".join(reading.parts), codes) == [], row.key
