"""Loading: YAML 1.2 and JSON input, located problems, all problems at once."""

from __future__ import annotations

import pytest

from stepline.yawl import Problem, SpecError, load
from stepline.yawl.integration import HTTPCall
from stepline.yawl.source import MAX_NODES

from .conftest import spec


def test_yaml_1_2_keeps_on_and_yes_as_strings() -> None:
    text = """
yawl: "0.1"
start: s
steps:
  s:
    httpCall:
      url: https://example.com
      headers: {A: on, B: yes, C: off}
"""
    body = load(text).steps["s"].body
    assert isinstance(body, HTTPCall)
    assert body.headers == {"A": "on", "B": "yes", "C": "off"}


def test_json_spec_loads() -> None:
    workflow = load(spec({"s": {"success": {}}}))
    assert workflow.yawl == "0.1" and workflow.steps["s"].kind == "success"


@pytest.mark.parametrize("version", ["0.1", "1.0"])
def test_both_language_versions_are_accepted(version: str) -> None:
    assert load(f'yawl: "{version}"\nstart: s\nsteps: {{s: {{success: {{}}}}}}').yawl == version


def test_problem_paths_and_positions_point_at_the_field() -> None:
    text = """yawl: "0.1"
start: fetch_users
steps:
  fetch_users:
    httpCall:
      url: https://example.com
      retryPolicy:
        errorList: [ALL]
        retryCount: 500
"""
    with pytest.raises(SpecError) as caught:
        load(text)
    assert caught.value.problems == [
        Problem(
            "steps.fetch_users.httpCall.retryPolicy.retryCount", "must be between 0 and 100", 9, 21
        )
    ]
    assert str(caught.value) == (
        "line 9 col 21: steps.fetch_users.httpCall.retryPolicy.retryCount: "
        "must be between 0 and 100"
    )


def test_every_problem_is_reported_at_once() -> None:
    text = """yawl: "0.1"
start: a
bogus: 1
steps:
  a:
    httpCall: {url: 'x', timeout: 1h, next: missing}
  b:
    noOp: {output: '\\(.a |)'}
"""
    with pytest.raises(SpecError) as caught:
        load(text)
    messages = [(p.path, p.line) for p in caught.value.problems]
    assert messages == [
        ("bogus", 3),
        ("steps.a.httpCall.timeout", 6),
        ("steps.a.httpCall.next", 6),
        ("steps.b", 7),
        ("steps.b.noOp.output", 8),
    ]


def test_json_problems_have_paths() -> None:
    with pytest.raises(SpecError) as caught:
        load('{"yawl": "0.1", "start": "a", "steps": {"a": {"noOp": {"next": 3}}}}')
    assert [p.path for p in caught.value.problems] == ["steps.a.noOp.next"]


def test_problem_without_position_prints_path_and_message() -> None:
    assert str(Problem("steps.a", "bad")) == "steps.a: bad"
    assert str(SpecError([Problem("", "empty")])) == "<root>: empty"


def test_problem_is_frozen() -> None:
    problem = Problem("a", "b", 1, 2)
    with pytest.raises(AttributeError):
        problem.line = 3  # type: ignore[misc]


def test_empty_document_is_a_problem() -> None:
    with pytest.raises(SpecError, match="empty"):
        load("")


def test_yaml_syntax_error_has_position() -> None:
    text = "yawl: \"0.1\"\nstart: a\nsteps:\n  a: {noOp: {output: '\\(.x)'}\n  b: [\n"
    with pytest.raises(SpecError) as caught:
        load(text)
    [problem] = caught.value.problems
    assert problem.message.startswith("not valid YAML or JSON")
    assert (problem.path, problem.line) == ("", 5)


def test_anchors_and_merge_keys_are_resolved() -> None:
    text = """
yawl: "0.1"
start: a
steps:
  a:
    functionCall:
      functionId: f
      retryPolicy: &retry {errorList: [ALL], retryCount: 3}
      next: b
  b:
    functionCall:
      functionId: g
      retryPolicy: {<<: *retry, retryCount: 5}
"""
    workflow = load(text)
    rp_a = workflow.retry_policy_for(workflow.steps["a"])
    rp_b = workflow.retry_policy_for(workflow.steps["b"])
    assert rp_a is not None and rp_a.retry_count == 3
    assert rp_b is not None and rp_b.retry_count == 5 and rp_b.error_list == rp_a.error_list


def test_alias_bomb_is_rejected_quickly() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(SpecError, match=str(MAX_NODES)):
        load("\n".join(lines))


def test_custom_yaml_tags_are_rejected() -> None:
    with pytest.raises(SpecError, match="unsupported YAML"):
        load("yawl: !!binary aGVsbG8=\nstart: a\nsteps: {a: {success: {}}}")
