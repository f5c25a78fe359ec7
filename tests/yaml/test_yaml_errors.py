"""Every kind of mistake in a YAML graph is reported as ``file:line: field: message``:
``validate_yaml_graph`` returns all of them, loading raises GraphLoadError with them."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.yaml_files import write

from graph_sessions import GraphSessionManager
from graph_sessions.errors import GraphLoadError
from graph_sessions.graphs.yaml import load_yaml_graph, validate_yaml_graph, yaml_to_mermaid


def problems(path: Path) -> list[str]:
    return [str(p) for p in validate_yaml_graph(str(path))]


# Graphs and all their problems, in order, each as "line: field: message" (after "file:").
PROBLEM_CASES = [
    pytest.param(
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
        edges:
          - from: START
            to: a
          - from: a
            to: [b, END]
          - from: ghost
            to: END
        """,
        [
            "8: edges[1].to[0]: edge to unknown node 'b' (nodes: a)",
            "9: edges[2].from: edge from unknown node 'ghost' (nodes: a)",
        ],
        id="edge_to_a_missing_node_and_from_a_missing_node",
    ),
    pytest.param(
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
          orphan: {type: passthrough, output: {x: "2"}}
        edges:
          - {from: START, to: a}
          - {from: a, to: END}
          - {from: orphan, to: END}
        """,
        ["4: nodes.orphan: node 'orphan' is unreachable: no edge path from START leads to it"],
        id="unreachable_node",
    ),
    pytest.param(
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
        edges:
          - {from: a, to: END}
        """,
        ["4: edges: no edge leaves START: add `- from: START`"],
        id="no_edge_from_start",
    ),
    pytest.param(
        """
        name: g
        nodes:
          a:
            type: passthrough
            output:
              x: "hello {state.name"
        edges: [{from: START, to: a}]
        """,
        ["6: nodes.a.output.x: bad expression: unclosed '{' at column 7 in 'hello {state.name'"],
        id="bad_placeholder_in_a_template",
    ),
    pytest.param(
        # Every problem in one pass: a bad top-level value does not hide the nodes' problems.
        """
        name: g
        state:
          n: integer
          when: datetime
          tags: {type: list, reducer: concat}
        nodes:
          a:
            type: interrupt
            resume_key: [not, a, string]
          b:
            type: passthrough
            output: 5
        edges:
          - {from: START, to: a}
          - {from: a, to: b}
        loop_limits:
          a: three
        config:
          recursion_limit: -1
        """,
        [
            "17: loop_limits.a: should be an integer, not the string 'three'",
            "19: config.recursion_limit: should be greater than 0",
            "9: nodes.a.resume_key: should be a string, not a list",
            "12: nodes.b.output: should be a mapping (key: value), not the number 5",
            "4: state.when: unknown type 'datetime' (known: str, int, float, bool, list, "
            "dict, any)",
            "5: state.tags.reducer: unknown reducer 'concat' (known: add, append, "
            "sorted_add, merge, add_messages, last_value)",
        ],
        id="type_errors",
    ),
    pytest.param(
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
          r:
            type: router
            expression: x
            routes:
              "1": a
              "2": nowhere
        edges:
          - {from: START, to: r}
          - {from: a, to: [r, END], type: conditional}
        """,
        [
            "12: edges[1].type: `type: conditional` edges leave a router node; "
            "'a' is a passthrough node",
            "9: nodes.r.routes.2: edge to unknown node 'nowhere' (nodes: a, r)",
        ],
        id="conditional_edge_needs_a_router_and_routes_need_nodes",
    ),
    pytest.param(
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
          a: {type: passthrough, output: {x: "2"}}
        edges:
          - {from: START, to: a}
        """,
        ["4: nodes.a: duplicate key: the later one would silently win"],
        id="duplicate_keys_are_reported",
    ),
    pytest.param(
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
          bad: {type: agentt}
          orphan: {type: passthrough, output: {x: "2"}}
          after_ghost: {type: passthrough, output: {x: "3"}}
          r: {type: router, expression: "x", routes: [a]}
          via_router: {type: passthrough, output: {x: "4"}}
        edges:
          - {from: START, to: [a, r]}
          - {from: a, to: [missing, bad], condition: "x >"}
          - {from: ghost, to: after_ghost}
        """,
        [
            "4: nodes.bad.type: unknown node type 'agentt' (known types: passthrough, "
            "interrupt, python, router, subgraph, map, llm)",
            "7: nodes.r.routes: should be a mapping (key: value), not a list",
            "11: edges[1].to[0]: edge to unknown node 'missing' (nodes: a, after_ghost, "
            "bad, orphan, r, via_router)",
            "11: edges[1].condition: bad condition: unexpected end of expression at "
            "column 4 in 'x >'",
            "12: edges[2].from: edge from unknown node 'ghost' (nodes: a, after_ghost, bad, "
            "orphan, r, via_router)",
            # Reachability ignores the missing target but follows the good one (bad); the
            # target of the edge from 'ghost' is not blamed (that edge is the reported cause).
            "5: nodes.orphan: node 'orphan' is unreachable: no edge path from START leads to it",
            "8: nodes.via_router: node 'via_router' is unreachable: no edge path from "
            "START leads to it",
        ],
        id="unreachable_nodes_are_reported_together_with_other_problems",
    ),
    pytest.param(
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
          b: {type: passthrough, output: {x: "2"}}
        edges:
          - {from: START, to: aa}
          - {from: a, to: b}
        """,
        ["6: edges[0].to: edge to unknown node 'aa' (nodes: a, b)"],
        id="a_broken_start_edge_does_not_flood_unreachable_nodes",
    ),
    pytest.param(
        # `edges` is unusable, so reachability is not computed (no flood of unreachable nodes);
        # the loop exit of `a` is not blamed for its limit's bad value.
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
          b: {type: agentt}
        edges: {from: START, to: a}
        loop_limits: {a: lots}
        loop_exits: {a: b}
        """,
        [
            "5: edges: should be a list, not a mapping",
            "6: loop_limits.a: should be an integer, not the string 'lots'",
            "4: nodes.b.type: unknown node type 'agentt' (known types: passthrough, "
            "interrupt, python, router, subgraph, map, llm)",
        ],
        id="bad_top_level_values_do_not_hide_the_rest",
    ),
    pytest.param(
        """
        name: g
        state:
          s: strng
        nodes:
          p: {type: passthrough, output: [a, b]}
          i: {type: interrupt, message: 42}
          m: {type: map, as: it, node: {type: passthrough, output: {y: "1"}}, collect: ys}
          l: {type: llm, prompt: p, temperature: hot, max_tokens: 1.5}
          py: {type: python, tool: t, on_error: ignore}
        edges:
          - {from: START, to: [p, i, m, l, py]}
        """,
        [
            "5: nodes.p.output: should be a mapping (key: value), not a list",
            "6: nodes.i.message: should be a string or a mapping (key: value), not the number 42",
            "7: nodes.m.over: required field is missing",
            "8: nodes.l.temperature: should be a number, not the string 'hot'",
            "8: nodes.l.max_tokens: should be an integer, not the number 1.5",
            "9: nodes.py.on_error: should be 'fail' or 'skip'",
            "3: state.s: unknown type 'strng' (known: str, int, float, bool, list, dict, any)",
        ],
        id="type_errors_say_what_is_expected_in_yaml_words",
    ),
    pytest.param(
        """
        name: g
        state:
          1: str
        nodes:
          2: {type: passthrough, output: {x: "1"}}
          a: {type: passthrough, output: {x: "1"}}
        edges:
          - {from: START, to: a}
        loop_limits: {3: 2}
        """,
        [
            "3: state.1: the name 1 should be a string: write it in quotes ('1')",
            "5: nodes.2: the name 2 should be a string: write it in quotes ('2')",
            "9: loop_limits.3: the name 3 should be a string: write it in quotes ('3')",
        ],
        id="names_that_yaml_reads_as_numbers",
    ),
    pytest.param(
        """
        name: g
        tools:
          git_log: {command: "git log -n {count}"}
        nodes:
          a: {type: passthrough, output: {x: "1"}}
        edges:
          - {from: START, to: a}
        """,
        [
            "3: tools.git_log.type: tool type 'shell' is not supported (only "
            "`type: python` tools are)"
        ],
        id="a_yamlgraph_shell_tool_is_named_as_such",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEM_CASES)
def test_the_problems_of_a_graph(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, "g.yaml", text)
    assert problems(path) == [f"{path}:{problem}" for problem in expected]


def test_unknown_node_type_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "g.yaml",
        """
        name: g
        nodes:
          ok: {type: passthrough, output: {a: "1"}}
          bad:
            type: agentt
        edges:
          - {from: START, to: ok}
          - {from: ok, to: bad}
        """,
    )
    assert problems(path) == [
        f"{path}:5: nodes.bad.type: unknown node type 'agentt' (known types: passthrough, "
        "interrupt, python, router, subgraph, map, llm)"
    ]
    with pytest.raises(GraphLoadError) as info:
        load_yaml_graph(path)
    assert info.value.message.splitlines() == [
        f"{path}: 1 problem in the YAML graph",
        problems(path)[0],
    ]


def test_missing_tool_missing_function_and_missing_file(tmp_path: Path) -> None:
    write(tmp_path, "tools.py", "def real(state):\n    return 1\n")
    path = write(
        tmp_path,
        "g.yaml",
        """
        name: g
        tools:
          real: {type: python, path: tools.py, function: real}
          typo: {type: python, path: tools.py, function: not_there}
          gone: {type: python, path: nowhere.py, function: f}
          shell: {type: shell, command: ls}
        nodes:
          a:
            type: python
            tool: nope
          b: {type: python, tool: real}
        edges:
          - {from: START, to: a}
          - {from: a, to: b}
        """,
    )
    found = problems(path)
    assert found == [
        f"{path}:4: tools.typo.function: 'not_there' is not a function of 'tools.py'",
        f"{path}:5: tools.gone.path: tool file '{tmp_path / 'nowhere.py'}' does not exist",
        f"{path}:6: tools.shell.type: tool type 'shell' is not supported "
        "(only `type: python` tools are)",
        f"{path}:10: nodes.a.tool: unknown tool 'nope' (tools: gone, real, shell, typo)",
    ]


def test_bad_condition_syntax(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "g.yaml",
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
        edges:
          - {from: START, to: a}
          - from: a
            to: END
            condition: "score <"
          - from: a
            to: a
            condition: "__import__('os').system('x')"
        """,
    )
    found = problems(path)
    assert found[0] == (
        f"{path}:8: edges[1].condition: bad condition: unexpected end of expression "
        "at column 8 in 'score <'"
    )
    assert found[1].startswith(f"{path}:11: edges[2].condition: bad condition:")
    assert len(found) == 2


