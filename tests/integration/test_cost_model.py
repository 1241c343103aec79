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
    stack = Stack(
        table=aws["Table"],
        queue_url=aws["StepsQueue"],
        bucket=aws["PayloadBucket"],
        retention_days=cost.retention_days(),
    )
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
    # QUEUED → FINISHED in one write: gsi2 changes partition (delete + put); the sparse gsi4
    # gets its first entry; the execution leaves the reconciler's watch list (gsi5: a delete).
    assert finish.index_write_units == {"gsi2": 2, "gsi4": 1, "gsi5": 1}
    # A new QUEUED head: one item, one entry in the started-time index and one on the watch
    # list.
    assert head.write_units == 1
    assert head.index_write_units == {"gsi2": 1, "gsi5": 1}


def test_figures_are_the_counted_quantities_times_the_price_file(
    meter: Meter, aws: dict[str, str]
) -> None:
    run(meter, aws, THREE_STEPS)
    prices = cost.Prices.load()
    figures = cost.report(meter, prices, 1, "three")

    assert figures["transitions"] == 3
    by_service = figures["usd_per_million_transitions_by_service"]
    assert figures["usd_per_million_transitions_on_moto"] == pytest.approx(sum(by_service.values()))
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
        figures["usd_per_million_transitions_on_moto"]
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


def test_start_prints_one_emf_document_priced_as_cloudwatch_logs(
    three: tuple[Meter, cost.Prices, dict[str, Any]],
) -> None:
    meter, _, figures = three
    printed = cost.start_metric_bytes()

    assert 150 < printed < 400  # {"_aws": ..., "ExecutionsStarted": [1.0]}
    assert figures["api_log_bytes"] == printed
    assert meter.api["cloudwatch_logs_ingested_gb"] == pytest.approx(printed / 1e9)


# --- the corrected model: each added line is counted quantities x prices.json ----------------


@pytest.fixture
def three(meter: Meter, aws: dict[str, str]) -> tuple[Meter, cost.Prices, dict[str, Any]]:
    run(meter, aws, THREE_STEPS)
    prices = cost.Prices.load()
    return meter, prices, cost.report(meter, prices, 1, "three")


def test_the_corrected_total_is_the_sum_of_its_parts(
    three: tuple[Meter, cost.Prices, dict[str, Any]],
) -> None:
    _, _, figures = three
    parts = figures["usd_per_million_transitions_by_part"]

    assert set(parts) == {
        "requests_and_compute_on_moto",
        "aws_latency_compute",
        "storage_retention",
        "lambda_log_lines",
        "xray_traces",
    }
    # The latency line swaps moto's request times for AWS's: its sign depends on moto's speed.
    assert all(v > 0 for k, v in parts.items() if k != "aws_latency_compute")
    assert figures["usd_per_million_transitions"] == pytest.approx(sum(parts.values()))
    assert parts["requests_and_compute_on_moto"] == figures["usd_per_million_transitions_on_moto"]
    for part, key in [
        ("aws_latency_compute", "aws_latency"),
        ("storage_retention", "storage"),
        ("lambda_log_lines", "lambda_log_lines"),
        ("xray_traces", "xray"),
    ]:
        assert figures[key]["usd_per_million_transitions"] == pytest.approx(parts[part])
    table = cost.table(figures)
    for line in ("moto latencies", "AWS latencies", "storage", "log lines", "X-Ray"):
        assert line in table


