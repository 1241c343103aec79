"""jq templating (REFERENCE §5.2): the one entry point for rendering fields and conditions.

* A plain string passes through untouched.
* A field that is exactly one `\\(expr)` (surrounding whitespace ignored) yields the JSON value.
* `\\(...)` inside a longer string is jq string interpolation.
* A program that yields several values gives its first; one that yields none is an error.
* `$global` and `$counter` are passed as `variables`; `lockboxPayload(id; key[; version])`
  reads `secrets` resolved beforehand (see `secret_references`); `env`/`$ENV` are empty.

Programs are compiled once and cached. Programs that are provably cheap (a conservative
allow-list of jq, small input) run in-process; anything else runs in a worker process that is
killed at the deadline, so a template that never ends cannot hang its caller. A value a
template yields nests at most ``stepline.bounds.MAX_DEPTH`` deep, like all data Stepline keeps.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jq

from stepline import bounds
from stepline.yawl import _sandbox
from stepline.yawl._base import TEMPLATE_OPEN
from stepline.yawl._sandbox import Limits
from stepline.yawl.errors import StepFailure, WorkflowErrorCode

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "TemplateError",
    "check_expressions",
    "evaluate",
    "evaluate_condition",
    "parse_template",
    "render",
    "secret_references",
]

DEFAULT_LIMITS = Limits()
# `taskToken`: the notification of a waitForTask step (a Stepline extension).
VARIABLE_NAMES = frozenset({"global", "counter", "taskToken"})
# Inputs up to this size may run in-process when the program is on the allow-list.
FAST_INPUT_BYTES = 16 * 1024

# `env`/`$ENV` would expose the process environment; lockboxPayload reads resolved secrets.
_PRELUDE = (
    "{} as $ENV | def env: {}; "
    'def lockboxPayload($id; $key): ($__secrets[$id] // {})[$key] // error("lockboxPayload: '
    'secret \\($id) has no key \\($key) available"); '
    "def lockboxPayload($id; $key; $version): "
    '($__secrets[$id + "@" + $version] // {})[$key] // error("lockboxPayload: secret '
    '\\($id) version \\($version) has no key \\($key) available"); '
)
_CHECK_PRELUDE = "def lockboxPayload($a; $b): null; def lockboxPayload($a; $b; $c): null;\n"


class TemplateError(StepFailure):
    """A template or expression could not be compiled or evaluated."""

    def __init__(self, message: str) -> None:
        super().__init__(WorkflowErrorCode.STEP_INVALID_TEMPLATE_EXPRESSION, message)


@dataclass(frozen=True, slots=True)
class ParsedTemplate:
    """A template split into its jq program (None for a plain string)."""

    source: str
    program: str | None
    expressions: tuple[str, ...]
    whole_value: bool

    @property
    def fast(self) -> bool:
        """Whether every expression is on the in-process allow-list."""
        return _is_fast(self.expressions)


@functools.lru_cache(maxsize=8192)
def parse_template(template: str) -> ParsedTemplate:
    """Split a template into literal text and `\\(...)` expressions; raise TemplateError."""
    if TEMPLATE_OPEN not in template:
        return ParsedTemplate(template, None, (), whole_value=False)
    parts = _split(template)
    expressions = tuple(text for is_expr, text in parts if is_expr)
    if len(parts) == 3 and not parts[0][1].strip() and not parts[2][1].strip():
        return ParsedTemplate(template, parts[1][1], expressions, whole_value=True)
    body = "".join(
        f"\\({text}\n)" if is_expr else json.dumps(text, ensure_ascii=False)[1:-1]
        for is_expr, text in parts
    )
    return ParsedTemplate(template, f'"{body}"', expressions, whole_value=False)


def _split(template: str) -> list[tuple[bool, str]]:
    parts: list[tuple[bool, str]] = []
    literal_start = 0
    while (open_at := template.find(TEMPLATE_OPEN, literal_start)) >= 0:
        close_at = _match_paren(template, open_at + 2)
        parts.append((False, template[literal_start:open_at]))
        parts.append((True, template[open_at + 2 : close_at]))
        literal_start = close_at + 1
    parts.append((False, template[literal_start:]))
    return parts


_PAREN_STOPS = re.compile(r'["#()]')
_STRING_STOPS = re.compile(r'["\\]')


def _match_paren(text: str, i: int) -> int:
    """Index of the `)` closing the group that starts at i (jq strings and comments skipped)."""
    depth = 1
    while (stop := _PAREN_STOPS.search(text, i)) is not None:
        i, char = stop.start(), stop.group()
        if char == '"':
            i = _skip_string(text, i + 1)
        elif char == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        else:
            depth += 1 if char == "(" else -1
            if depth == 0:
                return i
            i += 1
    raise TemplateError("unbalanced parentheses: a '\\(' is never closed")


def _skip_string(text: str, i: int) -> int:
    while (stop := _STRING_STOPS.search(text, i)) is not None:
        i = stop.start()
        if text[i] == '"':
            return i + 1
        if text.startswith(TEMPLATE_OPEN, i):
            i = _match_paren(text, i + 2) + 1
        else:
            i += 2
    raise TemplateError("a jq string literal is never closed")


def render(
    template: str,
    data: Any,
    *,
    variables: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """Render a templated field against `data` (the value `.` is bound to)."""
    if not isinstance(template, str):
        raise TemplateError(f"a template must be a string, not {type(template).__name__}")
    parsed = parse_template(template)
    if parsed.program is None:
        return template
    return _run(parsed.program, parsed.fast, data, variables, secrets, limits)


def evaluate(
    expression: str,
    data: Any,
    *,
    variables: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """Evaluate a bare jq expression against `data` and return its first value."""
    if not isinstance(expression, str):
        raise TemplateError(f"an expression must be a string, not {type(expression).__name__}")
    return _run(expression, _is_fast((expression,)), data, variables, secrets, limits)


def evaluate_condition(
    expression: str,
    data: Any,
    *,
    variables: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> bool:
    """Evaluate a Switch/While condition, which must yield true or false."""
    value = evaluate(expression, data, variables=variables, limits=limits)
    if not isinstance(value, bool):
        raise TemplateError(
            f"condition {expression!r} yielded {json.dumps(value)[:80]}, not a boolean"
        )
    return value


def _run(
    expression: str,
    fast: bool,
    data: Any,
    variables: Mapping[str, Any] | None,
    secrets: Mapping[str, Mapping[str, str]] | None,
    limits: Limits,
) -> Any:
    names = tuple(sorted(variables or {}))
    unknown = set(names) - VARIABLE_NAMES
    if unknown:
        raise TemplateError(f"unknown template variables: {', '.join(sorted(unknown))}")
    values = [data, secrets or {}, *((variables or {})[name] for name in names)]
    try:
        input_text = json.dumps(values, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TemplateError(f"template data is not JSON: {exc}") from None
    program = _wrap(expression, names)
    compiled = _compile(program)  # compiling always terminates; it also vets worker programs
    if fast and len(input_text) <= FAST_INPUT_BYTES:
        value = _run_here(compiled, input_text, expression)
        # Allow-listed programs cannot grow data much; measure only when a bound is in reach.
        if len(input_text) * len(expression) > limits.max_output_bytes:
            _check_size(value, expression, limits)
        if bounds.exceeds_depth(value):
            raise _too_deep(expression)
        return value
    try:
        output = _sandbox.run(program, input_text, limits)
    except _sandbox.NoOutput:
        raise TemplateError(f"{_short(expression)} produced no value") from None
    except _sandbox.TooDeep:
        raise _too_deep(expression) from None
    except _sandbox.SandboxError as exc:
        raise TemplateError(f"{_short(expression)}: {_clean(str(exc))}") from None
    try:
        bounds.check_depth(output)
    except bounds.BoundsError:
        raise _too_deep(expression) from None
    return json.loads(output)


def _too_deep(expression: str) -> TemplateError:
    return TemplateError(f"{_short(expression)}: the value it yields is {bounds.depth_message()}")


def _check_size(value: Any, expression: str, limits: Limits) -> None:
    if len(json.dumps(value)) > limits.max_output_bytes:
        raise TemplateError(
            f"{_short(expression)}: template output is larger than {limits.max_output_bytes} bytes"
        )


def _run_here(compiled: Any, input_text: str, expression: str) -> Any:
    try:
        return compiled.input_text(input_text).first()
    except StopIteration:
        raise TemplateError(f"{_short(expression)} produced no value") from None
    except Exception as exc:  # jq reports every runtime error as a plain exception
        raise TemplateError(f"{_short(expression)}: {_clean(str(exc))}") from None


def _wrap(expression: str, names: tuple[str, ...]) -> str:
    binding = "".join(f", ${name}" for name in names)
    return f". as [$__d, $__secrets{binding}] | {_PRELUDE}$__d | ({expression}\n)"


@functools.lru_cache(maxsize=4096)
def _compile(program: str) -> Any:
    try:
        return jq.compile(program)
    except Exception as exc:
        raise TemplateError(f"invalid jq: {_clean(str(exc))}") from None


def _short(expression: str) -> str:
    text = " ".join(expression.split())
    return f"jq {text[:60] + '…' if len(text) > 60 else text!r}"


_JQ_NOISE = re.compile(r"^jq: error(?: \(at [^)]*\))?: |\s*jq: \d+ compile errors?\s*$", re.M)
_JQ_WHERE = re.compile(r" at <top-level>, line \d+(?:, column \d+)?:.*", re.S)


def _clean(message: str) -> str:
    """Strip jq's prefixes and our wrapper's positions from an error message."""
    first = _JQ_NOISE.sub("", message).strip()
    return _JQ_WHERE.sub("", first).strip() or "jq failed"


# -- validation support ------------------------------------------------------------------------


def check_expressions(items: Iterable[tuple[str, frozenset[str]]]) -> dict[int, str]:
    """Compile-check jq expressions (with the variables each may use, e.g. ``{"global"}``);
    return errors by index.

    Expressions are compiled in chunks, each chunk as one jq program (one compile instead of
    hundreds); only when a chunk fails are its culprits found and compiled alone for messages.
    """
    indexed = list(enumerate(items))
    errors: dict[int, str] = {}
    for start in range(0, len(indexed), _CHECK_CHUNK):
        pending = indexed[start : start + _CHECK_CHUNK]
        while pending and (culprits := _batch_culprits(pending)):
            for index, (expression, names) in pending:
                if index in culprits:
                    errors[index] = _check_alone(expression, names) or "invalid jq"
            pending = [item for item in pending if item[0] not in culprits]
    return errors


# jq binds names in time quadratic in the number of definitions, and caps one function's
# bytecode, so expressions are checked as `null as $var | (expr)` terms, a few hundred at once.
_CHECK_CHUNK = 200


def _batch_culprits(pending: list[tuple[int, tuple[str, frozenset[str]]]]) -> set[int]:
    terms: list[str] = []
    starts: list[tuple[int, int]] = []  # (first line of the term, index)
    line = _CHECK_PRELUDE.count("\n") + 1
    for index, (expression, names) in pending:
        bindings = "".join(f"null as ${name} | " for name in sorted(names))
        term = f"({bindings}({expression}\n)),\n"
        starts.append((line, index))
        terms.append(term)
        line += term.count("\n")
    try:
        jq.compile(f"{_CHECK_PRELUDE}[{''.join(terms)} null]")
    except Exception as exc:
        hits = {_def_at(starts, int(n)) for n in re.findall(r"line (\d+)", str(exc))}
        return hits or {index for index, _ in pending}
    return set()


def _def_at(starts: list[tuple[int, int]], line: int) -> int:
    owner = starts[0][1]
    for first_line, index in starts:
        if first_line > line:
            break
        owner = index
    return owner


def _check_alone(expression: str, names: frozenset[str]) -> str | None:
    args = {name: None for name in names}
    prelude = _CHECK_PRELUDE.replace("\n", " ")
    for program in (prelude + expression, f"{prelude}({expression}\n)"):
        try:
            jq.compile(program, args=args)
        except Exception as exc:
            return f"invalid jq: {_clean(str(exc))}"
    return None


# -- the in-process allow-list -----------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>\#)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<format>@[A-Za-z0-9_]+)
    |(?P<var>\$[A-Za-z_][A-Za-z0-9_]*)|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>\?//|\.\.|//=|\|=|\+=|-=|\*=|/=|%=|==|!=|<=|>=|//|[.\[\]{}(),:;|+\-*/%<>=?])""",
    re.X,
)
# Linear-time builtins with no regexes, no recursion, no generators of unbounded length.
_SAFE_IDENTS = frozenset(
    [
        "if",
        "then",
        "elif",
        "else",
        "end",
        "and",
        "or",
        "not",
        "true",
        "false",
        "null",
        "try",
        "catch",
        "empty",
        "error",
        "length",
        "utf8bytelength",
        "keys",
        "keys_unsorted",
        "values",
        "has",
        "in",
        "contains",
        "inside",
        "startswith",
        "endswith",
        "ltrimstr",
        "rtrimstr",
        "ascii_downcase",
        "ascii_upcase",
        "tostring",
        "tonumber",
        "tojson",
        "fromjson",
        "type",
        "add",
        "any",
        "all",
        "flatten",
        "floor",
        "ceil",
        "round",
        "fabs",
        "sqrt",
        "min",
        "max",
        "sort",
        "unique",
        "reverse",
        "join",
        "split",
        "to_entries",
        "from_entries",
        "first",
        "last",
        "select",
        "map",
        "map_values",
        "with_entries",
        "sort_by",
        "group_by",
        "unique_by",
        "min_by",
        "max_by",
        "isnan",
        "isinfinite",
        "infinite",
        "nan",
        "not",
        "abs",
        "toarray",
        "trim",
        "ltrim",
        "rtrim",
        "todate",
        "fromdate",
        "now",
    ]
)
_ITERATING = frozenset(
    [
        "map",
        "map_values",
        "with_entries",
        "sort_by",
        "group_by",
        "unique_by",
        "min_by",
        "max_by",
        "any",
        "all",
    ]
)
_UNSAFE_OPS = frozenset({"*", "*=", "=", "|=", "+=", "-=", "/=", "%=", "//=", "..", "?//", ";"})
_MAX_GENERATOR_COMMAS = 3


