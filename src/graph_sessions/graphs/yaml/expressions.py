"""A small, safe expression language for YAML graphs.

Used in ``{state.x}`` templates (node outputs, interrupt messages, ``over``, prompt
variables) and in edge conditions (``score < 0.8``, ``state.done == true and n >= 3``).

File content is never given to ``eval``/``exec``: a tokenizer and a recursive-descent
parser build a tiny AST that :func:`evaluate` walks. What it understands:

* literals: numbers, ``'single'``/``"double"`` quoted strings, ``true``/``false``
  (any case), ``null``/``none``, list ``[a, b]`` and dict ``{'k': v}`` literals;
* names: ``state.a.b`` or bare ``a.b`` (a bare name is looked up in the variables, then
  in the state), subscripts ``x[0]``, ``x['key']``;
* operators, loosest first: ``a if cond else b``, ``or``, ``and`` (both give the
  deciding operand, as in Python: ``state.n or 0``), ``not``,
  comparisons ``== != < <= > >= in not in``, ``+ -``, ``* / // %``, unary ``-``;
  parentheses;
* a fixed set of functions: ``len str int float bool abs min max round sum lower upper
  strip join`` (``join(list, sep=", ")``).

Missing values are ``None`` (no error); ``None`` compares unequal to everything but
``None`` and ordering comparisons with ``None`` are false. ``+`` treats a ``None``
operand as absent (``None + 1 == 1``) and appends a non-list to a list
(``[1] + 2 == [1, 2]``), as YamlGraph does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Expression",
    "ExpressionError",
    "Template",
    "compile_condition",
    "compile_expression",
    "compile_template",
    "evaluate",
]


class ExpressionError(ValueError):
    """A syntax error (at load time) or an evaluation error (at run time)."""

    def __init__(self, message: str, *, source: str = "", position: int | None = None) -> None:
        where = f" at column {position + 1}" if position is not None else ""
        text = f"{message}{where}" + (f" in {source!r}" if source else "")
        super().__init__(text)
        self.position = position
        self.source = source


# --------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+\.\d*|\.\d+|\d+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|//|[<>+\-*/%()\[\]{}.,:])
    """,
    re.VERBOSE,
)

_KEYWORDS = {"and", "or", "not", "in", "if", "else", "true", "false", "null", "none"}


