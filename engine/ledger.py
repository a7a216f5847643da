"""The ledger: annual accumulators and settled claims, kept in a database through SQLAlchemy.

The engine holds no state; the ledger gives it each member's accumulators for the policy year and
stores what comes back, in one transaction with the settled claim.  A claim id is settled once:
the same claim submitted again returns the stored settlement and pays nothing more; the same id with
different content is refused.

Settlements of one member take turns, so a deductible or cap is never used twice.  Each settlement
first locks the member's row for the policy year (`member_years`): `SELECT … FOR UPDATE` on PostgreSQL;
on SQLite every transaction starts with `BEGIN IMMEDIATE`, which holds the database's write lock.
Only then does it look for the claim id, read the accumulators, adjudicate and write.  Two members'
claims carrying the same claim id at once meet at the unique key: the loser reads again and is told.

SQLite and PostgreSQL are supported.  A ledger file written before accumulators had typed columns
(one text `key` such as "scheme/deductible/shared") is upgraded in place when it is opened.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date, datetime, timezone

from sqlalchemy import (JSON, Boolean, Date, DateTime, Enum, Integer, String, UniqueConstraint, create_engine, event, inspect, select,
                        text)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from . import vocab
from .accumulators import Accumulators, PoolKey, PoolKind
from .evaluate import adjudicate, plan_of
from .inputs import Claim, MemberEvent
from .issues import InputError, Issue
from .model import Version

DEFAULT_URL = "sqlite:///hmb-ledger.db"
ATTEMPTS = 5  # tries to settle one claim while other members' claims take the same claim id
SQLITE_WAIT_SECONDS = 60  # how long a settlement waits for another process's write lock on a SQLite file
_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}  # both can insert "unless it exists"


class LedgerConflict(RuntimeError):
    """The claim id kept being taken by concurrent writers; nothing was saved — try again later."""


class LedgerBase(DeclarativeBase):
    pass


class MemberYearRow(LedgerBase):
    """One member in one policy year of a product: the row a settlement locks, so that the member's
    settlements take turns.  `settlements` counts them."""

    __tablename__ = "member_years"
    __table_args__ = (UniqueConstraint("product_id", "version_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    settlements: Mapped[int] = mapped_column(Integer, default=0)


class AccumulatorRow(LedgerBase):
    """How much of one pool (deductible, cap, a liability's expense) a member has used in one policy year."""

    __tablename__ = "accumulators"
    __table_args__ = (UniqueConstraint("product_id", "version_id", "member_id", "layer", "kind", "pool"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128), index=True)
    layer: Mapped[str] = mapped_column(String(64))
    kind: Mapped[PoolKind] = mapped_column(Enum(PoolKind, native_enum=False, length=16,
                                                values_callable=lambda kinds: [k.value for k in kinds]))
    pool: Mapped[str] = mapped_column(String(128))
    fen: Mapped[int] = mapped_column(Integer)

    def key(self, version: Version) -> PoolKey:
        return PoolKey(self.member_id, version.key, self.layer, self.kind, self.pool)


class EnrolmentRow(LedgerBase):
    """The plan a member is enrolled in for one version of a product that declares plans: set by `enrol`, or
    by the member's first settled claim; a claim under another plan is then refused."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("product_id", "version_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    plan: Mapped[str] = mapped_column(String(64))


class MemberEventRow(LedgerBase):
    """A dated event of a member's history with a product (enrolment, basic insurance in arrears, restoration),
    recorded once; every later claim of the member is decided with these events besides its own."""

    __tablename__ = "member_events"
    __table_args__ = (UniqueConstraint("product_id", "member_id", "type", "date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    date: Mapped[date] = mapped_column(Date)
    renewal: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))

    def event(self) -> MemberEvent:
        return MemberEvent(self.type, self.date.isoformat(), self.renewal)


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
                   m.basic_insurance_status, m.hukou, m.occupation, *([groups] if groups else []),
                   *([{"plan": m.plan}] if m.plan else []),
                   *([{"sex": m.sex}] if m.sex else []), *([{"conditions": list(m.conditions)}] if m.conditions else [])],
        **({"hospital": claim.hospital} if claim.hospital else {}),
        "raw_bill": claim.raw_bill, "in_policy_fen": claim.in_policy_fen, "out_of_policy_fen": claim.out_of_policy_fen,
        # where an item was given only when not the claim's care: earlier claims keep their stored hash
        "drugs": [[d.code, d.indication, d.fen, *([d.where] if d.where != claim.care else [])] for d in claim.items],
    }, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Ledger:
    def __init__(self, bind: str | Engine = DEFAULT_URL):
        self.engine = _engine(bind) if isinstance(bind, str) else bind
        _check_backend(self.engine.dialect.name)
        if self.engine.dialect.name == "sqlite":
            _begin_immediate(self.engine)
        _upgrade_text_keys(self.engine)
        LedgerBase.metadata.create_all(self.engine)

    def accumulators(self, version: Version, member_id: str) -> Accumulators:
        with Session(self.engine) as session:
            return {key: row.fen for key, row in self._rows(session, version, member_id).items()}

    def settle(self, claim: Claim, version: Version, trace: bool = True) -> tuple[dict, bool]:
        """Settle a claim once. Returns (settlement, duplicate): duplicate is True when it was already settled."""
        digest = request_hash(claim)
        for _ in range(ATTEMPTS):
            try:
                return self._settle_once(claim, version, digest, trace)
            except IntegrityError:  # another member's claim took this claim id first: read again, and say so
                continue
        raise LedgerConflict(f"理赔“{claim.claim_id}”：理赔号在结算期间反复被并发写入占用，未保存，请重试")

    def _settle_once(self, claim: Claim, version: Version, digest: str, trace: bool) -> tuple[dict, bool]:
        with Session(self.engine) as session, session.begin():
            member_year = self._lock_member_year(session, version, claim.member.id)
            existing = self._existing(session, version, claim)
            if existing is not None:
                return self._replay(existing, digest), True
            terms = self._bind_plan(session, version, claim)  # the plan's accumulators are keyed by the plan
            claim = self._with_history(session, version.product_id, claim)
            rows = self._rows(session, terms, claim.member.id)
            settlement = adjudicate(claim, terms, {key: row.fen for key, row in rows.items()}, trace=trace)
            for key, fen in settlement.accumulators.items():
                if key in rows:
                    rows[key].fen = fen
                else:
                    session.add(AccumulatorRow(product_id=version.product_id, version_id=version.id,
                                               member_id=key.member, layer=key.layer, kind=key.kind, pool=key.pool,
                                               fen=fen))
            member_year.settlements += 1
            settled = settlement.as_dict()
            session.add(SettledClaimRow(product_id=version.product_id, claim_id=claim.claim_id,
                                        version_id=version.id, ruleset=version.ruleset_name,
                                        member_id=claim.member.id, request_hash=digest,
                                        paid_fen=settled["paid_fen"], result=settled))
            session.flush()  # a unique-key clash surfaces here, inside the retry loop
            return settled, False

    @staticmethod
    def _lock_member_year(session: Session, version: Version, member_id: str) -> MemberYearRow:
        """The member's row for the policy year, created if need be, locked until the transaction ends."""
        where = {"product_id": version.product_id, "version_id": version.id, "member_id": member_id}
        insert = _INSERT[session.get_bind().dialect.name]
        session.execute(insert(MemberYearRow).values(**where, settlements=0).on_conflict_do_nothing())
        return session.scalars(select(MemberYearRow).filter_by(**where).with_for_update()).one()

    @staticmethod
    def _rows(session: Session, version: Version, member_id: str) -> dict[PoolKey, AccumulatorRow]:
        rows = session.scalars(select(AccumulatorRow).filter_by(product_id=version.product_id, version_id=version.id,
                                                                member_id=member_id))
        return {row.key(version): row for row in rows}

    @staticmethod
    def _existing(session: Session, version: Version, claim: Claim) -> SettledClaimRow | None:
        return session.scalar(select(SettledClaimRow).filter_by(product_id=version.product_id,
                                                                claim_id=claim.claim_id))

    def record_event(self, product_id: str, member_id: str, event: MemberEvent) -> bool:
        """Record a dated event of the member's history; False when it was already recorded (nothing changes)."""
        _check_event(event)
        with Session(self.engine) as session, session.begin():
            row = dict(product_id=product_id, member_id=member_id, type=event.type,
                       date=date.fromisoformat(event.date))
            if session.scalar(select(MemberEventRow.id).filter_by(**row)) is not None:
                return False
            session.add(MemberEventRow(**row, renewal=event.renewal))
            return True

    def events(self, product_id: str, member_id: str) -> tuple[MemberEvent, ...]:
        """The member's recorded history with the product, in date order."""
        with Session(self.engine) as session:
            return self._events(session, product_id, member_id)

    @staticmethod
    def _events(session: Session, product_id: str, member_id: str) -> tuple[MemberEvent, ...]:
        rows = session.scalars(select(MemberEventRow).filter_by(product_id=product_id, member_id=member_id)
                               .order_by(MemberEventRow.date, MemberEventRow.id))
        return tuple(row.event() for row in rows)

    def _with_history(self, session: Session, product_id: str, claim: Claim) -> Claim:
        """The claim with the member's recorded events added to those it carries (the same event once)."""
        recorded = self._events(session, product_id, claim.member.id)
        if not recorded:
            return claim
        events = tuple(sorted(dict.fromkeys(claim.member.events + recorded), key=lambda e: e.date))
        return dataclasses.replace(claim, member=dataclasses.replace(claim.member, events=events))

    def enrol(self, version: Version, member_id: str, plan: str) -> None:
        """Record the plan a member enrolled in (a version that declares plans); enrolling again in the same
        plan changes nothing, in another is refused."""
        version.for_plan(plan)  # KeyError for a plan the version does not have
        with Session(self.engine) as session, session.begin():
            self._bind(session, version, member_id, plan, ("plan",))

    def _bind_plan(self, session: Session, version: Version, claim: Claim) -> Version:
        """The terms the claim is settled under (the member's plan, if the version has plans), once the member's
        enrolment in that plan is recorded or checked."""
        terms = plan_of(claim.member, version, ("member", "plan"))
        if terms.plan is not None:
            self._bind(session, version, claim.member.id, terms.plan, ("member", "plan"))
        return terms

    @staticmethod
    def _bind(session: Session, version: Version, member_id: str, plan: str, field: tuple) -> None:
        row = session.scalar(select(EnrolmentRow).where(
            EnrolmentRow.product_id == version.product_id, EnrolmentRow.version_id == version.id,
            EnrolmentRow.member_id == member_id))
        if row is None:
            session.add(EnrolmentRow(product_id=version.product_id, version_id=version.id, member_id=member_id,
                                     plan=plan))
            session.flush()  # a concurrent first claim under another plan clashes here, inside the retry loop
        elif row.plan != plan:
            enrolled, claimed = version.for_plan(row.plan).plan_name, version.for_plan(plan).plan_name
            raise InputError([Issue("claim.plan", f"成员 {member_id} 在 {version.key} 参保的是{enrolled}（{row.plan}），"
                                    f"不能按{claimed}（{plan}）理赔", field)])


    @staticmethod
    def _replay(row: SettledClaimRow, digest: str) -> dict:
        if row.request_hash != digest:
            raise InputError([Issue("claim.id_reused", f"理赔号“{row.claim_id}”已用于另一份内容不同的理赔，不能重复使用",
                                    ("claim_id",))])
        return row.result


def _check_event(event: MemberEvent) -> None:
    if event.type not in vocab.MEMBER_EVENTS:
        known = "、".join(f"{code}（{name}）" for code, name in vocab.MEMBER_EVENTS.items())
        raise InputError([Issue("event.type", f"未知的事件类型“{event.type}”；可用：{known}", ("type",))])
    try:
        date.fromisoformat(event.date)
    except (TypeError, ValueError):
        raise InputError([Issue("event.date", f"日期“{event.date}”不是 YYYY-MM-DD 格式的日期", ("date",))]) from None


def _engine(url: str) -> Engine:
    backend = make_url(url).get_backend_name()
    _check_backend(backend)  # before create_engine, which would import another database's driver
    if backend == "sqlite":
        return create_engine(url, connect_args={"timeout": SQLITE_WAIT_SECONDS})
    return create_engine(url)


def _check_backend(name: str) -> None:
    if name not in _INSERT:
        raise InputError([Issue("ledger.database", f"账本数据库只支持 SQLite 和 PostgreSQL，不支持 {name}", ("db",))])


def _begin_immediate(engine: Engine) -> None:
    """SQLite: take the write lock when a transaction begins, not at its first write, so that reading the
    accumulators and writing them back cannot interleave with another process (SQLAlchemy's documented recipe)."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # pysqlite would otherwise BEGIN (deferred) by itself

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade_text_keys(engine: Engine) -> None:
    """A ledger written when accumulator keys were text ("layer/kind/pool") gets typed columns, same amounts."""
    inspector = inspect(engine)
    if not inspector.has_table("accumulators"):
        return
    if "key" not in {column["name"] for column in inspector.get_columns("accumulators")}:
        return
    with engine.begin() as conn:
        old = conn.execute(text("SELECT product_id, version_id, member_id, key, fen FROM accumulators")).all()
        conn.execute(text("DROP TABLE accumulators"))
        AccumulatorRow.__table__.create(conn)
        rows = []
        for product_id, version_id, member_id, key, fen in old:
            layer, kind, pool = key.split("/")  # ids never hold "/" (the scheme schema's id pattern)
            rows.append({"product_id": product_id, "version_id": version_id, "member_id": member_id,
                         "layer": layer, "kind": PoolKind(kind), "pool": pool, "fen": fen})
        if rows:
            conn.execute(AccumulatorRow.__table__.insert(), rows)
