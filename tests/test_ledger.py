"""The ledger on a temporary SQLite file: accumulators persist, a claim is paid once, nothing is half-saved.

咸惠保 2023 in_policy: deductible 18,000 (annual), then 80 %.  Amounts worked by hand in yuan.
"""
import pytest
from sqlalchemy import func, select

import engine.ledger as ledger_module
from engine import InputError, parse_claim
from engine.accumulators import PoolKey, PoolKind
from engine.ledger import AccumulatorRow, Ledger, LedgerConflict, SettledClaimRow
from scheme_texts import scheme

DEDUCTIBLE_KEY = PoolKey("m1", "xianhuibao@2023", "scheme", PoolKind.DEDUCTIBLE, "in_policy.deductible")


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(scope="module")
def xn2023(xianhuibao):
    return xianhuibao.version("2023")


def xn_claim(claim_id, in_policy, member="m1", date="2023-06-01", **extra):
    data = {"claim_id": claim_id, "member": {"id": member, "age": 50}, "date": date, "care": "inpatient",
            "in_policy_self_pay": in_policy, **extra}
    return parse_claim(data)


def count(ledger, table) -> int:
    with ledger.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_accumulators_persist_across_settle_calls_and_ledger_instances(url, xn2023):
    first, dup = Ledger(url).settle(xn_claim("a", 10_000), xn2023)
    assert (first["paid_fen"], dup) == (0, False)  # all within the 18,000 deductible
    reopened = Ledger(url)
    assert reopened.accumulators(xn2023, "m1")[DEDUCTIBLE_KEY] == 10_000_00
    second, _ = reopened.settle(xn_claim("b", 20_000), xn2023)
    assert second["paid_fen"] == 9_600_00  # 8,000 of the deductible left: (20,000 − 8,000) × 80 %
    third, _ = reopened.settle(xn_claim("c", 5_000), xn2023)
    assert third["paid_fen"] == 4_000_00  # deductible met: 5,000 × 80 %
    assert reopened.accumulators(xn2023, "m1")[DEDUCTIBLE_KEY] == 18_000_00
    assert reopened.accumulators(xn2023, "someone-else") == {}


def test_the_same_claim_twice_is_paid_once(url, xn2023):
    ledger = Ledger(url)
    settled, dup = ledger.settle(xn_claim("a", 30_000), xn2023)
    assert (settled["paid_fen"], dup) == (9_600_00, False)  # (30,000 − 18,000) × 80 %
    before = ledger.accumulators(xn2023, "m1")
    again, dup = ledger.settle(xn_claim("a", 30_000), xn2023)
    assert dup is True and again == settled
    assert ledger.accumulators(xn2023, "m1") == before
    assert count(ledger, SettledClaimRow) == 1


def test_the_same_claim_written_differently_is_still_the_same_claim(url, xn2023):
    ledger = Ledger(url)
    settled, _ = ledger.settle(xn_claim("a", 30_000), xn2023)
    # amounts as text with cents, defaults spelled out, a note added: the engine reads the same claim
    same = parse_claim({"claim_id": "a", "member": {"id": "m1", "age": 50, "pre_existing": False,
                                                    "low_income": "none"},
                        "date": "2023-06-01", "care": "inpatient", "in_policy_self_pay": "30000.00",
                        "out_of_policy_self_pay": 0, "note": "重新提交"})
    again, dup = ledger.settle(same, xn2023)
    assert dup is True and again == settled


def test_a_claim_id_reused_for_different_content_is_refused(url, xn2023):
    ledger = Ledger(url)
    ledger.settle(xn_claim("a", 30_000), xn2023)
    before = ledger.accumulators(xn2023, "m1")
    with pytest.raises(InputError) as err:
        ledger.settle(xn_claim("a", 31_000), xn2023)
    assert [(i.code, i.path) for i in err.value.issues] == [("claim.id_reused", ("claim_id",))]
    assert ledger.accumulators(xn2023, "m1") == before
    assert count(ledger, SettledClaimRow) == 1


def test_the_special_groups_are_part_of_the_claim_only_when_set():
    """A member's 优抚对象 / 残疾人 can change a payment, so they change the claim; unset, the hash of a claim
    stored before they existed stays what it was (the member list then ends with the occupation)."""
    plain = xn_claim("a", 30_000)
    assert ledger_module.request_hash(plain) == ledger_module.request_hash(
        parse_claim({**plain.data, "member": {"id": "m1", "age": 50, "entitled_care": False, "disabled": False}}))
    assert ledger_module.request_hash(plain) != ledger_module.request_hash(
        parse_claim({**plain.data, "member": {"id": "m1", "age": 50, "disabled": True}}))


def test_nothing_is_saved_when_adjudication_raises(url, xn2023):
    ledger = Ledger(url)
    with pytest.raises(InputError) as err:
        ledger.settle(xn_claim("late", 30_000, date="2024-01-02"), xn2023)  # after the 2023 period
    assert err.value.issues[0].code == "claim.date"
    assert count(ledger, SettledClaimRow) == 0 and count(ledger, AccumulatorRow) == 0


