"""Mutations a careless user or an attacker makes to a text: the fuzz tests feed their results to every entry point.

Each mutation takes a text and a seeded `random.Random` and returns a new text; `mutate` applies one to
three of them. A failing input is reproduced from its seed (printed by the tests) alone.
"""
from __future__ import annotations

import random

JUNK_SCALARS = ["", "~", "null", "-1", "-0.001", "0", "1e+400", "9" * 40, "0x7fffffff", "0o777", ".inf", ".nan",
                "true", "no", "2024-13-45", "2024-02-30", "'", '"', "[", "{", "}", "*undefined", "&a", "|", ">",
                "万", "50万", "１２３", "\u202e", "\ufeff", "\t", "%", "@", "`", "!!python/object:os.system x",
                "!custom x", "!!binary aGk=", "[*a, *a]", "{a: 1, a: 2}", "12:30:00", "1_000", "+12", "-.5",
                "9999999999999999999999999999.99", "0.001", "[[[[[[[[[[]]]]]]]]]]", "null\x00", "\x15"]

BOMB = ("zz0: &zz0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"zz{i}: &zz{i} [{', '.join([f'*zz{i - 1}'] * 9)}]\n" for i in range(1, 9)))


def delete_line(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    if lines:
        del lines[rng.randrange(len(lines))]
    return "".join(lines)


def duplicate_line(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    if lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    return "".join(lines)


def reindent_line(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    if lines:
        i = rng.randrange(len(lines))
        lines[i] = (" " * rng.choice((1, 2, 4)) + lines[i]) if rng.random() < 0.5 else lines[i].lstrip(" ")
    return "".join(lines)


def swap_lines(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def flip_character(text: str, rng: random.Random) -> str:
    if not text:
        return text
    i = rng.randrange(len(text))
    return text[:i] + chr(ord(text[i]) ^ (1 << rng.randrange(8))) + text[i + 1:]


def junk_scalar(text: str, rng: random.Random) -> str:
    """Replace what follows a `key:` (or a `- `) on one line with junk."""
    lines = text.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if ": " in line or line.lstrip().startswith("- ")]
    if not candidates:
        return text
    i = rng.choice(candidates)
    line = lines[i]
    cut = line.index(": ") + 2 if ": " in line else line.index("- ") + 2
    lines[i] = line[:cut] + rng.choice(JUNK_SCALARS) + "\n"
    return "".join(lines)


def insert_bomb(text: str, rng: random.Random) -> str:
    return BOMB + text if rng.random() < 0.5 else text.rstrip("\n") + "\n" + BOMB


def insert_tag(text: str, rng: random.Random) -> str:
    tag = rng.choice(["!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!x", "!!set {a}",
                      "!!omap [a: 1]"])
    return text.replace(": ", f": {tag} #", 1) if rng.random() < 0.5 else f"tagged: {tag}\n" + text


def insert_control(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(["\x00", "\x01", "\x15", "\x1b", "\x7f", "\ud800"]) + text[i:]


def huge_number(text: str, rng: random.Random) -> str:
    digits = rng.choice((19, 31, 400, 5000))
    lines = text.splitlines(keepends=True)
    numeric = [i for i, line in enumerate(lines) if line.rstrip()[-1:].isdigit() and ": " in line]
    if not numeric:
        return text
    i = rng.choice(numeric)
    lines[i] = lines[i][:lines[i].index(": ") + 2] + rng.choice(("", "-")) + "9" * digits + "\n"
    return "".join(lines)


def recursive_alias(text: str, rng: random.Random) -> str:
    return text + rng.choice(["\nloop: &loop [*loop]\n", "\nloop: &loop {self: *loop}\n"])


def deep_nesting(text: str, rng: random.Random) -> str:
    depth = rng.choice((50, 500, 5000))
    return text + "\ndeep: " + "[" * depth + "]" * depth + "\n"


MUTATIONS = (delete_line, duplicate_line, reindent_line, swap_lines, flip_character, junk_scalar, junk_scalar,
             junk_scalar, huge_number, insert_bomb, insert_tag, insert_control, recursive_alias, deep_nesting)
# Structural mutations mostly keep the text well formed, so most inputs reach the schema, the semantic checks
# and the engine rather than stopping at the parser.
COMMON = (delete_line, duplicate_line, reindent_line, swap_lines, junk_scalar, junk_scalar, junk_scalar)


def mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.choice((1, 1, 2, 3))):
        operation = rng.choice(COMMON) if rng.random() < 0.75 else rng.choice(MUTATIONS)
        text = operation(text, rng)
    return text
