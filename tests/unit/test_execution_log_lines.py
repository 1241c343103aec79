"""What an execution's log lines say, and which role a serviceAccountId names (no AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stepline.service.runner import delegation
from stepline.service.runner.execution_logs import LEVELS, Destination, Lines, record
from stepline.store.records import ExecutionRecord
from stepline.yawl.errors import StepFailure

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
HEAD = ExecutionRecord("ex1", "wf1", 1, "RUNNING", AT)
INTEGRATION = "arn:aws:iam::123456789012:role/stepline-integrations/prod/prod-IntegrationRole-X"


def _entry(n: int, status: str, attempts: int = 1, **more: object) -> dict[str, object]:
    started = "2026-12-02T12:00:00.000000Z"
    return {"n": n, "id": f"s{n}", "type": "YMQ", "status": status, "startedAt": started} | {
        "attempts": attempts,
        **more,
    }


def _said(level: str, *items: dict[str, object], previous: dict | None = None) -> list[str]:
    lines = Lines(Destination("/stepline/prod/g", LEVELS[level]))
    record(lines, HEAD, AT, entries=list(items), previous=previous or {})
    return [json.loads(e.message)["message"] for e in lines.events]


def test_an_entry_seen_open_then_retried_then_ended_says_each_once() -> None:
    opened = _entry(1, "STARTED")
    error = {"errorCode": "STEP_QUOTA_EXCEEDED", "message": "slow down"}
    retried = _entry(1, "STARTED", attempts=3, lastError=error)
    failed = _entry(1, "FAILED", attempts=3, error=error, duration="2.5s")

    assert _said("TRACE", opened) == ["step started"]
    assert _said("TRACE", retried, previous={1: opened}) == ["step retried", "step retried"]
    assert _said("TRACE", failed, previous={1: retried}) == ["step failed"]
    assert _said("ERROR", opened, retried, failed) == ["step failed"]
    assert _said("FATAL", failed) == []


def test_lines_keep_the_order_they_are_made_in() -> None:
    lines = Lines(Destination("/stepline/prod/g", LEVELS["DEBUG"]))
    late = _entry(1, "COMPLETED", duration="5s")
    early = _entry(2, "STARTED")

    record(lines, HEAD, AT, entries=[late, early], previous={})

    stamps = [e.timestamp for e in lines.events]
    assert stamps == sorted(stamps) and len(stamps) == 3


def test_without_a_destination_nothing_is_kept() -> None:
    lines = Lines(None)
    record(lines, HEAD, AT, entries=[_entry(1, "COMPLETED")], previous={}, outcome="FINISHED")
    assert lines.events == []


@pytest.mark.parametrize(
    ("value", "arn"),
    [
        ("orders", "arn:aws:iam::123456789012:role/stepline-integrations/prod/orders"),
        (
            "arn:aws:iam::123456789012:role/stepline-integrations/prod/team/orders",
            "arn:aws:iam::123456789012:role/stepline-integrations/prod/team/orders",
        ),
    ],
)
def test_a_service_account_names_a_role_under_the_stacks_path(value: str, arn: str) -> None:
    assert delegation.role_arn(INTEGRATION, value) == arn


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:iam::123456789012:role/stepline-integrations/dev/orders",
        "arn:aws:iam::999999999999:role/stepline-integrations/prod/orders",
        "arn:aws:iam::123456789012:role/stepline-integrations/prodx/orders",
    ],
)
def test_a_role_elsewhere_is_refused_naming_the_path(value: str) -> None:
    with pytest.raises(StepFailure) as caught:
        delegation.role_arn(INTEGRATION, value)
    assert "/stepline-integrations/prod/" in caught.value.message
    assert caught.value.message.startswith(f"serviceAccountId {value}: ")
