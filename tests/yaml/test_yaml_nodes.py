"""Every YAML node type, edge form and expression, compiled to LangGraph and run for real
(through GraphSessionManager on SQLite where sessions matter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.errors import GraphRecursionError
from support.yaml_files import manager, visible, write

from graph_sessions.graphs import load_graph
from graph_sessions.graphs.yaml import evaluate, load_yaml_graph, validate_yaml_graph


class EchoChatModel(BaseChatModel):
    """A fake provider that answers with the prompt it got (to check prompt rendering)."""

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kw: Any,
    ) -> ChatResult:
        text = " || ".join(f"{m.type}: {m.content}" for m in messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


# --------------------------------------------------------------------------- passthrough, conditions


def test_passthrough_loop_with_conditions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "count.yaml",
        """
        version: "1.0"
        name: counter
        state:
          n: int
          log: {type: list, reducer: add}
        nodes:
          inc:
            type: passthrough
            output:
              n: "{(state.n or 0) + 1}"
              log: "{['n=' + str((state.n or 0) + 1)]}"
          done:
            type: passthrough
            output:
              result: "finished at {state.n}"
        edges:
          - from: START
            to: inc
          - from: inc
            to: inc
            condition: state.n < 3
          - from: inc
            to: done
            condition: n >= 3 and not (n == 99)
          - from: done
            to: END
        """,
    )
    assert validate_yaml_graph(str(path)) == []
    out = load_yaml_graph(path).invoke({})
    assert out == {"n": 3, "log": ["n=1", "n=2", "n=3"], "result": "finished at 3"}


def test_expressions_are_a_safe_little_language() -> None:
    state = {"score": 0.5, "name": "Ada", "items": [1, 2, 3], "d": {"k": "v"}, "flag": True}
    assert evaluate("score < 0.8", state) is True
    assert evaluate("state.score >= 0.8 or name == 'Ada'", state) is True
    assert evaluate('not flag and "x" == "x"', state) is False
    assert evaluate("len(items) + items[0] * 2", state) == 5
    assert evaluate("d.k == 'v' and d['k'] in ['v', 'w']", state) is True
    assert evaluate("missing.deep.field", state) is None
    assert evaluate("missing or 'default'", state) == "default"
    assert evaluate("'yes' if score > 0.1 else 'no'", state) == "yes"
    assert evaluate("TRUE == true and null == none", state) is True
    assert evaluate("join(items, '-')", state) == "1-2-3"
    for bad in ("__import__('os')", "score <", "a = 1", "items.__class__()", "lambda: 1"):
        with pytest.raises(ValueError):
            evaluate(bad, state)


def test_parallel_fan_out_list_edge_and_join(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "par.yaml",
        """
        name: parallel
        state:
          parts: {type: list, reducer: add}
        nodes:
          a: {type: passthrough, output: {parts: "{['a']}"}}
          b: {type: passthrough, output: {parts: "{['b']}"}}
          final: {type: passthrough, output: {joined: "{join(state.parts, '+')}"}}
        edges:
          - {from: START, to: [a, b]}
          - {from: a, to: final}
          - {from: b, to: final}
          - {from: final, to: END}
        """,
    )
    out = load_yaml_graph(path).invoke({})
    assert sorted(out["parts"]) == ["a", "b"]
    assert out["joined"] in ("a+b", "b+a")


# --------------------------------------------------------------------------- interrupt


async def test_interrupt_payload_saved_before_pause_and_answer_in_resume_key(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "ask.yaml",
        """
        name: ask
        state:
          topic: str
        nodes:
          ask:
            type: interrupt
            message:
              question: "Approve {state.topic}?"
              options: ["yes", "no"]
          ask_default:
            type: interrupt
            message: "Anything else about {state.topic}?"
            state_key: followup
            resume_key: extra
        edges:
          - {from: START, to: ask}
          - {from: ask, to: ask_default}
          - {from: ask_default, to: END}
        """,
    )
    async with manager(str(path), tmp_path) as m:
        s = await m.create("s1")
        r = await s.invoke({"topic": "refund"})
        assert r.is_interrupted and r.resume_key == "user_input"
        assert r.interrupt == {
            "question": "Approve refund?",
            "options": ["yes", "no"],
            "resume_key": "user_input",
        }
        # The payload was committed before the pause (default state_key interrupt_message).
        state = await s.get_state()
        assert state["interrupt_message"] == {
            "question": "Approve refund?",
            "options": ["yes", "no"],
        }
        # Changing what the message reads does not change the pending question on resume.
        await s.update_state({"topic": "CHANGED"})
        r = await s.invoke({"user_input": "yes"})
        assert r.is_interrupted and r.resume_key == "extra"
        assert r.interrupt == {"message": "Anything else about CHANGED?", "resume_key": "extra"}
        r = await s.invoke({"extra": "no"})
        assert r.status == "complete"
        assert visible(r.state) == {
            "topic": "CHANGED",
            "interrupt_message": {"question": "Approve refund?", "options": ["yes", "no"]},
            "user_input": "yes",
            "followup": "Anything else about CHANGED?",
            "extra": "no",
        }


# --------------------------------------------------------------------------- python tools


def test_python_tools_from_path_module_and_overrides(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tools/helpers.py",
        """
        def shout(state):
            return state["text"].upper() + "!"

        def update(state):
            return {"count": (state.get("count") or 0) + 1}

        def boom(state):
            raise RuntimeError("boom")
        """,
    )
    path = write(
        tmp_path,
        "py.yaml",
        """
        name: py
        state:
          text: str
          count: int
        tools:
          shout: {type: python, path: tools/helpers.py, function: shout}
          update: {type: python, path: tools/helpers.py, function: update}
          boom: {type: python, path: tools/helpers.py, function: boom}
          dumps: {type: python, module: json, function: dumps}
          injected: {type: python, module: does.not.exist, function: never_imported}
        nodes:
          loud: {type: python, tool: shout, state_key: loud}
          counter: {type: python, tool: update}
          as_json: {type: python, tool: dumps, state_key: snapshot, variables: {text: "{state.loud}"}}
          risky: {type: python, tool: boom, on_error: skip}
          extra: {type: python, tool: injected}
        edges:
          - {from: START, to: loud}
          - {from: loud, to: counter}
          - {from: counter, to: as_json}
          - {from: as_json, to: risky}
          - {from: risky, to: extra}
          - {from: extra, to: END}
        """,
    )
    graph = load_yaml_graph(path, tools={"injected": lambda state: "from the caller"})
    out = graph.invoke({"text": "hi", "count": 1})
    assert out["loud"] == "HI!"
    assert out["count"] == 2
    assert '"text": "HI!"' in out["snapshot"]
    assert out["extra"] == "from the caller"


def test_python_tool_returning_an_undeclared_key_fails_clearly(tmp_path: Path) -> None:
    write(tmp_path, "t.py", "def f(state):\n    return {'nope': 1}\n")
    path = write(
        tmp_path,
        "bad_update.yaml",
        """
        name: bad
        tools: {f: {type: python, path: t.py, function: f}}
        nodes: {n: {type: python, tool: f}}
        edges: [{from: START, to: n}, {from: n, to: END}]
        """,
    )
    with pytest.raises(KeyError, match="declare them under `state:`"):
        load_yaml_graph(path).invoke({})


# --------------------------------------------------------------------------- router


def test_router_by_expression_tool_and_default(tmp_path: Path) -> None:
    write(
        tmp_path,
        "route_tools.py",
        """
        def classify(state):
            return {"intent": "billing" if "invoice" in state["text"] else "other"}
        """,
    )
    path = write(
        tmp_path,
        "router.yaml",
        """
        name: routers
        state:
          text: str
          score: float
        tools:
          classify: {type: python, path: route_tools.py, function: classify}
        nodes:
          by_tool:
            type: router
            tool: classify
            route_field: intent
            state_key: intent
            routes:
              billing: by_expr
            default_route: other
          by_expr:
            type: router
            expression: "{state.score >= 0.8}"
            routes:
              true: good
              false: bad
          good: {type: passthrough, output: {result: good}}
          bad: {type: passthrough, output: {result: bad}}
          other: {type: passthrough, output: {result: other}}
        edges:
          - {from: START, to: by_tool}
          - {from: by_tool, to: [by_expr, other], type: conditional}
          - {from: by_expr, to: [good, bad], type: conditional}
          - {from: good, to: END}
          - {from: bad, to: END}
          - {from: other, to: END}
        """,
    )
    graph = load_yaml_graph(path)
    assert graph.invoke({"text": "my invoice", "score": 0.9})["result"] == "good"
    assert graph.invoke({"text": "my invoice", "score": 0.1})["result"] == "bad"
    out = graph.invoke({"text": "hello", "score": 0.9})
    assert out["result"] == "other" and out["intent"] == {"intent": "other"}


# --------------------------------------------------------------------------- loops


def test_loop_limits_and_loop_exits(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "loop.yaml",
        """
        name: loop
        state:
          n: int
        nodes:
          refine: {type: passthrough, output: {n: "{(n or 0) + 1}"}}
          wrap_up: {type: passthrough, output: {result: "stopped at {n}"}}
        edges:
          - {from: START, to: refine}
          - {from: refine, to: refine, condition: "n < 100"}
          - {from: refine, to: END}
          - {from: wrap_up, to: END}
        loop_limits:
          refine: 3
        loop_exits:
          refine: wrap_up
        config:
          recursion_limit: 40
        """,
    )
    graph = load_yaml_graph(path)
    assert graph.config is not None and graph.config["recursion_limit"] == 40
    out = graph.invoke({"n": 0})
    assert visible(out) == {"n": 3, "result": "stopped at 3"}
    # Counts are per run: a second run on the same thread loops three times again.
    assert visible(graph.invoke({"n": 10}))["n"] == 13


async def test_recursion_limit_from_the_file_reaches_the_session(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "forever.yaml",
        """
        name: forever
        nodes:
          spin: {type: passthrough, output: {n: "{(n or 0) + 1}"}}
        edges:
          - {from: START, to: spin}
          - {from: spin, to: spin, condition: "true"}
        config: {recursion_limit: 5}
        """,
    )
    with pytest.raises(GraphRecursionError):
        load_yaml_graph(path).invoke({})
    async with manager(str(path), tmp_path) as m:
        s = await m.create()
        with pytest.raises(Exception) as info:
            await s.invoke({})
        text = f"{info.value} {info.value.__cause__}"
        assert "Recursion limit of 5" in text


# --------------------------------------------------------------------------- subgraphs


async def test_yaml_and_python_subgraphs_with_mappings_and_an_interrupt_inside(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "child.yaml",
        """
        name: child
        state:
          text: str
          out: str
        nodes:
          upper: {type: passthrough, output: {out: "{upper(state.text)}"}}
        edges: [{from: START, to: upper}, {from: upper, to: END}]
        """,
    )
    write(
        tmp_path,
        "child_py.py",
        """
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START, END
        from langgraph.types import interrupt

        class S(TypedDict, total=False):
            question: str
            answer: str

        def ask(state):
            return {"answer": interrupt({"message": state["question"], "resume_key": "user_input"})}

        b = StateGraph(S)
        b.add_node("ask", ask)
        b.add_edge(START, "ask")
        b.add_edge("ask", END)
        graph = b
        """,
    )
    path = write(
        tmp_path,
        "parent.yaml",
        """
        name: parent
        state:
          name: str
          shouted: str
          reply: str
        nodes:
          shout:
            type: subgraph
            graph: child.yaml
            input_mapping: {name: text}
            output_mapping: {shouted: out}
          confirm:
            type: subgraph
            graph: child_py.py:graph
            input_mapping: {shouted: question}
            output_mapping: {reply: answer}
        edges:
          - {from: START, to: shout}
          - {from: shout, to: confirm}
          - {from: confirm, to: END}
        """,
    )
    async with manager(str(path), tmp_path) as m:
        s = await m.create()
        r = await s.invoke({"name": "ada"})
        assert r.is_interrupted and r.interrupt["message"] == "ADA"
        r = await s.invoke({"user_input": "hello ADA"})
        assert r.status == "complete"
        assert visible(r.state) == {"name": "ada", "shouted": "ADA", "reply": "hello ADA"}


# --------------------------------------------------------------------------- map


def test_map_with_passthrough_items_empty_list_and_max_items(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "map.yaml",
        """
        name: mapper
        state:
          words: list
          prefix: str
        nodes:
          each:
            type: map
            over: "{state.words}"
            as: word
            max_items: 3
            node:
              type: passthrough
              output: {item: "{prefix}{upper(word)}"}
            collect: shouted
          count: {type: passthrough, output: {total: "{len(shouted)}"}}
        edges:
          - {from: START, to: each}
          - {from: each, to: count}
          - {from: count, to: END}
        """,
    )
    graph = load_yaml_graph(path)
    out = graph.invoke({"words": ["a", "b", "c", "d"], "prefix": ">"})
    assert out["shouted"] == [">A", ">B", ">C"]
    assert out["total"] == 3
    assert graph.invoke({"words": [], "prefix": ""})["shouted"] == []


# --------------------------------------------------------------------------- llm


def _llm_graph(tmp_path: Path, extra: str = "") -> Path:
    write(
        tmp_path,
        "prompts/greet.yaml",
        """
        system: You are a {style} assistant.
        user: |
          Say hello to {name}.
        """,
    )
    write(
        tmp_path,
        "models.py",
        """
        from langchain_core.language_models.fake_chat_models import FakeListChatModel

        def make_model():
            return FakeListChatModel(responses=['{"mood": "happy"}'])
        """,
    )
    return write(
        tmp_path,
        "llm.yaml",
        f"""
        name: llm
        state:
          name: str
          style: str
        tools:
          make_model: {{type: python, path: models.py, function: make_model}}
        nodes:
          greet:
            type: llm
            prompt: greet
            variables:
              name: "{{state.name}}"
              style: "{{state.style}}"
            state_key: greeting
          mood:
            prompt: greet
            chat_model: make_model
            parse_json: true
        edges:
          - {{from: START, to: greet}}
          - {{from: greet, to: mood}}
          - {{from: mood, to: END}}
        {extra}
        """,
    )


def test_llm_node_with_an_injected_model_and_a_tool_provided_model(tmp_path: Path) -> None:
    graph = load_yaml_graph(_llm_graph(tmp_path), chat_model=EchoChatModel())
    out = graph.invoke({"name": "Ada", "style": "cheerful"})
    assert out["greeting"] == "system: You are a cheerful assistant. || human: Say hello to Ada.\n"
    assert out["mood"] == {"mood": "happy"}  # from the tool's FakeListChatModel, parsed


async def test_llm_node_in_a_session_with_a_factory(tmp_path: Path) -> None:
    graph = load_yaml_graph(
        _llm_graph(tmp_path), chat_model=lambda: FakeListChatModel(responses=["Hi Ada!"])
    )
    async with manager(graph, tmp_path, output_key="greeting") as m:
        s = await m.create()
        r = await s.invoke({"name": "Ada", "style": "warm"})
        assert r.output == "Hi Ada!"


def test_llm_node_without_an_injected_model_uses_init_chat_model(tmp_path: Path) -> None:
    path = _llm_graph(tmp_path)
    graph = load_yaml_graph(path)  # loading never needs the provider package
    with pytest.raises(Exception) as info:
        graph.invoke({"name": "Ada", "style": "warm"})
    text = str(info.value).lower()
    assert "anthropic" in text or "api" in text or "langchain" in text, text


# --------------------------------------------------------------------------- state


def test_state_types_and_reducers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "state.yaml",
        """
        name: state
        state:
          tags: {type: list, reducer: add}
          info: {type: dict, reducer: merge}
          messages: {type: list, reducer: add_messages}
          note: any
        nodes:
          one:
            type: passthrough
            output:
              tags: "{['x']}"
              info: "{ {'b': 2} }"
              messages: "{[{'role': 'user', 'content': 'hi'}]}"
        edges: [{from: START, to: one}, {from: one, to: END}]
        """,
    )
    out = load_yaml_graph(path).invoke({"tags": ["a"], "info": {"a": 1}})
    assert out["tags"] == ["a", "x"]
    assert out["info"] == {"a": 1, "b": 2}
    assert out["messages"][0].content == "hi"


async def test_graph_path_and_load_graph_accept_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "graphs/hello.yml",
        """
        name: hello
        nodes: {hi: {type: passthrough, output: {response: "hello {who}"}}}
        edges: [{from: START, to: hi}, {from: hi, to: END}]
        """,
    )
    assert load_graph("graphs/hello.yml", base_dir=tmp_path).name == "hello"
    from graph_sessions import GraphSessionManager

    async with GraphSessionManager(
        graph_path=str(path), backend=f"sqlite:///{tmp_path / 'h.db'}", output_key="response"
    ) as m:
        r = await (await m.create()).invoke({"who": "world"})
        assert r.output == "hello world"


async def test_config_file_with_a_yaml_graph(tmp_path: Path) -> None:
    write(
        tmp_path,
        "graphs/hello.yaml",
        """
        name: hello
        nodes: {hi: {type: passthrough, output: {response: "hello {who}"}}}
        edges: [{from: START, to: hi}, {from: hi, to: END}]
        """,
    )
    config = write(
        tmp_path,
        "langgraph.json",
        '{"graphs": {"hello": "./graphs/hello.yaml"}, '
        '"graph_sessions": {"backend": "sqlite:///' + str(tmp_path / "c.db") + '", '
        '"output_key": "response"}}',
    )
    from graph_sessions import GraphSessionManager

    async with GraphSessionManager.from_config(config) as m:
        r = await (await m.create(graph_id="hello")).invoke({"who": "config"})
        assert r.output == "hello config"


def test_router_with_an_llm_prompt(tmp_path: Path) -> None:
    write(tmp_path, "prompts/classify.yaml", "user: 'Classify: {message}'\n")
    path = write(
        tmp_path,
        "llm_router.yaml",
        """
        name: llm-router
        state:
          message: str
        nodes:
          classify:
            type: router
            prompt: classify
            variables: {message: "{state.message}"}
            route_field: intent
            state_key: classification
            routes: {billing: billing}
            default_route: other
          billing: {type: passthrough, output: {result: billing}}
          other: {type: passthrough, output: {result: other}}
        edges:
          - {from: START, to: classify}
          - {from: classify, to: [billing, other], type: conditional}
          - {from: billing, to: END}
          - {from: other, to: END}
        """,
    )
    model = FakeListChatModel(responses=['```json\n{"intent": "billing"}\n```', "smalltalk"])
    graph = load_yaml_graph(path, chat_model=model)
    out = graph.invoke({"message": "my invoice"})
    assert out["result"] == "billing" and out["classification"] == {"intent": "billing"}
    out = graph.invoke({"message": "nice weather"})
    assert out["result"] == "other" and out["classification"] == "smalltalk"


async def test_loop_limit_on_an_interrupt_counts_answers_within_one_run(tmp_path: Path) -> None:
    """questionnaire.yaml gives up after six unhelpful answers (loop_limits: ask: 6); the
    count lives across resumes of one run and starts afresh with the next run."""
    graph = Path(__file__).resolve().parents[2] / "examples" / "graphs" / "questionnaire.yaml"
    async with manager(str(graph), tmp_path) as m:
        s = await m.create()
        r = await s.invoke({"user_input": "hello"})
        for _ in range(5):
            assert r.is_interrupted and r.interrupt["message"] == "What is your name?"
            r = await s.invoke({"user_input": ""})
        assert r.is_interrupted
        r = await s.invoke({"user_input": ""})  # the sixth answer: the limit is reached
        assert r.status == "complete" and "summary" not in r.state
        assert r.state["_loop_counts"] == {"ask": 6}
        r = await s.invoke({"user_input": "hello again"})  # a new run asks again
        assert r.is_interrupted and r.state["_loop_counts"] == {}


def test_conditions_on_start_edges(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "start.yaml",
        """
        name: start
        state: {mode: str}
        nodes:
          fast: {type: passthrough, output: {path: fast}}
          slow: {type: passthrough, output: {path: slow}}
        edges:
          - {from: START, to: fast, condition: "mode == 'fast'"}
          - {from: START, to: slow}
        """,
    )
    graph = load_yaml_graph(path)
    assert graph.invoke({"mode": "fast"})["path"] == "fast"
    assert graph.invoke({"mode": "other"})["path"] == "slow"


async def test_streaming_a_yaml_session_and_llm_tokens(tmp_path: Path) -> None:
    graph = load_yaml_graph(
        _llm_graph(tmp_path), chat_model=FakeListChatModel(responses=["Hi there Ada"])
    )
    async with manager(graph, tmp_path, output_key="greeting") as m:
        s = await m.create()
        stream = s.stream({"name": "Ada", "style": "warm"}, mode=["updates", "messages"])
        updates, tokens = [], []
        async for mode, chunk in stream:
            if mode == "updates":
                updates.extend(chunk)
            else:
                tokens.append(chunk[0].content)
        result = await stream.result()
        assert updates == ["greet", "mood"]
        assert "".join(tokens).startswith("Hi there Ada")
        assert result.output == "Hi there Ada"


def test_the_sync_facade_serves_a_yaml_graph(tmp_path: Path) -> None:
    from graph_sessions import SyncGraphSessionManager

    graph = Path(__file__).resolve().parents[2] / "examples" / "graphs" / "support_bot.yaml"
    with SyncGraphSessionManager(
        graph=str(graph), backend=f"sqlite:///{tmp_path / 'sync.db'}", output_key="response"
    ) as m:
        s = m.create("t")
        assert s.invoke({"user_input": "refund"}).is_interrupted
        assert s.invoke({"user_input": "no"}).output == "A colleague will follow up shortly."
