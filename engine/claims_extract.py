"""A real claims extract — CSV or Parquet, one row a claim — checked and turned into the vectorised path's columns.

The columns (docs/claims-extract.md) are the claim file's fields, flattened: the member's attributes on every
row of theirs, amounts in yuan (at most two decimals) or, under a `_fen` name, in integer fen.  The file is
read with Polars, every cell as text (a Parquet file's typed columns are turned into the same text, floats
refused: a float is not an exact amount), and checked column by column with Polars expressions; then across
columns and rows (one form a claim, unique claim ids, a member's attributes the same on each of their rows,
dates in the version's period).  Every problem names the file, the row, the column and why; a file with any
problem loads nothing.

The result is a `ClaimBatch` in settlement order (member, date, claim id), as `batch_from_claims` would make
from the same claims parsed one by one — `tests/test_claims_extract.py` checks that the vectorised path then
settles it as the rules path settles those claims.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from . import vocab
from .inputs import PERSON_DEFAULTS
from .issues import InputError, Issue
from .model import Version
from .money import MAX_YUAN
from .vector.columns import CODE, PERSON_DIMS, ClaimBatch, day_number, plan_column

MAX_ISSUES_PER_COLUMN = 20  # then one line says how many more rows share the problem
_YUAN = r"^(\d{1,10})(?:\.(\d{1,2}))?$"
_FEN = r"^\d{1,12}$"
_TRUE, _FALSE = ("true", "1"), ("false", "0")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # id | date | age | level | bool | enum | yuan | fen | text
    meaning: str
    values: tuple = ()  # an enum's codes


def _enum(name: str, meaning: str, values) -> Column:
    return Column(name, "enum", meaning, tuple(values))


# Every column an extract may have; any other is refused (a misspelt `pre_existing` must not silently default).
COLUMNS = [
    Column("claim_id", "id", "理赔编号，文件内唯一"),
    Column("member_id", "id", "参保人编号：同一人的各行理赔按日期依次累计起付线和封顶线"),
    Column("age", "age", "按方案计算年龄的日期（premium.age_reference）的周岁年龄；与 birth_date 二选一"),
    Column("birth_date", "date", "出生日期 YYYY-MM-DD；与 age 二选一"),
    _enum("sex", "性别（female / male）：核对用；按性别区分的版本向量化路径不能计算（Unsupported）", vocab.SEX),
    Column("pre_existing", "bool", "是否有既往症（true/false 或 1/0；空为 false）"),
    _enum("low_income", "低收入类别（空为 none）", vocab.LOW_INCOME_VALUES),
    *(Column(code, "bool", f"{labels[0]}（true/false；空为 false）") for code, labels in vocab.SPECIAL_GROUPS.items()),
    _enum("basic_insurance", "基本医保类别（空为 resident）", vocab.BASIC_INSURANCE),
    _enum("basic_insurance_status", "基本医保状态（空为 active）", vocab.BASIC_STATUS),
    _enum("hukou", "户籍（空为 local）", vocab.HUKOU),
    _enum("occupation", "职业（空为 general）", vocab.OCCUPATION),
    Column("date", "date", "就诊（结算）日期 YYYY-MM-DD"),
    _enum("care", "就医类型", vocab.CARE),
    Column("hospital_level", "level", "医院等级 1、2、3（空为未说明）"),
    *(Column(name, kind, meaning) for base, meaning in (
        ("in_policy_self_pay", "已结算形式：医保政策范围内个人自付"),
        ("out_of_policy_self_pay", "已结算形式：医保政策范围外个人自费"),
        ("bill_in_policy", "原始账单形式：医保目录内费用（按赔付链计算）"),
        ("bill_out_of_policy", "原始账单形式：医保目录外费用"),
        ("item_amount", "药品或诊疗项目的费用"))
      for name, kind in ((base, "yuan"), (f"{base}_fen", "fen"))),
    Column("item_code", "text", "药品或诊疗项目的编码（方案的药品或项目目录中的编码）"),
    Column("item_indication", "text", "药品的适应症编码（目录列出适应症时）"),
    _enum("item_where", "给药或治疗的地方（就医类型编码；空为本行的 care）", vocab.CARE),
    Column("plan", "text", "参保的方案 id（版本分方案时必填，如 basic；不分方案的版本留空）"),
]
BY_NAME = {c.name: c for c in COLUMNS}
AMOUNTS = ["in_policy_self_pay", "out_of_policy_self_pay", "bill_in_policy", "bill_out_of_policy", "item_amount"]
REQUIRED = ["claim_id", "member_id", "date", "care"]
_WHY = {"id": "不能为空", "date": "应为日期 YYYY-MM-DD（如 2025-06-30）",
        "age": f"应为 0 到 {vocab.MAX_AGE} 的整数", "level": "应为 1、2 或 3",
        "bool": "应为 true/false 或 1/0", "yuan": f"应为不带负号、最多两位小数的元金额，且不超过 {MAX_YUAN:,} 元",
        "fen": f"应为不带负号的整数分，且不超过 {MAX_YUAN * 100:,} 分", "text": ""}


@dataclass(frozen=True)
class Extract:
    file: str
    batch: ClaimBatch  # settlement order; claim_ids as in the file
    members: int


def load_extract(path: str | Path, version: Version) -> Extract:
    """The extract as the version's claims; InputError lists every problem (file, row, column, why)."""
    file = str(path)
    frame = _read(Path(path))
    _check_header(frame, file)
    names = frame.columns
    frame = frame.with_row_index("row", offset=1).with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in names)
    parsed = frame.select("row", *(_parse(BY_NAME[c]).alias(c) for c in names))
    issues = _cell_issues(frame, parsed, file)
    if not issues:
        parsed = _with_defaults(parsed, version)
        issues = _row_issues(parsed, file, version)
    if issues:
        raise InputError(issues)
    return Extract(file, _batch(parsed), int(parsed["member_id"].n_unique()))


