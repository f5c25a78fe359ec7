"""Files written in the YamlGraph style load unchanged: default `llm` node type, prompts
in a `prompts/` folder beside the graphs folder, `checkpointer:` and other keys we do not
use, an interrupt whose question an LLM writes, a map over LLM calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from support.yaml_files import visible, write

from graph_sessions import GraphSessionManager
from graph_sessions.graphs.yaml import load_yaml_graph, validate_yaml_graph


def project(tmp_path: Path) -> Path:
    """A YamlGraph-style project: graphs/ and prompts/ side by side."""
    write(tmp_path, "prompts/interview/welcome.yaml", "system: Be kind.\nuser: Write a welcome.\n")
    write(tmp_path, "prompts/interview/ask_name.yaml", "user: 'Ask the name. Context: {welcome}'\n")
    write(tmp_path, "prompts/interview/greet.yaml", "user: 'Greet {user_name} about {topic}.'\n")
    write(tmp_path, "prompts/expand.yaml", "user: 'Expand {item}'\n")
    return write(
        tmp_path,
        "graphs/interview.yaml",
        """
        # An interview with a human in the loop.
        version: "1.0"
        name: interview
        description: Ask questions, then greet.

        checkpointer:            # YamlGraph's own persistence: ignored here
          type: sqlite
          path: ":memory:"

        defaults:
          provider: mistral
          temperature: 0.3

        exports:                 # not used by graph-sessions
          greeting: {format: markdown, filename: out.md}

        state:
          user_name: str
          topic: str
          items: list
          expanded: list

        nodes:
          welcome:
            prompt: interview/welcome        # type defaults to llm
            state_key: welcome
          ask_name:
            type: interrupt
            prompt: interview/ask_name       # the question is written by the model
            variables: {welcome: "{state.welcome}"}
            state_key: name_question
            resume_key: user_name
          ask_topic:
            type: interrupt
            message: "What topic would you like to learn about?"
            state_key: topic_question
            resume_key: topic
          greet:
            prompt: interview/greet
            state_key: greeting
            requires: [user_name]            # ignored
          expand:
            type: map
            over: "{state.items}"
            as: item
            node:
              prompt: expand
              state_key: one
            collect: expanded

        edges:
          - from: START
            to: welcome
          - from: welcome
            to: ask_name
          - from: ask_name
            to: ask_topic
          - from: ask_topic
            to: greet
          - from: greet
            to: expand
          - from: expand
            to: END
        """,
    )


async def test_a_yamlgraph_style_interview_runs_as_a_session(tmp_path: Path) -> None:
    path = project(tmp_path)
    assert validate_yaml_graph(str(path)) == []
    model = FakeListChatModel(
        responses=["Welcome!", "What is your name, friend?", "Hello Ada, let's talk math.", "x"]
    )
    graph = load_yaml_graph(path, chat_model=model)
    async with GraphSessionManager(
        graph=graph, backend=f"sqlite:///{tmp_path / 's.db'}", output_key="greeting"
    ) as m:
        s = await m.create()
        r = await s.invoke({"items": ["a", "b"]})
        assert r.interrupt == {"message": "What is your name, friend?", "resume_key": "user_name"}
        assert (await s.get_state())["name_question"] == "What is your name, friend?"
        r = await s.invoke({"user_name": "Ada"})  # the LLM is not asked again on resume
        assert r.interrupt["message"] == "What topic would you like to learn about?"
        r = await s.invoke({"topic": "math"})
        assert r.status == "complete"
        assert r.output == "Hello Ada, let's talk math."
        assert visible(r.state)["expanded"] == ["x", "Welcome!"]  # the fake model cycles


def reflexion_project(tmp_path: Path) -> Path:
    """A YamlGraph-style self-correction loop: prompts with an inline output `schema`,
    conditions on the model's structured answer (`critique.score < 0.8`), the loop counter
    in a variable, and `loop_limits`."""
    write(
        tmp_path,
        "prompts/essay/draft.yaml",
        """
        schema:
          name: Draft
          fields:
            content: {type: str, description: The essay}
        system: You write short essays. Answer in JSON.
        user: "Write about {topic}."
        """,
    )
    write(
        tmp_path,
        "prompts/essay/critique.yaml",
        """
        schema:
          name: Critique
          fields:
            score: {type: float, description: 0 to 1}
            feedback: {type: str, description: What to improve}
        system: You are a strict critic. Answer in JSON.
        user: "Round {iteration}. Rate: {content}"
        """,
    )
    write(
        tmp_path,
        "prompts/essay/refine.yaml",
        """
        schema:
          name: Draft
          fields:
            content: {type: str, description: The better essay}
        user: "Improve '{content}' using: {feedback}"
        """,
    )
    return write(
        tmp_path,
        "graphs/reflexion.yaml",
        """
        version: "1.0"
        name: essay-reflexion
        description: Draft, critique, refine until good (at most three critiques).
        defaults:
          provider: mistral
          temperature: 0.7
        nodes:
          draft:
            type: llm
            prompt: essay/draft
            variables:
              topic: "{state.topic}"
            state_key: current_draft
          critique:
            type: llm
            prompt: essay/critique
            variables:
              content: "{state.current_draft.content}"
              iteration: "{state._loop_counts.critique}"
            state_key: critique
            skip_if_exists: false
          refine:
            type: llm
            prompt: essay/refine
            variables:
              content: "{state.current_draft.content}"
              feedback: "{state.critique.feedback}"
            state_key: current_draft
            skip_if_exists: false
        edges:
          - from: START
            to: draft
          - from: draft
            to: critique
          - from: critique
            to: refine
            condition: critique.score < 0.8
          - from: critique
            to: END
            condition: critique.score >= 0.8
          - from: refine
            to: critique
        loop_limits:
          critique: 3
        """,
    )


async def test_a_yamlgraph_style_reflexion_loop_reads_structured_answers(tmp_path: Path) -> None:
    path = reflexion_project(tmp_path)
    assert validate_yaml_graph(str(path)) == []
    answers = [
        '{"content": "Cats sleep."}',
        '```json\n{"score": 0.4, "feedback": "say more"}\n```',
        '{"content": "Cats sleep a lot, mostly by day."}',
        '{"score": 0.9, "feedback": "fine"}',
    ]
    model = FakeListChatModel(responses=answers)
    graph = load_yaml_graph(path, chat_model=model)
    async with GraphSessionManager(
        graph=graph, backend=f"sqlite:///{tmp_path / 's.db'}", output_key="current_draft"
    ) as m:
        s = await m.create()
        r = await s.invoke({"topic": "cats"})
        assert r.status == "complete"
        # The prompt files declare a `schema`: the answers are read as JSON objects.
        assert r.output == {"content": "Cats sleep a lot, mostly by day."}
        assert r.state["critique"] == {"score": 0.9, "feedback": "fine"}
        assert r.state["_loop_counts"] == {"critique": 2}

    # Never good enough: loop_limits stops after the third critique.
    always_bad = ['{"content": "x"}'] + ['{"score": 0.1, "feedback": "no"}', '{"content": "y"}'] * 5
    graph = load_yaml_graph(path, chat_model=FakeListChatModel(responses=always_bad))
    out = await graph.ainvoke({"topic": "dogs"})
    assert out["_loop_counts"] == {"critique": 3}
    assert out["critique"] == {"score": 0.1, "feedback": "no"}


def test_yamlgraph_reducers_sorted_add_and_last_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reducers.yaml",
        """
        name: reducers
        state:
          results: {type: list, reducer: sorted_add}
          status: {type: str, reducer: last_value}
        nodes:
          late:
            type: passthrough
            output:
              results: "{[{'_map_index': 1, 'v': 'b'}]}"
              status: late
          early:
            type: passthrough
            output:
              results: "{[{'_map_index': 0, 'v': 'a'}]}"
              status: early
        edges:
          - {from: START, to: [late, early]}
        """,
    )
    # Two parallel writes of `status` in one step are fine with last_value.
    out = load_yaml_graph(path).invoke({})
    assert [r["v"] for r in out["results"]] == ["a", "b"]
    assert out["status"] in ("late", "early")


def test_a_yamlgraph_style_subgraph_in_a_subfolder_finds_the_project_prompts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """graphs/subgraphs/summarizer.yaml uses prompts/summarizer/... at the project root,
    found without running from the project folder."""
    write(tmp_path, "prompts/demo/prepare.yaml", "user: 'Tidy up: {raw_text}'\n")
    write(tmp_path, "prompts/summarizer/summarize.yaml", "user: 'Summarize: {input_text}'\n")
    write(tmp_path, "prompts/demo/format.yaml", "user: 'Format: {summary}'\n")
    write(
        tmp_path,
        "graphs/subgraphs/summarizer.yaml",
        """
        version: "1.0"
        name: summarizer
        defaults: {provider: mistral, temperature: 0.3}
        state:
          input_text: str
          output_summary: str
        nodes:
          summarize:
            type: llm
            prompt: summarizer/summarize
            state_key: output_summary
        edges:
          - {from: START, to: summarize}
          - {from: summarize, to: END}
        """,
    )
    path = write(
        tmp_path,
        "graphs/summary-demo.yaml",
        """
        version: "1.0"
        name: summary-demo
        defaults: {provider: mistral, temperature: 0.5}
        state:
          raw_text: str
          prepared_text: str
          summary: str
          final_output: str
        nodes:
          prepare: {type: llm, prompt: demo/prepare, state_key: prepared_text}
          summarize:
            type: subgraph
            mode: invoke
            graph: subgraphs/summarizer.yaml
            input_mapping: {prepared_text: input_text}
            output_mapping: {summary: output_summary}
          format: {type: llm, prompt: demo/format, state_key: final_output}
        edges:
          - {from: START, to: prepare}
          - {from: prepare, to: summarize}
          - {from: summarize, to: format}
          - {from: format, to: END}
        """,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert validate_yaml_graph(str(path)) == []
    model = FakeListChatModel(responses=["tidy", "short", "FORMATTED"])
    out = load_yaml_graph(path, chat_model=model).invoke({"raw_text": "long text"})
    assert out["prepared_text"] == "tidy"
    assert out["summary"] == "short"
    assert out["final_output"] == "FORMATTED"
