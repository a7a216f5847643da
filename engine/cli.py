"""`hmb`: validate, quote, adjudicate, explain and test 惠民保 schemes from the command line.

Exit status: 0 success, 1 a scheme, input or golden-case error, 2 a usage error (Click's own, or files that do not
go together: a population that does not say how members choose among a version's plans).
Every command takes --json for machine output; amounts there are integer fen (`*_fen`).
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from . import load_product, vocab
from .cases import Check, case_file_for, case_issues, load_cases, run_case
from .citations import load_library
from .evaluate import quote
from .explain import describe_version, trace_text, version_text
from .inputs import PERSON_DEFAULTS, load_claims, parse_person
from .issues import InputError, Issue, SchemeError
from .load import load_file
from .model import Product, Version
from .money import format_yuan, percent
from .schema import SCHEME_SCHEMA
from .settle import settle_in_order
from .validate import validate_document


def _emit(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _fail(issues: list[Issue], as_json: bool, status: int = 1) -> None:
    if as_json:
        _emit({"ok": False, "errors": [i.as_dict() for i in issues]})
    else:
        for issue in issues:
            click.echo(str(issue), err=True)
    sys.exit(status)


def _product(path: str, as_json: bool) -> Product:
    try:
        return load_product(path)
    except SchemeError as exc:
        _fail(exc.issues, as_json)


def _version(product: Product, year: str, as_json: bool) -> Version:
    try:
        return product.version(year)
    except KeyError as exc:
        _fail([Issue("version.unknown", exc.args[0], ("versions",), product.file)], as_json)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hmb-platform")
def main() -> None:
    """惠民保方案平台命令行：校验、报价、理赔、解释、黄金案例。"""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
@click.option("--sources", "sources_dir", type=click.Path(exists=True, file_okay=False),
              help="引文核对所用的原文库（含 index.yaml 的目录）；默认为文件所在目录或其上级目录中最近的 sources/，"
                   "没有则用仓库的 sources/")
def validate(files: tuple[str, ...], as_json: bool, sources_dir: str | None) -> None:
    """校验方案文件：列出全部错误（文件、行、列、文档路径），每条引文都在原文中核对。"""
    report, all_issues = [], []
    for file in files:
        is_cases = file.endswith(".cases.yaml")
        try:
            doc = load_file(file)
            library = load_library(sources_dir) if sources_dir else None
            issues = case_issues(doc, library) if is_cases else validate_document(doc, library)
        except SchemeError as exc:
            issues = exc.issues
        all_issues += issues
        report.append({"file": file, "ok": not issues, "errors": [i.as_dict() for i in issues]})
        if not as_json:
            for issue in issues:
                click.echo(str(issue), err=True)
            if not issues:
                click.echo(f"{file}: 通过（{_summary(doc, is_cases)}）")
    if as_json:
        _emit({"ok": not all_issues, "files": report})
    if all_issues:
        if not as_json:
            click.echo(f"共 {len(all_issues)} 个错误", err=True)
        sys.exit(1)


def _summary(doc, is_cases: bool) -> str:
    if is_cases:
        return f"案例文件，{len(doc.data['cases'])} 个案例；用 hmb cases 运行"
    versions = doc.data["versions"]
    return f"{doc.data['product']['name']}，{len(versions)} 个版本：{'、'.join(str(v['id']) for v in versions)}"


@main.command("quote")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--year", required=True, help="版本号或年份")
@click.option("--age", type=click.IntRange(0, vocab.MAX_AGE), help="年龄（周岁，按方案的年龄基准日）")
@click.option("--birth-date", help="出生日期 YYYY-MM-DD（代替 --age）")
@click.option("--pre-existing", is_flag=True, help="有既往症")
@click.option("--condition", "conditions", multiple=True, metavar="ID",
              help="所患的列名既往症（版本 pre_existing_conditions 的编号，可写几次；代替 --pre-existing）")
@click.option("--sex", type=click.Choice(list(vocab.SEX)), help="性别（方案按性别区分时必填）")
@click.option("--low-income", type=click.Choice(list(vocab.LOW_INCOME)), help="低收入类别")
@click.option("--entitled-care", is_flag=True, help="优抚对象（退役军人、军烈属等）")
@click.option("--disabled", is_flag=True, help="残疾人")
@click.option("--basic-insurance", type=click.Choice(list(vocab.BASIC_INSURANCE)),
              default=PERSON_DEFAULTS["basic_insurance"], show_default=True)
@click.option("--basic-status", type=click.Choice(list(vocab.BASIC_STATUS)),
              default=PERSON_DEFAULTS["basic_insurance_status"], show_default=True)
@click.option("--pay-with", type=click.Choice(vocab.PAY_WITH), default="self", show_default=True,
              help="资助之后剩余保费的缴费方：本人、个人账户、单位团体、爱心捐赠")
@click.option("--relation", type=click.Choice(list(vocab.RELATIVES)), default="self", show_default=True,
              help="被保险人与个人账户持有人的关系")
@click.option("--trace", "show_trace", is_flag=True, help="显示决策过程")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def quote_command(file, year, age, birth_date, pre_existing, conditions, sex, low_income, entitled_care, disabled,
                  basic_insurance, basic_status, pay_with, relation, show_trace, as_json) -> None:
    """报价：一个人适用的档位、保费和缴费方。"""
    if (age is None) == (birth_date is None):
        raise click.UsageError("请给出 --age 或 --birth-date 之一")
    version = _version(_product(file, as_json), year, as_json)
    person_data = {"pre_existing": list(conditions) if conditions else pre_existing, "low_income": low_income or "none",
                   "entitled_care": entitled_care, "disabled": disabled,
                   "basic_insurance": basic_insurance, "basic_insurance_status": basic_status,
                   "pay_with": pay_with, "relation": relation}
    person_data.update({"age": age} if age is not None else {"birth_date": birth_date})
    person_data.update({"sex": sex} if sex else {})
    try:
        result = quote(parse_person(person_data), version)
    except InputError as exc:
        _fail(exc.issues, as_json)
    if as_json:
        _emit(result.as_dict())
    else:
        elig = result.eligibility
        if result.band is None:
            click.echo(f"{version.key}：{vocab.ELIGIBILITY_OUTCOMES[elig.outcome]}（{elig.reason}）")
        else:
            click.echo(f"{version.key}：档位“{result.band_name}”，保费 {format_yuan(result.premium_fen)} 元")
            subsidies = {s.id: s.name for s in version.subsidies}
            for payer in result.payers:
                which = f"（{subsidies[payer['subsidy']]}）" if "subsidy" in payer else ""
                click.echo(f"  {payer['label']}{which}：{format_yuan(payer['fen'])} 元")
            if elig.outcome != "eligible":
                click.echo(f"  注意：{vocab.ELIGIBILITY_OUTCOMES[elig.outcome]}（{elig.reason}）")
        if show_trace:
            click.echo(trace_text(result.trace, version.sources))
    if result.eligibility.outcome == "not_eligible":
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.argument("claim_file", metavar="CLAIM.json", type=click.Path(exists=True, dir_okay=False))
@click.option("--year", required=True, help="版本号或年份")
@click.option("--trace", "show_trace", is_flag=True, help="显示每一分钱的来历")
@click.option("--db", callback=lambda ctx, param, url: _ledger_url(url),
              help="账本数据库 URL（如 sqlite:///ledger.db）：累计额持久保存，同一理赔号只赔一次")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def claim(file, claim_file, year, show_trace, db, as_json) -> None:
    """理赔：按方案计算一份（或一组按顺序发生的）理赔。"""
    version = _version(_product(file, as_json), year, as_json)
    with _reported(db, as_json):
        results = _settle_all(load_claims(claim_file), version, db)
    if as_json:
        _emit(results[0] if len(results) == 1 else results)
        return
    for result in results:
        dup = "（重复提交：返回已结算结果，不再赔付）" if result.get("duplicate") else ""
        click.echo(f"理赔 {result['claim_id']}（{result['version']}）{dup}：赔付 {format_yuan(result['paid_fen'])} 元，"
                   f"个人负担 {format_yuan(result['patient_remainder_fen'])} 元")
        names = version.liability_names()
        for liability, fen in result["by_liability"].items():
            click.echo(f"  {names.get(liability, liability)}：{format_yuan(fen)} 元")
        if show_trace:
            click.echo(trace_text(result["trace"], version.sources))


@contextmanager
def _reported(db: str | None, as_json: bool):
    """Bad input and an unreachable ledger end the command with the reasons (exit 1)."""
    try:
        yield
    except (InputError, SchemeError) as exc:
        _fail(exc.issues, as_json)
    except SQLAlchemyError as exc:  # the ledger's database cannot be reached or written
        _fail([Issue("ledger.unavailable", f"账本数据库不可用：{exc.__class__.__name__}: {exc.args[0] if exc.args else ''}",
                     (), db)], as_json)


_LEDGER_OPTION = click.option("--db", required=True, callback=lambda ctx, param, url: _ledger_url(url),
                              help="账本数据库 URL（如 sqlite:///ledger.db）")


@main.command("event")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_LEDGER_OPTION
@click.option("--member", required=True, help="成员编号（与理赔的 member.id 相同）")
@click.option("--type", "event_type", required=True, type=click.Choice(list(vocab.MEMBER_EVENTS)),
              help="enrolled 参保；basic_arrears 基本医保欠费（起始日）；restored 补缴后恢复待遇")
@click.option("--date", "day", required=True, help="事件日期 YYYY-MM-DD")
@click.option("--renewal", is_flag=True, help="参保为续保（等待期可豁免）")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def event_command(file, db, member, event_type, day, renewal, as_json) -> None:
    """记录成员的一个事件；此后该成员在本产品的理赔（--db 同一账本）都按其全部事件判断等待期、欠费暂停等。

    \b
    例：hmb event products/CITY.yaml --db sqlite:///ledger.db --member m1 --type enrolled --date 2024-01-01
    """
    from .inputs import MemberEvent
    from .ledger import Ledger

    product = _product(file, as_json)
    with _reported(db, as_json):
        added = Ledger(db).record_event(product.id, member, MemberEvent(event_type, day, renewal))
    if as_json:
        _emit({"product": product.id, "member": member, "type": event_type, "date": day, "renewal": renewal,
               "recorded": added})
        return
    what = f"{vocab.MEMBER_EVENTS[event_type]}{'（续保）' if renewal else ''}"
    click.echo(f"{product.name} 成员 {member}：{day} {what}" + ("，已记录" if added else "，此前已记录，未重复保存"))


@main.command("events")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_LEDGER_OPTION
@click.option("--member", required=True, help="成员编号")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def events_command(file, db, member, as_json) -> None:
    """列出账本记录的成员事件（按日期）。"""
    from .ledger import Ledger

    product = _product(file, as_json)
    with _reported(db, as_json):
        events = Ledger(db).events(product.id, member)
    if as_json:
        _emit([{"type": e.type, "date": e.date, "renewal": e.renewal} for e in events])
        return
    for e in events:
        click.echo(f"{e.date}  {vocab.MEMBER_EVENTS[e.type]}{'（续保）' if e.renewal else ''}")
    if not events:
        click.echo(f"{product.name} 成员 {member}：账本中没有事件")


def _ledger_url(url: str | None) -> str | None:
    """A usable database URL, or a usage error (exit 2) that says why, before any claim is read."""
    if url is None:
        return None
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise click.BadParameter(f"“{url}”不是数据库 URL（例如 sqlite:///ledger.db 或 postgresql+psycopg://…）")
    folder = Path(parsed.database).parent if parsed.get_backend_name() == "sqlite" and parsed.database else None
    if folder and not folder.is_dir():
        raise click.BadParameter(f"目录“{folder}”不存在：SQLite 账本文件无法创建")
    return url


def _settle_all(claims, version: Version, db: str | None) -> list[dict]:
    """The claims in date order, each after the earlier ones: in memory, or in the ledger at `db`."""
    book = None
    if db:
        from .ledger import Ledger  # the ORM is loaded only when a ledger is used

        book = Ledger(db)
    return [dict(settled, duplicate=duplicate) for settled, duplicate in settle_in_order(claims, version, book)]


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--year", required=True, help="版本号或年份")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def explain(file, year, as_json) -> None:
    """用中文说明一个版本：档位表、每项责任及其数值、全部假设。"""
    version = _version(_product(file, as_json), year, as_json)
    if as_json:
        _emit(describe_version(version))
    else:
        click.echo(version_text(version))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def cases(files, as_json) -> None:
    """运行黄金案例（每个 FILE 可以是方案文件或其 .cases.yaml）。"""
    results = []  # (case file, result)
    for file in files:
        case_path = Path(file) if file.endswith(".cases.yaml") else case_file_for(file)
        try:
            product_path, items = load_cases(case_path)
        except SchemeError as exc:
            _fail(exc.issues, as_json)
        product = _product(str(product_path), as_json)
        results += [(str(case_path), run_case(product, item)) for item in items]
    failed = [r for _file, r in results if not r.passed]
    if as_json:
        _emit({"ok": not failed, "passed": len(results) - len(failed), "failed": len(failed),
               "cases": [{**r.as_dict(), "file": file} for file, r in results]})
    else:
        shown = None
        for file, r in results:
            if len(files) > 1 and file != shown:
                shown = file
                click.echo(f"── {file}")
            click.echo(f"{'通过' if r.passed else '失败'}  {r.id}  {r.name}  [{r.basis}]")
            for failure in r.failures:
                click.echo(f"      {failure_text(failure)}")
                if failure.rule or failure.clause:
                    click.echo(f"        依据 {failure.rule}{'：' + failure.clause if failure.clause else ''}")
            if r.error:
                click.echo(f"      无法运行：{r.error}")
            if r.basis_broken:
                click.echo("      标为 basis: source，但结果依赖以下假设（请改为 basis: derived 并在 note 中写明推算）：")
                for item in r.rests_on:
                    click.echo(f"        - {item}")
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


CHECK_LABELS = {"eligibility": "资格", "band": "档位", "premium": "保费", "payers": "缴费方", "paid": "赔付",
                "patient_remainder": "个人负担", "by_liability": "责任", "layers": "赔付层",
                "overall_ratio": "总报销比例"}


def failure_text(check: Check) -> str:
    """A failed golden-case check in one line: "第 2 笔：责任 in_policy：应为 1,600.00 元，实际 0.00 元"."""
    prefix = f"第 {check.claim} 笔：" if check.claim else ""
    if check.expectation == "trace":
        return f"{prefix}追踪中缺少：{'，'.join(f'{k}: {v}' for k, v in check.expected.items())}"
    if check.expectation == "near":
        return (f"{prefix}{check.item}：应约为 {format_yuan(check.expected_fen)} 元（±{percent(check.tolerance)}），"
                f"实际 {format_yuan(check.actual_fen)} 元")
    label = " ".join(filter(None, (CHECK_LABELS[check.expectation], check.item)))
    if check.money:
        return f"{prefix}{label}：应为 {format_yuan(check.expected_fen)} 元，实际 {format_yuan(check.actual_fen)} 元"
    if check.expectation == "overall_ratio":
        return f"{prefix}{label}：应为 {check.expected}（±{check.tolerance}），实际 {check.actual:.6f}"
    return f"{prefix}{label}：应为 {check.expected}，实际 {check.actual}"


@main.command()
@click.argument("targets", nargs=-1, required=True, metavar="FILE@VERSION...")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), help="同时写出 CSV 表")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出（含收益曲线）")
def compare(targets, csv_path, as_json) -> None:
    """并排比较方案：参数表、标准病例赔付、标准人群保费、收益曲线。"""
    from .compare import compare as run_compare

    result = run_compare(_targets(targets, as_json))
    if csv_path:
        _write_csv(csv_path, result)
    if as_json:
        _emit(result)
        return
    for line in _comparison_lines(result):
        click.echo(line)


def _targets(targets, as_json: bool) -> list[Version]:
    """FILE@VERSION arguments → versions."""
    versions = []
    for target in targets:
        file, sep, year = target.rpartition("@")
        if not sep:
            raise click.UsageError(f"“{target}”应写成 文件@版本，如 products/NAME.yaml@2025")
        versions.append(_version(_product(file, as_json), year, as_json))
    return versions


@main.command()
@click.argument("old", metavar="FILE@OLD")
@click.argument("new", metavar="FILE@NEW")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def diff(old, new, as_json) -> None:
    """两个版本之间改了什么（按方案语义，不是文本差异）。"""
    from .diff import diff_text, diff_versions

    before, after = _targets((old, new), as_json)
    changes = diff_versions(before, after)
    if as_json:
        _emit({"old": before.key, "new": after.key, "changes": [c.as_dict() for c in changes]})
    else:
        click.echo(f"{before.key} → {after.key}")
        click.echo(diff_text(changes))


@main.command()
@click.argument("old", metavar="FILE@OLD")
@click.argument("new", metavar="FILE@NEW")
@click.option("--population", default=5000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="合成参考人群的人数")
@click.option("--seed", default=2025, show_default=True, help="参考人群的随机种子（同一种子，同一人群）")
@click.option("--cases/--no-cases", default=True, show_default=True, help="把旧版本的黄金案例理赔也放到新版本下重算")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def impact(old, new, population, seed, cases, as_json) -> None:
    """新版本的影响：同一参考人群的保费收入、赔付、赔付率，标准病例与黄金案例赔付的变化。"""
    from .impact import impact as run_impact

    before, after = _targets((old, new), as_json)
    claims = _case_claims(old.rpartition("@")[0], before) if cases else []
    progress = None if as_json else _progress_printer()
    report = run_impact(before, after, population, seed, claims, progress)
    if as_json:
        _emit(report)
        return
    for line in _impact_lines(report):
        click.echo(line)


def _population_options(command):
    """--year, --population and --residents: a version's year on a population file (backtest, whatif)."""
    for option in reversed([
        click.option("--year", required=True, help="版本编号或年份"),
        click.option("--population", "population_file", required=True,
                     type=click.Path(exists=True, dir_okay=False), help="人群文件（hmb-population/1，见 docs/population.md）"),
        click.option("--residents", type=click.IntRange(1, 50_000_000), help="改变人群规模（各比例不变），如快速试算")]):
        command = option(command)
    return command


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_population_options
@click.option("--claims", "claims_file", type=click.Path(dir_okay=False),
              help="真实理赔明细（CSV 或 Parquet，一行一笔，见 docs/claims-extract.md），代替人群文件模拟的理赔")