# ── reading ───────────────────────────────────────────────────────────────────────────────────

def _read(path: Path) -> pl.DataFrame:
    """Every cell as text (None where empty)."""
    def refuse(why: str):
        raise InputError([Issue("extract.file", why, (), str(path))])

    if not path.is_file():
        refuse("文件不存在")
    try:
        if path.suffix.lower() == ".parquet":
            return _as_text(pl.read_parquet(path), str(path))
        if path.suffix.lower() != ".csv":
            refuse("理赔明细应为 .csv 或 .parquet 文件")
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError, OSError) as exc:
        refuse(f"无法读取（CSV 应为 UTF-8 编码、首行为列名；Parquet 应完整）：{str(exc).splitlines()[0]}")
    return frame.rename(lambda name: name.lstrip("\ufeff").strip())  # a BOM (Excel's UTF-8) is not part of a name


def _as_text(frame: pl.DataFrame, file: str) -> pl.DataFrame:
    """A Parquet file's typed columns as the text a CSV would hold; a float column is refused."""
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    if floats:
        raise InputError([Issue("extract.float", f"列 {name} 是浮点数：金额和年龄须精确，请存为整数、decimal 或文本",
                                (name,), file) for name in floats])
    return frame.select(pl.col(name).cast(pl.String) if dtype != pl.Boolean
                        else pl.col(name).cast(pl.String).str.to_lowercase()
                        for name, dtype in frame.schema.items())


def _check_header(frame: pl.DataFrame, file: str) -> None:
    names = frame.columns
    issues = [Issue("extract.column", f"未知的列 {name}：可用的列见 docs/claims-extract.md（{', '.join(BY_NAME)}）",
                    (name,), file) for name in names if name not in BY_NAME]
    issues += [Issue("extract.column", f"缺少必需的列 {name}", (name,), file) for name in REQUIRED if name not in names]
    if "age" not in names and "birth_date" not in names:
        issues.append(Issue("extract.column", "应有 age 或 birth_date 列", ("age",), file))
    issues += [Issue("extract.column", f"列 {a} 和 {a}_fen 是同一金额：只能用一种单位", (a,), file)
               for a in AMOUNTS if a in names and f"{a}_fen" in names]
    if len(set(names)) != len(names):
        issues.append(Issue("extract.column", "有重复的列名", (), file))
    if not frame.height:
        issues.append(Issue("extract.none", "文件里没有理赔：除列名行外应至少有一行", (), file))
    if issues:
        raise InputError(issues)


