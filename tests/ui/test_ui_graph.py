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


def test_draw_graph_with_a_cycle_a_self_loop_and_a_highlight(
    open_page: Callable[..., UiPage],
) -> None:
    """drawGraph (the export the session page uses) on a graph with a loop back, a self
    loop, a conditional branch and a node __start__ cannot reach; names are text."""
    page = open_page("alice", "#/graphs")
    page.errors.clear()  # the 401s before signing in
    page.page.wait_for_selector('li[data-graph="work"]')
    graph = {
        "graph_id": "g",
        "nodes": [
            {"id": n, "name": n}
            for n in [
                "__start__",
                "plan",
                "act",
                "check",
                "<img src=x onerror=window.__xss=1>",
                "__end__",
                "orphan",
            ]
        ],
        "edges": [
            {"source": "__start__", "target": "plan", "conditional": False},
            {"source": "plan", "target": "act", "conditional": False},
            {"source": "act", "target": "check", "conditional": False},
            {"source": "check", "target": "plan", "conditional": True},
            {"source": "check", "target": "__end__", "conditional": True},
            {"source": "act", "target": "act", "conditional": True},
            {"source": "plan", "target": "<img src=x onerror=window.__xss=1>", "conditional": True},
        ],
    }
    result = page.page.evaluate(
        """async (graph) => {
            const { drawGraph } = await import('./js/graph_view.js');
            const box = document.createElement('div');
            document.getElementById('main').append(box);
            const svg = drawGraph(box, graph, { highlight: 'act' });
            const y = (id) => box.querySelector(`g.gnode[data-node="${CSS.escape(id)}"]`)
                .getBoundingClientRect().y;
            return {
                tag: svg.tagName,
                nodes: box.querySelectorAll('g.gnode').length,
                edges: box.querySelectorAll('path.gedge').length,
                dashed: box.querySelectorAll('path.gedge.conditional').length,
                current: [...box.querySelectorAll('g.gnode.current')].map(g => g.dataset.node),
                order: ['__start__', 'plan', 'act', 'check', '__end__'].map(y),
                imgs: box.querySelectorAll('img').length,
                xss: window.__xss ?? null,
            };
        }""",
        graph,
    )
    assert result["tag"] == "svg"
    assert result["nodes"] == 7 and result["edges"] == 7 and result["dashed"] == 4
    assert result["current"] == ["act"]
    order = result["order"]
    assert order == sorted(order) and len(set(order)) == 5  # one layer each, top-down
    assert result["imgs"] == 0 and result["xss"] is None
    assert page.errors == []
