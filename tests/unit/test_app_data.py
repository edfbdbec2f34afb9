"""The queue's server side, called as plain functions: AG Grid's filter model (every text and number
option the grid offers, joined conditions), its sort model, the block an infinite-model request asks for,
the search and the tier / worst-impact sets. A filter the server cannot apply is refused, never ignored."""

from __future__ import annotations

import pytest

from analyzer.app.data import chosen_rows
from analyzer.app.grid import FilterError, block, column_test

COLUMNS = ["id", "tier", "risk", "target", "top_impact"]
ROWS = [
    {"id": i, "tier": t, "risk": r, "target": f"arn:aws:iam::1:role/r{i}", "top_impact": imp, "impact": c}
    for i, (t, r, imp, c) in enumerate(
        [
            ("cab", 70, "Fraud Detection (critical)", "critical"),
            ("approval", 19, "", "none"),
            ("approval", 40, "Payments (high)", "high"),
            ("auto", 5, None, "none"),
            ("blocked", 90, "Ledger (critical)", "critical"),
        ]
    )
]


def ids(request: dict, **kw: object) -> list[int]:
    return [r["id"] for r in chosen_rows(ROWS, request, COLUMNS, **kw)]  # type: ignore[arg-type]


def text(option: str, value: str = "") -> dict:
    return {"filterModel": {"top_impact": {"filterType": "text", "type": option, "filter": value}}}


def number(option: str, x: float, to: float | None = None) -> dict:
    cond = {
        "filterType": "number",
        "type": option,
        "filter": x,
        **({"filterTo": to} if to is not None else {}),
    }
    return {"filterModel": {"risk": cond}, "sortModel": [{"colId": "id", "sort": "asc"}]}


def test_default_order_is_priority_then_risk_and_blocks_are_cut_where_asked() -> None:
    assert ids({}) == [4, 0, 2, 1, 3]  # no priority column here: risk decides
    ordered = chosen_rows(ROWS, {}, COLUMNS)
    assert [r["id"] for r in block(ordered, {"startRow": 2, "endRow": 4})] == [2, 1]
    assert block(ordered, {"startRow": 4, "endRow": 100}) == [ROWS[3]]


@pytest.mark.parametrize(
    ("option", "value", "want"),
    [
        ("contains", "CRIT", [0, 4]),  # the grid's text matching ignores case
        ("notContains", "critical", [1, 2, 3]),  # a blank value does not contain it
        ("equals", "payments (high)", [2]),
        ("notEqual", "payments (high)", [0, 1, 3, 4]),
        ("startsWith", "fraud", [0]),
        ("endsWith", "(critical)", [0, 4]),
        ("blank", "", [1, 3]),  # None and empty text
        ("notBlank", "", [0, 2, 4]),
    ],
)
def test_every_text_option(option: str, value: str, want: list[int]) -> None:
    assert sorted(ids(text(option, value))) == want


@pytest.mark.parametrize(
    ("option", "x", "to", "want"),
    [
        ("equals", 40, None, [2]),
        ("notEqual", 40, None, [0, 1, 3, 4]),
        ("greaterThan", 40, None, [0, 4]),
        ("greaterThanOrEqual", 40, None, [0, 2, 4]),
        ("lessThan", 19, None, [3]),
        ("lessThanOrEqual", 19, None, [1, 3]),
        ("inRange", 19, 70, [2]),  # both ends excluded, as the grid's default is
        ("inRange", 70, 19, [2]),  # the same range typed backwards
    ],
)
def test_every_number_option(option: str, x: float, to: float | None, want: list[int]) -> None:
    assert ids(number(option, x, to)) == want


def test_joined_conditions_and_several_columns() -> None:
    either = {
        "filterType": "number",
        "operator": "OR",
        "conditions": [
            {"filterType": "number", "type": "lessThan", "filter": 10},
            {"filterType": "number", "type": "greaterThan", "filter": 80},
        ],
    }
    assert sorted(ids({"filterModel": {"risk": either}})) == [3, 4]
    both = dict(either, operator="AND")
    assert ids({"filterModel": {"risk": both}}) == []
    two_columns = {"risk": either, "tier": {"filterType": "text", "type": "equals", "filter": "auto"}}
    assert ids({"filterModel": two_columns}) == [3]
    blanks = {"filterType": "number", "type": "blank"}
    assert ids({"filterModel": {"risk": blanks}}) == []


def test_search_and_sets() -> None:
    assert ids({}, search="FRAUD detection") == [0]
    assert ids({}, tiers=["approval", "auto"]) == [2, 1, 3]
    assert ids({}, worst=["critical"]) == [4, 0]
    assert ids({}, tiers=[]) == []  # every tier unticked: nothing, not everything


def test_multi_key_sort_keeps_blanks_last() -> None:
    req = {"sortModel": [{"colId": "tier", "sort": "asc"}, {"colId": "risk", "sort": "desc"}]}
    assert ids(req) == [2, 1, 3, 4, 0]
    assert ids({"sortModel": [{"colId": "top_impact", "sort": "asc"}]})[-1] == 3  # None sorts last


@pytest.mark.parametrize(
    "model",
    [
        {"tier": {"filterType": "set", "values": ["cab"]}},  # the Enterprise set filter
        {"tier": {"filterType": "text", "type": "regex", "filter": "c.b"}},
        {"risk": {"filterType": "number", "type": "greaterThan", "filter": "lots"}},
        {"risk": {"filterType": "number", "operator": "XOR", "conditions": []}},
        {"nope": {"filterType": "text", "type": "contains", "filter": "x"}},
        {"tier": {"filterType": "number", "type": "greaterThan", "filter": 3}},  # a number filter on text
    ],
)
def test_a_filter_it_cannot_apply_is_refused_with_the_column(model: dict) -> None:
    with pytest.raises(FilterError) as err:
        chosen_rows(ROWS, {"filterModel": model}, COLUMNS)
    assert repr(next(iter(model))) in str(err.value)


def test_a_sort_it_cannot_apply_is_refused() -> None:
    with pytest.raises(FilterError, match="no column 'password' to sort by"):
        chosen_rows(ROWS, {"sortModel": [{"colId": "password", "sort": "asc"}]}, COLUMNS)


def test_column_test_is_the_grid_semantics_on_values() -> None:
    t = column_test("risk", {"filterType": "number", "type": "notEqual", "filter": 3})
    assert t(None) and t(4) and not t(3)  # a blank is "not equal" to any number


def test_the_examples_in_the_docstrings_hold() -> None:
    """analyzer/app is left out of the doctest collection (its pages register with Dash on import); these
    two modules do not, and their examples are run here."""
    import doctest

    from analyzer.app import data, grid

    for module in (grid, data):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
