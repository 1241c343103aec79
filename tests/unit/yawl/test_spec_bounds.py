"""Specs are read within bounds: nesting, number literals, Wait durations, where $global exists.

The data-driven cases under cases/invalid hold the messages; these tests cover the sizes that are
too big for a case file and the helpers behind the checks.
"""

from __future__ import annotations

import json
import time

import pytest

from stepline.bounds import MAX_DEPTH
from stepline.errors import InvalidArgument
from stepline.service import specs
from stepline.yawl import SpecError, load
from stepline.yawl.control import MAX_WAIT_SECONDS, parse_wait_seconds
from stepline.yawl.source import DEPTH_MESSAGE
from tests.unit.yawl.conftest import spec

HEAD = 'yawl: "0.1"\nstart: a\nsteps:\n  a:\n    noOp: {}\n'


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load(text)
    return [str(problem) for problem in caught.value.problems]


def test_spec_refuses_a_block_mapping_nested_700_deep_with_its_position() -> None:
    block = "".join("  " * i + f"k{i}:\n" for i in range(700)) + "  " * 700 + "leaf\n"
    (problem,) = _problems(HEAD + block)
    where = ".".join(f"k{i}" for i in range(MAX_DEPTH))
    assert problem == f"line 70 col 129: {where}: {DEPTH_MESSAGE}"


@pytest.mark.parametrize("depth", [500, 100_000])
def test_spec_refuses_a_flow_list_nested_deeper_than_the_limit(depth: int) -> None:
    started = time.monotonic()
    (problem,) = _problems(HEAD + "x: " + "[" * depth + "]" * depth)
    # The 65th "[" (column 4 + 64) is where the document goes too deep.
    assert problem == "line 6 col 68: x: nested deeper than 64 levels of mappings and lists"
    assert time.monotonic() - started < 0.5  # refused where it starts, not after reading it all


def test_spec_in_json_nested_1000_deep_is_refused_with_its_position() -> None:
    text = '{"yawl": "0.1", "start": "a", "steps": {"a": {"noOp": {}}}, "x": '
    (problem,) = _problems(text + "[" * 1000 + "]" * 1000 + "}")
    # The root object is level 1: the 64th "[" (at 66 + 63) opens level 65.
    assert problem == "line 1 col 129: <root>: nested deeper than 64 levels of mappings and lists"


def test_spec_nesting_scopes_within_the_limit_loads() -> None:
    body: dict[str, object] = {"s": {"success": {}}}
    for level in range(12):  # each Foreach adds 4 levels: steps, id, foreach, do
        body = {
            f"e{level}": {
                "foreach": {
                    "input": "\\([{}])",
                    "output": "\\({})",
                    "do": {"start": next(iter(body)), "steps": body},
                }
            }
        }
    assert load(spec(body)).start == "e11"


def test_spec_refuses_a_5000_digit_integer() -> None:
    policy = "defaultRetryPolicy: {errorList: [ALL], retryCount: " + "9" * 5000 + "}\n"
    (problem,) = _problems(HEAD + policy)
    assert problem == (
        "line 6 col 52: defaultRetryPolicy.retryCount: a number literal has 5000 characters, "
        "more than the limit of 100"
    )


def test_spec_service_check_reports_bounds_as_invalid_argument() -> None:
    prefix = r"^specification\.specYaml: line 6 col 4: x: a number literal has 5000 characters"
    with pytest.raises(InvalidArgument, match=prefix):
        specs.check(HEAD + "x: " + "9" * 5000 + "\n")


def test_an_alias_cycle_is_a_located_problem() -> None:
    (problem,) = _problems(HEAD + "x: &loop [*loop]\n")
    assert problem == "line 6 col 4: x[0]: an alias refers to the node that contains it"


@pytest.mark.parametrize("value", ["!!int abc", "!!float abc", "!!bool maybe"])
def test_a_scalar_that_does_not_fit_its_tag_is_a_problem(value: str) -> None:
    problems = _problems(HEAD + f"x: {value}\n")
    assert any("x: unsupported YAML value for tag" in p for p in problems), problems


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5", 5.0), ("2.5", 2.5), ("-3", -3.0), ("1e3", 1000.0), ("48h", MAX_WAIT_SECONDS)],
)
def test_wait_seconds_within_the_execution_limit(text: str, seconds: float) -> None:
    assert parse_wait_seconds(text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e300", "longer than an execution may run"),
        ("172801", "longer than an execution may run"),
        ("48h1s", "longer than an execution may run"),
        ("inf", "invalid duration"),
        ("nan", "invalid duration"),
        ("1_0", "invalid duration"),
        ("\u0665", "invalid duration"),
        ("9" * 400, "not a finite number of seconds"),
    ],
)
def test_wait_refuses_durations_beyond_48h_or_not_finite(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_wait_seconds(text)


def test_global_in_an_http_call_url_is_refused_even_inside_a_branch() -> None:
    branch = {"start": "h", "steps": {"h": {"httpCall": {"url": "https://x/\\($global.id)"}}}}
    (problem,) = _problems(spec({"p": {"parallel": {"branches": {"b": branch}}}}))
    assert "steps.p.parallel.branches.b.steps.h.httpCall.url: $global is not defined" in problem


def test_global_at_the_top_level_is_refused() -> None:
    (problem,) = _problems(spec({"a": {"noOp": {"output": "\\({g: $global})"}}}))
    assert "steps.a.noOp.output: $global is not defined here" in problem


def test_other_jq_errors_keep_jq_s_message_when_global_is_not_the_only_one() -> None:
    (problem,) = _problems(spec({"a": {"noOp": {"output": "\\($global | $nope)"}}}))
    assert "invalid jq" in problem


def test_json_spec_nested_200_000_deep_is_refused_without_recursing() -> None:
    text = json.dumps({"yawl": "0.1", "start": "a", "steps": {"a": {"noOp": {}}}})
    (problem,) = _problems(text[:-1] + ', "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    assert problem.startswith("line 1 col 129: ") and "nested deeper than 64 levels" in problem
