"""Schemathesis hooks for scripts/api-contract (loaded through SCHEMATHESIS_HOOKS).

One fix of the tool's own bookkeeping, no check turned off: Schemathesis 4.32's coverage phase can label a case
"positive" while its body component was generated negative (seen: a near-boundary path id with the body `0`),
and then `positive_data_acceptance` demands a 2xx for a body that breaks the schema. A case with any negative
component is a negative case — Schemathesis's own definition — so the label is set to agree before the call;
`negative_data_rejection` then checks it as what it is.
"""
from __future__ import annotations

import schemathesis
from schemathesis import GenerationMode


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    meta = case.meta
    if meta is not None and any(c.mode == GenerationMode.NEGATIVE for c in meta.components.values()):
        meta.generation.mode = GenerationMode.NEGATIVE
