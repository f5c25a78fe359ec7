"""Prompt files of ``llm`` nodes: found beside the graph (or in a ``prompts/`` folder),
parsed into ``system`` and ``user`` templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graph_sessions.graphs.yaml.expressions import ExpressionError, Template, compile_template
from graph_sessions.graphs.yaml.nodes.base import BuildContext
from graph_sessions.graphs.yaml.schema import Path_, YamlDocument, read_yaml

__all__ = ["PromptFile", "load_prompt"]


@dataclass
class PromptFile:
    """A prompt file: ``system`` and ``user`` templates with ``{name}`` placeholders."""

    path: Path
    system: Template | None
    user: Template | None
    structured: bool = False  # the file declares an output `schema` (YamlGraph's inline model)


def _find_prompt(name: str, ctx: BuildContext) -> Path | None:
    rel = name if name.endswith((".yaml", ".yml")) else f"{name}.yaml"
    roots: list[Path] = []
    if ctx.defaults.get("prompts_dir"):
        roots.append(ctx.base_dir / str(ctx.defaults["prompts_dir"]))
    # Next to the graph, then `prompts/` beside it or in a folder above it (up to three
    # levels: a subgraph in graphs/subgraphs/ finds the project's prompts/), then ./prompts.
    roots += [ctx.base_dir]
    roots += [folder / "prompts" for folder in [ctx.base_dir, *ctx.base_dir.parents][:4]]
    roots += [Path.cwd() / "prompts", Path.cwd()]
    for root in roots:
        candidate = root / rel
        if candidate.is_file():
            return candidate
    return None


def _prompt_templates(
    doc: YamlDocument, ctx: BuildContext
) -> tuple[dict[str, Template | None], bool]:
    """The file's ``system`` and ``user`` templates, and whether both are usable."""
    parts: dict[str, Template | None] = {"system": None, "user": None}
    ok = True
    for key in parts:
        text = doc.data.get(key)
        if text is None:
            continue
        if not isinstance(text, str):
            ctx.problems.append(doc.problem((key,), "must be a string"))
            ok = False
            continue
        try:
            parts[key] = compile_template(text)
        except ExpressionError as exc:
            ctx.problems.append(doc.problem((key,), f"bad placeholder: {exc}"))
            ok = False
    return parts, ok


def load_prompt(name: str, path: Path_, ctx: BuildContext) -> PromptFile | None:
    """Find and parse a prompt file (problems in it are reported with its own name/line)."""
    found = _find_prompt(name, ctx)
    if found is None:
        ctx.problem(
            path,
            f"prompt file {name!r} not found (looked for {name}.yaml next to the graph, "
            "in prompts/ beside it or up to three folders above it, and in ./prompts)",
        )
        return None
    doc, problems = read_yaml(found)
    ctx.problems.extend(problems)
    if doc is None:
        return None
    if not isinstance(doc.data, dict):
        ctx.problems.append(doc.problem((), "a prompt file must be a mapping with system/user"))
        return None
    parts, ok = _prompt_templates(doc, ctx)
    if ok and parts["system"] is None and parts["user"] is None:
        ctx.problems.append(doc.problem((), "a prompt file needs `system` and/or `user`"))
        ok = False
    schema = doc.data.get("schema", doc.data.get("output_schema"))
    if schema is not None and not isinstance(schema, dict):
        key = "schema" if "schema" in doc.data else "output_schema"
        ctx.problems.append(doc.problem((key,), "should be a mapping (name, fields)"))
        ok = False
    structured = schema is not None
    return PromptFile(found, parts["system"], parts["user"], structured) if ok else None
