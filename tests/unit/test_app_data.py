"""The queue's server-side paging, sorting and filtering, called as plain functions."""

from analyzer.app.data import page

ROWS = [
    {"id": i, "tier": t, "risk": r, "target": f"arn:aws:iam::1:role/r{i}"}
    for i, (t, r) in enumerate(
        [("cab", 70), ("approval", 19), ("approval", 40), ("auto", 5), ("blocked", 90)]
    )
]


def test_default_order_is_risk_highest_first_and_pages_split() -> None:
    rows, pages, n = page(ROWS, 0, 2, None, None)
    assert [r["risk"] for r in rows] == [90, 70] and pages == 3 and n == 5
    last, _, _ = page(ROWS, 2, 2, None, None)
    assert [r["risk"] for r in last] == [5]


def test_multi_sort_and_filters() -> None:
    rows, _, _ = page(
        ROWS,
        0,
        10,
        [{"column_id": "tier", "direction": "asc"}, {"column_id": "risk", "direction": "desc"}],
        "",
    )
    assert [(r["tier"], r["risk"]) for r in rows][:3] == [("approval", 40), ("approval", 19), ("auto", 5)]
    assert [r["id"] for r in page(ROWS, 0, 10, None, "{risk} >= 40 && {tier} != blocked")[0]] == [0, 2]
    assert [r["id"] for r in page(ROWS, 0, 10, None, "{target} contains r3")[0]] == [3]
    assert page(ROWS, 0, 10, None, "{tier} s= nothing")[1:] == (1, 0)


def test_out_of_range_page_shows_the_last() -> None:
    rows, pages, _ = page(ROWS, 99, 2, None, None)
    assert pages == 3 and [r["risk"] for r in rows] == [5]