@click.option("--dask", "use_dask", is_flag=True, help="在本机的 Dask 集群上按参保人分区计算（见 docs/dask.md）")
@click.option("--scheduler", metavar="ADDRESS", help="在已有的 Dask 集群上计算，如 tcp://10.0.0.5:8786")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="--dask：本机工作进程数")
@click.option("--partitions", type=click.IntRange(1, 100_000), help="Dask 分区数（默认每个工作线程 4 个）")
@click.option("--chart", "chart_file", type=click.Path(dir_okay=False),
              help="把赔付分布和各档位赔付率画成图：.png 或 .html（内嵌 SVG）")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def backtest(file, year, population_file, residents, claims_file, use_dask, scheduler, workers, partitions,
             chart_file, as_json) -> None:
    """回测：一个版本在合成人群（或真实理赔明细）上的一年——保费、赔付、赔付率、赔付分布、获赔比例、共保分摊（向量化计算）；
    版本分方案时另按方案列出参保人数、保费、赔付和赔付率（参保人按人群文件的 plan_choice 选择方案）。

    退出码：0 完成，1 方案、人群文件或理赔明细有错，2 用法错误（含人群文件的 plan_choice 没有给出这个版本各方案的选择比例）。"""
    from .backtest import backtest as run_backtest, backtest_lines
    from .population import PlanChoiceError, load_population
    from .vector import Unsupported

    if chart_file and Path(chart_file).suffix.lower() not in (".png", ".html"):
        raise click.UsageError("--chart 的文件名须以 .png 或 .html 结尾")
    version = _version(_product(file, as_json), year, as_json)
    try:
        spec = load_population(population_file)
        extract = _extract(claims_file, version) if claims_file else None
        if use_dask or scheduler:
            report = _backtest_on_dask(version, spec, residents, extract, scheduler, workers, partitions, as_json)
        else:
            report = run_backtest(version, spec, residents, extract)
    except PlanChoiceError as exc:  # these two files do not go together: a usage error
        _fail(exc.issues, as_json, 2)
    except (SchemeError, InputError) as exc:
        _fail(exc.issues, as_json)
    except Unsupported as exc:
        _fail([Issue("backtest.unsupported", f"{version.key} 不能用向量化路径计算：{exc}", (), file)], as_json)
    if chart_file:
        _chart(report, chart_file, as_json)
    _show(report, backtest_lines, as_json)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_population_options
