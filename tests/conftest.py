import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run (derandomize), so a landing is decided by the code, not by the draw;
# a developer's run explores new ones.  A failure prints the blob to replay it (@reproduce_failure).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

from engine import load_product

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = ROOT / "products"


@pytest.fixture(scope="session")
def products_dir() -> Path:
    return PRODUCTS


@pytest.fixture(scope="session")
def xianhuibao():
    return load_product(PRODUCTS / "xianhuibao.yaml")
