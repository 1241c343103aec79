"""The cost bench counts the requests the orchestrator really makes and prices them by the rules.

A run of a known workflow must produce exactly the expected request list, and the sizing,
capacity, chunking and index rules must give the figures worked out by hand here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from stepline.bench import cost
from stepline.bench.cost import Index, Meter, Stack, TableShape

THREE_STEPS = """\
yawl: "0.1"
start: a
steps:
  a:
    noOp: {next: b}
  b:
    noOp: {next: done}
  done:
    success: {}
"""


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, str]]:
    """The bench's own emulated account: the table, queues and bucket, no IAM.

    The cost bench drives the core in this process (its meter counts every request the
    orchestrator makes); this module checks that meter, not the deployed stack.
    """
    from stepline.dev import resources

    with cost.emulated_aws():
        yield resources.provision(boto3.client, stack_name="stepline-cost-test")


@pytest.fixture
def meter(aws: dict[str, str]) -> Meter:
    stack = Stack(table=aws["Table"], queue_url=aws["StepsQueue"], bucket=aws["PayloadBucket"])
    return Meter(stack, boto3.client)


def run(meter: Meter, aws: dict[str, str], spec: str) -> dict[str, Any]:
    from stepline.service.executions import StartCommand

    svc = cost.services_for(meter, aws)
    workflow_id = cost.create_workflow(svc, spec, "w" + uuid.uuid4().hex[:8])
    execution_id = meter.start(svc, StartCommand(workflow_id, "{}", caller="test"))
    return meter.run_to_end(svc, execution_id, deadline=30.0)


def counted(meter: Meter) -> list[tuple[str, str, str]]:
    return [(r.role, r.service, r.operation) for r in meter.requests if r.role != "harness"]


def test_a_three_step_run_makes_exactly_the_start_the_poll_and_one_runner_pass(
    meter: Meter, aws: dict[str, str]
) -> None:
    execution = run(meter, aws, THREE_STEPS)

    assert execution["status"] == "FINISHED"
    assert counted(meter) == [
        ("api", "dynamodb", "GetItem"),  # the workflow
        ("api", "dynamodb", "PutItem"),  # the execution head, conditional
        ("api", "sqs", "SendMessage"),
        ("poller", "sqs", "ReceiveMessage"),
        ("runner", "dynamodb", "GetItem"),  # the head
        ("runner", "dynamodb", "Query"),  # the newest log item (none yet)
        ("runner", "dynamodb", "GetItem"),  # the pinned spec version
        ("runner", "dynamodb", "PutItem"),  # one log item: three entries, ended
        ("runner", "dynamodb", "UpdateItem"),  # the head: FINISHED
        ("poller", "sqs", "DeleteMessage"),
    ]
    assert dict(meter.transitions) == {"NoOp": 2, "Success": 1}
    assert meter.runner_invocations == 1
    assert meter.api_invocations == 1


def test_the_three_step_run_is_billed_by_item_size_and_index_entries(
    meter: Meter, aws: dict[str, str]
) -> None:
    run(meter, aws, THREE_STEPS)
    runner = [r for r in meter.requests if r.role == "runner"]
    append = next(r for r in runner if r.operation == "PutItem")
    finish = next(r for r in runner if r.operation == "UpdateItem")
    head = next(r for r in meter.requests if r.role == "api" and r.operation == "PutItem")

    assert [r.read_units for r in runner if r.operation in ("GetItem", "Query")] == [1, 1, 1]
    assert append.detail == "log-append" and append.write_units >= 1
    assert not append.index_write_units  # log items carry no index keys
    # QUEUED → FINISHED in one write: gsi2 changes partition (delete + put); gsi1 projects the
    # new status and finishedAt (one write); the sparse gsi3 and gsi4 get their first entry;
    # the execution leaves the reconciler's watch list (gsi5: a delete).
    assert finish.index_write_units == {"gsi1": 1, "gsi2": 2, "gsi3": 1, "gsi4": 1, "gsi5": 1}
    # A new QUEUED head: one item, one entry in each of the two started-time indexes and one
    # on the watch list.
    assert head.write_units == 1
    assert head.index_write_units == {"gsi1": 1, "gsi2": 1, "gsi5": 1}


def test_figures_are_the_counted_quantities_times_the_price_file(
    meter: Meter, aws: dict[str, str]
) -> None:
    run(meter, aws, THREE_STEPS)
    prices = cost.Prices.load()
    figures = cost.report(meter, prices, 1, "three")

    assert figures["transitions"] == 3
    by_service = figures["usd_per_million_transitions_by_service"]
    assert figures["usd_per_million_transitions"] == pytest.approx(sum(by_service.values()))
    ddb = figures["dynamodb"]
    write_units = ddb["write_units"] + sum(ddb["index_write_units"].values())
    expected_ddb = (
        write_units * prices.usd["dynamodb_write_request_unit"]
        + ddb["read_units"] * prices.usd["dynamodb_read_request_unit"]
    )
    assert by_service["dynamodb"] == pytest.approx(expected_ddb / 3 * 1e6)
    assert by_service["sqs"] == pytest.approx(3 * prices.usd["sqs_request"] / 3 * 1e6)
    steps = sum(row["usd_per_million_transitions"] for row in figures["by_step_type"].values())
    assert steps + figures["start_api_usd_per_million_transitions"] == pytest.approx(
        figures["usd_per_million_transitions"]
    )
    assert figures["requests"]["sqs"] == {
        "DeleteMessage": 1,
        "ReceiveMessage": 1,
        "SendMessage": 1,
    }


def test_a_failed_condition_still_costs_a_write_and_a_transaction_costs_double(
    meter: Meter, aws: dict[str, str]
) -> None:
    dynamodb = meter.client("dynamodb")
    key = {"PK": {"S": "COST#" + uuid.uuid4().hex}, "SK": {"S": "X"}}
    big = key | {"blob": {"S": "x" * 1500}}
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": aws["Table"], "Item": big}}])
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(
            TableName=aws["Table"], Item=key, ConditionExpression="attribute_not_exists(PK)"
        )
    transaction, failed = meter.requests[-2:]

    assert transaction.write_units == 2 * 2  # 1.5 KB → 2 units, doubled
    assert not failed.ok and failed.write_units == 2  # the existing 1.5 KB item


def test_sqs_requests_are_billed_per_64_kb_chunk(meter: Meter, aws: dict[str, str]) -> None:
    sqs = meter.client("sqs")
    queue = sqs.create_queue(QueueName="cost-" + uuid.uuid4().hex[:8])["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="x" * (64 * 1024))
    sqs.send_message(QueueUrl=queue, MessageBody="x" * (64 * 1024 + 1))

    assert [r.sqs_requests for r in meter.requests if r.operation == "SendMessage"] == [1, 2]


def test_item_sizes_follow_the_dynamodb_rules() -> None:
    assert cost.item_size({"PK": {"S": "EX#abc"}}) == 2 + 6
    assert cost.item_size({"n": {"N": "-00123.4500"}}) == 1 + (3 + 1)  # digits 12345
    assert cost.item_size({"ok": {"BOOL": True}, "no": {"NULL": True}}) == 3 + 3
    assert cost.item_size({"m": {"M": {"a": {"S": "xy"}}}}) == 1 + 3 + (1 + 1 + 2)
    assert cost.item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert cost.item_size({"b": {"B": b"\x00\x01\x02"}, "ss": {"SS": ["a", "bc"]}}) == 4 + 5


def test_capacity_units_round_up_per_kilobyte_and_per_four_kilobytes() -> None:
    assert [cost.write_units(n) for n in (0, 1024, 1025)] == [1, 1, 2]
    assert cost.read_units(4096, consistent=True) == 1
    assert cost.read_units(4097, consistent=True) == 2
    assert cost.read_units(10, consistent=False) == 0.5


def test_an_index_key_change_is_a_delete_and_a_put_and_unprojected_changes_are_free() -> None:
    gsi = Index("gsi", ("GPK",), "INCLUDE", frozenset({"status"}))
    shape = TableShape(("PK",), (gsi,))
    old = {"PK": {"S": "a"}, "GPK": {"S": "QUEUED"}, "status": {"S": "Q"}, "big": {"S": "x"}}

    assert shape.index_writes(old, old | {"big": {"S": "y" * 5000}}) == {}
    assert shape.index_writes(old, old | {"status": {"S": "R"}}) == {"gsi": 1}
    assert shape.index_writes(old, old | {"GPK": {"S": "RUNNING"}}) == {"gsi": 2}
    assert shape.index_writes(None, old) == {"gsi": 1}
    assert shape.index_writes({"PK": {"S": "a"}}, {"PK": {"S": "a"}, "x": {"N": "1"}}) == {}