@click.option("--set", "settings", multiple=True, metavar="PARAM=VALUE", help="改一个参数（可多次）")
@click.option("--grid", "axes", multiple=True, metavar="PARAM=V1,V2,…",
              help="网格搜索：一个参数的候选值（可多次，取笛卡尔积）；金额可写 起..止..步长，如 8000..20000..2000")
@click.option("--target-ratio", type=lambda text: _ratio_option(text), metavar="RATIO",
              help="目标赔付率（默认：方案声明的最低赔付率），如 0.8")
@click.option("--max-ratio", default="1", show_default=True, type=lambda text: _ratio_option(text), metavar="RATIO",
              help="网格中可接受的最高赔付率")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1), help="网格结果显示前几个")
@click.option("--no-take-up", "fixed_take_up", is_flag=True, help="不用人群文件的涨价退保模型（参保人不变）")
@click.option("--list", "list_only", is_flag=True, help="列出这个版本可试算的参数")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def whatif(file, year, population_file, residents, settings, axes, target_ratio, max_ratio, top, fixed_take_up,
           list_only, as_json) -> None:
    """定价试算：改参数（起付线、赔付比例、封顶线、档位保费），看赔付率、盈亏平衡保费、目标赔付率保费；网格搜索。

    \b
    例：
      hmb whatif products/NAME.yaml --year 2025 --population populations/CITY.yaml --list
      hmb whatif products/NAME.yaml --year 2025 --population populations/CITY.yaml \\
          --set deductible.annual=12000 --set ratio.in_policy.1=0.85
      hmb whatif products/NAME.yaml --year 2024 --population populations/CITY.yaml \\
          --grid deductible.annual=8000..14000..2000 --grid cap.total=1000000,2000000 --target-ratio 0.8 --json

    分方案的版本：方案自己的参数写作 方案/参数（如 plus/ratio.inpatient），不带前缀的参数是各方案共用的条款；--list 列出每个
    参数适用于哪些方案。参保人按人群文件的 plan_choice 选择方案，试算中不换方案。

    退出码：0 完成，1 方案或人群文件有错、改后的方案无效，2 用法错误（参数名、取值；人群文件的 plan_choice 没有给出这个版本各方案的选择比例）。"""
    from .load import load_file
    from .population import PlanChoiceError, load_population
    from .vector import Unsupported
    from .whatif import ChangeError, change, default_target, grid, grid_lines, parameters, prepare
    from .whatif import whatif as run_whatif, whatif_lines

    version = _version(_product(file, as_json), year, as_json)
    if list_only:
        known = [p.as_dict() for p in parameters(version).values()]
        _emit(known) if as_json else click.echo("\n".join(f"{p['name']}\t{p['label']}" for p in known))
        return
    try:
        fixed = [change(version, *_pair(text, "--set")) for text in settings]
        axis_changes = [_axis(version, text, change) for text in axes]
    except ChangeError as exc:
        raise click.UsageError(str(exc))
    varied = [p.name for p, _ in axis_changes]
    if len(set(varied + [c.parameter.name for c in fixed])) < len(varied) + len(fixed):
        raise click.UsageError("同一参数只能出现一次（--set 与 --grid 之间也不能重复）")
    target = target_ratio if target_ratio is not None else default_target(version)
    try:
        year_ = prepare(load_file(file), version.id, load_population(population_file), residents,
                        respond=not fixed_take_up)
        if axis_changes:
            total = 1
            for _, values in axis_changes:
                total *= len(values)
            with click.progressbar(length=total, label="试算", file=sys.stderr) as bar:
                report = grid(year_, axis_changes, fixed, target, max_ratio,
                              progress=lambda done, _total: bar.update(done - bar.pos))
        else:
            report = run_whatif(year_, fixed, target)
    except PlanChoiceError as exc:  # these two files do not go together: a usage error
        _fail(exc.issues, as_json, 2)
    except SchemeError as exc:
        _fail(exc.issues, as_json)
    except Unsupported as exc:
        _fail([Issue("whatif.unsupported", f"{version.key} 的档位不能用向量化路径计算：{exc}", (), file)], as_json)
    _show(report, (lambda r: grid_lines(r, top)) if axis_changes else whatif_lines, as_json)


