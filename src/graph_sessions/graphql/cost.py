"""A bound on what one operation may make the server read: every field counts 1, times the
page size of each list field above it (``first``/``last``, or its default; a variable counts
as the largest page). ``sessions(first: 100) { edges { node { checkpoints(first: 100) {
values } } } }`` costs about 100 x 100 x 3; twenty aliases of it are refused before anything
runs, where depth and alias limits alone would let them through."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

#: list fields and their default page size (``types.py`` resolvers)
PAGED = {"sessions": 50, "checkpoints": 20, "events": 100, "runs": 50, "messages": 100}


def _page(field: FieldNode, default: int, largest: int) -> int:
    for arg in field.arguments or ():
        if arg.name.value in ("first", "last"):
            if isinstance(arg.value, IntValueNode):
                return max(1, min(int(arg.value.value), largest))
            return largest  # a variable (or null): the worst case
    return default


def selection_cost(
    selections: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    largest: int,
    seen: frozenset[str] = frozenset(),
) -> int:
    """The cost of a selection set (fragments inlined; a cycle counts once)."""
    if selections is None:
        return 0
    total = 0
    for sel in selections.selections:
        if isinstance(sel, FieldNode):
            inner = selection_cost(sel.selection_set, fragments, largest, seen)
            default = PAGED.get(sel.name.value)
            times = _page(sel, default, largest) if default is not None else 1
            total += 1 + times * inner
        elif isinstance(sel, InlineFragmentNode):
            total += selection_cost(sel.selection_set, fragments, largest, seen)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is not None and name not in seen:
                total += selection_cost(frag.selection_set, fragments, largest, seen | {name})
    return total


def cost_rule(max_cost: int, largest: int) -> type[ValidationRule]:
    """A validation rule refusing operations that cost more than ``max_cost``."""

    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            cost = selection_cost(node.selection_set, fragments, largest)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"the operation may read {cost} items, over the limit of {max_cost}: "
                        "ask for smaller pages (first/last) or fewer fields",
                        node,
                    )
                )

    return CostLimit
