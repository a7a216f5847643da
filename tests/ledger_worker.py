"""Claims settled from several processes at once (tests/test_ledger_concurrency.py): what each process
submits, and the process itself.  A module of its own so that spawned processes can import it.

Every process settles claims of the same three members.  Some claim ids are submitted by every process
with the same content (to be paid once), some with different content (one is paid, the rest refused).
"""
from __future__ import annotations

import random

from engine import InputError, load_product_text, parse_claim
from engine.ledger import Ledger
from scheme_texts import FIXTURE_SOURCES, scheme_text

MEMBERS = ("m1", "m2", "m3")
CLAIMS_PER_PROCESS = 25
SHARED_IDS = 3  # ids every process submits with the same content
CLASHING_IDS = 2  # ids every process submits with content of its own


def test_version():
    return load_product_text(scheme_text(), "<test-scheme>", FIXTURE_SOURCES).versions[0]


def claims_of(process: int) -> list[dict]:
    """The claims one process submits (the same every time it is asked)."""
    rng = random.Random(process)
    claims = [_claim(f"shared-{i}", MEMBERS[i % len(MEMBERS)], 8_000 + 1_000 * i) for i in range(SHARED_IDS)]
    claims += [_claim(f"clash-{i}", MEMBERS[(process + i) % len(MEMBERS)], 5_000 + 100 * process)
               for i in range(CLASHING_IDS)]
    while len(claims) < CLAIMS_PER_PROCESS:
        n = len(claims)
        claims.append(_claim(f"p{process}-{n}", rng.choice(MEMBERS), rng.randint(1_000, 15_000),
                             rng.randint(0, 6_000), day=rng.randint(1, 28)))
    rng.shuffle(claims)
    return claims


def _claim(claim_id: str, member: str, in_policy: int, out_of_policy: int = 0, day: int = 1) -> dict:
    return {"claim_id": claim_id, "member": {"id": member, "age": 45}, "date": f"2024-06-{day:02d}",
            "care": "inpatient", "in_policy_self_pay": in_policy, "out_of_policy_self_pay": out_of_policy}


def settle_from_process(url: str, process: int, start, results) -> None:
    """Wait for every process to be ready, then settle this process's claims; report each outcome."""
    version, ledger = test_version(), Ledger(url)
    claims = [parse_claim(data) for data in claims_of(process)]
    start.wait()
    for claim in claims:
        try:
            settled, duplicate = ledger.settle(claim, version, trace=False)
            results.put((process, claim.claim_id, "paid", settled["paid_fen"], duplicate))
        except InputError as exc:
            results.put((process, claim.claim_id, "refused", exc.issues[0].code, exc.issues[0].message))
    ledger.engine.dispose()