def _show(report: dict, lines, as_json: bool) -> None:
    """A report as JSON, or as the lines of text `lines(report)` gives."""
    if as_json:
        _emit(report)
        return
    for line in lines(report):
        click.echo(line)


def _ratio_option(text) -> Decimal:
    from .whatif import ChangeError, target_ratio

    try:
        return target_ratio(text)
    except ChangeError as exc:
        raise click.BadParameter(str(exc)) from None


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise click.UsageError(f"{option} “{text}”应写成 参数=值，如 deductible.annual=12000")
    return name.strip(), value.strip()


def _axis(version: Version, text: str, change) -> tuple:
    """PARAM=v1,v2,… or, for an amount, PARAM=from..to..step (yuan) → (parameter, typed values)."""
    name, values = _pair(text, "--grid")
    if values.count("..") == 2:
        low, high, step = (change(version, name, v).value for v in values.split(".."))
        if step <= 0 or high < low:
            raise click.UsageError(f"--grid “{text}”：起..止..步长 应满足 起 ≤ 止、步长 > 0")
        steps = list(range(low, high + 1, step)) if isinstance(low, int) else None
        if steps is None:
            raise click.UsageError(f"--grid “{text}”：起..止..步长 只用于金额；比例请逐个列出")
        return change(version, name, "0").parameter, steps
    typed = [change(version, name, v) for v in values.split(",")]
    return typed[0].parameter, [c.value for c in typed]


