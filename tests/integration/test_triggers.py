"""Event triggers on moto: EventBridge rules, S3 object-created events, SQS, start by link."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from stepline.dev import scheduler
from stepline.dev.pump import QueuePump
from stepline.dev.stack import EmulatedStack

from .conftest import Api

EVENTS = Path(__file__).parents[1] / "events"
DEADLINE = 10.0


def fixture(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


class Trigger:
    """The deployed trigger function, invoked as its event sources invoke it."""

    def __init__(self, stack: EmulatedStack) -> None:
        self.stack = stack

    def invoke(self, event: dict[str, Any]) -> Any:
        """Its answer; fails the test when the function fails."""
        return self.stack.invoke("TriggerFunction", event)

    def error(self, event: dict[str, Any]) -> dict[str, Any]:
        """The function error it answers (Lambda's errorType/errorMessage)."""
        function = self.stack.function("TriggerFunction")
        result = self.stack.functions.invoke(function, json.dumps(event).encode())
        assert result.function_error == "Unhandled", result.payload
        answer: dict[str, Any] = json.loads(result.payload)
        return answer

    @contextmanager
    def configured(self, **variables: str | None) -> Iterator[None]:
        """Change the deployed function's environment (as a stack update would), then restore."""
        lam = self.stack.clients("lambda")
        name = self.stack.function("TriggerFunction").name
        before = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        after = {k: v for k, v in (before | variables).items() if v is not None}
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": after})
        try:
            yield
        finally:
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": before})


@pytest.fixture(scope="module")
def trigger(stack: EmulatedStack) -> Trigger:
    """The trigger function of the deployed stack."""
    return Trigger(stack)


@pytest.fixture(scope="module")
def relay(stack: EmulatedStack) -> scheduler.EventRelay:
    """The deployed trigger rules on the emulated default bus, delivering as EventBridge does."""
    return scheduler.EventRelay(stack.clients, stack.deployment.rules, stack.deliver_event)


def executions_of(api: Api, workflow_id: str) -> list[dict[str, Any]]:
    reply = api.call("list", query={"workflowId": workflow_id})
    assert reply.status == 200, reply.body
    return list(reply.body.get("executions", []))


def input_of(api: Api, execution_id: str) -> Any:
    execution = api.call("get", path={"executionId": execution_id}).body["execution"]
    return json.loads(execution["input"]["inputJson"])


def wait_for(check: Callable[[], bool], relay: scheduler.EventRelay) -> None:
    """Deliver relayed events until ``check()`` holds, or fail at the deadline."""
    end = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < end, "the trigger did not start the execution in time"
        relay.poll_once(wait_seconds=0)


def test_matching_event_starts_its_workflow_with_the_event_as_input(
    api: Api, relay: scheduler.EventRelay, workflow_id: str
) -> None:
    boto3.client("events").put_events(
        Entries=[
            {
                "Source": "stepline.events",
                "DetailType": "Order Placed",
                "Detail": json.dumps({"orderId": 42}),
                "Resources": [f"stepline:workflow/{workflow_id}"],
            }
        ]
    )
    wait_for(lambda: len(executions_of(api, workflow_id)) == 1, relay)
    given = input_of(api, executions_of(api, workflow_id)[0]["id"])
    assert given["detail"] == {"orderId": 42}
    assert given["detail-type"] == "Order Placed"
    assert given["source"] == "stepline.events"
    assert {"id", "time", "region", "version", "resources"} <= set(given)


def test_events_of_other_sources_do_not_match_the_rule(
    api: Api, relay: scheduler.EventRelay, workflow_id: str
) -> None:
    boto3.client("events").put_events(
        Entries=[
            {
                "Source": "someone.else",
                "DetailType": "Order Placed",
                "Detail": "{}",
                "Resources": [f"stepline:workflow/{workflow_id}"],
            }
        ]
    )
    assert relay.poll_once(wait_seconds=0) == 0
    assert executions_of(api, workflow_id) == []


def test_redelivered_event_starts_no_second_execution(
    api: Api, trigger: Trigger, workflow_id: str
) -> None:
    event = fixture("trigger_event") | {"resources": [f"stepline:workflow/{workflow_id}"]}
    first = trigger.invoke(copy.deepcopy(event))
    again = trigger.invoke(copy.deepcopy(event))
    assert first["executionId"] == again["executionId"]
    assert len(executions_of(api, workflow_id)) == 1


def test_event_without_a_workflow_uses_the_configured_default(
    api: Api, trigger: Trigger, workflow_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trigger.configured(EVENT_WORKFLOW_ID=workflow_id):
        result = trigger.invoke(fixture("trigger_event"))
    assert result["executionId"].startswith(workflow_id)


def test_event_without_any_workflow_fails_so_it_is_retried_and_dead_lettered(
    trigger: Trigger,
) -> None:
    with trigger.configured(EVENT_WORKFLOW_ID=""):
        error = trigger.error(fixture("trigger_event"))
    assert error["errorType"] == "TriggerError"
    assert "names no workflow" in error["errorMessage"]


def test_object_created_in_the_trigger_bucket_starts_one_execution(
    api: Api,
    aws: dict[str, str],
    relay: scheduler.EventRelay,
    trigger: Trigger,
    workflow_id: str,
) -> None:
    with trigger.configured(OBJECT_WORKFLOW_ID=workflow_id):
        boto3.client("s3").put_object(
            Bucket=aws["TriggerBucket"], Key=f"{workflow_id}/orders.csv", Body=b"id\n1\n"
        )
        wait_for(lambda: len(executions_of(api, workflow_id)) == 1, relay)
    given = input_of(api, executions_of(api, workflow_id)[0]["id"])
    assert given["source"] == "aws.s3"
    assert given["detail-type"] == "Object Created"
    assert given["detail"]["object"]["key"] == f"{workflow_id}/orders.csv"
    assert given["detail"]["bucket"]["name"] == aws["TriggerBucket"]


def test_object_event_delivered_twice_starts_one_execution(
    api: Api, trigger: Trigger, workflow_id: str
) -> None:
    event = fixture("trigger_event") | {
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "b"}, "object": {"key": "k", "sequencer": "61"}},
    }
    with trigger.configured(OBJECT_WORKFLOW_ID=workflow_id):
        first = trigger.invoke(copy.deepcopy(event))
        again = trigger.invoke(copy.deepcopy(event))
    assert first["executionId"] == again["executionId"]
    assert len(executions_of(api, workflow_id)) == 1


