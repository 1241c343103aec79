"""The workflow state model (REFERENCE §5.1) as pure functions.

The state is always a JSON object. Steps read it (through `input`), produce an output (through
`output`), and the output is merged into the state by top-level keys. Nothing here mutates its
arguments.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from stepline.yawl.control import While
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.templating import DEFAULT_LIMITS, Limits, evaluate_condition, render

State = dict[str, Any]


class _NoOutput:
    """Marker: no output-capable step has run yet."""

    def __repr__(self) -> str:
        return "NO_OUTPUT"


NO_OUTPUT: Final = _NoOutput()


def template_variables(
    global_state: Mapping[str, Any] | None = None, counter: int | None = None
) -> dict[str, Any]:
    """Variables for templates: `$global` (top-level state) and, in While, `$counter`."""
    variables: dict[str, Any] = {}
    if global_state is not None:
        variables["global"] = global_state
    if counter is not None:
        variables["counter"] = counter
    return variables


def initial_state(execution_input: Any) -> State:
    """State at the start: `{"input": ...}` plus the input's own keys when it is an object."""
    state: State = dict(execution_input) if isinstance(execution_input, dict) else {}
    # "input" always holds the whole execution input, even if the input has an "input" key.
    state["input"] = execution_input
    return state


def merge(state: Mapping[str, Any], output: Any) -> State:
    """Merge an output into the state by top-level keys; non-objects fail STEP_INVALID_OUTPUT."""
    if not isinstance(output, dict):
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_OUTPUT,
            f"a step output must be a JSON object to merge into the state, got {_kind(output)}",
        )
    return {**state, **output}


def branch_states(step_input: Any, branches: Iterable[str]) -> dict[str, State]:
    """Parallel: one independent copy of the (filtered) state per branch."""
    state = _require_object(step_input, "the input of a Parallel step")
    return {name: copy.deepcopy(state) for name in branches}


def parallel_result(branch_outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Parallel: the raw result, keyed by branch name (each the branch's last output)."""
    return dict(branch_outputs)


def foreach_items(step_input: Any) -> list[State]:
    """Foreach: the array `input` yields, each element (an object) the state of one run."""
    if not isinstance(step_input, list):
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"the input of a Foreach step must be an array of objects, got {_kind(step_input)}",
        )
    return [
        _require_object(item, f"element {i} of a Foreach input")
        for i, item in enumerate(step_input)
    ]


def foreach_result(results: Sequence[Any]) -> list[Any]:
    """Foreach: the result array, element i being the result of run i."""
    return list(results)


def while_should_run(
    step: While,
    data: Any,
    counter: int,
    *,
    global_state: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> bool:
    """While: whether iteration `counter` (0-based) runs; checked before each iteration."""
    maximum = step.max_iterations
    if isinstance(maximum, str):
        maximum = _iterations(render(maximum, data, variables=template_variables(global_state)))
    if maximum is not None and counter >= maximum:
        return False
    if step.condition is None:
        return True
    variables = template_variables(global_state, counter)
    return evaluate_condition(step.condition, data, variables=variables, limits=limits)


def while_input(
    step: While,
    state: Mapping[str, Any],
    counter: int,
    *,
    global_state: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> State:
    """While: the starting state of iteration `counter` (its `input` may use `$counter`)."""
    variables = template_variables(global_state, counter)
    if step.input is None:
        value: Any = copy.deepcopy(dict(state))
    else:
        value = render(step.input, state, variables=variables, limits=limits)
    return _require_object(value, "the input of a While iteration")


def execution_result(state: Mapping[str, Any], last_output: Any = NO_OUTPUT) -> Any:
    """The execution result: the last output-capable step's output, else the final state."""
    return dict(state) if last_output is NO_OUTPUT else last_output


def _iterations(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise StepFailure(
        WorkflowErrorCode.STEP_INVALID_ARGUMENT,
        f"max_iterations must be a non-negative integer, got {_kind(value)}",
    )


def _require_object(value: Any, what: str) -> State:
    if not isinstance(value, dict):
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"{what} must be a JSON object, got {_kind(value)}",
        )
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
