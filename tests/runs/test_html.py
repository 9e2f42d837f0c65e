"""Numbers for people and nested values as tables (runs/_html.py)."""

import pytest

from rnnscope.runs._html import Markup, human, mapping_table, value_html


@pytest.mark.parametrize("value, text", [
    (0.9556117244064808, "0.9556"), (12345.678, "1.235\u00d710<sup>4</sup>"), (4.274e-35, "4.274\u00d710<sup>-35</sup>"),
    (-0.006077123, "-0.006077"), (7, "7"), (0.0, "0"), (None, "\u2014"), (True, "yes"), (float("nan"), "NaN"),
    (complex(-0.5, 0.25), "-0.5 + 0.25i"), ("a<b", "a&lt;b"), (Markup("<a href='x'>x</a>"), "<a href='x'>x</a>"),
])
def test_human_rounds_to_four_significant_digits(value, text):
    assert human(value) == text


def test_nested_values_become_tables():
    flat = value_html({"0": 8, "1": 12})  # a small flat mapping: one row, a column per key
    assert flat.startswith("<table><thead><tr><th>0</th><th>1</th></tr></thead>") and "<td class='num'>12</td>" in flat
    records = value_html([{"name": "a", "value": 0.123456}, {"name": "b", "value": 2}])
    assert "<th>name</th><th>value</th>" in records and "<td class='num'>0.1235</td>" in records
    grid = value_html([[1.0, 0.5], [0.5, 1.0]])
    assert grid.count("<tr>") == 2 and "<td class='num'>0.5</td>" in grid
    assert value_html(list(range(20))).endswith("\u2026 (20 values)")
    # lists of one length gathered into one table of columns, the rest as rows
    table = mapping_table({"ranks": [1, 2], "r2": [0.51234, 0.6], "chosen": 2})
    assert "<th>ranks</th><th>r2</th>" in table and "<td class='num'>0.5123</td>" in table and "<th>chosen</th>" in table
