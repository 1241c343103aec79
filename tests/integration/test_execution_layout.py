"""Execution heads store each value once, and heads of the earlier layout still read.

Heads used to store their id and workflow id as attributes of their own and eight List index
keys (gsi2, gsi3 and gsi4 had keys of their own; sort keys were ``<timestamp>#<id>``). The
indexes now key on attributes those heads have as well (``GSI1PK``, ``GSI2PK``, ``startedAt``,
``finishedAt``), so a table holding both kinds lists, filters, reads and ends them alike.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from stepline.store import keys
from stepline.store.records import ExecutionRecord
from stepline.store.table import to_dynamo
from stepline.testing.records import execution_record as _record
from stepline.times import stored
from tests.integration.conftest import Api

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _earlier_layout(record: ExecutionRecord) -> dict[str, Any]:
    """The head as Stepline wrote it before the List indexes shared their attributes."""
    started = stored(record.started_at)
    finished = stored(record.finished_at) if record.finished_at else None
    by_workflow = f"WFEX#{record.workflow_id}"
    by_status = f"WFEX#{record.workflow_id}#{record.status}"
    item: dict[str, Any] = {
        **keys.execution(record.id),
        "GSI1PK": by_workflow,
        "GSI1SK": f"{started}#{record.id}",
        "GSI2PK": by_status,
        "GSI2SK": f"{started}#{record.id}",
        "id": record.id,
        "workflowId": record.workflow_id,
        "specVersion": record.spec_version,
        "status": record.status,
        "startedAt": started,
        "finishedAt": finished,
        "input": record.input_json,
        "result": record.result_json,
        "error": record.error,
        "rev": record.rev,
        "folderId": record.folder_id,
    }
    if finished is None:
        item |= keys.due_keys(record.id, started)
    else:
        item |= {
            "GSI3PK": by_workflow,
            "GSI3SK": f"{finished}#{record.id}",
            "GSI4PK": by_status,
            "GSI4SK": f"{finished}#{record.id}",
        }
    return item


def _put(aws: dict[str, str], items: list[dict[str, Any]]) -> None:
    client = boto3.client("dynamodb")
    for item in items:
        client.put_item(TableName=aws["Table"], Item=to_dynamo(item))


@pytest.fixture
def mixed_runs(aws: dict[str, str], workflow_id: str) -> list[ExecutionRecord]:
    """The twelve executions of test_query, every other one in the earlier layout."""
    statuses = ["FINISHED", "FAILED", "RUNNING", "STOPPED"]
    records = []
    for n in range(12):
        status = statuses[n % 4]
        start = T0 + timedelta(hours=n)
        end = None if status == "RUNNING" else start + timedelta(minutes=30)
        records.append(_record(workflow_id, n, status, start, end))
    _put(aws, [_earlier_layout(r) if i % 2 else r.to_item() for i, r in enumerate(records)])
    return records


def _ids(body: dict[str, Any]) -> list[str]:
    return [e["id"][-2:] for e in body["executions"]]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("", ["11", "10", "09", "08", "07", "06", "05", "04", "03", "02", "01", "00"]),
        ("status=FAILED", ["09", "05", "01"]),
        ("status=RUNNING", ["10", "06", "02"]),
        ("started_at>2026-01-01T08:00:00Z", ["11", "10", "09"]),
        ("started_at<2026-01-01T02:00:00Z", ["01", "00"]),
        ("started_at=2026-01-01T03:00:00Z", ["03"]),
        ("started_at>2026-01-01T01:00:00Z AND started_at<2026-01-01T04:00:00Z", ["03", "02"]),
        ("finished_at>2026-01-01T09:00:00Z", ["11", "09"]),
        ("finished_at<2026-01-01T01:00:00Z", ["00"]),
        ("finished_at=2026-01-01T04:30:00Z", ["04"]),
        ("finished_at=2026-01-01T05:30:00Z", ["05"]),
        ("status=FAILED AND started_at>2026-01-01T02:00:00+01:00", ["09", "05"]),
        ("status=STOPPED AND finished_at<2026-01-01T08:00:00Z", ["07", "03"]),
        (
            "finished_at>2026-01-01T01:00:00Z AND started_at<2026-01-01T06:00:00Z",
            ["05", "04", "03", "01"],
        ),
    ],
)
def test_list_answers_alike_for_heads_of_either_layout(
    api: Api, workflow_id: str, mixed_runs: list[ExecutionRecord], filter_text: str, expected: list
) -> None:
    reply = api.call("list", query={"workflowId": workflow_id, "filter": filter_text})
    assert reply.status == 200, reply.body
    assert _ids(reply.body) == expected
    shown = {e["id"]: e for e in reply.body["executions"]}
    for record in mixed_runs:
        if record.id in shown:
            preview = shown[record.id]
            assert (preview["status"], preview["workflowId"]) == (record.status, workflow_id)
            assert preview["startedAt"] == record.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            if record.finished_at is not None:
                assert preview["duration"] == "1800s"


def test_pages_run_through_both_layouts_newest_first(
    api: Api, workflow_id: str, mixed_runs: list[ExecutionRecord]
) -> None:
    for filter_text in ("", "status=FINISHED", "finished_at>2026-01-01T00:00:00Z"):
        seen, token = [], None
        while True:
            query = {"workflowId": workflow_id, "pageSize": "2", "filter": filter_text}
            body = api.call("list", query=query | ({"pageToken": token} if token else {})).body
            seen += _ids(body)
            token = body.get("nextPageToken")
            if not token:
                break
        everything = api.call("list", query={"workflowId": workflow_id, "filter": filter_text})
        assert seen == _ids(everything.body)


def test_get_of_an_earlier_layout_head_answers_as_a_new_one(
    api: Api, aws: dict[str, str], workflow_id: str
) -> None:
    def failed(n: int) -> ExecutionRecord:
        record = _record(workflow_id, n, "FAILED", T0, T0 + timedelta(seconds=1, milliseconds=500))
        return replace(record, error={"message": "boom", "errorCode": "STEP_FAIL"})

    old, new = failed(20), failed(21)
    _put(aws, [_earlier_layout(old), new.to_item()])

    got = [api.call("get", path={"executionId": r.id}).body["execution"] for r in (old, new)]
    assert got[0]["id"] == old.id and got[1]["id"] == new.id
    assert {k: v for k, v in got[0].items() if k != "id"} == {
        k: v for k, v in got[1].items() if k != "id"
    }
    assert got[0]["duration"] == "1.500s" and got[0]["workflowId"] == workflow_id


def test_an_earlier_layout_head_still_running_stops_and_lists_as_stopped(
    api: Api, aws: dict[str, str], workflow_id: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    record = _record(workflow_id, 30, "RUNNING", start, None)
    _put(aws, [_earlier_layout(record)])

    reply = api.call("stop", path={"executionId": record.id})
    assert reply.status == 200, reply.body

    def listed(filter_text: str) -> list[str]:
        body = api.call("list", query={"workflowId": workflow_id, "filter": filter_text}).body
        return [e["id"] for e in body["executions"]]

    end = time.monotonic() + 10
    while api.call("get", path={"executionId": record.id}).body["execution"]["status"] != (
        "STOPPED"
    ):
        assert time.monotonic() < end
        time.sleep(0.05)
    assert listed("status=STOPPED") == [record.id]
    assert listed("status=RUNNING") == []
    assert listed(f"finished_at>{stored(start)}") == [record.id]
    assert listed("status=STOPPED AND finished_at>2026-01-01T00:00:00Z") == [record.id]
