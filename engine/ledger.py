"""The ledger: annual accumulators and settled claims, kept in a database through SQLAlchemy.

The engine holds no state; the ledger gives it each member's accumulators for the policy year and
stores what comes back, in one transaction with the settled claim.  A claim id is settled once:
the same claim submitted again returns the stored settlement and pays nothing more.

Two writers may settle claims of one member at once.  Each writes its accumulators only if they
still hold what it read (compare-and-set); otherwise — or when a unique key shows the other writer
got there first — it reads again and adjudicates again, so a deductible is never consumed twice.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint, create_engine, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from . import vocab
from .evaluate import adjudicate
from .inputs import Claim
from .issues import InputError, Issue
from .model import Version

DEFAULT_URL = "sqlite:///hmb-ledger.db"
ATTEMPTS = 5  # tries to settle one claim against writers changing the same member's accumulators


class LedgerConflict(RuntimeError):
    """Other writers kept changing this member's accumulators; nothing was saved — try again later."""


class _Stale(Exception):
    """An accumulator changed between reading it and writing it back."""


class LedgerBase(DeclarativeBase):
    pass


class AccumulatorRow(LedgerBase):
    """How much of one pool (deductible, cap, expense) a member has used in one policy year of a product."""

    __tablename__ = "accumulators"
    __table_args__ = (UniqueConstraint("product_id", "version_id", "member_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128), index=True)
    key: Mapped[str] = mapped_column(String(200))
    fen: Mapped[int] = mapped_column(Integer)


class SettledClaimRow(LedgerBase):
    """A claim as settled: once per product and claim id."""

    __tablename__ = "settled_claims"
    __table_args__ = (UniqueConstraint("product_id", "claim_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64))
    claim_id: Mapped[str] = mapped_column(String(128))
    version_id: Mapped[str] = mapped_column(String(64))
    ruleset: Mapped[str] = mapped_column(String(200))
    member_id: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    paid_fen: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict] = mapped_column(JSON)
    settled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))


def request_hash(claim: Claim) -> str:
    """The claim's content as the engine reads it (amounts in fen, defaults filled in), not as it was
    written: 100, "100" and 100.00 yuan are the same claim; a note is not part of what is paid."""
    m = claim.member
    # the special groups only when set: a claim written before they existed keeps the hash it was stored with
    groups = {code: True for code in vocab.SPECIAL_GROUPS if getattr(m, code)}
    canonical = json.dumps({
        "claim_id": claim.claim_id, "date": claim.date, "care": claim.care, "hospital_level": claim.hospital_level,
        "member": [m.id, m.age, m.birth_date, m.pre_existing, m.low_income, m.basic_insurance,
                   m.basic_insurance_status, m.hukou, m.occupation, *([groups] if groups else [])],
        "raw_bill": claim.raw_bill, "in_policy_fen": claim.in_policy_fen, "out_of_policy_fen": claim.out_of_policy_fen,
        "drugs": [[d.code, d.indication, d.fen] for d in claim.drugs],
    }, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Ledger:
    def __init__(self, bind: str | Engine = DEFAULT_URL):
        self.engine = create_engine(bind) if isinstance(bind, str) else bind
        LedgerBase.metadata.create_all(self.engine)

    @staticmethod
    def _rows(session: Session, version: Version, member_id: str) -> dict[str, AccumulatorRow]:
        rows = session.scalars(select(AccumulatorRow).where(
            AccumulatorRow.product_id == version.product_id, AccumulatorRow.version_id == version.id,
            AccumulatorRow.member_id == member_id))
        return {row.key: row for row in rows}

    def accumulators(self, version: Version, member_id: str) -> dict:
        with Session(self.engine) as session:
            return {key: row.fen for key, row in self._rows(session, version, member_id).items()}

    def settle(self, claim: Claim, version: Version, trace: bool = True) -> tuple[dict, bool]:
        """Settle a claim once. Returns (settlement, duplicate): duplicate is True when it was already settled."""
        digest = request_hash(claim)
        for _ in range(ATTEMPTS):
            try:
                return self._settle_once(claim, version, digest, trace)
            except (IntegrityError, _Stale):  # another writer got there first: read again, decide again
                continue
        raise LedgerConflict(f"理赔“{claim.claim_id}”：成员 {claim.member.id} 的累计额在结算期间反复被改动，未保存，请重试")

    def _settle_once(self, claim: Claim, version: Version, digest: str, trace: bool) -> tuple[dict, bool]:
        with Session(self.engine) as session, session.begin():
            existing = self._existing(session, version, claim)
            if existing is not None:
                return self._replay(existing, digest), True
            rows = self._rows(session, version, claim.member.id)
            before = {key: row.fen for key, row in rows.items()}
            settled = adjudicate(claim, version, before, trace=trace).as_dict()
            self._store_accumulators(session, version, claim.member.id, rows, before, settled["accumulators"])
            session.add(SettledClaimRow(product_id=version.product_id, claim_id=claim.claim_id,
                                        version_id=version.id, ruleset=version.ruleset_name,
                                        member_id=claim.member.id, request_hash=digest,
                                        paid_fen=settled["paid_fen"], result=settled))
            session.flush()  # a unique-key clash surfaces here, inside the retry loop
            return settled, False

    def _existing(self, session: Session, version: Version, claim: Claim) -> SettledClaimRow | None:
        return session.scalar(select(SettledClaimRow).where(SettledClaimRow.product_id == version.product_id,
                                                            SettledClaimRow.claim_id == claim.claim_id))

    @staticmethod
    def _replay(row: SettledClaimRow, digest: str) -> dict:
        if row.request_hash != digest:
            raise InputError([Issue("claim.id_reused", f"理赔号“{row.claim_id}”已用于另一份内容不同的理赔，不能重复使用",
                                    ("claim_id",))])
        return row.result

    @staticmethod
    def _store_accumulators(session: Session, version: Version, member_id: str, rows: dict, before: dict,
                            after: dict) -> None:
        """Write back every accumulator read (compare-and-set, even if unchanged: the payment depended on it)."""
        for key, fen in after.items():
            if key not in rows:  # new: a concurrent insert of the same key breaks the unique constraint
                session.add(AccumulatorRow(product_id=version.product_id, version_id=version.id,
                                           member_id=member_id, key=key, fen=fen))
                continue
            written = session.execute(update(AccumulatorRow)
                                      .where(AccumulatorRow.id == rows[key].id, AccumulatorRow.fen == before[key])
                                      .values(fen=fen).execution_options(synchronize_session=False))
            if written.rowcount != 1:
                raise _Stale(key)
