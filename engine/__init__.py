"""The generic 惠民保 engine: load → validate → compile → evaluate → explain.

Nothing here knows a city: a scheme is a YAML file, and every city's file runs through the same code.
"""
from __future__ import annotations

from pathlib import Path

from .citations import Library, library_for, load_library
from .evaluate import Eligibility, Quote, Settlement, adjudicate, eligibility, quote
from .inputs import Claim, Person, load_claims, parse_claim, parse_person
from .inherit import resolve_versions
from .issues import InputError, Issue, SchemeError
from .load import Document, load_file, parse_text
from .model import Product, Version, build_product
from .validate import check, validate_document


def product_from_document(doc: Document, library: Library | None = None) -> Product:
    """A validated product from a parsed document; SchemeError lists every problem.  Quotes are looked up in
    `library`, by default the one kept with the document's file (`citations.library_for`)."""
    issues, product = check(doc, library)
    if issues:
        raise SchemeError(issues)
    return product


def load_product(path: str | Path) -> Product:
    return product_from_document(load_file(path))


def load_product_text(text: str, file: str = "<text>", library: Library | None = None) -> Product:
    return product_from_document(parse_text(text, file), library)


__all__ = [
    "Claim", "Document", "Eligibility", "InputError", "Issue", "Library", "Person", "Product", "Quote", "SchemeError",
    "Settlement", "Version", "adjudicate", "eligibility", "library_for", "load_claims", "load_file", "load_library",
    "load_product", "load_product_text", "parse_claim", "parse_person", "parse_text", "product_from_document",
    "quote", "resolve_versions", "validate_document",
]
