"""The `hmb` command as a user runs it: exit codes, text and --json output."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.load import load_file
from engine.schema import SCHEME_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
XIANNING = str(ROOT / "products" / "xianhuibao.yaml")
EXAMPLE = str(ROOT / "examples" / "xianning-worked-example.json")


@pytest.fixture
def run():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])


def test_every_command_has_help(run):
    commands = sorted(main.commands)  # the group's own list: a command added later is covered too
    assert {"validate", "quote", "claim", "explain", "cases", "diff", "impact", "compare", "schema"} <= set(commands)
    for command in commands:
        result = run(command, "--help")
        assert result.exit_code == 0, command
        assert f"Usage: main {command} " in result.output, command
        assert main.commands[command].help, f"{command} has no description"


def test_quote_json_has_premium_and_band(run):
    result = run("quote", XIANNING, "--year", "2023", "--age", "40", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["band"] == "everyone"
    assert data["premium_fen"] == 6900
    assert sum(p["fen"] for p in data["payers"]) == data["premium_fen"]


def test_quote_needs_an_age_or_birth_date(run):
    assert run("quote", XIANNING, "--year", "2023").exit_code == 2


def test_quote_refuses_personal_account_for_a_non_relative_option(run, tmp_path):
    """A scheme whose personal account pays only for the holder and a spouse: a parent is refused, exit 1."""
    text = Path(XIANNING).read_text(encoding="utf-8")
    assert text.count("relatives: [self, parent, spouse, child]") == 1
    scheme = tmp_path / "xianhuibao.yaml"
    scheme.write_text(text.replace("relatives: [self, parent, spouse, child]", "relatives: [self, spouse]"), encoding="utf-8")
    ask = ("quote", scheme, "--year", "2023", "--age", "70", "--basic-insurance", "employee",
           "--pay-with", "personal_account", "--json")
    refused = run(*ask, "--relation", "parent")
    assert refused.exit_code == 1
    [error] = json.loads(refused.output)["errors"]
    assert (error["code"], error["path"]) == ("quote.relation", "relation") and "本人、配偶" in error["message"]
    spouse = run(*ask, "--relation", "spouse")
    assert spouse.exit_code == 0 and json.loads(spouse.output)["payers"][0]["payer"] == "personal_account"


def test_quote_with_group_enrolment_is_paid_by_the_employer(run):
    result = run("quote", XIANNING, "--year", "2023", "--age", "40", "--pay-with", "employer", "--json")
    assert result.exit_code == 0  # group enrolment is declared for 咸惠保
    assert json.loads(result.output)["payers"] == [{"payer": "employer", "label": "单位团体缴费", "fen": 6900}]


def test_not_eligible_without_basic_insurance_exits_1(run):
    result = run("quote", XIANNING, "--year", "2023", "--age", "40", "--basic-insurance", "none", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["eligibility"]["outcome"] == "not_eligible"


def test_unknown_year_is_an_error_naming_the_versions(run):
    result = run("quote", XIANNING, "--year", "1999", "--age", "40")
    assert result.exit_code == 1
    assert "2023" in result.output


def test_claim_json_has_total_per_liability_and_trace(run):
    result = run("claim", XIANNING, EXAMPLE, "--year", "2023", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["paid_fen"] == sum(data["by_liability"].values())
    assert set(data["by_liability"]) == {"in_policy", "out_of_policy"}
    assert any(step["rule"].startswith("route.scheme.in_policy") for step in data["trace"])


def test_claim_text_trace_shows_clauses(run):
    result = run("claim", XIANNING, EXAMPLE, "--year", "2023", "--trace")
    assert result.exit_code == 0
    title = load_file(XIANNING).data["sources"]["xn-news"]["title"]
    assert f"《{title}》" in result.output and "【假设】" in result.output  # documents by title, not by id


def test_bad_claim_exits_1_naming_the_field(run, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"claim_id": "b1", "member": {"id": "m", "age": 30}, "date": "2023-05-01",
                               "care": "spa", "in_policy_self_pay": 100}), encoding="utf-8")
    result = run("claim", XIANNING, bad, "--year", "2023", "--json")
    assert result.exit_code == 1
    errors = json.loads(result.output)["errors"]
    assert errors[0]["path"] == "care"
    assert errors[0]["line"] == 1


def test_claim_with_ledger_pays_a_claim_id_once(run, tmp_path):
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    first = json.loads(run("claim", XIANNING, EXAMPLE, "--year", "2023", "--db", db, "--json").output)
    second = json.loads(run("claim", XIANNING, EXAMPLE, "--year", "2023", "--db", db, "--json").output)
    assert first["duplicate"] is False and second["duplicate"] is True
    assert second["paid_fen"] == first["paid_fen"]


def test_successive_claims_in_one_file_share_the_annual_deductible(run, tmp_path):
    claims = [{"claim_id": f"c{i}", "member": {"id": "m1", "age": 50}, "date": "2023-03-01", "care": "inpatient",
               "in_policy_self_pay": 10000} for i in range(2)]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(claims), encoding="utf-8")
    result = json.loads(run("claim", XIANNING, path, "--year", "2023", "--json").output)
    # deductible 18,000: the first 10,000 pays nothing; of the second, 8,000 completes the deductible
    # and (10,000 − 8,000) × 80 % = 1,600 yuan is paid
    assert [r["paid_fen"] for r in result] == [0, 160000]


def test_explain_lists_bands_liabilities_and_assumptions(run):
    result = run("explain", XIANNING, "--year", "2023")
    assert result.exit_code == 0
    for text in ("【保费档位】", "【保障责任】", "【假设】", "18,000.00 元"):
        assert text in result.output


def test_cases_report_and_exit_code(run, tmp_path):
    cases = tmp_path / "x.cases.yaml"
    cases.write_text(f"product: {XIANNING}\ncases:\n"
                     "  - {id: ok, version: '2023', quote: {age: 30}, expect: {premium: 69}}\n"
                     "  - {id: wrong, version: '2023', quote: {age: 30}, expect: {premium: 70}}\n", encoding="utf-8")
    result = run("cases", cases)
    assert result.exit_code == 1
    assert "1 passed, 1 failed" in result.output
    # the failure worded from the engine's check, with the rule and clause behind the premium
    assert "失败  wrong  wrong  [derived]\n      保费：应为 70.00 元，实际 69.00 元\n        依据 band.everyone：假设：" \
        in result.output
    [case] = [c for c in json.loads(run("cases", cases, "--json").output)["cases"] if not c["passed"]]
    [failure] = case["failures"]
    assert failure.pop("clause").startswith("假设：来源未公布保费")
    assert failure == {"expectation": "premium", "passed": False, "expected_fen": 7000, "actual_fen": 6900,
                       "rule": "band.everyone"}


def test_cases_of_several_files_in_one_run(run, tmp_path):
    good = tmp_path / "good.cases.yaml"
    good.write_text(f"product: {XIANNING}\ncases:\n"
                    "  - {id: ok, version: '2023', quote: {age: 30}, expect: {premium: 69}}\n", encoding="utf-8")
    bad = tmp_path / "bad.cases.yaml"
    bad.write_text(f"product: {XIANNING}\ncases:\n"
                   "  - {id: wrong, version: '2023', quote: {age: 30}, expect: {premium: 70}}\n", encoding="utf-8")
    result = run("cases", good, bad, "--json")
    assert result.exit_code == 1  # one failure anywhere fails the run
    body = json.loads(result.output)
    assert (body["passed"], body["failed"]) == (1, 1)
    assert [(c["id"], c["file"]) for c in body["cases"]] == [("ok", str(good)), ("wrong", str(bad))]
    assert run("cases", good, good).exit_code == 0


def test_committed_json_schema_matches_the_code(run):
    committed = json.loads((ROOT / "engine" / "scheme.schema.json").read_text(encoding="utf-8"))
    assert committed == SCHEME_SCHEMA
    assert json.loads(run("schema").output) == SCHEME_SCHEMA


def test_compare_writes_a_csv_excel_can_open(run, tmp_path):
    out = tmp_path / "cmp.csv"
    result = run("compare", f"{XIANNING}@2023", f"{XIANNING}@2023", "--csv", out)
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    header = raw.decode("utf-8-sig").splitlines()[0].split(",")
    assert header == ["项目", "咸惠保 2023", "咸惠保 2023"]


def test_compare_target_needs_a_version(run):
    assert run("compare", XIANNING).exit_code == 2


def test_a_resident_has_no_personal_account_to_pay_for_themselves(run):
    result = run("quote", XIANNING, "--year", "2023", "--age", "40", "--basic-insurance", "resident",
                 "--pay-with", "personal_account", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["errors"][0]["code"] == "quote.account_holder"
    ok = run("quote", XIANNING, "--year", "2023", "--age", "40", "--basic-insurance", "employee",
             "--pay-with", "personal_account", "--json")
    assert ok.exit_code == 0 and json.loads(ok.output)["payers"][0]["payer"] == "personal_account"


GANZHOU = str(ROOT / "products" / "ganzhou.yaml")
ZAOHUIBAO = str(ROOT / "products" / "zaohuibao.yaml")


def _payers(output: str) -> dict:
    data = json.loads(output)
    paid: dict = {}
    for payer in data["payers"]:
        paid[payer["payer"]] = paid.get(payer["payer"], 0) + payer["fen"]
    assert sum(paid.values()) == data["premium_fen"]
    return paid


@pytest.mark.parametrize("flags, payers", [
    (["--disabled"], {"assistance_fund": 3000, "self": 3900}),
    (["--entitled-care"], {"assistance_fund": 3000, "self": 3900}),
    # the two subsidies (30 each, assumed) stack in declaration order: 69 − 30 − 30 = 9 left to pay
    (["--low-income", "dibao", "--disabled"], {"assistance_fund": 6000, "self": 900}),
    (["--entitled-care", "--disabled"], {"assistance_fund": 6000, "self": 900}),
    (["--disabled", "--pay-with", "donor"], {"assistance_fund": 3000, "donor": 3900}),
])
def test_quote_with_the_special_groups_and_a_donor(run, flags, payers):
    result = run("quote", GANZHOU, "--year", "2024", "--age", "40", *flags, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["premium_fen"] == 6900
    assert _payers(result.output) == payers


def test_quote_text_names_each_subsidy(run):
    result = run("quote", GANZHOU, "--year", "2024", "--age", "40", "--entitled-care", "--disabled")
    assert result.exit_code == 0, result.output
    assert "医疗救助资金（优抚对象资助参保）：30.00 元" in result.output
    assert "医疗救助资金（残疾人资助参保）：30.00 元" in result.output


def test_quote_refuses_a_donor_where_the_scheme_has_no_donated_enrolment(run):
    result = run("quote", ZAOHUIBAO, "--year", "2025", "--age", "40", "--pay-with", "donor", "--json")
    assert result.exit_code == 1
    [error] = json.loads(result.output)["errors"]
    assert (error["code"], error["path"]) == ("quote.donated", "pay_with") and "捐赠" in error["message"]


def test_explain_mentions_donated_enrolment_and_the_special_groups(run):
    result = run("explain", GANZHOU, "--year", "2024")
    assert result.exit_code == 0
    assert "支持爱心企业等捐赠参保" in result.output and "鼓励爱心企业为城乡困难群众捐赠" in result.output
    assert "优抚对象资助参保：优抚对象，由医疗救助资金承担 30.00 元" in result.output
    assert "残疾人资助参保：残疾人，由医疗救助资金承担 30.00 元" in result.output
    assert "捐赠参保" not in run("explain", ZAOHUIBAO, "--year", "2025").output


GANZHOU = str(ROOT / "products" / "ganzhou.yaml")


def test_events_recorded_by_the_cli_suspend_a_later_claim_and_are_listed(run, tmp_path):
    """赣州 suspends benefits while basic insurance is in arrears (三(一)): an arrears event recorded with
    `hmb event` decides a claim settled later with `hmb claim --db`, which carries no events itself."""
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    recorded = run("event", GANZHOU, "--db", db, "--member", "g1", "--type", "basic_arrears", "--date", "2024-04-01")
    assert recorded.exit_code == 0 and "2024-04-01 基本医保欠费，已记录" in recorded.output
    again = run("event", GANZHOU, "--db", db, "--member", "g1", "--type", "basic_arrears", "--date", "2024-04-01")
    assert "此前已记录" in again.output
    listed = json.loads(run("events", GANZHOU, "--db", db, "--member", "g1", "--json").output)
    assert listed == [{"type": "basic_arrears", "date": "2024-04-01", "renewal": False}]
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"claim_id": "g-1", "member": {"id": "g1", "age": 50}, "date": "2024-05-01",
                                 "care": "inpatient", "hospital_level": 3, "in_policy_self_pay": 60000}))
    free = json.loads(run("claim", GANZHOU, claim, "--year", "2024", "--json").output)  # no ledger: no history
    held = json.loads(run("claim", GANZHOU, claim, "--year", "2024", "--db", db, "--json").output)
    assert free["paid_fen"] > 0
    assert held["paid_fen"] == 0 and held["eligibility"]["outcome"] == "suspended"


def test_an_event_with_a_bad_date_exits_1_naming_the_field(run, tmp_path):
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = run("event", GANZHOU, "--db", db, "--member", "g1", "--type", "enrolled", "--date", "2024-13-01")
    assert result.exit_code == 1 and "2024-13-01" in result.output and "YYYY-MM-DD" in result.output
    assert run("event", GANZHOU, "--member", "g1", "--type", "enrolled", "--date", "2024-01-01").exit_code == 2
