"""Bounded loading: every text is untrusted, so what could exhaust memory, time or the stack is refused
before anything is built — with the file, line, column and a message, never a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
import tracemalloc

import pytest

from engine.inputs import load_claims
from engine.issues import InputError, SchemeError
from engine.load import LIMITS, Limits, load_file, parse_text

HMB = str(Path(sys.executable).with_name("hmb"))  # the installed command, as a user runs it
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcdefgh", "bcdefghi"))


def refusal(text: str, limits: Limits = LIMITS):
    with pytest.raises(SchemeError) as caught:
        parse_text(text, "f.yaml", limits)
    [issue] = caught.value.issues
    return issue


def test_alias_bomb_is_refused_without_expanding_it():
    tracemalloc.start()
    issue = refusal(BILLION_LAUGHS)  # 9**9 = 387 million strings once expanded
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert issue.code == "yaml.too_many_nodes"
    assert (issue.file, issue.line) == ("f.yaml", 6)  # where the expansion first passes the limit
    assert "别名炸弹" in issue.message
    assert peak < 5_000_000  # bytes: nothing of the expansion was built


def test_aliases_within_the_limit_still_work():
    doc = parse_text("base: &b {k: 1, v: [1, 2]}\ncopy: *b\nmerged: {<<: *b, w: 2}\n")
    assert doc.data["copy"] == {"k": 1, "v": [1, 2]}
    assert doc.data["merged"] == {"k": 1, "v": [1, 2], "w": 2}


def test_node_count_counts_each_alias_as_what_it_stands_for():
    text = "a: &a [1, 2, 3, 4]\nb: [*a, *a, *a]\n"  # root + a (5) + b (1 + 3×5) = 22 nodes with keys
    assert parse_text(text, "f.yaml", Limits(max_nodes=24)).data["b"][2] == [1, 2, 3, 4]
    assert refusal(text, Limits(max_nodes=20)).code == "yaml.too_many_nodes"


@pytest.mark.parametrize("text", ["&a [*a]", "&a {x: *a}", "a: &a\n  b: [1, *a]\n"])
def test_recursive_alias_is_refused_at_the_alias(text):
    issue = refusal(text)
    assert issue.code == "yaml.recursive_alias"
    assert "*a" in issue.message


def test_nesting_deeper_than_the_limit_is_refused():
    issue = refusal("[" * 10_000 + "]" * 10_000)
    assert issue.code == "yaml.too_deep"
    assert (issue.line, issue.column) == (1, LIMITS.max_depth + 1)
    assert refusal("a:\n" + "".join(" " * i + "- \n" for i in range(1, 60))).code == "yaml.too_deep"


@pytest.mark.parametrize("char, name", [("\x00", "NUL"), ("\x15", "控制字符"), ("\x1b", "ESC")])
def test_unacceptable_character_is_named_with_its_line_and_column(char, name):
    issue = refusal(f"a: 1\nb: x{char}y\n")
    assert issue.code == "yaml.character"
    assert (issue.line, issue.column) == (2, 5)
    assert name in issue.message and f"U+{ord(char):04X}" in issue.message


@pytest.mark.parametrize("tag", ["!!python/object:os.system", "!!python/name:os.system", "!custom", "!!binary",
                                 "!!set"])
def test_tags_outside_plain_yaml_are_refused(tag):
    issue = refusal(f"a: 1\nb: {tag} x\n" if tag != "!!set" else "a: 1\nb: !!set {x}\n")
    assert issue.code == "yaml.tag"
    assert issue.line == 2


def test_plain_yaml_tags_are_accepted():
    assert parse_text("a: !!str 3\nb: !!int '4'\n").data == {"a": "3", "b": 4}


@pytest.mark.parametrize("text, fragment", [("a: " + "9" * 5000, "5000 位"), ("a: -" + "1" * 31, "31 位"),
                                            ("a: .inf", ".inf"), ("a: .nan", ".nan"), ("a: 1.5e+400", "范围")])
def test_numbers_no_scheme_needs_are_refused_at_their_path(text, fragment):
    issue = refusal(text)
    assert issue.code == "yaml.number"
    assert issue.path == ("a",)
    assert fragment in issue.message


def test_numbers_stay_exact():
    assert parse_text("a: 0.1\nb: 123456789012345678\n").data == {"a": __import__("decimal").Decimal("0.1"),
                                                                 "b": 123456789012345678}


def test_merge_key_on_a_list_is_an_error_not_a_traceback():
    issue = refusal("a: &a [1]\nb: {<<: *a}\n")
    assert issue.code == "yaml.merge"
    assert issue.path == ("b",)


def test_a_text_over_the_size_limit_is_refused():
    issue = refusal("a: " + "x" * 2000, Limits(max_bytes=1000))
    assert issue.code == "file.too_large"
    assert "1,000" in issue.message


def test_a_file_over_the_size_limit_is_not_read_whole(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 5000)
    with pytest.raises(SchemeError) as caught:
        load_file(big, Limits(max_bytes=1000))
    assert caught.value.issues[0].code == "file.too_large"
    assert caught.value.issues[0].file == str(big)


def test_a_claim_file_with_no_claims_is_an_error(tmp_path):
    empty = tmp_path / "claims.json"
    empty.write_text("[]")
    with pytest.raises(InputError) as caught:
        load_claims(str(empty))
    assert caught.value.issues[0].code == "claim.none"
    assert "没有理赔" in caught.value.issues[0].message


@pytest.mark.parametrize("content", [b"a: \x00\n", b"a: !!python/object:os.system x\n", b"&a [*a]\n",
                                     b"\xff\xfe broken utf-8", BILLION_LAUGHS.encode(), b"[]"])
def test_the_command_line_answers_bad_files_with_a_message_and_exit_1(tmp_path, content):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    for args in (["validate", str(bad)], ["claim", "products/xianhuibao.yaml", str(bad), "--year", "2023"]):
        run = subprocess.run([HMB, *args], capture_output=True, text=True, timeout=60)
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr
        assert str(bad) in run.stderr + run.stdout


@pytest.mark.parametrize("url, says", [("notaurl", "不是数据库 URL"), ("sqlite:////nonexistent/dir/x.db", "不存在")])
def test_a_bad_ledger_url_is_a_usage_error(url, says):
    run = subprocess.run([HMB, "claim", "products/xianhuibao.yaml",
                          "examples/xianning-worked-example.json", "--year", "2023", "--db", url],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert says in run.stderr and "Traceback" not in run.stderr