def test_aws_latency_is_each_runner_and_start_request_at_its_assumed_latency(
    three: tuple[Meter, cost.Prices, dict[str, Any]],
) -> None:
    meter, prices, figures = three
    latency = prices.latency_ms
    own = [r for r in meter.requests if r.caller in ("runner", "api")]
    runner_ms = sum(latency["dynamodb:*"] for r in own if r.caller == "runner")
    api_ms = sum(
        latency["dynamodb:*"] if r.service == "dynamodb" else latency["sqs:*"]
        for r in own
        if r.caller == "api"
    )
    # Neither the poller's receive and delete nor the harness's reads wait in the runner.
    assert {(r.caller, r.service) for r in own} == {
        ("api", "dynamodb"),
        ("api", "sqs"),
        ("runner", "dynamodb"),
    }
    assert sum(r.latency_ms for r in own) == pytest.approx(runner_ms + api_ms)
    # Each of these requests was timed on moto, and its assumed latency takes that time's place.
    assert all(r.moto_ms > 0 for r in own)
    lam = figures["aws_latency"]
    replaced = lam["moto_ms_replaced"]
    assert replaced == pytest.approx(
        {c: sum(r.moto_ms for r in own if r.caller == c) for c in ("api", "runner")}, abs=1e-3
    )
    assert replaced["runner"] < meter.runner_billed_ms and replaced["api"] < meter.api_billed_ms
    # One invocation each: the measured milliseconds with moto's request times swapped for the
    # assumed latencies, rounded up once.
    assert lam["runner_billed_ms_aws"] == pytest.approx(
        meter.runner_billed_ms - replaced["runner"] + runner_ms, abs=1
    )
    assert lam["api_billed_ms_aws"] == pytest.approx(
        meter.api_billed_ms - replaced["api"] + api_ms, abs=1
    )
    assert lam["runner_ms_added"] == pytest.approx(
        lam["runner_billed_ms_aws"] - lam["runner_billed_ms_moto"]
    )
    assert lam["api_ms_added"] == lam["api_billed_ms_aws"] - lam["api_billed_ms_moto"]
    gb_ms = prices.usd["lambda_gb_second_arm64"] / 1000
    expected = (
        (
            lam["runner_ms_added"] * meter.stack.runner_memory_mb
            + lam["api_ms_added"] * meter.stack.api_memory_mb
        )
        / 1024
        * gb_ms
    )
    assert lam["usd_per_million_transitions"] == pytest.approx(expected / 3 * 1e6)


def test_a_synchronous_invoke_adds_nothing_an_asynchronous_one_its_latency(
    meter: Meter,
) -> None:
    table = cost.Prices.load().latency_ms

    assert meter.latency_of("lambda", "Invoke", {"FunctionName": "f"}) == 0
    assert (
        meter.latency_of("lambda", "Invoke", {"InvocationType": "Event"})
        == table["lambda:Invoke:Event"]
    )
    assert (
        meter.latency_of("dynamodb", "TransactWriteItems", {})
        == table["dynamodb:TransactWriteItems"]
    )
    assert meter.latency_of("dynamodb", "GetItem", {}) == table["dynamodb:*"]
    assert meter.latency_of("events", "PutEvents", {}) == 0


def test_storage_is_every_byte_the_execution_leaves_for_the_retention_period(
    three: tuple[Meter, cost.Prices, dict[str, Any]], aws: dict[str, str]
) -> None:
    meter, prices, figures = three
    items = boto3.client("dynamodb").scan(TableName=aws["Table"])["Items"]
    (execution,) = meter.started
    mine = [i for i in items if i["PK"]["S"] == f"EX#{execution}"]
    shape = meter.shape(aws["Table"])
    entries = [e for i in mine for x in shape.indexes if (e := shape.entry(x, i)) is not None]
    table_bytes = sum(cost.item_size(i) + 100 for i in mine)
    index_bytes = sum(cost.item_size(e) + 100 for e in entries)
    stored = figures["storage"]["bytes"]

    assert len(mine) == 2  # the head and one log item
    assert stored["dynamodb_table_bytes"] == table_bytes
    assert stored["dynamodb_index_bytes"] == index_bytes
    assert stored["s3_bytes"] == 0
    assert figures["storage"]["days"] == cost.retention_days() == 90 + 48 / 24
    a, usd = prices.assumptions, prices.usd
    months = 92 * 24 / a["storage_hours_per_month"] / a["storage_bytes_per_gb"]
    expected = {
        "dynamodb_storage": (table_bytes + index_bytes) * months * usd["dynamodb_storage_gb_month"],
        "dynamodb_pitr": table_bytes * months * usd["dynamodb_pitr_gb_month"],
        "s3_storage": 0.0,
    }
    by_part = figures["storage"]["usd_per_million_transitions_by_part"]
    assert by_part == pytest.approx({k: v / 3 * 1e6 for k, v in expected.items()})


