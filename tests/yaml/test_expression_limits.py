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
