"""The ledger: annual accumulators and settled claims, kept in a database through SQLAlchemy.

The engine holds no state; the ledger gives it each member's accumulators for the policy year and
stores what comes back, in one transaction with the settled claim.  A claim id is settled once:
the same claim submitted again returns the stored settlement and pays nothing more.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from .evaluate import adjudicate
from .inputs import Claim
from .issues import InputError, Issue
from .model import Version

DEFAULT_URL = "sqlite:///hmb-ledger.db"


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
    canonical = json.dumps(claim.data, sort_keys=True, ensure_ascii=False, default=str)
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
        try:
            with Session(self.engine) as session, session.begin():
                existing = self._existing(session, version, claim)
                if existing is not None:
                    return self._replay(existing, digest), True
                rows = self._rows(session, version, claim.member.id)
                before = {key: row.fen for key, row in rows.items()}
                settled = adjudicate(claim, version, before, trace=trace).as_dict()
                self._store_accumulators(session, version, claim.member.id, rows, settled["accumulators"])
                session.add(SettledClaimRow(product_id=version.product_id, claim_id=claim.claim_id,
                                            version_id=version.id, ruleset=version.ruleset_name,
                                            member_id=claim.member.id, request_hash=digest,
                                            paid_fen=settled["paid_fen"], result=settled))
                return settled, False
        except IntegrityError:  # settled concurrently by another writer: answer with what it stored
            with Session(self.engine) as session:
                return self._replay(self._existing(session, version, claim), digest), True

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
    def _store_accumulators(session: Session, version: Version, member_id: str, rows: dict, after: dict) -> None:
        for key, fen in after.items():
            if key in rows:
                rows[key].fen = fen
            else:
                session.add(AccumulatorRow(product_id=version.product_id, version_id=version.id,
                                           member_id=member_id, key=key, fen=fen))
