"""List without a status merges the status partitions: pages are exact however statuses mix.

Each case pages through a workflow's executions with small page sizes and checks the pages
join into exactly what one large page lists — no entry twice, none missing, newest first —
with statuses interleaved, start and finish times shared across partitions, and filters
that make DynamoDB evaluate entries a page does not return.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from stepline.service import filters
from stepline.store import listing
from stepline.store.records import EXECUTION_STATUSES, ExecutionRecord
from stepline.store.table import to_dynamo
from stepline.testing.records import execution_record as _record
from tests.integration.conftest import Api

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def crowd(aws: dict[str, str], workflow_id: str) -> list[ExecutionRecord]:
    """41 executions in every status; some share a start (and a finish) across statuses."""
    rng = random.Random(7)
    records = []
    for n in range(41):
        status = rng.choice(EXECUTION_STATUSES)
        start = T0 + timedelta(minutes=rng.randrange(25))  # many share a minute
        ended = status in ("FINISHED", "FAILED", "STOPPED")
        end = start + timedelta(minutes=rng.choice([0, 5, 90])) if ended else None
        records.append(_record(workflow_id, n, status, start, end))
    client = boto3.client("dynamodb")
    for record in records:
        client.put_item(TableName=aws["Table"], Item=to_dynamo(record.to_item()))
    return records


def _pages(api: Api, workflow_id: str, filter_text: str, size: int) -> list[list[dict]]:
    pages, token = [], None
    while True:
        query = {"workflowId": workflow_id, "filter": filter_text, "pageSize": str(size)}
        reply = api.call("list", query=query | ({"pageToken": token} if token else {}))
        assert reply.status == 200, reply.body
        pages.append(reply.body["executions"])
        token = reply.body.get("nextPageToken")
        if not token:
            return pages
        assert len(pages) < 200, "paging does not end"


def _expected(records: list[ExecutionRecord], filter_text: str) -> list[ExecutionRecord]:
    """What the filter matches, newest first by the time its index sorts on."""
    lo_start = datetime(2026, 3, 1, 0, 8, tzinfo=UTC)
    hi_finish = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    match = {
        "": lambda r: True,
        "started_at>2026-03-01T00:08:00Z": lambda r: r.started_at > lo_start,
        "finished_at<2026-03-01T01:00:00Z": lambda r: r.finished_at and r.finished_at < hi_finish,
        "finished_at<2026-03-01T01:00:00Z AND started_at>2026-03-01T00:08:00Z": lambda r: (
            r.finished_at and r.finished_at < hi_finish and r.started_at > lo_start
        ),
    }[filter_text]
    by_finish = "finished_at" in filter_text
    chosen = [r for r in records if match(r)]
    return sorted(chosen, key=lambda r: r.finished_at if by_finish else r.started_at, reverse=True)


def _time(entry: dict[str, Any], records: dict[str, ExecutionRecord], by_finish: bool) -> datetime:
    record = records[entry["id"]]
    moment = record.finished_at if by_finish else record.started_at
    assert moment is not None
    return moment


@pytest.mark.parametrize(
    "filter_text",
    [
        "",
        "started_at>2026-03-01T00:08:00Z",
        "finished_at<2026-03-01T01:00:00Z",
        "finished_at<2026-03-01T01:00:00Z AND started_at>2026-03-01T00:08:00Z",
    ],
    ids=["no filter", "started_at", "finished_at", "finished_at and started_at"],
)
@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_pages_of_merged_statuses_join_into_the_whole_list_newest_first(
    api: Api, workflow_id: str, crowd: list[ExecutionRecord], filter_text: str, size: int
) -> None:
    pages = _pages(api, workflow_id, filter_text, size)
    seen = [entry for page in pages for entry in page]
    by_id = {r.id: r for r in crowd}
    by_finish = "finished_at" in filter_text
    expected = _expected(crowd, filter_text)

    assert all(len(page) <= size for page in pages)
    assert sorted(e["id"] for e in seen) == sorted(r.id for r in expected)  # once each
    times = [_time(e, by_id, by_finish) for e in seen]
    assert times == sorted(times, reverse=True)
    for entry in seen:
        assert entry["status"] == by_id[entry["id"]].status
    whole = api.call("list", query={"workflowId": workflow_id, "filter": filter_text}).body
    assert [e["id"] for e in whole["executions"]] == [e["id"] for e in seen] or (
        # equal times may come in another order on one large page: the same set, same times
        [_time(e, by_id, by_finish) for e in whole["executions"]] == times
    )
    assert "nextPageToken" not in whole


def test_a_full_last_page_has_no_token_and_a_short_one_needs_none(
    api: Api, workflow_id: str, crowd: list[ExecutionRecord]
) -> None:
    total = len(crowd)
    exact = api.call("list", query={"workflowId": workflow_id, "pageSize": str(total)}).body
    assert len(exact["executions"]) == total and "nextPageToken" not in exact
    one_short = api.call("list", query={"workflowId": workflow_id, "pageSize": str(total - 1)})
    assert len(one_short.body["executions"]) == total - 1
    rest = api.call(
        "list",
        query={"workflowId": workflow_id, "pageToken": one_short.body["nextPageToken"]},
    ).body
    assert len(rest["executions"]) == 1 and "nextPageToken" not in rest


def test_a_token_of_the_merged_list_is_refused_by_a_status_list(
    api: Api, workflow_id: str, crowd: list[ExecutionRecord]
) -> None:
    first = api.call("list", query={"workflowId": workflow_id, "pageSize": "2"}).body
    reply = api.call(
        "list",
        query={
            "workflowId": workflow_id,
            "filter": "status=FAILED",
            "pageToken": first["nextPageToken"],
        },
    )
    assert (reply.status, reply.body["code"]) == (400, 3)
    assert "pageToken" in reply.body["message"]


class _CountingTable:
    """The real table, counting the Queries made through it."""

    def __init__(self, table: Any) -> None:
        self.table, self.queries = table, 0

    def query(self, **kwargs: Any) -> Any:
        self.queries += 1
        return self.table.query(**kwargs)


def test_a_partition_whose_entries_are_filtered_out_gives_short_pages_never_wrong_ones(
    aws: dict[str, str], admin: Any, workflow_id: str
) -> None:
    # Ten FAILED executions finish late but started too early for the filter; one FINISHED
    # finishes earlier and matches. With one entry a page, DynamoDB evaluates two a Query.
    early = [
        _record(workflow_id, n, "FAILED", T0, T0 + timedelta(hours=2, minutes=n)) for n in range(10)
    ]
    match = _record(
        workflow_id, 10, "FINISHED", T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=30)
    )
    client = boto3.client("dynamodb")
    for record in [*early, match]:
        client.put_item(TableName=aws["Table"], Item=to_dynamo(record.to_item()))
    wanted = filters.parse("finished_at>2026-03-01T00:30:00Z AND started_at>2026-03-01T00:30:00Z")
    counting = _CountingTable(admin.executions.table)
    lister = listing.ExecutionListing(counting)  # type: ignore[arg-type]

    pages, cursor = [], None
    while True:
        page = lister.page(workflow_id, wanted, limit=1, cursor=cursor)
        pages.append([str(item["PK"]).removeprefix("EX#") for item in page.items])
        if page.cursor is None:
            break
        cursor = page.cursor

    # The first page stops after MAX_REFILLS re-reads of the FAILED partition rather than
    # hand out the FINISHED entry while a newer one might still be unread there.
    assert pages[0] == []
    assert [i for p in pages for i in p] == [match.id]
    per_page = 3 + listing.MAX_REFILLS  # three ended partitions, then the re-reads
    assert counting.queries <= per_page * len(pages)


def _finish(aws: dict[str, str], record: ExecutionRecord) -> None:
    """End the execution in the table as the runner would: its status partition moves."""
    ended = ExecutionRecord(
        **{**record.__dict__, "status": "FINISHED", "finished_at": T0 + timedelta(hours=5)}
    )
    boto3.client("dynamodb").put_item(TableName=aws["Table"], Item=to_dynamo(ended.to_item()))


class _MovingTable(_CountingTable):
    """The real table; after the first Query, the execution ends (it moves partition)."""

    def __init__(self, table: Any, moved: Any) -> None:
        super().__init__(table)
        self.moved = moved

    def query(self, **kwargs: Any) -> Any:
        page = super().query(**kwargs)
        if self.queries == 1:
            self.moved()
        return page


@pytest.fixture
def queued_and_older(aws: dict[str, str], workflow_id: str) -> tuple[ExecutionRecord, ...]:
    """A QUEUED execution, and an older FINISHED one."""
    queued = _record(workflow_id, 1, "QUEUED", T0 + timedelta(hours=2), None)
    older = _record(workflow_id, 2, "FINISHED", T0, T0 + timedelta(minutes=1))
    client = boto3.client("dynamodb")
    for record in (queued, older):
        client.put_item(TableName=aws["Table"], Item=to_dynamo(record.to_item()))
    return queued, older


def test_an_execution_that_ends_while_a_page_is_read_is_listed_once_at_its_new_status(
    aws: dict[str, str], admin: Any, workflow_id: str, queued_and_older: tuple[ExecutionRecord, ...]
) -> None:
    queued, older = queued_and_older
    moving = _MovingTable(admin.executions.table, lambda: _finish(aws, queued))
    lister = listing.ExecutionListing(moving)  # type: ignore[arg-type]

    page = lister.page(workflow_id, filters.parse(None), limit=10, cursor=None)

    listed = [
        (str(i["PK"]).removeprefix("EX#"), str(i["GSI2PK"]).rsplit("#")[-1]) for i in page.items
    ]
    assert listed == [(queued.id, "FINISHED"), (older.id, "FINISHED")]
    assert page.cursor is None


def test_an_execution_that_moves_between_pages_is_not_listed_again(
    aws: dict[str, str], admin: Any, workflow_id: str, queued_and_older: tuple[ExecutionRecord, ...]
) -> None:
    queued, older = queued_and_older
    lister = listing.ExecutionListing(admin.executions.table)
    everything = filters.parse(None)

    first = lister.page(workflow_id, everything, limit=1, cursor=None)
    _finish(aws, queued)  # it now sits in the FINISHED partition, above where that one resumes
    second = lister.page(workflow_id, everything, limit=1, cursor=first.cursor)

    assert [str(i["PK"]).removeprefix("EX#") for i in first.items] == [queued.id]
    assert [str(i["PK"]).removeprefix("EX#") for i in second.items] == [older.id]
    assert second.cursor is None
