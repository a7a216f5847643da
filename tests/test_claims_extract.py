"""A claims extract (CSV or Parquet, one row a claim) loads into the columns the vectorised path settles exactly
as the rules path settles the same claims; a bad file names file, row, column and why, and loads nothing."""
from __future__ import annotations

import csv
import json
import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from engine import InputError, load_product, parse_claim
from engine.claims_extract import AMOUNTS, COLUMNS, load_extract
from engine.cli import main
from engine.vector import compile_version, settlement_order
from engine.vector.sample import random_batch, to_claims
from test_vectorised import rules_settlements

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "claims-extract.csv"
ZAO = load_product(ROOT / "products" / "zaohuibao.yaml").version("2025")
CHAIN = load_product(ROOT / "tests" / "fixtures" / "xixia.yaml").versions[0]
PLANS = load_product(ROOT / "tests" / "fixtures" / "two-plans.yaml").version("2025")


def vector_settlements(batch, version) -> dict[str, dict]:
    settled = compile_version(version).adjudicate(batch)
    return {batch.claim_ids[i]: settled.settlement(i) for i in range(len(batch))}


def rules_by_id(claims, version) -> dict[str, dict]:
    ordered = settlement_order(claims)
    return {c.claim_id: s for c, s in zip(ordered, rules_settlements(ordered, version))}


def claim_of_row(row: dict) -> dict:
    """A row of the example, read with the csv module, as the claim file's JSON (independent of the loader)."""
    member = {"id": row["member_id"], "pre_existing": row["pre_existing"] == "true",
              "low_income": row["low_income"] or "none", "basic_insurance": row["basic_insurance"]}
    member.update({"age": int(row["age"])} if row["age"] else {"birth_date": row["birth_date"]})
    claim = {"claim_id": row["claim_id"], "member": member, "date": row["date"], "care": row["care"]}
    if row["hospital_level"]:
        claim["hospital_level"] = int(row["hospital_level"])
    for key in ("in_policy_self_pay", "out_of_policy_self_pay"):
        if row[key]:
            claim[key] = row[key]
    if row["item_code"]:
        claim["items"] = [{"code": row["item_code"], "indication": row["item_indication"],
                           "amount": f"{int(row['item_amount_fen']) / 100:.2f}"}]
    return claim


def test_the_example_settles_as_the_rules_path():
    with EXAMPLE.open(encoding="utf-8") as handle:
        claims = [parse_claim(claim_of_row(row)) for row in csv.DictReader(handle)]
    extract = load_extract(EXAMPLE, ZAO)
    assert extract.members == len({c.member.id for c in claims}) and len(extract.batch) == len(claims)
    assert any(c.member.birth_date for c in claims) and any(c.items for c in claims)
    got = vector_settlements(extract.batch, ZAO)
    assert got == rules_by_id(claims, ZAO)
    assert sum(s["paid_fen"] for s in got.values()) > 0


def extract_rows(claims, fen_columns: bool) -> list[dict]:
    """Claims as extract rows: amounts in yuan with two decimals, or in integer fen under the _fen names."""
    def money(name: str, fen: int) -> tuple[str, str]:
        return (f"{name}_fen", str(fen)) if fen_columns else (name, f"{fen // 100}.{fen % 100:02d}")

    rows = []
    for c in claims:
        m = c.member
        row = {"claim_id": c.claim_id, "member_id": m.id, "date": c.date, "care": c.care,
               "hospital_level": "" if c.hospital_level is None else str(c.hospital_level),
               "age": "" if m.birth_date else str(m.age), "birth_date": m.birth_date or "",
               "pre_existing": "1" if m.pre_existing else "0", "low_income": m.low_income,
               "entitled_care": str(m.entitled_care).lower(), "disabled": str(m.disabled).lower(),
               "basic_insurance": m.basic_insurance, "basic_insurance_status": m.basic_insurance_status,
               "hukou": m.hukou, "occupation": m.occupation, "plan": m.plan or ""}
        parts = ((("bill_in_policy", c.in_policy_fen), ("bill_out_of_policy", c.out_of_policy_fen)) if c.raw_bill
                 else (("in_policy_self_pay", c.in_policy_fen), ("out_of_policy_self_pay", c.out_of_policy_fen)))
        for name in ("in_policy_self_pay", "out_of_policy_self_pay", "bill_in_policy", "bill_out_of_policy",
                     "item_amount"):
            row[money(name, 0)[0]] = ""
        row.update(money(name, fen) for name, fen in parts)
        row.update({"item_code": "", "item_indication": "", "item_where": ""})
        if c.items:
            row.update({"item_code": c.items[0].code, "item_indication": c.items[0].indication or "",
                        "item_where": c.items[0].where if c.items[0].where != c.care else ""})
            row.update([money("item_amount", c.items[0].fen)])
        rows.append(row)
    return rows


