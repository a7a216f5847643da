"""Fuzzing the admin: live validation and import take any text from any logged-in user (see tests/test_fuzz.py)."""
from __future__ import annotations

import random
import re
import time

from sqlalchemy import func, select

from admin_ui.importer import import_text
from engine import load_product_text
from admin_ui.models import SchemeVersion
from fuzzing import mutate
from test_fuzz import RUN_SEED, Bounds, count, scheme_texts


def test_live_validation_answers_every_mutated_text_in_json(browser):
    regulator = browser("regulator")  # the least privileged role can reach live validation
    rng, bounds, texts = random.Random(RUN_SEED + 1), Bounds(), scheme_texts()
    for i in range(count(1200)):
        text = mutate(rng.choice(texts)[1], rng)
        started = time.monotonic()
        response = regulator.validate(text)
        assert response.status_code < 500 and response.is_json, (i, RUN_SEED, response.status_code, text[:2000])
        body = response.get_json()
        assert body["ok"] or body.get("issues") or body.get("error"), body
        bounds.check(started, f"live validation {i}", text)


def test_an_import_stores_a_whole_file_or_nothing(session):
    rng, bounds, texts = random.Random(RUN_SEED + 2), Bounds(), scheme_texts()
    imported = 0
    for i in range(count(400)):
        name, original = rng.choice(texts)
        if rng.random() < 0.5:  # a new product: a valid mutant is then stored, all its versions at once
            original = re.sub(r"(?m)^(product:\s*\n\s+id:|product: \{id:) *([\w-]+)", rf"\1 fuzz-{i}", original, 1)
        text = mutate(original, rng)
        before = session.scalar(select(func.count()).select_from(SchemeVersion))
        started = time.monotonic()
        report = import_text(session, text, f"fuzz-{i}-{name}", status="draft")
        after = session.scalar(select(func.count()).select_from(SchemeVersion))
        assert after - before == len(report.imported), (i, RUN_SEED, report)
        assert not (report.issues and report.imported), (i, RUN_SEED, report.issues)  # an issue stores nothing
        if report.ok and report.product_id == f"fuzz-{i}":
            assert len(report.imported) == len(load_product_text(text).versions), report
        imported += len(report.imported)
        bounds.check(started, f"import {i}", text)
    assert imported, "no mutant was imported: the test did not reach the storing path"
