"""ExecutionService.Get, GetHistory and List."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from stepline.store import keys
from stepline.store.records import ExecutionRecord
from stepline.testing.records import execution_record as _record
from tests.integration.conftest import Api

DURATION = re.compile(r"^\d+(\.\d{3}|\.\d{6}|\.\d{9})?s$")


def _put_executions(aws: dict[str, str], workflow_id: str, records: list[ExecutionRecord]) -> None:
    from stepline.store.table import to_dynamo

    client = boto3.client("dynamodb")
    for record in records:
        client.put_item(TableName=aws["Table"], Item=to_dynamo(record.to_item()))


T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def history_of_runs(aws: dict[str, str], workflow_id: str) -> list[ExecutionRecord]:
    """Twelve executions an hour apart: statuses cycle, ended ones finish 30 minutes later."""
    statuses = ["FINISHED", "FAILED", "RUNNING", "STOPPED"]
    records = []
    for n in range(12):
        status = statuses[n % 4]
        start = T0 + timedelta(hours=n)
        end = None if status == "RUNNING" else start + timedelta(minutes=30)
        records.append(_record(workflow_id, n, status, start, end))
    _put_executions(aws, workflow_id, records)
    return records


def _ids(reply_body: dict) -> list[str]:
    return [e["id"][-2:] for e in reply_body["executions"]]


def test_get_returns_the_full_execution(api: Api, parked_id: str) -> None:
    execution_id = api.start(parked_id, '{"x": 1}')  # still active: no result, no error
    body = api.call("get", path={"executionId": execution_id}).body

    execution = body["execution"]
    assert list(execution) == ["id", "workflowId", "input", "status", "startedAt", "duration"]
    assert DURATION.match(execution["duration"])
    assert execution["startedAt"].endswith("Z")


def test_get_of_an_ended_execution_reports_result_error_and_fixed_duration(
    api: Api, aws: dict[str, str], workflow_id: str
) -> None:
    record = ExecutionRecord(
        id=f"{workflow_id}-00000000-0000-4000-8000-000000000001",
        workflow_id=workflow_id,
        spec_version=1,
        status="FAILED",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1, milliseconds=500),
        input_json="{}",
        error={"message": "boom", "errorCode": "STEP_FAIL"},
    )
    _put_executions(aws, workflow_id, [record])

    execution = api.call("get", path={"executionId": record.id}).body["execution"]

    assert execution["duration"] == "1.500s"
    assert execution["error"] == {"message": "boom", "errorCode": "STEP_FAIL"}
    assert execution["startedAt"] == "2026-01-01T00:00:00Z"


def test_get_of_unknown_execution_is_not_found(api: Api, workflow_id: str) -> None:
    missing = f"{workflow_id}-00000000-0000-4000-8000-000000000099"
    reply = api.call("get", path={"executionId": missing})
    assert (reply.status, reply.body["code"]) == (404, 5)


def test_history_answers_the_execution_and_its_entries(api: Api, workflow_id: str) -> None:
    execution_id = api.start(workflow_id)
    body = api.call("history", path={"executionId": execution_id}).body
    assert body["execution"]["id"] == execution_id
    assert set(body) == {"execution", "entries"}
    assert [e["id"] for e in body["entries"]] in ([], ["done"])  # before or after the run


def test_history_unpacks_log_items_oldest_first_and_pages_on_request(
    api: Api, aws: dict[str, str], workflow_id: str
) -> None:
    execution_id = api.start(workflow_id)
    end = time.monotonic() + 10  # the runner's own log items first; these replace them
    while api.call("get", path={"executionId": execution_id}).body["execution"]["status"] != (
        "FINISHED"
    ):
        assert time.monotonic() < end
        time.sleep(0.05)
    table = boto3.resource("dynamodb").Table(aws["Table"])
    n = 0
    for seq, ids in enumerate([["a", "b", "c"], ["d"], ["e", "f"]]):
        entries = []
        for i in ids:
            n += 1
            entries.append(
                {
                    "n": n,
                    "id": i,
                    "type": "NoOp",
                    "status": "COMPLETED",
                    "startedAt": "2026-01-01T00:00:00.000000Z",
                    "duration": "0s",
                }
            )
        item = {
            **keys.history_item(execution_id, seq),
            "entries": json.dumps(entries),
            "open": "[]",
        }
        if seq == 2:
            item["open"] = json.dumps(
                [
                    {
                        "n": 7,
                        "id": "g",
                        "type": "HTTPCall",
                        "status": "STARTED",
                        "startedAt": "2026-01-01T00:00:00.000000Z",
                    }
                ]
            )
        table.put_item(Item=item)

    whole = api.call("history", path={"executionId": execution_id}).body
    assert [e["id"] for e in whole["entries"]] == list("abcdefg")
    assert whole["entries"][-1]["status"] == "STARTED"

    seen, token = [], None
    for _ in range(5):
        query = {"pageSize": "2"} | ({"pageToken": token} if token else {})
        page = api.call("history", path={"executionId": execution_id}, query=query).body
        seen += [e["id"] for e in page["entries"]]
        token = page["nextPageToken"]
        if not token:
            break
    assert seen == list("abcdefg")


def test_list_is_newest_first_and_pages_with_tokens(
    api: Api, workflow_id: str, history_of_runs: list[ExecutionRecord]
) -> None:
    pages, token = [], None
    while True:
        query = {"workflowId": workflow_id, "pageSize": "5"}
        if token:
            query["pageToken"] = token
        body = api.call("list", query=query).body
        pages.append(_ids(body))
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == [["11", "10", "09", "08", "07"], ["06", "05", "04", "03", "02"], ["01", "00"]]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("status=FAILED", ["09", "05", "01"]),
        ('status="RUNNING"', ["10", "06", "02"]),
        ("started_at>2026-01-01T08:00:00Z", ["11", "10", "09"]),
        ("started_at<2026-01-01T02:00:00Z", ["01", "00"]),
        ("started_at=2026-01-01T03:00:00Z", ["03"]),
        ("started_at>2026-01-01T01:00:00Z AND started_at<2026-01-01T04:00:00Z", ["03", "02"]),
        ("finished_at>2026-01-01T09:00:00Z", ["11", "09"]),
        ("finished_at<2026-01-01T01:00:00Z", ["00"]),
        ("finished_at=2026-01-01T04:30:00Z", ["04"]),
        ("status=FAILED AND started_at>2026-01-01T02:00:00+01:00", ["09", "05"]),
        ("status=STOPPED AND finished_at<2026-01-01T08:00:00Z", ["07", "03"]),
        (
            "finished_at>2026-01-01T01:00:00Z AND started_at<2026-01-01T06:00:00Z",
            ["05", "04", "03", "01"],
        ),
        ("status=RUNNING AND finished_at>2026-01-01T00:00:00Z", []),
        ("started_at>2026-01-01T05:00:00Z AND started_at<2026-01-01T04:00:00Z", []),
    ],
)
def test_list_filters(
    api: Api, workflow_id: str, history_of_runs: list, filter_text: str, expected: list[str]
) -> None:
    reply = api.call("list", query={"workflowId": workflow_id, "filter": filter_text})
    assert reply.status == 200, reply.body
    assert _ids(reply.body) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "workflowId: required"),
        ({"workflowId": "Bad Id"}, "workflowId:"),
        ({"pageSize": "2147483648"}, "pageSize: must be between 0 and 2147483647"),
        ({"pageSize": "-1"}, "pageSize: must be between 0 and 2147483647"),
        ({"pageSize": "ten"}, "pageSize: 'ten' is not an integer"),
        ({"filter": "status=ERROR"}, "did you mean FAILED?"),
        ({"filter": "status>FAILED"}, "status supports only '='"),
        ({"filter": "owner=me"}, "unknown field 'owner'"),
        ({"filter": "started_at>yesterday"}, "is not an RFC 3339 timestamp"),
        ({"filter": "started_at>2026-13-01T00:00:00Z"}, "is not a valid date"),
        ({"filter": "status=FAILED OR status=STOPPED"}, "is not an execution status"),
        ({"pageToken": "garbage"}, "pageToken:"),
    ],
)
def test_list_rejects_bad_parameters(
    api: Api, workflow_id: str, query: dict[str, str], message: str
) -> None:
    full = {"workflowId": workflow_id} | query if "workflowId" not in query else query
    if query == {}:
        full = {}
    reply = api.call("list", query=full)
    assert (reply.status, reply.body["code"]) == (400, 3), reply.body
    assert message in reply.body["message"]


@pytest.mark.parametrize("size", ["0", "2147483647"], ids=["0 means 100", "the largest"])
def test_list_takes_any_page_size_the_api_documents(
    api: Api, workflow_id: str, history_of_runs: list, size: str
) -> None:
    body = api.call("list", query={"workflowId": workflow_id, "pageSize": size}).body
    assert len(body["executions"]) == 12
    assert "nextPageToken" not in body


def test_page_token_is_bound_to_its_filter_and_tamper_evident(
    api: Api, workflow_id: str, history_of_runs: list
) -> None:
    first = api.call("list", query={"workflowId": workflow_id, "pageSize": "2"}).body
    token = first["nextPageToken"]

    other_filter = api.call(
        "list",
        query={
            "workflowId": workflow_id,
            "pageSize": "2",
            "pageToken": token,
            "filter": "status=FAILED",
        },
    )
    assert other_filter.status == 400
    body, mac = token.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    tampered = api.call(
        "list", query={"workflowId": workflow_id, "pageSize": "2", "pageToken": forged}
    )
    assert tampered.status == 400
    assert tampered.body["message"].startswith("pageToken:")


def test_list_shows_a_just_started_execution(api: Api, workflow_id: str) -> None:
    execution_id = api.start(workflow_id)
    # The runner has it at once (the first hop is an asynchronous invocation): by the time of
    # the List it may be QUEUED, RUNNING or already FINISHED, in its status's partition.
    body = api.call("list", query={"workflow_id": workflow_id}).body
    listed = {e["id"]: e for e in body["executions"]}
    assert listed[execution_id]["status"] in ("QUEUED", "RUNNING", "FINISHED")
    assert set(listed[execution_id]) == {"id", "workflowId", "status", "startedAt", "duration"}


def test_get_of_a_run_in_progress_answers_running_through_the_deployed_function(
    api: Api, folder: str
) -> None:
    # The head stays QUEUED for a run's first seconds; Get reads the log (a Query) to show it
    # RUNNING, which the Get function's role must allow.
    spec = (
        "yawl: '0.1'\nstart: nap\nsteps:\n  nap:\n    functionCall:\n"
        "      functionId: stepline-slow\n      input: '\\({seconds: 2})'\n"
    )
    execution_id = api.start(api.create_workflow(folder, name="slow", spec=spec))
    end = time.monotonic() + 10
    while True:
        reply = api.call("get", path={"executionId": execution_id})
        assert reply.status == 200, reply.body
        if reply.body["execution"]["status"] == "RUNNING":
            break
        assert time.monotonic() < end, reply.body
        time.sleep(0.05)