def random_claims(version, n: int, seed: int) -> list:
    """Random claims probing the version (sample.random_batch), one item a claim, a third of members by birth date."""
    plan = compile_version(version)
    claims = to_claims(random_batch(version, n, seed, claims_per_member=3, catalogue=plan.catalogue))
    rng, reference = random.Random(seed), date.fromisoformat(plan.age_reference)
    born: dict[str, str] = {}
    out = []
    for c in claims:
        member = c.member
        if member.id not in born:
            young_enough = member.age < 140
            born[member.id] = (str(date(reference.year - member.age - 1, reference.month, 1)
                                   + timedelta(days=rng.randrange(0, 360))) if young_enough and rng.random() < 0.35
                               else "")
        if born[member.id] and date.fromisoformat(born[member.id]) <= date.fromisoformat(c.date):
            member = replace(member, age=None, birth_date=born[member.id])
        out.append(replace(c, member=member, items=c.items[:1]))
    # a member is one person on every row: the birth date only where all their claims are after it
    kept = {c.member.id for c in out if c.member.birth_date is None}
    return [replace(c, member=replace(c.member, age=claims[i].member.age, birth_date=None))
            if c.member.id in kept and c.member.birth_date else c for i, c in enumerate(out)]


@pytest.mark.parametrize("version", [ZAO, CHAIN, PLANS], ids=lambda v: v.key)
@pytest.mark.parametrize("form", ["csv-yuan", "parquet-fen"])
def test_random_extracts_settle_as_the_rules_path(version, form, tmp_path):
    claims = random_claims(version, 3000, seed=len(form))
    rows = extract_rows(claims, fen_columns=form.endswith("fen"))
    path = tmp_path / f"extract.{form.split('-')[0]}"
    frame = pl.DataFrame(rows, schema={name: pl.String for name in rows[0]})
    if path.suffix == ".csv":
        frame.write_csv(path)
    else:  # typed as a warehouse writes it: integers, dates, booleans
        frame.with_columns(pl.col("hospital_level", "age").replace("", None).cast(pl.Int64),
                           pl.col("date", "birth_date").replace("", None).str.to_date(),
                           *(pl.col(name).replace("", None).cast(pl.Int64) for name in rows[0]
                             if name.endswith("_fen"))).write_parquet(path)
    batch = load_extract(path, version).batch
    assert (batch.plan is not None) == bool(version.plans)
    assert batch.raw_bill.any() == version.has_chain and batch.drug_fen.any() == bool(compile_version(version).catalogue)
    assert vector_settlements(batch, version) == rules_by_id(claims, version)