@functools.lru_cache(maxsize=8192)
def _is_fast(expressions: tuple[str, ...]) -> bool:
    iterators = commas = 0
    for expression in expressions:
        counts = _cost(expression)
        if counts is None:
            return False
        iterators, commas = iterators + counts[0], commas + counts[1]
    return iterators <= 1 and commas <= _MAX_GENERATOR_COMMAS


def _cost(expression: str) -> tuple[int, int] | None:
    """(iterations, generator commas) of an allow-listed expression; None if not allowed."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(expression) if m.lastgroup != "ws"]
    if sum(len(text) for _, text in tokens) != len("".join(expression.split())):
        return None  # something the tokenizer does not know
    stack: list[str] = []
    iterators = commas = 0
    for i, (kind, text) in enumerate(tokens):
        if not _token_allowed(kind, text, tokens, i, stack):
            return None
        if text in _ITERATING or (text == "[" and _next_text(tokens, i) == "]"):
            iterators += 1
        elif text == "," and (not stack or stack[-1] != "{"):
            commas += 1
        if not _track(stack, text):
            return None
    return (iterators, commas) if not stack else None


def _token_allowed(
    kind: str | None, text: str, tokens: list[tuple[str | None, str]], i: int, stack: list[str]
) -> bool:
    if kind in ("comment",) or (kind == "string" and TEMPLATE_OPEN in text):
        return False
    if kind == "var":
        return text[1:] in VARIABLE_NAMES
    if kind == "op":
        return text not in _UNSAFE_OPS
    if kind == "ident":
        return text in _SAFE_IDENTS or _is_object_key(tokens, i, stack)
    return True


def _is_object_key(tokens: list[tuple[str | None, str]], i: int, stack: list[str]) -> bool:
    before = tokens[i - 1][1] if i else ""
    return (
        bool(stack)
        and stack[-1] == "{"
        and before in ("{", ",")
        and _next_text(tokens, i) in (":", ",", "}")
    )


def _next_text(tokens: list[tuple[str | None, str]], i: int) -> str:
    return tokens[i + 1][1] if i + 1 < len(tokens) else ""


def _track(stack: list[str], text: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    if text in "([{":
        stack.append(text)
    elif text in pairs and (not stack or stack.pop() != pairs[text]):
        return False
    return True


# -- secrets -----------------------------------------------------------------------------------

_LOCKBOX = re.compile(
    r'lockboxPayload\(\s*"([^"\\]*)"\s*;\s*"([^"\\]*)"\s*(?:;\s*"([^"\\]*)"\s*)?\)'
)


def secret_references(template: str) -> set[tuple[str, str, str | None]]:
    """(secretId, key, versionId) of each lockboxPayload call with literal arguments."""
    return {(s, k, v or None) for s, k, v in _LOCKBOX.findall(template)}
