from pathlib import Path

import pytest

from engine import load_product

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = ROOT / "products"


@pytest.fixture(scope="session")
def products_dir() -> Path:
    return PRODUCTS


@pytest.fixture(scope="session")
def xianhuibao():
    return load_product(PRODUCTS / "xianhuibao.yaml")
