"""Chart geometry (admin_ui.charts): axis steps, bar heights and labels from integer fen."""
from decimal import Decimal

from admin_ui.charts import WAN, YUAN, bar_label, grouped_bars, nice_step


def test_axis_steps_are_1_2_5_and_reach_the_top():
    assert nice_step(15900, 5, YUAN) == 5000  # 159 元 in at most 5 steps of 50 元
    assert nice_step(30_000_000, 8, WAN // 10) == 5_000_000  # 30 万元 in steps of 5 万元
    assert nice_step(1, 5, YUAN) == YUAN  # never below the smallest step


def test_bar_labels_are_short_and_exact_to_their_unit():
    assert bar_label(14_530_699, WAN) == "14.5"
    assert bar_label(6900, YUAN) == "69" and bar_label(1050, YUAN) == "10.5" and bar_label(1, YUAN) == "0.01"


def test_bars_are_as_tall_as_their_amount_and_grouped_by_item():
    chart = grouped_bars([("a@1", "A 1"), ("b@2", "B 2")],
                         [{"id": "x", "name": "X", "cells": [{"fen": 10000}, {"fen": 5000, "assumed": True}]},
                          {"id": "y", "name": "Y", "cells": [{"fen": 0}, {"fen": -300}]}], YUAN, height=200)
    x, y = chart["groups"]
    assert [b["height"] for b in x["bars"]] == [Decimal("200.0"), Decimal("100.0")]  # the axis ends at 100 元
    assert [b["height"] for b in y["bars"]] == [0, 0]  # a negative amount is not drawn below the axis
    assert x["bars"][1]["assumed"] and x["bars"][1]["key"] == "b@2" and x["bars"][1]["label"] == "50"
    assert x["bars"][0]["colour"] != x["bars"][1]["colour"] and x["centre"] < y["centre"]
    assert [t["label"] for t in chart["y_ticks"]] == ["0", "20", "40", "60", "80", "100"]