def test_invalid_yaml_missing_file_and_missing_keys(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", "name: g\nnodes:\n  a: [unclosed\nedges: []\n")
    found = problems(broken)
    assert len(found) == 1 and found[0].startswith(f"{broken}:4: (file): invalid YAML:")
    assert problems(tmp_path / "missing.yaml") == [
        f"{tmp_path / 'missing.yaml'}:?: (file): file not found"
    ]
    no_nodes = write(tmp_path, "empty.yaml", "name: g\nedges: []\n")
    assert problems(no_nodes) == [f"{no_nodes}:1: nodes: required field is missing"]


def test_subgraph_problems_name_the_child_file(tmp_path: Path) -> None:
    child = write(
        tmp_path,
        "child.yaml",
        """
        name: child
        nodes:
          c: {type: nope}
        edges: [{from: START, to: c}]
        """,
    )
    path = write(
        tmp_path,
        "g.yaml",
        """
        name: g
        nodes:
          sub: {type: subgraph, graph: child.yaml}
          self: {type: subgraph, graph: g.yaml}
        edges:
          - {from: START, to: sub}
          - {from: sub, to: self}
        """,
    )
    found = problems(path)
    assert (
        found[0] == f"{path}:3: nodes.sub.graph: subgraph 'child.yaml' has problems (listed below)"
    )
    assert found[1].startswith(f"{child}:3: nodes.c.type: unknown node type 'nope'")
    assert found[2] == f"{path}:4: nodes.self.graph: subgraph 'g.yaml' includes itself (a cycle)"


def test_missing_prompt_file_and_bad_map_sub_node(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "g.yaml",
        """
        name: g
        nodes:
          talk: {type: llm, prompt: no_such_prompt}
          fan:
            type: map
            over: "{state.items}"
            as: item
            collect: out
            node: {type: interrupt}
        edges:
          - {from: START, to: talk}
          - {from: talk, to: fan}
        """,
    )
    found = problems(path)
    assert found[0].startswith(
        f"{path}:3: nodes.talk.prompt: prompt file 'no_such_prompt' not found"
    )
    assert found[1] == (
        f"{path}:9: nodes.fan.node.type: a map sub-node must be one of passthrough, python, "
        "llm, not 'interrupt'"
    )


def test_the_manager_and_mermaid_raise_graph_load_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "g.yaml",
        """
        name: g
        nodes:
          a: {type: passthrough, output: {x: "1"}}
        edges:
          - {from: START, to: b}
        """,
    )
    expected = f"{path}:5: edges[0].to: edge to unknown node 'b' (nodes: a)"
    with pytest.raises(GraphLoadError) as info:
        GraphSessionManager(graph_path=str(path), backend="memory://")
    assert expected in info.value.message.splitlines()
    with pytest.raises(GraphLoadError) as info:
        yaml_to_mermaid(str(path))
    assert expected in info.value.message.splitlines()


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "the file is empty"), ("# nothing\n", "the file is empty"), ("- a\n- b\n", "a list")],
)
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(text, encoding="utf-8")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:1: (file): a graph file must be a mapping")
    assert why in problem


