"""Every ```python block of README.md and docs/*.md runs as written.

Conventions (also in README.md, "Tests"):

- README.md: each python block is a complete program, run alone in a fresh interpreter
  (top-level ``await`` is a SyntaxError there, as for a user who pastes it into a file).
- docs/*.md: the python blocks of one page run in order in one namespace, like the cells
  of a notebook or a ``python -m asyncio`` session, so top-level ``await`` works and a
  block may use names an earlier block of the page defined.
- Both run in a temporary folder holding a copy of ``examples/`` (paths in snippets are
  relative to the repository root, where a newcomer runs them), in a subprocess.
- A block preceded by ``<!-- fragment: why -->`` is an excerpt (it needs a running server,
  an LLM or files of your own project): it must still compile, and is not run. The list of
  such blocks is pinned below so that it only grows on purpose.

The console lines of the README's CLI section run too, against a database the quickstart
snippet made.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXE = str(Path(sys.executable).parent / "graph-sessions")
_BLOCK = re.compile(
    r"(?:<!--\s*fragment:\s*(?P<why>[^>]*?)\s*-->\s*\n)?```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)```",
    re.S,
)

# (file, first line of the block): why it is not run. Keep short.
FRAGMENTS = {
    ("backends.md", "from graph_sessions import GraphSessionManager"),
    ("checkpoint-saver.md", "# from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver"),
    ("checkpoint-saver.md", "from graph_sessions.checkpoint import AsyncRedisSaver"),
    ("configuration.md", "from graph_sessions import GraphSessionManager"),
    ("http-api.md", "import httpx"),
    ("langgraph-api.md", "from langgraph_sdk import get_client"),
    (
        "yaml-graphs.md",
        "from langchain_core.language_models.fake_chat_models import FakeListChatModel",
    ),
    ("yaml-graphs.md", "from graph_sessions import GraphSessionManager"),
    ("yaml-graphs.md", "class FormSession(GraphSession):"),
}


def python_blocks(path: Path) -> list[tuple[str, str | None]]:
    """(code, fragment reason or None) of every python block of a markdown file."""
    return [
        (m["code"], m["why"])
        for m in _BLOCK.finditer(path.read_text(encoding="utf-8"))
        if m["lang"] == "python"
    ]


def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = cwd / "snippet.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_the_fragment_list_is_pinned() -> None:
    found = {
        (path.name, code.strip().splitlines()[0])
        for path in DOCS
        for code, why in python_blocks(path)
        if why is not None
    }
    assert found == FRAGMENTS


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks(ROOT / "README.md"))))
def test_readme_python_blocks_run_as_programs(index: int, tmp_path: Path) -> None:
    code, why = python_blocks(ROOT / "README.md")[index]
    compile(code, f"README.md block {index}", "exec")  # no top-level await in a program
    if why is not None:
        return
    done = run_python(code, workdir(tmp_path))
    assert done.returncode == 0, f"README.md python block {index}:\n{code}\n{done.stderr}"


_RUNNER = """
import ast, asyncio, sys
blocks = {blocks!r}
async def main():
    ns = {{"__name__": "__main__"}}
    for i, (code, run) in enumerate(blocks):
        compiled = compile(code, f"{name} block {{i}}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        if not run:
            continue
        result = eval(compiled, ns)
        if asyncio.iscoroutine(result):
            await result
asyncio.run(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in DOCS[1:] if python_blocks(p)], ids=lambda p: p.name)
def test_docs_python_blocks_run_in_order(page: Path, tmp_path: Path) -> None:
    blocks = [(textwrap.dedent(code), why is None) for code, why in python_blocks(page)]
    done = run_python(_RUNNER.format(blocks=blocks, name=page.name), workdir(tmp_path))
    assert done.returncode == 0, f"{page.name}:\n{done.stderr}"


@pytest.mark.slow
def test_readme_cli_lines_run(tmp_path: Path) -> None:
    """The README's CLI section, line by line, on the database the quickstart snippet leaves
    (``serve`` would serve until stopped: it gets ``--help``; ``chat`` reads typed lines)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The command line") :]
    section = section[: section.index("\n## ", 5)]
    lines = [
        line[2:].split("  #")[0].strip()
        for line in section.splitlines()
        if line.startswith("$ graph-sessions ")
    ]
    assert len(lines) >= 8
    cwd = workdir(tmp_path)
    quickstart = python_blocks(ROOT / "README.md")[0][0]
    assert run_python(quickstart, cwd).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPH_SESSIONS_")}
    for line in lines:
        args = shlex.split(line)[1:]
        stdin = None
        if args[0] == "serve":  # serves until stopped: its arguments are checked by --help
            args = [args[0], "--help"]
        elif args[0] == "chat":  # typed lines on stdin; leaves the session at its interrupt
            stdin = "my parcel never arrived\n/quit\n"
        done = subprocess.run(
            [EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60, input=stdin
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"


@pytest.mark.slow
def test_readme_try_it_commands(tmp_path: Path) -> None:
    """The two commands of "Try it": what they install exists, and the quickstart they run
    works (run with this interpreter, which has the package installed)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## Try it") :]
    block = block[block.index("```bash") + 7 : block.index("```", block.index("```bash") + 7)]
    steps = [
        step.strip()
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
        for step in line.split("&&")
    ]
    assert steps == [
        "python3 -m venv .venv",
        ".venv/bin/pip install -e .",
        ".venv/bin/python examples/quickstart.py",
        ".venv/bin/pip install -e '.[test]'",
        ".venv/bin/pytest -n auto --dist loadfile",
    ]
    # .ci/run runs the README's test command
    assert ".venv/bin/pytest -n auto --dist loadfile" in (ROOT / ".ci" / "run").read_text()
    assert "test = [" in (ROOT / "pyproject.toml").read_text()
    cwd = workdir(tmp_path)
    for _ in range(2):  # "run it again: the same session continues"
        done = subprocess.run(
            [sys.executable, "examples/quickstart.py"],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert "history: 4 entries" in done.stdout and (cwd / "quickstart.db").is_file()
