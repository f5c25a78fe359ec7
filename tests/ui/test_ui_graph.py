"""The graph page in real Chromium: #/graphs lists the served graphs and #/graphs/<id>
draws one as SVG, a box per node and a path per edge, as GET /graphs/{id} says."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.server import ServerProcess
from support.ui_page import UiPage

pytestmark = pytest.mark.slow


def drawn(page: UiPage) -> tuple[set[str], set[tuple[str, str, str]]]:
    nodes = page.page.eval_on_selector_all(
        "#graph-view g.gnode", "gs => gs.map(g => g.dataset.node)"
    )
    edges = page.page.eval_on_selector_all(
        "#graph-view path.gedge",
        "ps => ps.map(p => [p.dataset.source, p.dataset.target, p.dataset.conditional])",
    )
    return set(nodes), {tuple(e) for e in edges}


def test_graphs_list_and_the_work_graph_drawn(
    open_page: Callable[..., UiPage], ui_server: ServerProcess
) -> None:
    page = open_page("alice", "#/graphs")
    page.errors.clear()  # the 401s before signing in
    page.page.wait_for_selector('li[data-graph="approval"]')
    assert page.page.inner_text('li[data-graph="work"]') == "work (default)"
    page.page.click('li[data-graph="work"] a')
    page.page.wait_for_url("**#/graphs/work")
    page.page.wait_for_selector("#graph-view svg g.gnode")
    nodes, edges = drawn(page)
    assert nodes == {"__start__", "work", "__end__"}
    assert edges == {("__start__", "work", "false"), ("work", "__end__", "false")}
    assert page.page.text_content('g.gnode[data-node="work"] text') == "work"
    # layered top-down: __start__ above work above __end__
    ys = page.page.eval_on_selector_all(
        "g.gnode",
        "gs => Object.fromEntries(gs.map(g => [g.dataset.node, g.getBoundingClientRect().y]))",
    )
    assert ys["__start__"] < ys["work"] < ys["__end__"]
    page.shot("graph")
    with ui_server.client("alice") as alice:
        shape = alice.get("/graphs/approval").json()
    page.page.goto(f"{ui_server.url}/ui/#/graphs/approval")
    page.page.wait_for_selector("#graph-view svg g.gnode")
    nodes, edges = drawn(page)
    assert nodes == {n["id"] for n in shape["nodes"]}
    assert edges == {
        (e["source"], e["target"], "true" if e["conditional"] else "false") for e in shape["edges"]
    }
    dashed = page.page.eval_on_selector_all(
        "path.gedge.conditional", "ps => ps.map(p => getComputedStyle(p).strokeDasharray)"
    )
    assert all(d not in ("", "none") for d in dashed)
    assert len(dashed) == sum(1 for e in shape["edges"] if e["conditional"])
    # an unknown graph: the error shows, nothing breaks
    page.page.goto(f"{ui_server.url}/ui/#/graphs/nope")
    page.page.wait_for_selector("#notice:not([hidden])")
    assert "nope" in page.page.inner_text("#notice")
    page.errors[:] = [e for e in page.errors if "404" not in e]  # the answer to /graphs/nope
    assert page.errors == []
