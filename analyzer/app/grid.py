"""Server-side rows for AG Grid's infinite row model: the filter model, the sort model and the block the
grid asks for (``getRowsRequest``), applied to plain rows. Pure: no Dash, no store.

Filters follow AG Grid's Simple Filters (``filterType`` ``text`` or ``number``; one condition, or two to
five joined by ``operator`` ``AND``/``OR`` in ``conditions``): text matching ignores case as the grid's
default text matcher does; ``inRange`` excludes both ends (the grid's default, ``inRangeInclusive``
false); a blank value (None, or empty text) passes only ``blank`` and ``notEqual``/``notContains``
never match it falsely. A filter type or option this module does not know raises ``FilterError``: a
filter is applied or refused, never ignored while the count claims it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


class FilterError(ValueError):
    """A filter the server cannot apply, said with the column and the option."""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text_test(option: str, want: Any, column: str) -> Callable[[Any], bool]:
    w = str("" if want is None else want).lower()
    tests: dict[str, Callable[[str], bool]] = {
        "contains": lambda v: w in v,
        "notContains": lambda v: w not in v,
        "equals": lambda v: v == w,
        "notEqual": lambda v: v != w,
        "startsWith": lambda v: v.startswith(w),
        "endsWith": lambda v: v.endswith(w),
    }
    if option == "blank":
        return _blank
    if option == "notBlank":
        return lambda v: not _blank(v)
    if option not in tests:
        raise FilterError(f"column {column!r}: text filter option {option!r} is not one the queue knows")
    test = tests[option]
    negative = option in ("notContains", "notEqual")
    return lambda v: negative if _blank(v) else test(str(v).lower())


def _number(value: Any, column: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FilterError(f"column {column!r}: {value!r} is not a number") from None


def _number_test(option: str, cond: Mapping[str, Any], column: str) -> Callable[[Any], bool]:
    if option == "blank":
        return lambda v: v is None
    if option == "notBlank":
        return lambda v: v is not None
    x = _number(cond.get("filter"), column)
    tests: dict[str, Callable[[float], bool]] = {
        "equals": lambda v: v == x,
        "notEqual": lambda v: v != x,
        "greaterThan": lambda v: v > x,
        "greaterThanOrEqual": lambda v: v >= x,
        "lessThan": lambda v: v < x,
        "lessThanOrEqual": lambda v: v <= x,
    }
    if option == "inRange":
        lo, hi = sorted((x, _number(cond.get("filterTo"), column)))
        tests["inRange"] = lambda v: lo < v < hi
    if option not in tests:
        raise FilterError(f"column {column!r}: number filter option {option!r} is not one the queue knows")
    test = tests[option]
    return lambda v: option == "notEqual" if v is None else test(_number(v, column))


def _condition(column: str, cond: Mapping[str, Any]) -> Callable[[Any], bool]:
    kind, option = cond.get("filterType"), str(cond.get("type") or "")
    if kind == "text":
        return _text_test(option, cond.get("filter"), column)
    if kind == "number":
        return _number_test(option, cond, column)
    raise FilterError(f"column {column!r}: filter type {kind!r} is not one the queue knows")


def column_test(column: str, model: Mapping[str, Any]) -> Callable[[Any], bool]:
    """One column's filter model as a test of the column's value.

    >>> t = column_test("risk", {"filterType": "number", "operator": "OR", "conditions": [
    ...     {"filterType": "number", "type": "lessThan", "filter": 20},
    ...     {"filterType": "number", "type": "inRange", "filter": 60, "filterTo": 80}]})
    >>> [v for v in (10, 20, 60, 70, 80, None) if t(v)]
    [10, 70]
    >>> column_test("tier", {"filterType": "text", "type": "startsWith", "filter": "CA"})("cab")
    True
    """
    conditions = model.get("conditions")
    if conditions is None:
        return _condition(column, model)
    tests = [_condition(column, c) for c in conditions]
    operator = str(model.get("operator") or "AND").upper()
    if operator == "AND":
        return lambda v: all(t(v) for t in tests)
    if operator == "OR":
        return lambda v: any(t(v) for t in tests)
    raise FilterError(f"column {column!r}: join operator {operator!r} is neither AND nor OR")


def filtered(
    rows: Iterable[dict[str, Any]], filter_model: Mapping[str, Any] | None, columns: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows every column filter passes. A filter on a column the grid does not show is refused."""
    tests = []
    for column, model in (filter_model or {}).items():
        if column not in columns:
            raise FilterError(f"no column {column!r} to filter")
        tests.append((column, column_test(column, model)))
    if not tests:
        return list(rows)
    try:
        return [r for r in rows if all(t(r.get(c)) for c, t in tests)]
    except (TypeError, ValueError) as exc:  # a number filter on a column of text, say
        raise FilterError(f"the filter does not apply to these values: {exc}") from None


def ordered(
    rows: list[dict[str, Any]],
    sort_model: Sequence[Mapping[str, Any]] | None,
    default: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows sorted by the grid's sort model (``[{"colId": …, "sort": "asc"|"desc"}, …]``, first key first;
    blanks last either way), or by ``default`` when the model is empty. ``columns``: the ones that may be
    sorted on (None: any)."""
    out = rows
    for s in reversed(list(sort_model or default)):
        column, desc = str(s.get("colId")), s.get("sort") == "desc"
        if columns is not None and column not in columns:
            raise FilterError(f"no column {column!r} to sort by")
        present = [r for r in out if r.get(column) is not None]
        blank = [r for r in out if r.get(column) is None]
        try:
            out = sorted(present, key=lambda r: r[column], reverse=desc) + blank
        except TypeError:
            raise FilterError(f"column {column!r} holds values that cannot be ordered together") from None
    return out


def block(
    rows: list[dict[str, Any]], request: Mapping[str, Any] | None, size: int = 100
) -> list[dict[str, Any]]:
    """The rows ``startRow`` to ``endRow`` (exclusive) of an infinite-model request."""
    req = request or {}
    start = max(0, int(req.get("startRow") or 0))
    end = int(req.get("endRow") or start + size)
    return rows[start : max(start, end)]
