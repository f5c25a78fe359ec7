"""Hostile expressions fail with ExpressionError instead of exhausting the process."""

from __future__ import annotations

import pytest

from graph_sessions.graphs.yaml.expressions import ExpressionError, compile_expression


def test_deep_nesting_is_a_syntax_error_not_a_recursion_error() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("(" * 5000 + "1" + ")" * 5000)


@pytest.mark.parametrize("source", ["'ab' * 10000000", "state.items * 2000000"])
def test_huge_repetition_is_refused(source: str) -> None:
    expr = compile_expression(source)
    with pytest.raises(ExpressionError, match="repetition"):
        expr.evaluate({"items": [1]})


def test_small_repetition_still_works() -> None:
    assert compile_expression("'ab' * 3").evaluate({}) == "ababab"
    assert compile_expression("state.items * 2").evaluate({"items": [1]}) == [1, 1]


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("str([[1] * 100000] * 100000)", "repetition"),  # nested content counts
        ("join(['a'] * 100000, 'b' * 100000)", "join result"),
        ("'%999999999d' % 1", "remainder of numbers"),  # no printf-style formatting
    ],
)
def test_hidden_blow_ups_are_refused(source: str, match: str) -> None:
    with pytest.raises(ExpressionError, match=match):
        compile_expression(source).evaluate({})


def test_modest_nested_values_and_remainders_still_work() -> None:
    assert compile_expression("[[0] * 3] * 2").evaluate({}) == [[0, 0, 0], [0, 0, 0]]
    assert compile_expression("join(['a', 'b'], '-')").evaluate({}) == "a-b"
    assert compile_expression("state.n % 3").evaluate({"n": 7}) == 1
