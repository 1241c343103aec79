"""List against 100,000 executions in moto: items read per page for each filter kind.

A page with a status is one Query on a GSI reading at most pageSize + 1 index entries
(ScannedCount); one without merges the status partitions it can match (six by start time,
three by finish time), each read at most pageSize + 1 entries at a time, and re-read at most
MAX_REFILLS times when a filter on the other time drops what was read (store/listing.py). No
page may read more than that bound, whatever the filter. Prints one row per filter kind.

    python -m stepline.bench list [--executions 100000] [--page-size 100] [--pages 3]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from stepline.api import queries

STATUSES = ["FINISHED"] * 14 + ["FAILED"] * 2 + ["STOPPED"] * 2 + ["RUNNING", "QUEUED"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FILTERS = {
    "none": "",
    "status": "status=FAILED",
    "started_at<": "started_at<2026-01-20T00:00:00Z",
    "started_at>": "started_at>2026-01-10T00:00:00Z",
    "started_at=": "started_at=2026-01-15T00:00:00Z",
    "started_at range": "started_at>2026-01-10T00:00:00Z AND started_at<2026-01-12T00:00:00Z",
    "finished_at<": "finished_at<2026-01-20T00:00:00Z",
    "finished_at>": "finished_at>2026-01-10T00:00:00Z",
    "finished_at=": "finished_at=2026-01-15T00:05:00Z",
    "status+started_at": "status=FAILED AND started_at>2026-01-10T00:00:00Z",
    "status+finished_at": "status=STOPPED AND finished_at<2026-01-20T00:00:00Z",
    "started+finished": "started_at>2026-01-10T00:00:00Z AND finished_at<2026-01-20T00:00:00Z",
}


def _records(workflow_id: str, count: int) -> list[Any]:
    from stepline.testing.records import execution_record

    rng = random.Random(7)
    records = []
    for n in range(count):
        status = rng.choice(STATUSES)
        start = T0 + timedelta(seconds=rng.randrange(30 * 86400))
        if n % 1000 == 0:  # a few land exactly on the instants the '=' filters ask for
            start = T0 + timedelta(days=14)
        end = None if status in ("RUNNING", "QUEUED") else start + timedelta(minutes=5)
        if n % 1000 == 0:
            status, end = "FINISHED", start + timedelta(minutes=5)
        records.append(execution_record(workflow_id, n, status, start, end))
    return records


def _load(client: Any, table: str, records: list[Any]) -> None:
    from stepline.store.table import to_dynamo

    for i in range(0, len(records), 25):
        batch = [{"PutRequest": {"Item": to_dynamo(r.to_item())}} for r in records[i : i + 25]]
        client.batch_write_item(RequestItems={table: batch})


HELP = "List on 100,000 executions: queries and index entries read per page, per filter"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m stepline.bench list``."""
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--pages", type=int, default=3)


def main(args: argparse.Namespace) -> int:
    """Load executions, then list the first pages of every filter kind and print the reads;
    1 when a page read more than its bound."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    import boto3
    from moto import mock_aws

    from stepline.dev import resources
    from stepline.service import filters
    from stepline.service.deps import Services, Settings

    with mock_aws():
        physical = resources.provision(boto3.client, stack_name="bench")
        env = resources.environment(physical)
        svc = Services(
            Settings.from_env(env),
            lambda service: boto3.client(service),  # type: ignore[call-overload]
        )
        scanned: list[int] = []
        operations: list[str] = []
        client = svc.table.client

        def on_call(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
            operations.append(model.name)
            if model.name == "Query":
                scanned.append(int(parsed.get("ScannedCount", 0)))

        client.meta.events.register("after-call.dynamodb", on_call)
        started = time.perf_counter()
        _load(client, physical["Table"], _records("swbenchworkflow00000", args.executions))
        print(f"loaded {args.executions} executions in {time.perf_counter() - started:.1f}s")
        print(f"pageSize={args.page_size}; one partition reads at most {args.page_size + 1}")
        header = f"{'filter':<20} {'pages':>5} {'returned':>9} {'queries/page':>13}"
        print(f"{header} {'max read/page':>14} {'bound':>7} {'ops':>6}")
        over = []
        for kind, text in FILTERS.items():
            operations.clear()
            token, returned, pages, most_read, most_queries = None, 0, 0, 0, 0
            for _ in range(args.pages):
                scanned.clear()
                body = queries.list_executions(
                    svc,
                    "swbenchworkflow00000",
                    size=str(args.page_size),
                    token=token,
                    filter_text=text or None,
                )
                most_read, most_queries = (
                    max(most_read, sum(scanned)),
                    max(most_queries, len(scanned)),
                )
                returned += len(body["executions"])
                pages += 1
                token = body.get("nextPageToken")
                if not token:
                    break
            bound = _bound(filters.parse(text or None), args.page_size)
            if most_read > bound:
                over.append(kind)
            kinds = ",".join(sorted(set(operations)))
            row = f"{kind:<20} {pages:>5} {returned:>9} {most_queries:>13}"
            print(f"{row} {most_read:>14} {bound:>7} {kinds:>6}")
        print(f"pages over their bound: {', '.join(over) or 'none'}")
        return 1 if over else 0


def _bound(wanted: Any, page_size: int) -> int:
    """The most index entries one page of this filter may read."""
    from stepline.store import listing
    from stepline.store.records import ENDED_STATUSES, EXECUTION_STATUSES

    if wanted.status:
        partitions = 1
    else:
        partitions = len(ENDED_STATUSES if wanted.finished else EXECUTION_STATUSES)
    reads = 1 + (listing.MAX_REFILLS if wanted.started and wanted.finished else 0)
    return partitions * reads * (page_size + 1)