def queue_batch(*records: dict[str, Any]) -> dict[str, Any]:
    """An SQS batch like the fixture's, one record per ``(id, body, workflow)`` given."""
    template_record = fixture("trigger_queue")["Records"][0]
    return {"Records": [template_record | record for record in records]}


def record(message_id: str, body: str, workflow_id: str | None = None) -> dict[str, Any]:
    attributes = {}
    if workflow_id is not None:
        attributes = {"workflowId": {"stringValue": workflow_id, "dataType": "String"}}
    return {"messageId": message_id, "body": body, "messageAttributes": attributes}


def test_each_queue_message_starts_one_execution_and_bad_ones_fail_alone(
    api: Api, trigger: Trigger, workflow_id: str
) -> None:
    batch = queue_batch(
        record("m-1", '{"orderId": 1}', workflow_id),
        record("m-2", "plain text", workflow_id),
        record("m-3", '{"orderId": 3}'),  # names no workflow, and there is no default
        record("m-4", '{"orderId": 4}', "swnosuchworkflow000"),
    )
    with trigger.configured(QUEUE_WORKFLOW_ID=""):
        result = trigger.invoke(batch)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    assert failed == {"m-3", "m-4"}
    inputs = sorted(
        json.dumps(input_of(api, e["id"]), sort_keys=True) for e in executions_of(api, workflow_id)
    )
    assert inputs == ['{"body": "plain text"}', '{"orderId": 1}']


def test_redelivered_queue_batch_starts_no_second_execution(
    api: Api, trigger: Trigger, workflow_id: str
) -> None:
    batch = queue_batch(record("r-1", '{"n": 1}'), record("r-2", '{"n": 2}'))
    with trigger.configured(QUEUE_WORKFLOW_ID=workflow_id):
        assert trigger.invoke(copy.deepcopy(batch))["batchItemFailures"] == []
        assert trigger.invoke(copy.deepcopy(batch))["batchItemFailures"] == []
    assert len(executions_of(api, workflow_id)) == 2