def _extract(path: str, version: Version):
    from .claims_extract import load_extract

    return load_extract(path, version)


def _backtest_on_dask(version, spec, residents, extract, scheduler, workers, partitions, as_json) -> dict:
    from .backtest import backtest as run_backtest
    from .distributed import dask_client, settle_on

    def progress(done: int, total: int) -> None:
        click.echo(f"\r  Dask 分区：{done}/{total}", nl=done == total, err=True)

    try:
        with dask_client(scheduler, workers) as client:
            settle = settle_on(client, version, partitions, None if as_json else progress)
            return run_backtest(version, spec, residents, extract, settle)
    except OSError as exc:  # no scheduler at that address, or it went away
        _fail([Issue("backtest.dask", f"无法连接 Dask 调度器 {scheduler or '（本机集群）'}：{exc}")], as_json)


def _chart(report: dict, path: str, as_json: bool) -> None:
    from .backtest_charts import ChartError, write_chart

    try:
        write_chart(report, path)
    except ChartError as exc:
        _fail([Issue("backtest.chart", str(exc), (), path)], as_json)


def _case_claims(product_file: str, version: Version) -> list[dict]:
    """The single-claim golden cases written for a version (its product's .cases.yaml, if any)."""
    path = case_file_for(product_file)
    if not path.exists():
        return []
    _, items = load_cases(path)
    return [case["claim"] for case in items if "claim" in case and str(case["version"]) == version.id]