def write(tmp_path: Path, text: str, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "claim_id,member_id,age,birth_date,date,care,hospital_level,in_policy_self_pay,item_code,item_indication,item_amount\n"


def test_every_bad_cell_and_row_is_named_and_nothing_is_loaded(tmp_path):
    path = write(tmp_path, HEADER
                 + "c1,m1,40,,2025-02-30,inpatient,3,100.00,,,\n"      # row 1: no such day
                 + "c2,m1,40,,2025-03-01,inpatient,3,12.345,,,\n"      # row 2: three decimals
                 + "c3,m2,,,2025-03-01,hospital,4,-5,,,\n"             # row 3: no age, bad care, level, amount
                 + "c3,m3,30,1990-01-01,2025-03-01,inpatient,3,1,,,\n"  # row 4: duplicate id, age and birth date
                 + "c5,m1,41,,2025-04-01,inpatient,3,1,,,\n"            # row 5: m1's age differs
                 + "c6,m4,30,,2024-12-31,pharmacy,,,pembrolizumab,nsclc,\n")  # row 6: outside the period, no amount
    with pytest.raises(InputError) as caught:
        load_extract(path, ZAO)
    found = {(i.path, i.code) for i in caught.value.issues}
    assert {((1, "date"), "extract.date"), ((2, "in_policy_self_pay"), "extract.yuan"),
            ((3, "care"), "extract.enum"), ((3, "hospital_level"), "extract.level"),
            ((3, "in_policy_self_pay"), "extract.yuan")} <= found
    assert all(i.file == str(path) and i.line == i.path[0] + 1 for i in caught.value.issues)
    bad_care = next(i for i in caught.value.issues if i.path == (3, "care"))
    assert "'hospital'" in bad_care.message and "inpatient" in bad_care.message and "第 3 行" in bad_care.message
    # the cells fixed, the rows' own problems show
    fixed = path.read_text(encoding="utf-8").replace("2025-02-30", "2025-02-28").replace("12.345", "12.34") \
        .replace("hospital,4,-5", "inpatient,3,5")
    with pytest.raises(InputError) as caught:
        load_extract(write(tmp_path, fixed), ZAO)
    found = {(i.path, i.code) for i in caught.value.issues}
    assert {((3, "age"), "extract.age"), ((4, "age"), "extract.age"), ((3, "claim_id"), "extract.id"),
            ((4, "claim_id"), "extract.id"), ((6, "date"), "extract.date"),
            ((6, "item_code"), "extract.text")} <= found
    assert any(i.path[1] == "age" and "m1" in i.message and "不一致" in i.message for i in caught.value.issues)


def test_the_file_itself_is_checked(tmp_path):
    for text, why in ((HEADER.replace("care", "caer") + "c1,m1,40,,2025-03-01,inpatient,3,1,,,\n", "caer"),
                      ("claim_id,member_id,date,care\nc1,m1,2025-03-01,inpatient\n", "age 或 birth_date"),
                      (HEADER.rstrip() + ",in_policy_self_pay_fen\n", "只能用一种单位"),
                      (HEADER, "没有理赔")):
        with pytest.raises(InputError) as caught:
            load_extract(write(tmp_path, text), ZAO)
        assert any(why in i.message for i in caught.value.issues), caught.value.issues
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((HEADER + "c1,m1,40,,2025-03-01,inpatient,3,1,靶向药,,\n").encode("gbk"))
    with pytest.raises(InputError, match="UTF-8"):
        load_extract(gbk, ZAO)
    floats = tmp_path / "floats.parquet"
    pl.DataFrame({"claim_id": ["c1"], "member_id": ["m1"], "age": [40], "date": ["2025-03-01"], "care": ["inpatient"],
                  "in_policy_self_pay": [100.1]}).write_parquet(floats)
    with pytest.raises(InputError) as caught:
        load_extract(floats, ZAO)
    assert [i.path for i in caught.value.issues] == [("in_policy_self_pay",)]


def test_every_column_is_documented():
    text = (ROOT / "docs" / "claims-extract.md").read_text(encoding="utf-8")
    assert all(f"`{c.name}`" in text for c in COLUMNS if c.kind != "fen") and "`_fen`" in text
    assert all(c.kind == "fen" and c.name.removesuffix("_fen") in AMOUNTS for c in COLUMNS if c.name.endswith("_fen"))


def test_backtest_command_settles_an_extract(tmp_path):
    args = ["backtest", "products/zaohuibao.yaml", "--year", "2025", "--population", "populations/zaozhuang.yaml",
            "--residents", "5000", "--claims", str(EXAMPLE)]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    expected = vector_settlements(load_extract(EXAMPLE, ZAO).batch, ZAO)
    assert report["claims"]["paid_fen"] == sum(s["paid_fen"] for s in expected.values())
    assert report["claims"]["count"] == len(expected) and report["claims_source"]["members"] == 7
    bad = write(tmp_path, HEADER + "c1,m1,40,,2025-03-01,hospital,3,1,,,\n")
    refused = CliRunner().invoke(main, [*args[:-1], str(bad), "--json"])
    assert refused.exit_code == 1
    [error] = json.loads(refused.output)["errors"]
    assert error["file"] == str(bad) and error["path"] == "[1].care" and error["line"] == 2


def test_a_version_with_plans_needs_each_rows_plan(tmp_path):
    head = "claim_id,member_id,age,date,care,in_policy_self_pay,plan\n"
    path = write(tmp_path, head + "c1,m1,40,2025-03-01,inpatient,30000,basic\nc2,m2,50,2025-04-01,inpatient,30000,\n"
                 "c3,m3,60,2025-05-01,inpatient,30000,gold\nc4,m1,40,2025-06-01,inpatient,100,plus\n")
    with pytest.raises(InputError) as caught:
        load_extract(path, PLANS)
    assert sorted(i.path for i in caught.value.issues) == [(1, "plan"), (2, "plan"), (3, "plan")]
    assert "m1" in caught.value.issues[-1].message  # c2 without a plan, c3 unknown, m1 in two plans
    assert any("basic（基础版）" in i.message for i in caught.value.issues)
    fine = write(tmp_path, head + "c1,m1,40,2025-03-01,inpatient,30000,basic\nc2,m2,50,2025-04-01,inpatient,30000,plus\n",
                 "fine.csv")
    batch = load_extract(fine, PLANS).batch
    assert [batch.plan_ids[k] for k in batch.plan] == ["basic", "plus"]
    with pytest.raises(InputError):
        load_extract(fine, ZAO)  # a version without plans: the column stays empty
