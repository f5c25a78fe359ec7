"""`graph-sessions validate` and `graph-sessions graph` on YAML files, through the CLI's
real entry point (Typer's runner on graph_sessions.cli.main:app)."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ["COLUMNS"] = "200"  # wide output, before the CLI's consoles are created
from support.yaml_files import write
from typer.testing import CliRunner  # noqa: E402

from graph_sessions.cli.main import app  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "examples" / "graphs" / "support_bot.yaml"
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_a_good_yaml_file() -> None:
    code, out, err = cli("validate", str(SUPPORT))
    assert code == 0, err
    assert out.strip() == f"ok: {SUPPORT}"


def test_validate_prints_every_problem_with_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        nodes:
          a: {type: wat}
          b: {type: passthrough, output: {x: "1"}}
        edges:
          - {from: START, to: b}
          - {from: b, to: c, condition: "x >"}
        """,
    )
    code, out, err = cli("validate", str(path))
    assert code == 5
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{path}:3: nodes.a.type: unknown node type 'wat' (known types:")
    assert lines[1:4] == [
        f"{path}:7: edges[1].to: edge to unknown node 'c' (nodes: a, b)",
        f"{path}:7: edges[1].condition: bad condition: unexpected end of expression at "
        "column 4 in 'x >'",
        f"{path}:3: nodes.a: node 'a' is unreachable: no edge path from START leads to it",
    ]
    assert lines[-1] == "4 problem(s)"


def test_validate_a_config_file_with_a_yaml_graph(tmp_path: Path) -> None:
    write(
        tmp_path,
        "graphs/hello.yaml",
        """
        name: hello
        nodes: {hi: {type: passthrough, output: {response: "hello"}}}
        edges: [{from: START, to: hi}]
        """,
    )
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"hello": "./graphs/hello.yaml"}}))
    code, out, err = cli("validate", str(config))
    assert code == 0, err
    assert "ok: hello" in out


def test_graph_prints_a_mermaid_diagram(tmp_path: Path) -> None:
    code, out, err = cli("graph", str(ROOT / "examples" / "graphs" / "questionnaire.yaml"))
    assert code == 0, err
    assert "flowchart TD" in out
    assert "title: signup-questionnaire" in out
    assert '    n_check{{"check<br/><i>router</i>"}}' in out
    assert '    n_ask[/"ask<br/><i>interrupt</i>"/]' in out
    assert '    n_check -.->|"done"| n_summarize' in out
    assert '    n_ask -.->|"after 6 runs"| __end__' in out
    target = tmp_path / "d.mmd"
    code, out, _ = cli("graph", str(SUPPORT), "-o", str(target))
    assert code == 0 and "__start__ --> n_draft" in target.read_text()


def test_graph_on_a_bad_file_fails_with_the_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "name: x\nnodes: {}\nedges: []\n")
    code, _, err = cli("graph", str(path))
    assert code != 0
    assert f"{path}:2: nodes: a graph needs at least one node" in err
