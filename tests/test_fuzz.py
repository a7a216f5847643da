"""Fuzzing: over ten thousand mutated or generated schemes, claims and admin requests per run.

Every input must end in a result or in an error that names what is wrong (SchemeError / InputError, or
an HTTP answer below 500 in JSON), within a time and memory bound, and an import either stores a whole
file or nothing. The seeds are fixed plus one new seed per run, printed on failure; replay one with
`HMB_FUZZ_SEED=<seed>`; scale the counts with `HMB_FUZZ_SCALE` (default 1).
"""
from __future__ import annotations

import json
import os
import random
import resource
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import InputError, SchemeError, adjudicate, load_claims, load_product_text, parse_claim, parse_person, quote
from engine.inputs import PERSON_DEFAULTS

from fuzzing import mutate

ROOT = Path(__file__).resolve().parent.parent
SCHEME_FILES = [*sorted((ROOT / "products").glob("*[!s].yaml")), ROOT / "tests/fixtures/minimal.yaml",
                ROOT / "tests/fixtures/xixia.yaml"]
SCALE = float(os.environ.get("HMB_FUZZ_SCALE", "1"))
RUN_SEED = int(os.environ.get("HMB_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
SECONDS_PER_INPUT = 10  # a hang detector, not a speed test: a healthy input takes milliseconds
GROWTH_MB = 1024  # resident memory an input may add; the alias bomb of issue 10 added 3.5 GB


def count(n: int) -> int:
    return max(1, int(n * SCALE))


def seeds(n: int) -> list[int]:
    """Fixed seeds (the same inputs every run) plus this run's own."""
    return [RUN_SEED] if os.environ.get("HMB_FUZZ_SEED") else [2025, 2026, RUN_SEED][:n]


class Bounds:
    """Fails the test, naming the input, when one takes too long or the process grows too much."""

    def __init__(self):
        self.start_rss = _rss_mb()

    def check(self, started: float, label: str, text: str) -> None:
        elapsed = time.monotonic() - started
        grown = _rss_mb() - self.start_rss
        if elapsed > SECONDS_PER_INPUT or grown > GROWTH_MB:
            pytest.fail(f"{label}: {elapsed:.1f} s, +{grown:.0f} MB (seed {RUN_SEED})\n{text[:2000]!r}")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _exercise(product) -> None:
    """A valid mutant is also quoted and adjudicated: the engine must answer it too."""
    person = parse_person(dict(PERSON_DEFAULTS, age=40))
    for version in product.versions:
        quote(person, version)
        claim = {"claim_id": "f1", "member": {"id": "m", "age": 40}, "date": str(version.period[0]), "care": "inpatient",
                 "hospital_level": 3, "in_policy_self_pay": 60000, "out_of_policy_self_pay": 40000}
        try:
            adjudicate(_claim(claim), version)
        except InputError:
            pass  # a mutated scheme may refuse this claim: with a reason, which is all we ask


def _claim(data: dict):
    return parse_claim(data, "<fuzz>")


def scheme_texts() -> list[tuple[str, str]]:
    return [(path.name, path.read_text(encoding="utf-8")) for path in SCHEME_FILES]


@pytest.mark.parametrize("seed_index", range(3))
def test_mutated_schemes_end_in_a_product_or_a_located_error(seed_index):
    [seed] = seeds(3)[seed_index:seed_index + 1] or [None]
    if seed is None:
        pytest.skip("replaying one seed")
    rng, bounds, texts = random.Random(seed), Bounds(), scheme_texts()
    outcomes = {"valid": 0, "refused": 0}
    for i in range(count(1200)):
        name, original = rng.choice(texts)
        text = mutate(original, rng)
        started = time.monotonic()
        try:
            _exercise(load_product_text(text, name))
            outcomes["valid"] += 1
        except SchemeError as exc:
            assert exc.issues and all(issue.file == name and issue.message for issue in exc.issues), exc.issues
            outcomes["refused"] += 1
        except InputError as exc:
            assert exc.issues
            outcomes["refused"] += 1
        except Exception as exc:  # noqa: BLE001 — the point of the test: name the input that crashed
            pytest.fail(f"input {i} of seed {seed} crashed with {exc!r}\n{text[:3000]}")
        bounds.check(started, f"input {i} of seed {seed}", text)
    assert outcomes["refused"] > 0 and outcomes["valid"] > 0, outcomes  # the mutations reach both ends


def _claim_texts() -> list[str]:
    found = [json.loads((ROOT / "examples/xianning-worked-example.json").read_text(encoding="utf-8"))]
    for path in sorted((ROOT / "products").glob("*.cases.yaml")):
        _collect_claims(yaml.safe_load(path.read_text(encoding="utf-8")), found)
    return [json.dumps(c, ensure_ascii=False, indent=1, default=str) for c in found] + \
           [yaml.safe_dump(c, allow_unicode=True, sort_keys=False) for c in found[:20]]


def _collect_claims(data, found: list) -> None:
    if isinstance(data, dict):
        if "claim_id" in data and "member" in data:
            found.append(data)
        for value in data.values():
            _collect_claims(value, found)
    elif isinstance(data, list):
        for value in data:
            _collect_claims(value, found)


def test_mutated_claim_files_end_in_a_settlement_or_a_located_error(tmp_path, xianhuibao):
    rng, bounds, texts = random.Random(RUN_SEED), Bounds(), _claim_texts()
    version = xianhuibao.versions[0]
    path = tmp_path / "claims.json"
    settled = refused = 0
    for i in range(count(3500)):
        text = mutate(rng.choice(texts), rng)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        started = time.monotonic()
        try:
            for claim in load_claims(str(path)):
                adjudicate(claim, version)
            settled += 1
        except InputError as exc:
            assert exc.issues and all(issue.message for issue in exc.issues)
            refused += 1
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"claim input {i} (seed {RUN_SEED}) crashed with {exc!r}\n{text[:3000]}")
        bounds.check(started, f"claim input {i}", text)
    assert settled and refused


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.text(max_size=12),
                         st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
                         st.sampled_from(["inpatient", "outpatient", "2023-06-01", "2023-02-30", "employee", "none"]))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
CLAIM_FIELDS = ["claim_id", "member", "date", "care", "hospital_level", "in_policy_self_pay",
                "out_of_policy_self_pay", "drugs", "bill"]


@settings(max_examples=count(1500), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({}, optional={key: JSON_VALUES for key in CLAIM_FIELDS}),
       st.fixed_dictionaries({}, optional={"id": JSON_VALUES, "age": JSON_VALUES, "birth_date": JSON_VALUES,
                                           "pre_existing": JSON_VALUES, "low_income": JSON_VALUES}))
def test_generated_claims_end_in_a_settlement_or_an_error_naming_the_field(xianhuibao, claim, member):
    if member:
        claim = dict(claim, member=member)
    try:
        adjudicate(_claim(claim), xianhuibao.versions[0])
    except InputError as exc:
        assert exc.issues and all(issue.message for issue in exc.issues)