def test_nothing_is_saved_when_storing_fails_half_way(url, xn2023, monkeypatch):
    ledger = Ledger(url)

    def broken_row(**_):  # the accumulators are already added to the transaction when this fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger_module, "SettledClaimRow", broken_row)
    with pytest.raises(RuntimeError):
        ledger.settle(xn_claim("a", 30_000), xn2023)
    monkeypatch.undo()
    assert count(ledger, AccumulatorRow) == 0 and count(ledger, SettledClaimRow) == 0
    settled, dup = ledger.settle(xn_claim("a", 30_000), xn2023)  # and the claim can still be settled
    assert (settled["paid_fen"], dup) == (9_600_00, False)


def looks_before_the_other_writer_commits(monkeypatch, times):
    """This writer finds no settled claim with the id `times` times, as if another writer — settling another
    member's claim with the same id — had not yet committed; its insert then meets the unique key."""
    real, calls = Ledger._existing, []

    def existing(session, version, claim):
        calls.append(claim.claim_id)
        return None if len(calls) <= times else real(session, version, claim)

    monkeypatch.setattr(Ledger, "_existing", staticmethod(existing))
    return calls


def test_a_claim_id_taken_concurrently_by_another_member_is_refused_with_the_reason(url, xn2023, monkeypatch):
    ledger = Ledger(url)
    ledger.settle(xn_claim("a", 30_000, member="m2"), xn2023)
    calls = looks_before_the_other_writer_commits(monkeypatch, times=1)
    with pytest.raises(InputError) as err:
        ledger.settle(xn_claim("a", 30_000), xn2023)
    assert len(calls) == 2  # the clash at the unique key, then the refusal read again
    assert [(i.code, i.path) for i in err.value.issues] == [("claim.id_reused", ("claim_id",))]
    assert ledger.accumulators(xn2023, "m1") == {}  # m1's attempt left nothing behind


def test_a_writer_that_keeps_losing_the_claim_id_gives_up_without_saving(url, xn2023, monkeypatch):
    ledger = Ledger(url)
    ledger.settle(xn_claim("a", 30_000, member="m2"), xn2023)
    looks_before_the_other_writer_commits(monkeypatch, times=100)
    with pytest.raises(LedgerConflict):
        ledger.settle(xn_claim("a", 30_000), xn2023)
    monkeypatch.undo()
    assert ledger.accumulators(xn2023, "m1") == {} and count(ledger, SettledClaimRow) == 1


def test_each_year_has_its_own_accumulators(url):
    product = scheme(years=("2024", "2025"))
    ledger = Ledger(url)

    def claim(claim_id, date, in_policy):
        return parse_claim({"claim_id": claim_id, "member": {"id": "m1", "age": 50}, "date": date,
                            "care": "inpatient", "in_policy_self_pay": in_policy})

    assert ledger.settle(claim("y1", "2024-05-01", 10_000), product.version("2024"))[0]["paid_fen"] == 0
    # 2025 starts from zero: (12,000 − 10,000) × 80 % = 1,600, not 12,000 × 80 %
    assert ledger.settle(claim("y2", "2025-05-01", 12_000), product.version("2025"))[0]["paid_fen"] == 1_600_00
    for year in ("2024", "2025"):
        shared = PoolKey("m1", f"test-scheme@{year}", "scheme", PoolKind.DEDUCTIBLE, "shared")
        assert ledger.accumulators(product.version(year), "m1")[shared] == 10_000_00


def test_a_ledger_written_with_text_keys_is_upgraded_to_typed_columns_with_its_amounts(tmp_path, xn2023):
    """Before accumulator keys had a type, the ledger stored them as text ("layer/kind/pool")."""
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript("""
            CREATE TABLE accumulators (id INTEGER PRIMARY KEY, product_id VARCHAR(64), version_id VARCHAR(64),
                member_id VARCHAR(128), key VARCHAR(200), fen INTEGER,
                UNIQUE (product_id, version_id, member_id, key));
            CREATE INDEX ix_accumulators_member_id ON accumulators (member_id);
            INSERT INTO accumulators (product_id, version_id, member_id, key, fen) VALUES
                ('xianhuibao', '2023', 'm1', 'scheme/deductible/in_policy.deductible', 1000000),
                ('xianhuibao', '2023', 'm1', 'scheme/expense/in_policy', 1000000);""")
    ledger = Ledger(f"sqlite:///{path}")
    assert ledger.accumulators(xn2023, "m1") == {
        DEDUCTIBLE_KEY: 10_000_00,
        PoolKey("m1", "xianhuibao@2023", "scheme", PoolKind.EXPENSE, "in_policy"): 10_000_00}
    settled, _ = ledger.settle(xn_claim("b", 20_000), xn2023)
    assert settled["paid_fen"] == 9_600_00  # the upgraded 10,000 counts: (20,000 − 8,000) × 80 %


def test_a_database_other_than_sqlite_or_postgresql_is_an_input_error_that_says_why():
    """The ledger's locking is written for those two; another database's driver is not even loaded."""
    with pytest.raises(InputError) as err:
        Ledger("mysql://user@localhost/db")
    assert [(i.code, i.path) for i in err.value.issues] == [("ledger.database", ("db",))]
    assert "SQLite 和 PostgreSQL" in err.value.issues[0].message