def _progress_printer():
    def show(label: str, done: int, total: int) -> None:
        click.echo(f"\r  {'旧版本' if label == 'old' else '新版本'}：{done}/{total}", nl=False, err=True)
        if done == total:
            click.echo("", err=True)
    return show


def _impact_lines(report: dict) -> list[str]:
    pop = report["population"]
    old, new = pop["old"], pop["new"]
    lines = [f"{report['old']} → {report['new']}", f"参考人群 {pop['size']} 人（种子 {pop['seed']}）：{pop['assumption']}",
             f"  保费收入：{format_yuan(old['premium_fen'])} → {format_yuan(new['premium_fen'])} 元",
             f"  赔付：{format_yuan(old['paid_fen'])} → {format_yuan(new['paid_fen'])} 元",
             f"  赔付率：{percent(Decimal(old['claims_ratio']))} → {percent(Decimal(new['claims_ratio']))}",
             f"  获赔人数：{old['claimants']} → {new['claimants']}",
             f"  计算路径：{_path_text(old['path'])} → {_path_text(new['path'])}", "标准病例赔付："]
    lines += [f"  {p['name']}：{format_yuan(p['old_paid_fen'])} → {format_yuan(p['new_paid_fen'])} 元"
              for p in report["profiles"]]
    if report["claims"]:
        lines.append("黄金案例理赔：")
        lines += [f"  {c['claim_id']}：{format_yuan(c['old_paid_fen'])} → {format_yuan(c['new_paid_fen'])} 元"
                  for c in report["claims"]]
    return lines


