"""Full validation of a parsed spec: structure, transitions, reachability, jq, loop guards.

Every problem is collected (none stops the others from being found) and carries a dotted path
and, for YAML input, a line and column.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from stepline.yawl.problems import Problem, SpecError
from stepline.yawl.source import Document, PathKey, format_path
from stepline.yawl.spec import (
    COUNTER_FIELDS,
    ENGINE_RENDERED_FIELDS,
    INTEGRATION_TYPES,
    NESTED_TYPES,
    STEP_META_FIELDS,
    STEP_TYPES,
    TASK_TOKEN_FIELDS,
    TEMPLATED_FIELDS,
    UNSUPPORTED_TYPES,
    Workflow,
    global_defined,
)
from stepline.yawl.templating import TemplateError, check_expressions, parse_template

# Step types that do work (a call, a wait, or an end); a While body must reach one on every path.
_WORK_TYPES = frozenset(STEP_TYPES) - {"switch", "noOp"}


@dataclass
class _Step:
    path: PathKey
    step_id: str
    kind: str | None
    body: Any


@dataclass
class _Scope:
    path: PathKey
    label: str
    start: Any
    steps: dict[str, _Step] = field(default_factory=dict)


@dataclass(frozen=True)
class _Expression:
    """A jq program found in a templated field, and the variables defined there."""

    path: PathKey
    program: str
    names: frozenset[str]
    kind: str
    pattern: str


def _variables_of(step: _Step, pattern: str) -> frozenset[str]:
    """The template variables the engine defines in field `pattern` of `step` (REFERENCE §5.2)."""
    kind = step.kind or ""
    names = {"counter"} if pattern in COUNTER_FIELDS.get(kind, frozenset()) else set()
    if pattern in TASK_TOKEN_FIELDS.get(kind, frozenset()):
        names.add("taskToken")
    # Top-level steps sit at ("steps", id); anything longer is inside a nested scope.
    if global_defined(kind, pattern, nested=len(step.path) > 2):
        names.add("global")
    return frozenset(names)


def _global_message(item: _Expression) -> str | None:
    """Why `$global` is undefined, when that alone is what keeps the program from compiling."""
    if "global" in item.names:
        return None
    if check_expressions([(item.program, item.names | {"global"})]):
        return None  # something else is wrong too: jq's own message says what
    if item.kind in INTEGRATION_TYPES and item.pattern not in ENGINE_RENDERED_FIELDS:
        field_name = item.pattern.removesuffix(".*")
        return (
            f"$global is not defined in {item.kind} {field_name}: the step renders its own "
            "fields against the step input alone; pick what they need from $global in the "
            "step's input"
        )
    return (
        "$global is not defined here: it is the top-level state, defined in the steps of a "
        "Foreach do, a Parallel branch or a While do (and in a While's input, condition and "
        "max_iterations)"
    )


class _Validator:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = list(document.problems)
        self.scopes: list[_Scope] = []
        self.steps: list[_Step] = []

    def add(self, path: PathKey, message: str, *, key: bool = False) -> None:
        position = self.document.positions.locate(path, key=key)
        line, column = position if position else (None, None)
        self.problems.append(Problem(format_path(path), message, line, column))

    # -- step shapes and scopes ----------------------------------------------------------------

    def collect(self, scope_obj: Any, path: PathKey, label: str) -> None:
        if not isinstance(scope_obj, dict):
            return
        scope = _Scope(path, label, scope_obj.get("start"))
        self.scopes.append(scope)
        steps = scope_obj.get("steps")
        if not isinstance(steps, dict):
            return
        for step_id, raw in steps.items():
            step_path = (*path, "steps", step_id)
            kind = self._step_kind(raw, step_path)
            step = _Step(step_path, step_id, kind, raw.get(kind) if kind else None)
            scope.steps[step_id] = step
            self.steps.append(step)
            if kind in NESTED_TYPES and isinstance(step.body, dict):
                self._collect_nested(step, kind)

    def _collect_nested(self, step: _Step, kind: str) -> None:
        body_path = (*step.path, kind)
        if kind != "parallel":
            self.collect(
                step.body.get("do"), (*body_path, "do"), f"the do block of {step.step_id!r}"
            )
            return
        branches = step.body.get("branches")
        for name, branch in branches.items() if isinstance(branches, dict) else ():
            label = f"branch {name!r} of {step.step_id!r}"
            self.collect(branch, (*body_path, "branches", name), label)

    def _step_kind(self, raw: Any, path: PathKey) -> str | None:
        if not isinstance(raw, dict):
            return None
        kinds = [key for key in raw if key in STEP_TYPES]
        for key in raw:
            if key in UNSUPPORTED_TYPES:
                self.add((*path, key), _unsupported(key), key=True)
            elif key not in STEP_TYPES and key not in STEP_META_FIELDS:
                self.add((*path, key), _unknown_step_key(key), key=True)
        if len(kinds) > 1:
            self.add(path, f"a step must have exactly one step type, found {', '.join(kinds)}")
        elif not kinds and set(raw) <= STEP_META_FIELDS:
            self.add(path, f"a step needs a step type, one of: {', '.join(STEP_TYPES)}")
        return kinds[0] if len(kinds) == 1 else None

    # -- structure (pydantic) ------------------------------------------------------------------

    def structure(self) -> Workflow | None:
        try:
            return Workflow.model_validate(self.document.data)
        except ValidationError as exc:
            step_paths = {step.path for step in self.steps}
            for error in exc.errors():
                loc = tuple(error["loc"])
                if loc in self.document.refused:
                    continue  # the value was refused while parsing, and said why
                if not _reported_by_shape(loc, error, step_paths):
                    self.add(loc, _message(error), key=error["type"] == "extra_forbidden")
            return None

    # -- transitions and reachability ----------------------------------------------------------

    def transitions(self) -> None:
        owners: dict[str, list[_Scope]] = {}
        for scope in self.scopes:
            for step_id in scope.steps:
                owners.setdefault(step_id, []).append(scope)
        for scope in self.scopes:
            self._check_scope(scope, owners)

    def _check_scope(self, scope: _Scope, owners: dict[str, list[_Scope]]) -> None:
        start_ok = isinstance(scope.start, str) and scope.start in scope.steps
        if isinstance(scope.start, str) and not start_ok:
            self.add((*scope.path, "start"), _missing(scope.start, scope, owners))
        edges: dict[str, list[str]] = {}
        for step in scope.steps.values():
            edges[step.step_id] = []
            for target, path in _targets(step):
                if target in scope.steps:
                    edges[step.step_id].append(target)
                else:
                    self.add(path, _missing(target, scope, owners))
        # A step whose type is unknown has unknown transitions: reachability would be a guess.
        if start_ok and all(step.kind for step in scope.steps.values()):
            reached = _reachable(scope.start, edges)
            for step_id, step in scope.steps.items():
                if step_id not in reached:
                    self.add(
                        step.path,
                        f"step {step_id!r} is unreachable from start {scope.start!r}",
                        key=True,
                    )

    # -- loop guard ----------------------------------------------------------------------------

    def loop_guards(self) -> None:
        bodies = {scope.path: scope for scope in self.scopes}
        for step in self.steps:
            scope = bodies.get((*step.path, "while", "do"))
            if step.kind == "while" and scope and scope.start in scope.steps:
                idle = _idle_path(scope)
                if idle:
                    self.add(
                        step.path,
                        "every path through a While's do block must reach an "
                        "integration, Wait, Success or Fail step; this one does not: "
                        + " → ".join(idle),
                        key=True,
                    )

    # -- templates -----------------------------------------------------------------------------

    def templates(self) -> None:
        found: list[_Expression] = []
        for step in self.steps:
            if step.kind is None or not isinstance(step.body, dict):
                continue
            for pattern, kind in TEMPLATED_FIELDS[step.kind]:
                names = _variables_of(step, pattern)
                for path, value in _resolve(step.body, pattern.split("."), (*step.path, step.kind)):
                    if (step.kind, pattern) == ("workflow", "executionInput") and (
                        "lockboxPayload" in value
                    ):
                        self.add(path, _CHILD_SECRET)
                        continue
                    program = self._program(path, value, kind)
                    if program is not None:
                        found.append(_Expression(path, program, names, step.kind, pattern))
        errors = check_expressions((item.program, item.names) for item in found)
        for index, message in errors.items():
            self.add(found[index].path, _global_message(found[index]) or message)

    def _program(self, path: PathKey, value: str, kind: str) -> str | None:
        if kind == "expression":
            return value
        try:
            return parse_template(value).program
        except TemplateError as exc:
            self.add(path, f"invalid template: {exc.message}")
            return None


# A child's input is its own execution's input: stored, and shown by Get.
_CHILD_SECRET = (
    "lockboxPayload is not allowed here: a child's input is stored and shown as its "
    "execution's input; pass the secret's id instead and let the child read it"
)


def validate(document: Document) -> Workflow:
    """Validate parsed spec data; return the Workflow or raise SpecError listing every problem."""
    validator = _Validator(document)
    if not isinstance(document.data, dict):
        validator.add((), "a workflow must be a mapping with yawl, start and steps")
        raise SpecError(validator.problems)
    validator.collect(document.data, (), "the workflow")
    workflow = validator.structure()
    validator.transitions()
    validator.loop_guards()
    validator.templates()
    if validator.problems or workflow is None:
        raise SpecError(validator.problems)
    return workflow


def _unsupported(key: str) -> str:
    return (
        f"step type {key!r} is not supported by Stepline: it is a Yandex Cloud-only integration "
        "with no AWS counterpart"
    )


def _unknown_step_key(key: str) -> str:
    if key in ("next", "input", "output", "retryPolicy", "timeout", "catch"):
        return f"{key!r} belongs inside the step type, e.g. httpCall: {{{key}: ...}}"
    close = difflib.get_close_matches(key, [*STEP_TYPES, *STEP_META_FIELDS], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown step type or field {key!r}{hint}"


def _reported_by_shape(loc: PathKey, error: ErrorDetails, step_paths: set[PathKey]) -> bool:
    if loc in step_paths:
        return error["type"] != "model_type"  # exactly-one-type check, already reported
    return error["type"] == "extra_forbidden" and loc[:-1] in step_paths


_TYPE_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "bool_type": "expected a boolean (true or false)",
    "float_type": "expected a number",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
}


def _message(error: ErrorDetails) -> str:
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        return _extra_message(loc)
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "enum":
        return f"unknown error code {error.get('input')!r}"
    if kind == "literal_error":
        return f"must be one of {error.get('ctx', {}).get('expected', '')}"
    return _TYPE_MESSAGES.get(kind, error["msg"])


def _extra_message(loc: tuple[int | str, ...]) -> str:
    if len(loc) == 1:
        return f"unknown top-level key {loc[0]!r} (allowed: yawl, start, defaultRetryPolicy, steps)"
    if loc[-2:] == ("fail", "error"):
        return "unknown field 'error': the Fail message field is 'errorMessage'"
    return f"unknown field {loc[-1]!r}"


def _missing(target: str, scope: _Scope, owners: dict[str, list[_Scope]]) -> str:
    elsewhere = [other for other in owners.get(target, []) if other is not scope]
    if elsewhere:
        return (
            f"step {target!r} is outside {scope.label}; a transition may only name a step "
            f"of the same steps map (it is in {elsewhere[0].label})"
        )
    return f"no step named {target!r} in {scope.label}"


def _targets(step: _Step) -> Iterator[tuple[str, PathKey]]:
    body, base = step.body, (*step.path, step.kind or "")
    if not isinstance(body, dict):
        return
    if isinstance(body.get("next"), str):
        yield body["next"], (*base, "next")
    default = body.get("default") if step.kind == "switch" else None
    if isinstance(default, str):
        yield default, (*base, "default")
    elif isinstance(default, dict) and isinstance(default.get("next"), str):
        yield default["next"], (*base, "default", "next")
    for list_key in ("choices", "catch"):
        items = body.get(list_key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and isinstance(item.get("next"), str):
                yield item["next"], (*base, list_key, i, "next")


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for target in edges.get(stack.pop(), []):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _idle_path(scope: _Scope) -> list[str] | None:
    """A path from the start to the end of the scope through steps that do no work, if any."""
    stack: list[list[str]] = [[scope.start]]
    seen: set[str] = set()
    while stack:
        path = stack.pop()
        step = scope.steps.get(path[-1])
        if step is None or step.kind is None or step.kind in _WORK_TYPES or path[-1] in seen:
            continue
        seen.add(path[-1])
        targets = [target for target, _ in _targets(step)]
        ends = step.kind == "noOp" and not targets
        if ends:
            return path
        stack.extend([*path, target] for target in targets)
    return None


def _resolve(value: Any, parts: list[str], path: PathKey) -> Iterator[tuple[PathKey, str]]:
    """Yield (path, string) for each value a TEMPLATED_FIELDS pattern selects in raw data."""
    if not parts:
        if isinstance(value, str):
            yield path, value
        return
    head, rest = parts[0], parts[1:]
    if not isinstance(value, dict):
        return
    if head == "*":
        for key, item in value.items():
            yield from _resolve(item, rest, (*path, key))
    elif head.endswith("[]"):
        items = value.get(head[:-2])
        for i, item in enumerate(items if isinstance(items, list) else []):
            yield from _resolve(item, rest, (*path, head[:-2], i))
    elif head in value:
        yield from _resolve(value[head], rest, (*path, head))