def test_same_message_id_on_another_queue_is_another_execution(
    api: Api, trigger: Trigger, workflow_id: str
) -> None:
    here = queue_batch(record("same-id", "{}"))
    there = copy.deepcopy(here)
    there["Records"][0]["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:other"
    with trigger.configured(QUEUE_WORKFLOW_ID=workflow_id):
        trigger.invoke(here)
        trigger.invoke(there)
    assert len(executions_of(api, workflow_id)) == 2


def test_unknown_event_shapes_are_refused(trigger: Trigger) -> None:
    error = trigger.error({"hello": "world"})
    assert error["errorType"] == "TriggerError"
    assert "not a schedule fire" in error["errorMessage"]


def test_a_message_on_the_trigger_queue_starts_its_workflow_through_the_mapping(
    api: Api, stack: EmulatedStack, aws: dict[str, str], workflow_id: str
) -> None:
    (mapping,) = [m for m in stack.deployment.mappings if "TriggerQueue" in m.queue_arn]
    pump = QueuePump(mapping, stack.functions, pollers=1)
    pump.start()  # Lambda's poller, with the trigger function's role
    try:
        boto3.client("sqs").send_message(
            QueueUrl=aws["TriggerQueue"],
            MessageBody='{"orderId": 42}',
            MessageAttributes={"workflowId": {"DataType": "String", "StringValue": workflow_id}},
        )
        end = time.monotonic() + DEADLINE
        while not executions_of(api, workflow_id):
            assert time.monotonic() < end, "the queue message started no execution"
            time.sleep(0.05)
    finally:
        pump.stop()
    assert input_of(api, executions_of(api, workflow_id)[0]["id"]) == {"orderId": 42}


def make_public(api: Api, workflow_id: str) -> None:
    reply = api.call("workflow_update", path={"workflowId": workflow_id}, body={"isPublic": True})
    assert reply.status == 200, reply.body
    url = reply.body["response"]["executionUrl"]
    assert url.endswith(f"/workflows/v1/execution/{workflow_id}/start")


def test_anonymous_start_by_link_starts_a_public_workflow_with_the_raw_body(
    api: Api, workflow_id: str
) -> None:
    make_public(api, workflow_id)
    reply = api.call(
        "trigger_start_by_link_anonymous", path={"workflowId": workflow_id}, raw_body='{"a": 1}'
    )
    assert reply.status == 200, reply.body
    assert input_of(api, reply.body["executionId"]) == {"a": 1}


def test_an_anonymous_idempotency_key_is_scoped_to_its_source_and_workflow(
    api: Api, folder: str
) -> None:
    first, second = api.create_workflow(folder, "one"), api.create_workflow(folder, "two")
    for workflow_id in (first, second):
        make_public(api, workflow_id)

    def start(workflow_id: str, source: str) -> str:
        reply = api.call(
            "trigger_start_by_link_anonymous",
            path={"workflowId": workflow_id},
            raw_body="{}",
            headers={"Idempotency-Key": "shared-key"},
            source_ip=source,
        )
        assert reply.status == 200, reply.body
        return str(reply.body["executionId"])

    mine = start(first, "198.51.100.7")
    assert start(first, "198.51.100.7") == mine  # a retry of the same caller
    assert start(first, "203.0.113.9") != mine  # another caller, the same key
    assert start(second, "198.51.100.7") != mine  # the same caller, another workflow


def test_anonymous_start_by_link_is_refused_for_private_and_missing_workflows(
    api: Api, workflow_id: str
) -> None:
    for target in (workflow_id, "swnosuchworkflow000"):
        reply = api.call("trigger_start_by_link_anonymous", path={"workflowId": target})
        assert reply.status == 401, reply.body
        assert reply.body["code"] == 16
        assert "is not public" in reply.body["message"]
    assert executions_of(api, workflow_id) == []


def test_signed_start_by_link_still_starts_private_workflows(api: Api, workflow_id: str) -> None:
    reply = api.call("start_by_link", path={"workflowId": workflow_id}, raw_body="")
    assert reply.status == 200, reply.body
