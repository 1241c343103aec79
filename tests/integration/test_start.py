"""ExecutionService.Start through the Start handler."""

from __future__ import annotations

import json
import time

import boto3

from tests.integration.conftest import Api


def test_start_creates_the_execution_and_the_runner_takes_it_without_the_queue(
    api: Api, workflow_id: str, steps_queue
) -> None:
    execution_id = api.start(workflow_id, '{"orderId": 42}')

    got = api.call("get", path={"executionId": execution_id}).body["execution"]
    assert got["status"] in ("QUEUED", "RUNNING", "FINISHED")
    assert got["workflowId"] == workflow_id
    assert json.loads(got["input"]["inputJson"]) == {"orderId": 42}
    assert execution_id.startswith(f"{workflow_id}-")
    end = time.monotonic() + 20
    while got["status"] != "FINISHED":
        assert time.monotonic() < end, got
        got = api.call("get", path={"executionId": execution_id}).body["execution"]
    assert steps_queue() == []


def test_start_without_input_means_empty_object(api: Api, workflow_id: str) -> None:
    reply = api.call("start", body={"workflowId": workflow_id})
    got = api.call("get", path={"executionId": reply.body["executionId"]}).body["execution"]
    assert got["input"] == {"inputJson": "{}"}


def test_start_accepts_snake_case_and_input_value(api: Api, workflow_id: str) -> None:
    reply = api.call("start", body={"workflow_id": workflow_id, "input": {"input_value": [1, 2]}})
    assert reply.status == 200, reply.body
    got = api.call("get", path={"executionId": reply.body["executionId"]}).body["execution"]
    assert json.loads(got["input"]["inputJson"]) == [1, 2]


def test_start_by_link_takes_the_raw_body_as_input(api: Api, workflow_id: str) -> None:
    reply = api.call("start_by_link", path={"workflowId": workflow_id}, raw_body='{"a": [1]}')
    got = api.call("get", path={"executionId": reply.body["executionId"]}).body["execution"]
    assert json.loads(got["input"]["inputJson"]) == {"a": [1]}


def test_start_by_link_with_empty_body_starts_with_empty_object(api: Api, workflow_id: str) -> None:
    reply = api.call("start_by_link", path={"workflowId": workflow_id}, raw_body="")
    got = api.call("get", path={"executionId": reply.body["executionId"]}).body["execution"]
    assert got["input"]["inputJson"] == "{}"


def test_start_by_link_rejects_a_body_that_is_not_json(api: Api, workflow_id: str) -> None:
    reply = api.call("start_by_link", path={"workflowId": workflow_id}, raw_body="name=x")
    assert reply.status == 400
    assert reply.body["code"] == 3
    assert reply.body["message"].startswith("body: not valid JSON")


def test_start_of_unknown_workflow_is_not_found(api: Api) -> None:
    reply = api.call("start", body={"workflowId": "swnosuchworkflow00000"})
    assert (reply.status, reply.body["code"]) == (404, 5)
    assert "workflowId" in reply.body["message"]


def test_start_rejects_malformed_input(api: Api, workflow_id: str) -> None:
    cases = {
        "input.inputJson: not valid JSON": {"inputJson": "{oops"},
        "input.inputJson: Input should be a valid string": {"inputJson": 5},
        "input.inputJson: not valid JSON (NaN is not a JSON value)": {"inputJson": "NaN"},
        "input: Value error, give either inputJson or inputValue": {
            "inputJson": "{}",
            "inputValue": 1,
        },
        "input.extra: unknown field": {"extra": 1},
    }
    for expected, given in cases.items():
        reply = api.call("start", body={"workflowId": workflow_id, "input": given})
        assert reply.status == 400, given
        assert reply.body == {"code": 3, "message": reply.body["message"], "details": []}
        assert reply.body["message"].startswith(expected), reply.body["message"]


def test_start_rejects_bad_bodies_without_writing(api: Api, workflow_id: str, steps_queue) -> None:
    bad = ["{", "[]", '"text"', '{"workflowId": ""}', '{"workflowId": "BAD ID!"}', "{}"]
    for body in bad:
        reply = api.call("start", raw_body=body)
        assert reply.status == 400, (body, reply.body)
        assert reply.body["code"] == 3
    listed = api.call("list", query={"workflowId": workflow_id}).body
    assert listed["executions"] == []
    assert steps_queue() == []


