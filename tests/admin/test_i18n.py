"""The English catalogue, checked with Babel's own extraction (admin_ui/babel.cfg), and English on the pages."""
from __future__ import annotations

from pathlib import Path
from string import Formatter

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import session
from flask_babel import refresh

import admin_ui
from admin_ui import i18n

from .conftest import Browser

ADMIN = Path(admin_ui.__file__).parent
PO = ADMIN / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def extracted() -> set[str]:
    """Every msgid pybabel extract finds in the admin: _("…") and N_("…") in its modules and templates."""
    with open(ADMIN / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(ADMIN, method_map, options_map)
    return {message for _file, _line, message, _comments, _context in found}


def catalogue() -> Catalog:
    with open(PO, "rb") as file:
        return read_po(file)


def english() -> dict[str, str]:
    """msgid → English, as pybabel compile takes them (fuzzy and empty entries are left out)."""
    return {m.id: m.string for m in catalogue() if m.id and m.string and not m.fuzzy}


def fields(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in Formatter().parse(text) if name is not None}


def test_every_string_has_an_english_translation():
    assert not catalogue().fuzzy  # a fuzzy header: pybabel compile would skip the whole catalogue
    assert sorted(extracted() - set(english())) == []


def test_the_catalogue_holds_only_strings_in_use():
    po = catalogue()
    assert sorted(po.obsolete) == []  # left by `pybabel update` without --ignore-obsolete
    assert sorted({m.id for m in po if m.id} - extracted()) == []


def test_translations_keep_their_placeholders():
    """`_` formats the English with the Chinese text's values: {n} must stay {n}."""
    assert [(zh, en) for zh, en in english().items() if fields(zh) != fields(en)] == []


def test_the_committed_mo_is_the_compiled_po():
    """messages.mo is committed, so it must hold exactly the .po's English.

    Committed rather than compiled by scripts/setup or at start: a clone used without the script, or an
    installed wheel, still shows English, and nothing writes into a package folder that may be read-only.
    """
    with open(PO.with_suffix(".mo"), "rb") as file:
        compiled = {m.id: m.string for m in read_mo(file) if m.id}
    assert compiled == english(), "run `pybabel compile -d translations` in admin_ui/"


def test_english_comes_from_the_catalogue(app):
    translations = english()
    with app.test_request_context():
        assert i18n._("第 {n} 行", n=3) == "第 3 行"
        session["lang"] = "en"
        refresh()  # Flask-Babel keeps the locale it selected for the rest of the request
        assert i18n._("第 {n} 行", n=3) == translations["第 {n} 行"].format(n=3) == "line 3"
        assert i18n.status_label("published") == translations["已发布"]
    with app.app_context():  # start-up messages, CLI: Chinese
        assert i18n._("第 {n} 行", n=3) == "第 3 行"
    pm = Browser(app, "pm")
    pm.get("/lang/en")
    page = pm.get("/").get_data(as_text=True)
    assert translations["产品与版本"] in page and translations["退出"] in page and "产品与版本" not in page


def test_templates_use_the_admins_underscore_only(app):
    """One `_` in templates, with str.format placeholders; no jinja2.ext.i18n, so no {% trans %} anywhere."""
    assert app.jinja_env.globals["_"] is i18n._
    assert not any(name.endswith("InternationalizationExtension") for name in app.jinja_env.extensions)
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)  # a {% trans %} block would not parse
