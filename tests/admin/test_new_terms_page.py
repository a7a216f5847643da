"""The version page shows a scheme's named pre-existing conditions, exclusions and hospital lists, assumptions marked."""
from __future__ import annotations

from .conftest import REPO, Browser, products_also, version_row

CITY = REPO / "tests" / "fixtures" / "shanghai.yaml"

products_copy = products_also(CITY)


def test_the_version_page_lists_the_scheme_s_own_lists(app, session):
    row = version_row(session, "shanghai-2024", "2024")
    page = Browser(app, "regulator").get(f"/versions/{row.id}").get_data(as_text=True)
    for heading in ("列名的既往症", "责任免除", "医院名单"):
        assert f"<h3>{heading}</h3>" in page
    assert "肝硬化" in page and "上海交通大学医学院附属瑞金医院（三级甲等）" in page
    exclusion = page[page.index("<h3>责任免除</h3>"):page.index("<h3>医院名单</h3>")]
    assert '<span class="ref assumed"><b>假设</b>' in exclusion  # the exclusion's assumption, marked in place