def test_start_rejects_input_over_the_size_limit(api: Api, workflow_id: str) -> None:
    big = json.dumps({"blob": "x" * (2 * 1024 * 1024)})
    reply = api.call("start", body={"workflowId": workflow_id, "input": {"inputJson": big}})
    assert reply.status == 400
    assert "input.inputJson" in reply.body["message"]
    assert "exceeds the limit" in reply.body["message"]


def test_large_input_is_kept_in_the_payload_bucket(
    api: Api, workflow_id: str, aws: dict[str, str]
) -> None:
    big = json.dumps({"blob": "y" * 300_000})
    execution_id = api.start(workflow_id, big)

    got = api.call("get", path={"executionId": execution_id}).body["execution"]
    assert got["input"]["inputJson"] == big
    keys = boto3.client("s3").list_objects_v2(Bucket=aws["PayloadBucket"], Prefix="executions/")
    assert f"executions/{execution_id}/input.json" in [o["Key"] for o in keys["Contents"]]


def test_idempotency_key_returns_the_same_execution(
    api: Api, workflow_id: str, steps_queue
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = api.start(workflow_id, '{"n": 1}', headers=headers)
    second = api.start(workflow_id, '{"n": 1}', headers=headers)

    assert first == second
    listed = api.call("list", query={"workflowId": workflow_id}).body["executions"]
    assert [e["id"] for e in listed] == [first]
    # A replay while the head is still QUEUED re-sends the first message (harmless duplicate).
    assert {m["executionId"] for m in steps_queue()} <= {first}


def test_idempotency_key_with_a_different_body_conflicts(api: Api, workflow_id: str) -> None:
    headers = {"Idempotency-Key": "order-43"}
    api.start(workflow_id, '{"n": 1}', headers=headers)
    reply = api.call(
        "start",
        body={"workflowId": workflow_id, "input": {"inputJson": '{"n": 2}'}},
        headers=headers,
    )
    assert (reply.status, reply.body["code"]) == (409, 6)
    assert reply.body["message"].startswith("Idempotency-Key:")


def test_execution_pins_the_spec_version_it_started_with(
    api: Api, workflow_id: str, aws: dict[str, str]
) -> None:
    execution_id = api.start(workflow_id)
    new_spec = "yawl: '0.1'\nstart: other\nsteps:\n  other:\n    success: {}\n"
    reply = api.call(
        "workflow_update",
        path={"workflowId": workflow_id},
        body={"specification": {"specYaml": new_spec}},
    )
    assert reply.status == 200, reply.body
    later = api.start(workflow_id)

    table = boto3.resource("dynamodb").Table(aws["Table"])
    first = table.get_item(Key={"PK": f"EX#{execution_id}", "SK": "EX"})["Item"]
    second = table.get_item(Key={"PK": f"EX#{later}", "SK": "EX"})["Item"]
    assert (first["specVersion"], second["specVersion"]) == (1, 2)
    version_one = table.get_item(Key={"PK": f"WF#{workflow_id}", "SK": "V#00000001"})["Item"]
    assert "start: done" in version_one["specYaml"]


def test_start_refuses_input_nested_deeper_than_the_limit(api: Api, workflow_id: str) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    reply = api.call("start", body={"workflowId": workflow_id, "input": {"inputJson": deep}})
    assert (reply.status, reply.body["code"]) == (400, 3), reply.body
    assert reply.body["message"] == (
        "input.inputJson: nested deeper than 64 levels of arrays and objects"
    )


def test_start_by_link_refuses_a_body_beyond_the_bounds(api: Api, workflow_id: str) -> None:
    for body, message in [
        ("[" * 10_000 + "]" * 10_000, "body: nested deeper than 64 levels"),
        ('{"n": ' + "9" * 5000 + "}", "body: a number literal has 5000 characters"),
    ]:
        reply = api.call("start_by_link", path={"workflowId": workflow_id}, raw_body=body)
        assert (reply.status, reply.body["code"]) == (400, 3), reply.body
        assert reply.body["message"].startswith(message)


def test_list_refuses_a_page_size_that_is_not_plain_digits(api: Api, workflow_id: str) -> None:
    reply = api.call("list", query={"workflowId": workflow_id, "pageSize": "5_0"})
    assert (reply.status, reply.body["code"]) == (400, 3)
    assert reply.body["message"] == "pageSize: '5_0' is not an integer"
