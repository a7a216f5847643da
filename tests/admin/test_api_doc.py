"""docs/api.md's Python example, run as written against the admin served by Waitress on loopback, so the page
a client starts from stays true."""
from __future__ import annotations

import re
import threading

import pytest
from waitress import create_server

from .conftest import REPO, bearer

EXAMPLE = re.search(r"```python\n(.*?)```", (REPO / "docs" / "api.md").read_text(encoding="utf-8"), re.S).group(1)


@pytest.fixture
def served(app):
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=10)


def test_the_first_hour_example_gets_the_engines_figures_from_a_live_server(app, served, capsys):
    namespace = {"__name__": "first_hour"}
    exec(compile(EXAMPLE, "docs/api.md", "exec"), namespace)  # noqa: S102 — our own documentation's code
    token = bearer(app, "regulator")["Authorization"].removeprefix("Bearer ")
    result = namespace["first_hour"](served, token)

    # The fixture holds 咸惠保 2023 only (products/xianhuibao.yaml): one band, 69 yuan; the example's claim
    # (54,509 + 309,100 yuan left by basic insurance) pays (54,509 − 18,000) × 80 % + (309,100 − 24,000) × 70 %.
    assert result["version"]["key"] == "xianhuibao@2023"
    assert result["quote"]["premium_fen"] == 69_00
    assert result["settlement"]["paid_fen"] == 29_207_20 + 199_570_00
    assert [v["id"] for v in result["comparison"]["versions"]] == [result["version"]["id"]]
    assert result["refused"].status == 422 and result["refused"].body["issues"][0]["path"] == "age"
    assert f"{result['version']['key']}: premium" in capsys.readouterr().out
