"""The state model (REFERENCE §5.1) as pure functions, with property tests for the merge."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepline.yawl import StepFailure, WorkflowErrorCode, render
from stepline.yawl.control import While
from stepline.yawl.state import (
    NO_OUTPUT,
    branch_states,
    execution_result,
    foreach_items,
    foreach_result,
    initial_state,
    merge,
    parallel_result,
    template_variables,
    while_input,
    while_should_run,
)

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(st.text(max_size=4), json_values, max_size=5)


@pytest.mark.parametrize(
    ("execution_input", "state"),
    [
        ({"a": "b", "c": 12}, {"input": {"a": "b", "c": 12}, "a": "b", "c": 12}),
        ([1, 2, 3], {"input": [1, 2, 3]}),
        ({}, {"input": {}}),
        (42, {"input": 42}),
        ({"input": 1, "x": 2}, {"input": {"input": 1, "x": 2}, "x": 2}),
    ],
)
def test_initial_state_follows_reference_table(execution_input: Any, state: Any) -> None:
    assert initial_state(execution_input) == state


def test_merge_replaces_whole_top_level_keys() -> None:
    state = {"numbers": [1, 2, 3, 4], "strings": ["a", "b", "c"]}
    assert merge(state, {"strings": ["d", "e"]}) == {"numbers": [1, 2, 3, 4], "strings": ["d", "e"]}


@pytest.mark.parametrize("output", [[1], "text", 3, None, True])
def test_merge_rejects_non_object_output(output: Any) -> None:
    with pytest.raises(StepFailure) as caught:
        merge({}, output)
    assert caught.value.code is WorkflowErrorCode.STEP_INVALID_OUTPUT


@given(state=objects, output=objects)
def test_merge_takes_output_keys_and_keeps_the_rest(
    state: dict[str, Any], output: dict[str, Any]
) -> None:
    before = copy.deepcopy((state, output))
    merged = merge(state, output)
    assert set(merged) == set(state) | set(output)
    for key, value in merged.items():
        assert value == (output[key] if key in output else state[key])
    assert (state, output) == before  # pure: arguments untouched


@given(state=objects, a=objects, b=objects)
def test_merging_twice_equals_merging_the_combined_output(
    state: dict[str, Any], a: dict[str, Any], b: dict[str, Any]
) -> None:
    assert merge(merge(state, a), b) == merge(state, {**a, **b})


@given(state=objects)
def test_merge_of_empty_output_is_identity(state: dict[str, Any]) -> None:
    assert merge(state, {}) == state


@given(state=objects, output=json_values.filter(lambda v: not isinstance(v, dict)))
def test_merge_of_any_non_object_fails_invalid_output(state: dict[str, Any], output: Any) -> None:
    with pytest.raises(StepFailure) as caught:
        merge(state, output)
    assert caught.value.code is WorkflowErrorCode.STEP_INVALID_OUTPUT


def test_global_is_visible_to_templates() -> None:
    variables = template_variables({"top": 1})
    assert render("\\({t: $global.top})", {}, variables=variables) == {"t": 1}


def test_each_parallel_branch_gets_an_independent_copy() -> None:
    states = branch_states({"shared": {"n": 1}}, ["a", "b"])
    states["a"]["shared"]["n"] = 2
    assert states["b"] == {"shared": {"n": 1}}


def test_parallel_input_must_be_an_object() -> None:
    with pytest.raises(StepFailure):
        branch_states([1], ["a"])


def test_parallel_result_is_keyed_by_branch_name() -> None:
    result = parallel_result(
        {"fetch_posts_branch": {"posts": []}, "fetch_users_branch": {"users": []}}
    )
    assert render("\\({p: .fetch_posts_branch.posts})", result) == {"p": []}


def test_foreach_takes_an_array_of_objects() -> None:
    assert foreach_items([{"id": 1}, {"id": 2}]) == [{"id": 1}, {"id": 2}]
    for bad in ({"id": 1}, [1, 2], "x"):
        with pytest.raises(StepFailure):
            foreach_items(bad)


def test_foreach_result_keeps_run_order() -> None:
    assert foreach_result([{"r": 1}, {"r": 2}]) == [{"r": 1}, {"r": 2}]


def _while(**fields: Any) -> While:
    body = {"do": {"start": "x", "steps": {"x": {"success": {}}}}, **fields}
    return While.model_validate(body)


def test_while_without_condition_runs_max_iterations_times() -> None:
    step = _while(max_iterations=3)
    assert [while_should_run(step, {}, n) for n in range(5)] == [True, True, True, False, False]


def test_while_condition_sees_counter_and_is_checked_before_each_iteration() -> None:
    step = _while(condition="$counter < .limit")
    assert [while_should_run(step, {"limit": 2}, n) for n in range(3)] == [True, True, False]


def test_while_templated_max_iterations_is_rendered() -> None:
    step = _while(max_iterations="\\(.n)")
    assert while_should_run(step, {"n": 1}, 0) and not while_should_run(step, {"n": 1}, 1)


def test_while_input_may_use_counter() -> None:
    step = _while(max_iterations=1, input="\\({i: $counter, v: .v})")
    assert while_input(step, {"v": 9}, 4) == {"i": 4, "v": 9}


def test_execution_result_is_last_output_else_the_state() -> None:
    assert execution_result({"a": 1}, {"out": 2}) == {"out": 2}
    assert execution_result({"a": 1}, NO_OUTPUT) == {"a": 1}
    assert execution_result({"a": 1}, None) is None