def _comparison_table(result: dict) -> list[list[str]]:
    """The comparison as rows of text: parameters, profile payouts, premiums."""
    rows = [["项目", *[v["name"] for v in result["versions"]]]]
    rows += [[row["label"], *row["values"]] for row in result["parameters"]]
    rows += [[f"赔付：{p['name']}", *[format_yuan(c["paid_fen"]) for c in p["cells"]]] for p in result["profiles"]]
    rows += [[f"保费：{p['name']}", *[format_yuan(c["premium_fen"]) for c in p["cells"]]] for p in result["premiums"]]
    rows.append(["计算路径", *[_path_text(result["paths"][v["key"]]) for v in result["versions"]]])
    return rows


def _path_text(path: dict) -> str:
    """Which path settled a version's claims (docs/vectorised.md), and why the rules path where it fell back."""
    return "向量化" if path["path"] == "vectorised" else f"规则引擎（{path['reason']}）"


def _comparison_lines(result: dict) -> list[str]:
    return [" | ".join(row) for row in _comparison_table(result)]


def _write_csv(path: str, result: dict) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8-sig") as handle:  # BOM: Excel opens UTF-8 Chinese correctly
        csv.writer(handle).writerows(_comparison_table(result))


@main.command("review")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--year", required=True, help="版本号或年份")
@click.option("--out", type=click.Path(dir_okay=False), help="把报告写成 HTML 或 PDF（按扩展名 .html / .pdf）")
@click.option("--population", default=2000, show_default=True, type=click.IntRange(100, 1_000_000),
              help="回测赔付率所用合成参考人群的人数")
