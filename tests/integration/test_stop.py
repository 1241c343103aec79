"""ExecutionService.Stop and Terminate."""

from __future__ import annotations

import boto3
import pytest

from tests.integration.conftest import Api


@pytest.mark.parametrize("call", ["stop", "terminate"])
def test_stop_moves_an_active_execution_to_stopped(api: Api, parked_id: str, call: str) -> None:
    execution_id = api.start(parked_id)

    reply = api.call(call, path={"executionId": execution_id})

    assert (reply.status, reply.body) == (200, {"executionId": execution_id})
    got = api.call("get", path={"executionId": execution_id}).body["execution"]
    assert got["status"] == "STOPPED"


@pytest.mark.parametrize("call", ["stop", "terminate"])
def test_stopping_again_succeeds(api: Api, parked_id: str, call: str) -> None:
    execution_id = api.start(parked_id)
    api.call("stop", path={"executionId": execution_id})

    reply = api.call(call, path={"executionId": execution_id})

    assert reply.status == 200


def test_stop_records_what_was_asked_for_the_runner(
    api: Api, parked_id: str, aws: dict[str, str]
) -> None:
    stopped, terminated = api.start(parked_id), api.start(parked_id)
    api.call("stop", path={"executionId": stopped})
    api.call("terminate", path={"executionId": terminated})

    table = boto3.resource("dynamodb").Table(aws["Table"])
    cancels = [
        table.get_item(Key={"PK": f"EX#{e}", "SK": "EX"})["Item"]["cancel"]
        for e in (stopped, terminated)
    ]
    assert cancels == ["STOP", "TERMINATE"]


@pytest.mark.parametrize("ended", ["FINISHED", "FAILED"])
@pytest.mark.parametrize("call", ["stop", "terminate"])
def test_stop_of_an_ended_execution_is_a_failed_precondition(
    api: Api, workflow_id: str, aws: dict[str, str], ended: str, call: str
) -> None:
    execution_id = api.start(workflow_id)
    table = boto3.resource("dynamodb").Table(aws["Table"])
    table.update_item(
        Key={"PK": f"EX#{execution_id}", "SK": "EX"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": ended},
    )

    reply = api.call(call, path={"executionId": execution_id})

    assert (reply.status, reply.body["code"]) == (400, 9)
    assert ended in reply.body["message"]
    got = api.call("get", path={"executionId": execution_id}).body["execution"]
    assert got["status"] == ended


def test_stop_of_unknown_execution_is_not_found(api: Api, workflow_id: str) -> None:
    missing = f"{workflow_id}-00000000-0000-4000-8000-000000000000"
    reply = api.call("stop", path={"executionId": missing})
    assert (reply.status, reply.body["code"]) == (404, 5)


def test_stop_with_a_malformed_id_is_invalid(api: Api) -> None:
    reply = api.call("stop", path={"executionId": "not-an-id"})
    assert (reply.status, reply.body["code"]) == (400, 3)
    assert reply.body["message"].startswith("executionId:")