def test_an_ended_head_stores_each_value_once_and_its_list_entries_what_list_renders(
    three: tuple[Meter, cost.Prices, dict[str, Any]], aws: dict[str, str]
) -> None:
    meter, _, figures = three
    (execution,) = meter.started
    client = boto3.client("dynamodb")
    head = client.get_item(
        TableName=aws["Table"], Key={"PK": {"S": f"EX#{execution}"}, "SK": {"S": "EX"}}
    )["Item"]
    shape = meter.shape(aws["Table"])
    entries = {x.name: e for x in shape.indexes if (e := shape.entry(x, head)) is not None}

    # The id is in the key alone; the workflow in the one partition both indexes share.
    values = [str(next(iter(v.values()))) for v in head.values()]
    assert sum(execution in v for v in values) == 1
    assert {k for k, v in head.items() if "WFEX#" in str(v)} == {"GSI2PK"}
    assert {name: sorted(set(e) - {"PK", "SK"}) for name, e in entries.items()} == {
        "gsi2": ["GSI2PK", "finishedAt", "startedAt"],
        "gsi4": ["GSI2PK", "finishedAt", "startedAt"],
    }
    assert all(cost.item_size(e) < 200 for e in entries.values())
    assert figures["storage"]["bytes"]["dynamodb_index_bytes"] == sum(
        cost.item_size(e) + 100 for e in entries.values()
    )


def test_payload_bytes_in_the_bucket_count_as_s3_storage(meter: Meter, aws: dict[str, str]) -> None:
    before = meter.stored["s3_bytes"]
    meter._bucket_before = meter._bucket_bytes()
    boto3.client("s3").put_object(Bucket=aws["PayloadBucket"], Key="p/x", Body=b"x" * 1234)
    meter.measure_storage("none")

    assert meter.stored["s3_bytes"] - before == 1234


def test_log_lines_and_traces_are_per_invocation_at_the_stated_assumptions(
    three: tuple[Meter, cost.Prices, dict[str, Any]],
) -> None:
    meter, prices, figures = three
    invocations = meter.runner_invocations + meter.api_invocations
    a, usd = prices.assumptions, prices.usd
    logs, xray = figures["lambda_log_lines"], figures["xray"]

    assert invocations == 2
    assert logs["bytes"] == invocations * a["lambda_platform_log_bytes_per_invocation"]
    assert logs["usd_per_million_transitions"] == pytest.approx(
        logs["bytes"] / 1e9 * usd["cloudwatch_logs_ingested_gb"] / 3 * 1e6
    )
    # Start sent the first message to the queue here (no runner function): both decide.
    assert xray["sampling_decisions"] == invocations
    assert xray["traces"] == pytest.approx(invocations * a["xray_sampled_fraction"])
    assert xray["free_tier_taken"] is False
    assert xray["usd_per_million_transitions"] == pytest.approx(
        xray["traces"] * usd["xray_trace_recorded"] / 3 * 1e6
    )


def test_checkpointing_every_call_batch_is_priced_from_the_runs_log_writes(
    meter: Meter, aws: dict[str, str]
) -> None:
    run(meter, aws, THREE_STEPS)
    meter.call_batches = 4  # as if the run had made four batches of calls
    prices = cost.Prices.load()
    batch = cost.report(meter, prices, 1, "three")["checkpoint_every_call_batch"]
    units = cost.write_units(max(meter.checkpoint_bytes))
    stored = {"dynamodb_table_bytes": 4 * (meter.checkpoint_bytes[0] + 100)}
    expected = (
        4 * units * prices.usd["dynamodb_write_request_unit"]
        + prices.aws_latency(
            {"lambda_ms_runner_aws_latency": 4 * prices.latency_ms["dynamodb:*"]}, meter.stack
        )
        + sum(prices.storage(stored, meter.stack.retention_days).values())
    )

    assert len(meter.checkpoint_bytes) == 1
    assert batch["write_units_per_checkpoint"] == units
    assert batch["usd_per_million_transitions"] == pytest.approx(expected / 3 * 1e6)


def test_an_item_is_priced_for_the_days_its_ttl_keeps_it(meter: Meter) -> None:
    now = 1_800_000_000.0
    days = meter.stack.retention_days
    soon = {"expiresAt": {"N": str(int(now + 16 * 86400))}}
    late = {"expiresAt": {"N": str(int(now + 400 * 86400))}}
    assert meter._kept_days(soon, now) == 16
    assert meter._kept_days(late, now) == days  # never longer than the retention period
    assert meter._kept_days({}, now) == days
    prices = cost.Prices.load()
    kept = {"dynamodb_table_bytes": 1000, "dynamodb_table_byte_days": 1000 * 16}
    full = {"dynamodb_table_bytes": 1000}
    assert prices.storage(kept, days)["dynamodb_pitr"] == pytest.approx(
        prices.storage(full, days)["dynamodb_pitr"] * 16 / days
    )