# ── cells ─────────────────────────────────────────────────────────────────────────────────────

def _parse(column: Column) -> pl.Expr:
    """The cell's value (None where empty or not valid): fen for amounts, day numbers for dates, codes for enums."""
    cell = pl.col(column.name)
    kind = column.kind
    if kind in ("id", "text"):
        return cell
    if kind == "date":
        day = cell.str.to_date("%Y-%m-%d", strict=False)
        day = pl.when(cell.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(day)
        return day.dt.year().cast(pl.Int64) * 10000 + day.dt.month().cast(pl.Int64) * 100 + day.dt.day().cast(pl.Int64)
    if kind in ("age", "level"):
        number = pl.when(cell.str.contains(r"^\d{1,3}$")).then(cell.cast(pl.Int64, strict=False))
        low, high = (0, vocab.MAX_AGE) if kind == "age" else (1, 3)
        return pl.when(number.is_between(low, high)).then(number)
    if kind == "bool":
        lower = cell.str.to_lowercase()
        return pl.when(lower.is_in(_TRUE)).then(True).when(lower.is_in(_FALSE)).then(False)
    if kind == "enum":
        return cell.replace_strict({v: v for v in column.values}, default=None, return_dtype=pl.String)
    if kind == "yuan":
        whole = cell.str.extract(_YUAN, 1).cast(pl.Int64, strict=False)
        cents = cell.str.extract(_YUAN, 2).fill_null("0").str.pad_end(2, "0").cast(pl.Int64, strict=False)
        fen = whole * 100 + cents
        return pl.when(fen <= MAX_YUAN * 100).then(fen)
    fen = pl.when(cell.str.contains(_FEN)).then(cell.cast(pl.Int64, strict=False))
    return pl.when(fen <= MAX_YUAN * 100).then(fen)


def _cell_issues(raw: pl.DataFrame, parsed: pl.DataFrame, file: str) -> list[Issue]:
    """A cell written but not valid, or a required cell empty."""
    issues = []
    for name in raw.columns:
        if name == "row":
            continue
        column = BY_NAME[name]
        bad = raw[name].is_not_null() & parsed[name].is_null()
        if name in REQUIRED:
            bad = bad | raw[name].is_null()
        issues += _located(raw.filter(bad), name, file, lambda r: _cell_why(column, r[name]))
    return issues


def _cell_why(column: Column, value) -> str:
    if value is None:
        return f"{column.name} 不能为空（{column.meaning}）"
    if column.kind == "enum":
        return f"{value!r} 不是可用的值：应为 {'、'.join(map(str, column.values))} 之一"
    return f"{value!r} 不对：{_WHY[column.kind]}"


def _located(rows: pl.DataFrame, column: str, file: str, why) -> list[Issue]:
    """One issue per bad row (the first few, then how many more), each naming the row, the claim and the column."""
    issues = []
    for r in rows.head(MAX_ISSUES_PER_COLUMN).iter_rows(named=True):
        claim = f"（理赔 {r['claim_id']}）" if r.get("claim_id") is not None else ""
        issues.append(Issue(f"extract.{BY_NAME[column].kind if column in BY_NAME else column}",
                            f"第 {r['row']} 行{claim}：{why(r)}", (r["row"], column), file, _line(file, r["row"]), 1))
    if len(rows) > MAX_ISSUES_PER_COLUMN:
        issues.append(Issue("extract.more", f"还有 {len(rows) - MAX_ISSUES_PER_COLUMN:,} 行同样的问题", (column,), file))
    return issues


def _line(file: str, row: int) -> int:
    """A CSV row's line (the header is line 1; a quoted cell over several lines would shift it); Parquet has none."""
    return row + 1 if file.lower().endswith(".csv") else 0


# ── rows ──────────────────────────────────────────────────────────────────────────────────────

def _with_defaults(parsed: pl.DataFrame, version: Version) -> pl.DataFrame:
    """Every column present, empty person cells as the claim file's defaults, ages on the claim and reference dates."""
    missing = {c.name: None for c in COLUMNS if c.name not in parsed.columns and c.name != "row"}
    types = {"yuan": pl.Int64, "fen": pl.Int64, "date": pl.Int64, "age": pl.Int64, "level": pl.Int64,
             "bool": pl.Boolean}
    frame = parsed.with_columns(pl.lit(None, types.get(BY_NAME[c].kind, pl.String)).alias(c) for c in missing)
    frame = frame.with_columns(pl.coalesce(a, f"{a}_fen").alias(a) for a in AMOUNTS)
    frame = frame.with_columns(pl.col(dim).fill_null(PERSON_DEFAULTS[dim]) for dim in PERSON_DEFAULTS)
    reference = day_number(_age_reference(version))
    born = pl.col("birth_date")
    return frame.with_columns(
        age_ref=pl.coalesce("age", ((reference - born) // 10000).clip(lower_bound=0)),
        age_on_date=pl.coalesce("age", ((pl.col("date") - born) // 10000).clip(lower_bound=0)))


def _age_reference(version: Version) -> str:
    return {"period_start": version.period[0], "enrolment_start": version.enrolment[0]}.get(
        version.age_reference, version.age_reference)


# (what is wrong with a row, as a Polars condition, and why) — each checked on every row
def _row_rules(version: Version) -> list[tuple[str, pl.Expr, str]]:
    start, end = (day_number(d) for d in version.period)
    settled = pl.col("in_policy_self_pay").is_not_null() | pl.col("out_of_policy_self_pay").is_not_null()
    bill = pl.col("bill_in_policy").is_not_null() | pl.col("bill_out_of_policy").is_not_null()
    item = pl.col("item_code").is_not_null() | pl.col("item_indication").is_not_null()
    return [
        ("age", pl.col("age").is_not_null() == pl.col("birth_date").is_not_null(),
         "age 和 birth_date 应给出且只给出一个"),
        ("birth_date", pl.col("birth_date") > pl.col("date"), "出生日期晚于就诊日期"),
        ("birth_date", ((day_number(_age_reference(version)) - pl.col("birth_date")) // 10000) > vocab.MAX_AGE,
         f"按出生日期已超过 {vocab.MAX_AGE} 岁：请核对"),
        ("date", (pl.col("date") < start) | (pl.col("date") > end),
         f"就诊日期不在 {version.key} 的保险期间 {version.period[0]} 至 {version.period[1]} 内"),
        ("bill_in_policy", settled & bill, "一行理赔只能是已结算形式（in_policy_self_pay / out_of_policy_self_pay）"
         "或原始账单形式（bill_in_policy / bill_out_of_policy）之一"),
        ("bill_in_policy", bill & (pl.col("bill_in_policy").is_null() | pl.col("bill_out_of_policy").is_null()),
         "原始账单形式应同时给出 bill_in_policy 和 bill_out_of_policy"),
        ("item_code", item & (pl.col("item_code").is_null() | pl.col("item_amount").is_null()),
         "药品或诊疗项目应同时给出 item_code 和 item_amount（item_indication 按目录需要）"),
        ("item_amount", pl.col("item_amount").is_not_null() & pl.col("item_code").is_null(),
         "有 item_amount 就应有 item_code"),
        ("claim_id", pl.col("claim_id").is_duplicated(), "理赔编号重复"),
        _plan_rule(version),
    ]


def _plan_rule(version: Version) -> tuple[str, pl.Expr, str]:
    """A version with plans: each row names one of them (the member's); a version without: none."""
    if not version.plans:
        return ("plan", pl.col("plan").is_not_null(), f"{version.key} 不分方案：plan 应留空")
    known = "、".join(f"{p.plan}（{p.plan_name}）" for p in version.plans)
    return ("plan", ~pl.col("plan").is_in([p.plan for p in version.plans]).fill_null(False),
            f"{version.key} 分方案，plan 应为其中之一：{known}")


def _row_issues(frame: pl.DataFrame, file: str, version: Version) -> list[Issue]:
    issues = []
    for column, wrong, why in _row_rules(version):
        issues += _located(frame.filter(wrong.fill_null(False)), column, file, lambda r, why=why: why)
    return issues + _member_issues(frame, file)


def _member_issues(frame: pl.DataFrame, file: str) -> list[Issue]:
    """A member is one person: their attributes (and age or birth date) the same on every row of theirs."""
    issues = []
    for dim in [*PERSON_DEFAULTS, "age", "birth_date", "sex", "plan"]:
        varies = frame.filter(pl.col(dim).n_unique().over("member_id") > 1)
        first = varies.unique("member_id", keep="first", maintain_order=True)
        issues += _located(first, dim, file, lambda r, dim=dim: (
            f"参保人 {r['member_id']} 的 {dim} 在各行中不一致：同一参保人各行应相同"))
    return issues


# ── columns for the vectorised path ───────────────────────────────────────────────────────────

def _codes(series: pl.Series, dim: str) -> np.ndarray:
    """Values as the vectorised path's codes; an empty hospital level is its "not stated" code."""
    table = CODE[dim]
    if None in table:
        series, table = series.fill_null(-1), {(-1 if k is None else k): v for k, v in table.items()}
    return series.replace_strict(table, return_dtype=pl.Int16).to_numpy()


def _batch(frame: pl.DataFrame) -> ClaimBatch:
    frame = frame.sort("member_id", "date", "claim_id")  # settlement order, as engine.vector.settlement_order
    n = len(frame)
    member = (frame["member_id"] != frame["member_id"].shift(1)).fill_null(True).cum_sum().to_numpy() - 1
    columns = {dim: _codes(frame[dim], dim) for dim in PERSON_DIMS if dim != "age"}
    columns["age"] = frame["age_on_date"].to_numpy().astype(np.int16)
    columns["care"] = _codes(frame["care"], "care")
    columns["hospital_level"] = _codes(frame["hospital_level"], "hospital_level")
    raw_bill = frame["bill_in_policy"].is_not_null().to_numpy()
    fen = lambda name: frame[name].fill_null(0).to_numpy().astype(np.int64)  # noqa: E731
    has_item = frame["item_code"].is_not_null().to_numpy()
    codes = frame["item_code"].drop_nulls().unique(maintain_order=True).to_list()
    indications = frame.filter(pl.col("item_code").is_not_null())["item_indication"].unique(maintain_order=True).to_list()
    width = 1 if codes else 0  # one item a row
    index = lambda name, values: frame[name].fill_null("").replace_strict(  # noqa: E731 (None: no indication)
        {("" if v is None else v): i for i, v in enumerate(values)}, default=0, return_dtype=pl.Int32).to_numpy()
    no_items = np.zeros((n, 0), np.int32)
    where = frame["item_where"].fill_null(frame["care"])  # an item given elsewhere than the claim's care
    item_care = _codes(where, "care").reshape(n, 1) if width and (where != frame["care"]).any() else None
    return ClaimBatch(
        member=member.astype(np.int64), date=frame["date"].to_numpy().astype(np.int64), columns=columns,
        age_ref=frame["age_ref"].to_numpy().astype(np.int16),
        in_policy=np.where(raw_bill, fen("bill_in_policy"), fen("in_policy_self_pay")),
        out_of_policy=np.where(raw_bill, fen("bill_out_of_policy"), fen("out_of_policy_self_pay")),
        raw_bill=raw_bill,
        drug_fen=np.where(has_item, fen("item_amount"), 0).reshape(n, 1) if width else no_items.astype(np.int64),
        drug_code=index("item_code", codes).reshape(n, 1) if width else no_items,
        drug_indication=index("item_indication", indications).reshape(n, 1) if width else no_items,
        drug_codes=codes, drug_indications=indications, claim_ids=frame["claim_id"].to_list(), item_care=item_care,
        **dict(zip(("plan", "plan_ids"), plan_column(frame["plan"].to_list()))))


__all__ = ["COLUMNS", "Extract", "load_extract"]
