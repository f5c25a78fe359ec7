"""Files written in the YamlGraph style load unchanged: default `llm` node type, prompts
in a `prompts/` folder beside the graphs folder, `checkpointer:` and other keys we do not
use, an interrupt whose question an LLM writes, a map over LLM calls."""

from __future__ import annotations

from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from yaml_helpers import visible, write

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