@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` is number/string/name/op/kw/end."""

    kind: str
    value: str
    pos: int


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens; raises :class:`ExpressionError` on a stray character."""
    tokens: list[Token] = []
    i = 0
    while i < len(source):
        m = _TOKEN_RE.match(source, i)
        if m is None:
            if source[i] in "'\"":
                raise ExpressionError("unterminated string", source=source, position=i)
            raise ExpressionError(f"unexpected character {source[i]!r}", source=source, position=i)
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "name" and text.lower() in _KEYWORDS:
            tokens.append(Token("kw", text.lower(), i))
        elif kind != "ws":
            tokens.append(Token(kind, text, i))
        i = m.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# --------------------------------------------------------------------------- AST

Node = tuple[Any, ...]
# ("lit", value) ("name", ident) ("attr", node, ident) ("index", node, node)
# ("list", [nodes]) ("dict", [(key_node, value_node)]) ("call", fname, [nodes])
# ("unary", op, node) ("bin", op, left, right) ("cmp", op, left, right)
# ("and", left, right) ("or", left, right) ("not", node) ("ifelse", cond, a, b)


def _unescape(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": lambda x: 0 if x is None else len(x),
    "str": lambda x="": "" if x is None else str(x),
    "int": int,
    "float": float,
    "bool": bool,
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "sum": lambda x: sum(x or []),
    "lower": lambda x: "" if x is None else str(x).lower(),
    "upper": lambda x: "" if x is None else str(x).upper(),
    "strip": lambda x: "" if x is None else str(x).strip(),
    "join": lambda items, sep=", ": _join(items, sep),
}

_COMPARISONS = {"==", "!=", "<", "<=", ">", ">=", "in", "not in"}


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, tok: Token | None = None) -> ExpressionError:
        t = tok or self.tok
        return ExpressionError(message, source=self.source, position=t.pos)

    def take(self, kind: str, value: str | None = None) -> Token | None:
        t = self.tok
        if t.kind == kind and (value is None or t.value == value):
            self.i += 1
            return t
        return None

    def expect(self, kind: str, value: str) -> Token:
        t = self.take(kind, value)
        if t is None:
            found = "end of expression" if self.tok.kind == "end" else repr(self.tok.value)
            raise self.error(f"expected {value!r}, found {found}")
        return t

    # grammar
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.error("empty expression")
        node = self.ternary()
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.value!r}")
        return node

    def ternary(self) -> Node:
        node = self.or_()
        if self.take("kw", "if"):
            cond = self.or_()
            self.expect("kw", "else")
            other = self.ternary()
            return ("ifelse", cond, node, other)
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.take("kw", "or"):
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.take("kw", "and"):
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.take("kw", "not"):
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        while True:
            t = self.tok
            if t.kind == "op" and t.value in _COMPARISONS:
                self.i += 1
                op = t.value
            elif t.kind == "kw" and t.value == "in":
                self.i += 1
                op = "in"
            elif (
                t.kind == "kw"
                and t.value == "not"
                and self.tokens[self.i + 1].kind == "kw"
                and self.tokens[self.i + 1].value == "in"
            ):
                self.i += 2
                op = "not in"
            else:
                return node
            node = ("cmp", op, node, self.additive())

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.tok.kind == "op" and self.tok.value in ("+", "-"):
            op = self.tok.value
            self.i += 1
            node = ("bin", op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.tok.kind == "op" and self.tok.value in ("*", "/", "//", "%"):
            op = self.tok.value
            self.i += 1
            node = ("bin", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.take("op", "-"):
            return ("unary", "-", self.unary())
        if self.take("op", "+"):
            return self.unary()
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.take("op", "."):
                t = self.tok
                if t.kind not in ("name", "kw", "number"):
                    raise self.error("expected a field name after '.'")
                self.i += 1
                node = ("attr", node, t.value)
            elif self.take("op", "["):
                index = self.ternary()
                self.expect("op", "]")
                node = ("index", node, index)
            else:
                return node

    def primary(self) -> Node:
        t = self.tok
        if t.kind in ("number", "string", "kw"):
            return self.literal()
        if t.kind == "name":
            return self.name_or_call()
        if self.take("op", "("):
            node = self.ternary()
            self.expect("op", ")")
            return node
        if self.take("op", "["):
            return self.list_display()
        if self.take("op", "{"):
            return self.dict_display()
        if t.kind == "end":
            raise self.error("unexpected end of expression")
        raise self.error(f"unexpected {t.value!r}")

    def literal(self) -> Node:
        """A number, a string, ``true``/``false`` or ``null``/``none``."""
        t = self.tok
        if t.kind == "number":
            self.i += 1
            return ("lit", float(t.value) if "." in t.value else int(t.value))
        if t.kind == "string":
            self.i += 1
            return ("lit", _unescape(t.value))
        if t.value in ("true", "false"):
            self.i += 1
            return ("lit", t.value == "true")
        if t.value in ("null", "none"):
            self.i += 1
            return ("lit", None)
        raise self.error(f"unexpected keyword {t.value!r}")

    def name_or_call(self) -> Node:
        """A name, or a call of one of the known functions."""
        t = self.tok
        self.i += 1
        if not (self.tok.kind == "op" and self.tok.value == "("):
            return ("name", t.value)
        if t.value not in _FUNCTIONS:
            known = ", ".join(sorted(_FUNCTIONS))
            raise self.error(f"unknown function {t.value!r} (known: {known})", t)
        self.i += 1
        args: list[Node] = []
        if not self.take("op", ")"):
            args.append(self.ternary())
            while self.take("op", ","):
                args.append(self.ternary())
            self.expect("op", ")")
        return ("call", t.value, args)

    def list_display(self) -> Node:
        """``[a, b, ...]`` after its ``[`` (a trailing comma is fine)."""
        items: list[Node] = []
        if not self.take("op", "]"):
            items.append(self.ternary())
            while self.take("op", ","):
                if self.tok.kind == "op" and self.tok.value == "]":
                    break
                items.append(self.ternary())
            self.expect("op", "]")
        return ("list", items)

    def dict_display(self) -> Node:
        """``{k: v, ...}`` after its ``{`` (a trailing comma is fine)."""
        pairs: list[tuple[Node, Node]] = []
        if not self.take("op", "}"):
            while True:
                key = self.ternary()
                self.expect("op", ":")
                pairs.append((key, self.ternary()))
                if not self.take("op", ","):
                    break
                if self.tok.kind == "op" and self.tok.value == "}":
                    break
            self.expect("op", "}")
        return ("dict", pairs)


# --------------------------------------------------------------------------- evaluation


def _lookup(obj: Any, key: Any) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    if isinstance(obj, list | tuple | str):
        if isinstance(key, str) and key.lstrip("-").isdigit():
            key = int(key)
        if isinstance(key, int) and not isinstance(key, bool):
            return obj[key] if -len(obj) <= key < len(obj) else None
        return None
    if isinstance(key, str) and not key.startswith("_"):
        return getattr(obj, key, None)  # pydantic models, dataclasses
    return None


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, list):
        return a + b if isinstance(b, list) else [*a, b]
    if isinstance(a, str) and not isinstance(b, str):
        return a + str(b)
    return a + b


_MAX_REPEAT = 1_000_000


def _size(value: Any, limit: int) -> int:
    """Characters/items in ``value``, nested lists and dicts included; stops past ``limit``."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple | dict):
        total = len(value)
        for item in value.values() if isinstance(value, dict) else value:
            if total > limit:
                break
            total += _size(item, limit - total)
        return total
    return 1


def _check_repeat(a: Any, b: Any) -> None:
    # "x" * n with a huge n would exhaust memory before any error could name the expression;
    # nested content counts (str([[1] * 100000] * 100000) would be 10**10 characters).
    for seq, n in ((a, b), (b, a)):
        sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
        if (
            sized
            and not isinstance(n, bool)
            and n > 0
            and _size(seq, _MAX_REPEAT) * n > _MAX_REPEAT
        ):
            raise ExpressionError(f"repetition result over {_MAX_REPEAT:,} items")


_MAX_JOIN = 10_000_000


def _join(items: Any, sep: Any = ", ") -> str:
    parts = ["" if i is None else str(i) for i in items or []]
    text_sep = str(sep)
    if sum(map(len, parts)) + len(text_sep) * max(len(parts) - 1, 0) > _MAX_JOIN:
        raise ExpressionError(f"join result over {_MAX_JOIN:,} characters")
    return text_sep.join(parts)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op in ("in", "not in"):
        inside = b is not None and a in b
        return inside if op == "in" else not inside
    if a is None or b is None:
        return False
    if isinstance(a, int | float) and isinstance(b, str):
        b = _number_or_same(b)
    elif isinstance(b, int | float) and isinstance(a, str):
        a = _number_or_same(a)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _number_or_same(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _eval(node: Node, scope: _Scope) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        return scope.resolve(node[1])
    if kind == "attr":
        return _lookup(_eval(node[1], scope), node[2])
    if kind == "index":
        return _lookup(_eval(node[1], scope), _eval(node[2], scope))
    if kind == "list":
        return [_eval(n, scope) for n in node[1]]
    if kind == "dict":
        return {_eval(k, scope): _eval(v, scope) for k, v in node[1]}
    if kind == "call":
        return _FUNCTIONS[node[1]](*[_eval(n, scope) for n in node[2]])
    return _eval_operator(node, scope)


def _eval_operator(node: Node, scope: _Scope) -> Any:
    """The operator nodes: arithmetic, comparisons, ``and``/``or``/``not``, ``a if c else b``."""
    kind = node[0]
    if kind == "unary":
        value = _eval(node[2], scope)
        return None if value is None else -value
    if kind == "bin":
        return _arithmetic(node[1], _eval(node[2], scope), _eval(node[3], scope))
    if kind == "cmp":
        return _compare(node[1], _eval(node[2], scope), _eval(node[3], scope))
    if kind == "and":  # like Python: the deciding operand (``a and b``)
        return _eval(node[1], scope) and _eval(node[2], scope)
    if kind == "or":  # ``state.n or 0`` gives a default
        return _eval(node[1], scope) or _eval(node[2], scope)
    if kind == "not":
        return not _eval(node[1], scope)
    if kind == "ifelse":
        return _eval(node[2], scope) if _eval(node[1], scope) else _eval(node[3], scope)
    raise ExpressionError(f"unknown node {kind!r}")  # pragma: no cover


def _arithmetic(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for ``+ - * / // %``; ``None`` on either side gives ``None`` (but ``+``
    treats it as nothing to add)."""
    if op == "+":
        return _add(a, b)
    if a is None or b is None:
        return None
    if op == "-":
        return a - b
    if op == "*":
        _check_repeat(a, b)
        return a * b
    if op == "/":
        return a / b
    if op == "//":
        return a // b
    if isinstance(a, str | bytes):  # no printf-style formatting ('%999999999d' % 1)
        raise ExpressionError("`%` is the remainder of numbers; use a template for text")
    return a % b


class _Scope:
    def __init__(self, state: Mapping[str, Any], variables: Mapping[str, Any] | None) -> None:
        self.state = state
        self.variables = variables or {}

    def resolve(self, name: str) -> Any:
        if name in self.variables:
            return self.variables[name]
        if name == "state":
            return self.state
        return self.state.get(name)


def _names(node: Node, out: set[str]) -> None:
    kind = node[0]
    if kind == "lit":
        return
    if kind == "name":
        if node[1] != "state":
            out.add(node[1])
        return
    if kind == "attr":
        if node[1] == ("name", "state"):
            out.add(node[2])
        else:
            _names(node[1], out)
        return
    for child in _children(node):
        _names(child, out)


def _children(node: Node) -> list[Node]:
    """The sub-expressions of a node other than a literal, a name or an attribute."""
    kind = node[0]
    if kind == "index":
        return [node[1], node[2]]
    if kind == "list":
        return list(node[1])
    if kind == "dict":
        return [part for pair in node[1] for part in pair]
    if kind == "call":
        return list(node[2])
    if kind == "unary":
        return [node[2]]
    if kind in ("bin", "cmp"):
        return [node[2], node[3]]
    if kind in ("and", "or"):
        return [node[1], node[2]]
    if kind == "not":
        return [node[1]]
    if kind == "ifelse":
        return [node[1], node[2], node[3]]
    return []


@dataclass(frozen=True)
class Expression:
    """A parsed expression. ``evaluate(state)`` runs it; ``fields`` lists the state keys it reads."""

    source: str
    tree: Node

    def evaluate(self, state: Mapping[str, Any], variables: Mapping[str, Any] | None = None) -> Any:
        """Evaluate against ``state`` (and optional extra ``variables``, looked up first)."""
        try:
            return _eval(self.tree, _Scope(state, variables))
        except ExpressionError:
            raise
        except Exception as exc:
            raise ExpressionError(
                f"evaluating failed: {type(exc).__name__}: {exc}", source=self.source
            ) from exc

    @property
    def fields(self) -> set[str]:
        """Top-level state keys this expression reads."""
        out: set[str] = set()
        _names(self.tree, out)
        return out


def compile_expression(source: str) -> Expression:
    """Parse one expression (no braces). Raises :class:`ExpressionError` on bad syntax."""
    try:
        return Expression(source, _Parser(source).parse())
    except RecursionError:
        raise ExpressionError("expression nested too deeply", source=source) from None


def compile_condition(source: Any) -> Expression:
    """Parse an edge condition; a YAML boolean (``condition: true``) is accepted as a literal."""
    if isinstance(source, bool):
        return Expression(str(source).lower(), ("lit", source))
    if not isinstance(source, str):
        raise ExpressionError(f"a condition must be a string, not {type(source).__name__}")
    text = source.strip()
    if text.startswith("{") and text.endswith("}") and _single_placeholder(text):
        text = text[1:-1]  # tolerate "{state.x > 1}"
    return compile_expression(text)


def evaluate(
    source: str, state: Mapping[str, Any], variables: Mapping[str, Any] | None = None
) -> Any:
    """Parse and evaluate ``source`` in one go (convenience for tests and tools)."""
    return compile_expression(source).evaluate(state, variables)


# --------------------------------------------------------------------------- templates


def _scan_placeholders(text: str) -> list[tuple[int, int]]:
    """Spans (start, end) of each top-level ``{...}`` (braces nested, quotes respected).
    ``{{`` and ``}}`` are literal braces."""
    spans: list[tuple[int, int]] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "{" and i + 1 < n and text[i + 1] == "{":
            i += 2
            continue
        if c == "}" and i + 1 < n and text[i + 1] == "}":
            i += 2
            continue
        if c == "}":
            raise ExpressionError("unmatched '}'", source=text, position=i)
        if c != "{":
            i += 1
            continue
        depth = 0
        j = i
        quote = ""
        while j < n:
            ch = text[j]
            if quote:
                if ch == "\\":
                    j += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= n:
            raise ExpressionError("unclosed '{'", source=text, position=i)
        spans.append((i, j + 1))
        i = j + 1
    return spans


def _single_placeholder(text: str) -> bool:
    try:
        spans = _scan_placeholders(text)
    except ExpressionError:
        return False
    return len(spans) == 1 and spans[0] == (0, len(text))


@dataclass(frozen=True)
class Template:
    """A string with ``{expression}`` placeholders.

    A template that is exactly one placeholder (``"{state.items}"``) renders to the value
    itself, with its type; otherwise placeholders are interpolated as text (``None`` as
    an empty string). A string without placeholders renders to itself.
    """

    source: str
    parts: tuple[str | Expression, ...]

    @property
    def is_single(self) -> bool:
        """True when the whole template is one placeholder."""
        return len(self.parts) == 1 and isinstance(self.parts[0], Expression)

    @property
    def fields(self) -> set[str]:
        """Top-level state keys the placeholders read."""
        out: set[str] = set()
        for part in self.parts:
            if isinstance(part, Expression):
                out |= part.fields
        return out

    def render(self, state: Mapping[str, Any], variables: Mapping[str, Any] | None = None) -> Any:
        """Render against ``state`` (and optional ``variables``)."""
        if self.is_single:
            expr = self.parts[0]
            assert isinstance(expr, Expression)
            return expr.evaluate(state, variables)
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, Expression):
                value = part.evaluate(state, variables)
                out.append("" if value is None else str(value))
            else:
                out.append(part)
        return "".join(out)


def compile_template(source: str) -> Template:
    """Parse a template string. Raises :class:`ExpressionError` on bad placeholder syntax."""
    spans = _scan_placeholders(source)
    parts: list[str | Expression] = []
    last = 0
    for start, end in spans:
        if start > last:
            parts.append(source[last:start].replace("{{", "{").replace("}}", "}"))
        inner = source[start + 1 : end - 1]
        try:
            parts.append(compile_expression(inner))
        except ExpressionError as exc:
            pos = None if exc.position is None else exc.position + start + 1
            message = str(exc).split(" at column")[0].split(" in '")[0]
            raise ExpressionError(message, source=source, position=pos) from None
        last = end
    if last < len(source):
        parts.append(source[last:].replace("{{", "{").replace("}}", "}"))
    return Template(source, tuple(parts))


def compile_value(value: Any) -> Any:
    """Compile every string inside ``value`` (str, list, dict) into a :class:`Template`."""
    if isinstance(value, str):
        return compile_template(value)
    if isinstance(value, list):
        return [compile_value(v) for v in value]
    if isinstance(value, dict):
        return {k: compile_value(v) for k, v in value.items()}
    return value


def render_value(
    value: Any, state: Mapping[str, Any], variables: Mapping[str, Any] | None = None
) -> Any:
    """Render a value compiled by :func:`compile_value`."""
    if isinstance(value, Template):
        return value.render(state, variables)
    if isinstance(value, list):
        return [render_value(v, state, variables) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, state, variables) for k, v in value.items()}
    return value


def value_fields(value: Any) -> set[str]:
    """State keys read by a value compiled by :func:`compile_value`."""
    if isinstance(value, Template):
        return value.fields
    out: set[str] = set()
    if isinstance(value, list):
        for v in value:
            out |= value_fields(v)
    elif isinstance(value, dict):
        for v in value.values():
            out |= value_fields(v)
    return out