def test_mermaid_ids_stay_distinct_and_ascii(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "g.yaml",
        """
        name: ids
        nodes:
          a-b: {type: passthrough, output: {x: "1"}}
          a_b: {type: passthrough, output: {y: "2"}}
          välkommen: {type: passthrough, output: {z: "3"}}
        edges:
          - {from: START, to: a-b}
          - {from: a-b, to: a_b}
          - {from: a_b, to: välkommen}
        """,
    )
    assert problems(path) == []
    lines = yaml_to_mermaid(path).splitlines()
    node_lines = [line.strip() for line in lines if "<br/>" in line]
    ids = [line.split("[", 1)[0] for line in node_lines]
    assert len(set(ids)) == 3 and all(i.isascii() for i in ids)
    assert f"    {ids[0]} --> {ids[1]}" in lines and f"    {ids[1]} --> {ids[2]}" in lines


def test_a_file_that_is_not_utf8_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_bytes(b'name: g\nnodes:\n  a: {type: passthrough, output: {x: "\xff"}}\n')
    assert problems(path) == [f"{path}:3: (file): not UTF-8 text: invalid start byte"]
    with pytest.raises(GraphLoadError):
        load_yaml_graph(path)


def test_a_tool_file_that_exits_or_fails_at_import_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "quits.py", "import sys\nsys.exit('no config')\n")
    write(tmp_path, "broken.py", "def f(state):\n    return 1 +\n")
    path = write(
        tmp_path,
        "g.yaml",
        """
        name: g
        tools:
          q: {type: python, path: quits.py, function: f}
          b: {type: python, path: broken.py, function: f}
        nodes:
          a: {type: passthrough, output: {x: "1"}}
        edges:
          - {from: START, to: a}
        """,
    )
    found = problems(path)
    assert found[0] == f"{path}:3: tools.q.path: importing the tool failed: SystemExit: no config"
    assert found[1].startswith(f"{path}:4: tools.b.path: importing the tool failed: SyntaxError")
    assert len(found) == 2
