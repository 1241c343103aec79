"""Parsing of every step type: fields, defaults, aliases and per-type rules."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from stepline.yawl import SpecError, load
from stepline.yawl.control import (
    Fail,
    Foreach,
    NoOp,
    Parallel,
    Success,
    Switch,
    Wait,
    While,
    parse_wait_seconds,
)
from stepline.yawl.integration import (
    YDS,
    YMQ,
    ContainerCall,
    FunctionCall,
    GRPCCall,
    HTTPCall,
    ObjectStorage,
    Postbox,
    WorkflowCall,
    YDBDocument,
)
from stepline.yawl.spec import STEP_TYPES, TEMPLATED_FIELDS

from .conftest import one_step, spec

INNER = {"start": "x", "steps": {"x": {"noOp": {}}}}


def test_switch_parses_choices_and_object_default() -> None:
    step = one_step(
        "switch",
        {"choices": [{"condition": ".a", "next": "s"}], "default": {"next": "s"}},
    )
    assert isinstance(step.body, Switch)
    assert step.body.choices[0].condition == ".a"
    assert step.body.default is not None and step.body.default.next == "s"
    assert step.next is None


def test_switch_accepts_default_as_plain_step_id() -> None:
    step = one_step("switch", {"choices": [{"condition": ".a", "next": "s"}], "default": "s"})
    assert isinstance(step.body, Switch) and step.body.default is not None
    assert step.body.default.next == "s"


def test_foreach_parses_do_and_default_concurrency() -> None:
    step = one_step("foreach", {"input": "\\([.])", "output": "\\({r: .})", "do": INNER})
    assert isinstance(step.body, Foreach)
    assert step.body.concurrency == 1
    assert step.body.do_.start == "x"
    assert step.carries_output


def test_parallel_parses_branches_and_default_concurrency() -> None:
    step = one_step("parallel", {"branches": {"a": INNER, "b": INNER}})
    assert isinstance(step.body, Parallel)
    assert step.body.concurrency == 30
    assert list(step.body.branches) == ["a", "b"]


def test_parallel_needs_a_branch() -> None:
    with pytest.raises(SpecError, match="branches"):
        one_step("parallel", {"branches": {}})


def test_success_has_no_fields() -> None:
    assert isinstance(one_step("success", {}).body, Success)
    with pytest.raises(SpecError, match="unknown field 'next'"):
        one_step("success", {"next": "s"})


def test_fail_parses_error_message() -> None:
    step = one_step("fail", {"errorMessage": "bad \\(.x)"})
    assert isinstance(step.body, Fail) and step.body.error_message == "bad \\(.x)"


def test_noop_fields_are_optional() -> None:
    step = one_step("noOp", {})
    assert isinstance(step.body, NoOp) and step.body.output is None and step.body.next is None


@pytest.mark.parametrize("duration", ["5", "2.5", "2s", "1m", "\\(.delay)"])
def test_wait_accepts_numbers_durations_and_templates(duration: str) -> None:
    step = one_step("wait", {"duration": duration})
    assert isinstance(step.body, Wait) and step.body.duration == duration


def test_wait_duration_number_means_seconds() -> None:
    assert parse_wait_seconds("5") == 5.0
    assert parse_wait_seconds("1m") == 60.0


def test_wait_accepts_until_instant() -> None:
    step = one_step("wait", {"until": "2024-12-23T18:25:43.511Z"})
    assert isinstance(step.body, Wait) and step.body.until == "2024-12-23T18:25:43.511Z"


@pytest.mark.parametrize("key", ["max_iterations", "maxIterations"])
def test_while_accepts_both_spellings_of_max_iterations(key: str) -> None:
    step = one_step("while", {key: 3, "do": {"start": "x", "steps": {"x": {"success": {}}}}})
    assert isinstance(step.body, While) and step.body.max_iterations == 3


def test_while_max_iterations_may_be_a_template() -> None:
    body = {"max_iterations": "\\(.n)", "do": {"start": "x", "steps": {"x": {"success": {}}}}}
    step = one_step("while", body)
    assert isinstance(step.body, While) and step.body.max_iterations == "\\(.n)"


def test_while_rejects_negative_max_iterations() -> None:
    body = {"max_iterations": -1, "do": {"start": "x", "steps": {"x": {"success": {}}}}}
    with pytest.raises(SpecError, match="non-negative integer"):
        one_step("while", body)


def test_integration_common_fields_have_defaults() -> None:
    step = one_step("functionCall", {"functionId": "f"})
    assert isinstance(step.body, FunctionCall)
    assert (step.body.timeout, step.body.catch, step.body.retry_policy) == (900.0, (), None)
    assert step.is_integration and step.carries_output


def test_http_call_defaults() -> None:
    step = one_step("httpCall", {"url": "https://example.com"})
    assert isinstance(step.body, HTTPCall)
    assert (step.body.method, step.body.body, step.body.headers, step.body.query) == (
        "GET",
        "",
        {},
        {},
    )


def test_grpc_call_fields() -> None:
    step = one_step("grpcCall", {"endpoint": "h:443", "method": "p.S/M", "useServiceAccount": True})
    assert isinstance(step.body, GRPCCall) and step.body.use_service_account


def test_ymq_and_yds_put() -> None:
    ymq = one_step("ymq", {"queueArn": "arn:q", "put": {}}).body
    yds = one_step("yds", {"database": "d", "topic": "t", "put": {"partitionKey": "k"}}).body
    assert isinstance(ymq, YMQ) and ymq.put.body == ""
    assert isinstance(yds, YDS) and yds.put.partition_key == "k"


@pytest.mark.parametrize("key", ["exclusive_start_key", "exclusiveStartKey"])
def test_ydb_scan_accepts_both_spellings(key: str) -> None:
    body = one_step("ydbDocument", {"database": "d", "tableName": "t", "scan": {key: "k"}}).body
    assert isinstance(body, YDBDocument) and body.scan is not None
    assert body.scan.exclusive_start_key == "k"


def test_object_storage_content_type_defaults() -> None:
    put = one_step("objectStorage", {"bucket": "b", "object": "o", "put": {"content": "c"}}).body
    get = one_step("objectStorage", {"bucket": "b", "object": "o", "get": {}}).body
    assert isinstance(put, ObjectStorage) and put.put is not None
    assert put.put.content_type == "TEXT" and put.object_key == "o"
    assert isinstance(get, ObjectStorage) and get.get is not None
    assert get.get.content_type == "BINARY"


def test_workflow_step_fields() -> None:
    body = one_step("workflow", {"workflowId": "w", "executionInput": "\\(.)"}).body
    assert isinstance(body, WorkflowCall) and body.workflow_id == "w"


@pytest.mark.parametrize("key", ["ccAdresses", "ccAddresses"])
def test_postbox_accepts_documented_cc_typo_and_correct_spelling(key: str) -> None:
    body = one_step(
        "postbox",
        {
            "fromAddress": "a@x",
            "destination": {"toAddresses": "b@x", key: "c@x"},
            "raw": {"data": "d"},
        },
    ).body
    assert isinstance(body, Postbox) and body.destination.cc_addresses == "c@x"


def test_container_call_method_may_be_templated_but_literal_is_checked() -> None:
    body = one_step("containerCall", {"containerId": "c", "method": "\\(.m)"}).body
    assert isinstance(body, ContainerCall) and body.method == "\\(.m)"
    with pytest.raises(SpecError, match="must be one of"):
        one_step("containerCall", {"containerId": "c", "method": "FETCH"})


def test_step_title_and_description_are_kept() -> None:
    step = one_step("noOp", {}, title="T", description="D")
    assert (step.title, step.description, step.kind) == ("T", "D", "noOp")


def test_default_retry_policy_applies_to_integration_steps_without_their_own() -> None:
    workflow = load(
        spec(
            {
                "a": {"functionCall": {"functionId": "f", "next": "b"}},
                "b": {
                    "functionCall": {
                        "functionId": "f",
                        "retryPolicy": {"errorList": []},
                        "next": "c",
                    }
                },
                "c": {"noOp": {}},
            },
            defaultRetryPolicy={"errorList": ["ALL"], "retryCount": 2},
        )
    )
    default = workflow.retry_policy_for(workflow.steps["a"])
    assert default is not None and default.retry_count == 2
    own = workflow.retry_policy_for(workflow.steps["b"])
    assert own is not None and own.retry_count == 0
    assert workflow.retry_policy_for(workflow.steps["c"]) is None


def test_walk_visits_nested_scopes() -> None:
    workflow = load(
        spec(
            {
                "p": {"parallel": {"branches": {"left": INNER}, "next": "f"}},
                "f": {"foreach": {"input": "\\([])", "output": "\\({})", "do": INNER}},
            }
        )
    )
    assert [path for path, _ in workflow.walk()] == [
        ("p",),
        ("p", "left", "x"),
        ("f",),
        ("f", "do", "x"),
    ]


def test_models_are_frozen() -> None:
    step = one_step("noOp", {})
    with pytest.raises(ValueError):
        step.title = "changed"  # type: ignore[misc]


def _fields_of(model: type[BaseModel]) -> dict[str, object]:
    found: dict[str, object] = {}
    for info in model.model_fields.values():
        choices = getattr(info.validation_alias, "choices", None) or []
        for name in [info.alias or "", *map(str, choices)]:
            found[name] = info.annotation
    return found


def _submodel(annotation: object) -> type[BaseModel] | None:
    for candidate in [annotation, *getattr(annotation, "__args__", ())]:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


@pytest.mark.parametrize("kind", sorted(TEMPLATED_FIELDS))
def test_templated_field_table_names_real_fields(kind: str) -> None:
    for pattern, _ in TEMPLATED_FIELDS[kind]:
        model: type[BaseModel] | None = STEP_TYPES[kind]
        for part in pattern.replace("[]", "").split("."):
            if part == "*":
                continue
            assert model is not None and part in _fields_of(model), pattern
            model = _submodel(_fields_of(model)[part])