@click.option("--json", "as_json", is_flag=True, help="机器可读输出")
def review_command(file, year, out, population, as_json) -> None:
    """合规审查：适用的监管规则逐项检查（条款、原文、结论、方案取值），需人工确认的事项，标准案例，变化。

    退出码：0 没有违规，1 有违规结论或方案、规则文件有错误，2 用法错误。"""
    from .review import review_document
    from .review.report import render_html, report_data, report_text, write_pdf

    if out and Path(out).suffix not in (".html", ".pdf"):
        raise click.UsageError("--out 的文件名须以 .html 或 .pdf 结尾")
    version = _version(_product(file, as_json), year, as_json)
    try:
        data = report_data(review_document(load_file(file), version.id, population))
    except SchemeError as exc:  # a regime file or the sources index is broken
        _fail(exc.issues, as_json)
    if out and out.endswith(".pdf"):
        write_pdf(data, out)
    elif out:
        Path(out).write_text(render_html(data), encoding="utf-8")
    _emit(data) if as_json else click.echo(report_text(data))
    sys.exit(1 if data["counts"]["违规"] else 0)


@main.command("new")
@click.argument("product_id", metavar="CITY_ID")
@click.option("--name", required=True, help="产品名称")
@click.option("--year", required=True, type=click.IntRange(2000, 2100), help="第一个版本的年度")
@click.option("--city", default="", help="城市（不写则留待替换）")
@click.option("--region", default="", help="省份（不写则留待替换）")
@click.option("--out", "folder", default=".", show_default=True, type=click.Path(file_okay=False),
              help="写入的目录")
def new_command(product_id, name, year, city, region, folder) -> None:
    """新城市的骨架：写出能通过校验的方案文件 CITY_ID.yaml 和黄金案例 CITY_ID.cases.yaml。

    每个数值都标为 assumed: "待替换：…"，须逐项换成来源的数值（见 docs/new-city.md）。
    已有同名文件时不覆盖（退出码 2）。"""
    from .scaffold import PRODUCT_ID, scaffold_files

    if not PRODUCT_ID.match(product_id):
        raise click.BadParameter("编号只能用小写字母、数字和 _ . -，且以字母或数字开头，如 mycity", param_hint="CITY_ID")
    if any("\n" in text for text in (name, city, region)):
        raise click.UsageError("名称、城市、省份不能换行")
    out = Path(folder)
    files = {out / file: text for file, text in scaffold_files(product_id, name, year, city, region).items()}
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise click.UsageError(f"不覆盖已有文件：{'、'.join(existing)}（换一个 CITY_ID 或 --out 目录）")
    out.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        click.echo(f"已写出 {path}")
    scheme, cases_file = files
    click.echo(f"下一步：hmb validate {scheme} && hmb cases {cases_file} && hmb explain {scheme} --year {year}")


@main.command()
def schema() -> None:
    """打印方案文件的 JSON Schema（Draft 2020-12）。"""
    _emit(SCHEME_SCHEMA)
