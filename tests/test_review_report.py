"""`hmb review`: the review report of each product as text, JSON, HTML and PDF (its text extracted, a page
rendered to an image), and the exit status a violation gives."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.compare import standard_profiles

from conftest import PRODUCTS
from test_review import named_pre_existing

PRODUCT_YEARS = [("xianhuibao.yaml", "2023"), ("ganzhou.yaml", "2024"), ("zaohuibao.yaml", "2025")]


@pytest.fixture
def run():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])


def test_review_has_help(run):
    result = run("review", "--help")
    assert result.exit_code == 0 and "合规审查" in result.output


@pytest.mark.parametrize("file, year", PRODUCT_YEARS)
def test_each_product_reviews_as_json_with_a_verdict_per_applicable_check(run, file, year):
    result = run("review", PRODUCTS / file, "--year", year, "--json", "--population", 300)
    assert result.exit_code == 0, result.output  # no product breaks a rule
    data = json.loads(result.output)
    checks = [c for r in data["regimes"] for c in r["checks"]]
    assert checks and all(c["verdict"] in ("符合", "需关注", "需人工确认", "不适用") for c in checks)
    assert sum(data["counts"].values()) == len(checks)
    assert data["to_confirm"] == [{"regime": r["name"], **c} for r in data["regimes"] for c in r["checks"]
                                  if c["verdict"] == "需人工确认"]
    profiles = [p["id"] for p in standard_profiles()["profiles"]]
    assert [e["id"] for e in data["examples"]] == profiles and all(e["trace"] for e in data["examples"])


def test_a_violation_is_reported_with_its_clause_and_quote_and_exits_1(run, tmp_path):
    text = (PRODUCTS / "xianhuibao.yaml").read_text(encoding="utf-8").replace(
        "      suspend_when_basic_in_arrears: false\n",
        "      suspend_when_basic_in_arrears: false\n      conditions:\n"
        "        - {id: over-70, name: 70 周岁以上不可参保, when: {age: {min: 71}}, outcome: not_eligible}\n", 1)
    variant = tmp_path / "xianhuibao-over-70.yaml"
    variant.write_text(text, encoding="utf-8")
    result = run("review", variant, "--year", "2023", "--population", 300)
    assert result.exit_code == 1
    line = next(l for l in result.output.splitlines() if "[违规]" in l)
    assert "二(一)" in line and "“不限年龄、健康状况、既往病史、职业类别、户籍等，均可自愿参保”" in line
    assert "参保排除条件所依据的项目 年龄" in line


def test_html_report_has_the_summary_results_examples_and_changes(run, tmp_path):
    out = tmp_path / "report.html"
    result = run("review", PRODUCTS / "zaohuibao.yaml", "--year", "2025", "--out", out, "--population", 300)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    for part in ("一、方案概要", "二、合规检查结果", "三、需人工确认的事项", "四、标准案例试算", "五、与上一版本相比的变化",
                 "有既往症人群", "【假设】", "上一版本：枣惠保 2024 年度", "起付线", "regulation.pricing"):
        assert part in html, part


def test_a_named_pre_existing_condition_paid_nothing_is_named_in_the_json_and_the_html_report(run, tmp_path):
    text = (PRODUCTS / "xianhuibao.yaml").read_text(encoding="utf-8")
    for old, new in named_pre_existing("0"):
        text = text.replace(old, new, 1)
    variant = tmp_path / "xianhuibao-renal-failure.yaml"
    variant.write_text(text, encoding="utf-8")
    looked_at = "既往症人员在主要责任上的最低赔付比例：0%（肾功能衰竭，在“医保目录内个人自付”）"

    result = run("review", variant, "--year", "2023", "--json", "--population", 300)
    assert result.exit_code == 1, result.output
    check = next(c for r in json.loads(result.output)["regimes"] for c in r["checks"]
                 if c["id"] == "pre-existing-not-excluded")
    assert check["verdict"] == "违规"
    assert [f"{f['label']}：{f['text']}" for f in check["looked_at"]] == [looked_at]
    assert check["looked_at"][0]["detail"] == "肾功能衰竭，在“医保目录内个人自付”"

    out = tmp_path / "report.html"
    assert run("review", variant, "--year", "2023", "--out", out, "--population", 300).exit_code == 1
    row = next(r for r in out.read_text(encoding="utf-8").split("<tr") if "既往症人员不得在实质上被排除" in r)
    assert "违规" in row and looked_at in row


def test_unknown_output_type_is_a_usage_error(run, tmp_path):
    assert run("review", PRODUCTS / "ganzhou.yaml", "--year", "2024", "--out", tmp_path / "r.txt").exit_code == 2


@pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdftoppm")), reason="poppler-utils not installed")
@pytest.mark.parametrize("file, year", PRODUCT_YEARS)
def test_pdf_report_holds_chinese_text_and_renders(run, tmp_path, file, year):
    out = tmp_path / "report.pdf"
    result = run("review", PRODUCTS / file, "--year", year, "--out", out, "--population", 300)
    assert result.exit_code == 0, result.output
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", out, "-"], capture_output=True, text=True, check=True).stdout
    squeezed = "".join(text.split())
    assert "合规审查报告" in squeezed and "需人工确认的事项" in squeezed and "标准案例试算" in squeezed
    fonts = subprocess.run(["pdffonts", out], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts  # the Chinese is set in a CJK font, not as missing-glyph boxes
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", out, tmp_path / "page"], check=True)
    page = next(tmp_path.glob("page*.png"))
    assert page.stat().st_size > 10_000
