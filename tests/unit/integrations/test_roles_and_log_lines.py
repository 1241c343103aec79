"""A workflow's role sessions (refreshed before expiry) and the log-line batches, on moto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stepline.integrations import cloudwatch_logs, roles
from stepline.integrations.cloudwatch_logs import LogEvent, LogWriter
from stepline.yawl.errors import StepFailure, WorkflowErrorCode

ROLE = "arn:aws:iam::123456789012:role/stepline-integrations/dev/orders"


@pytest.fixture
def sts() -> Iterator[Any]:
    with mock_aws():
        trust = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
        boto3.client("iam").create_role(
            RoleName="orders",
            Path="/stepline-integrations/dev/",
            AssumeRolePolicyDocument=json.dumps({"Statement": [trust]}),
        )
        yield boto3.client("sts")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_is_kept_until_it_nears_its_expiry(sts: Any) -> None:
    first = roles.RoleSessions().session("t", sts, ROLE, "wf1")
    clock = Clock()
    sessions = roles.RoleSessions(clock=clock)
    clock.now = first.keys.expires - roles.REFRESH_BEFORE - 60
    held = sessions.session("t", sts, ROLE, "wf1")

    assert sessions.session("t", sts, ROLE, "wf1") is held
    clock.now = held.keys.expires - roles.REFRESH_BEFORE + 1
    fresh = sessions.session("t", sts, ROLE, "wf1")
    assert fresh is not held and fresh.keys.access_key != held.keys.access_key


def test_sessions_are_kept_apart_by_scope_and_workflow(sts: Any) -> None:
    sessions = roles.RoleSessions()
    one = sessions.session("t", sts, ROLE, "wf1")

    assert sessions.session("t", sts, ROLE, "wf2") is not one
    assert sessions.session("other-table", sts, ROLE, "wf1") is not one


def test_the_clients_sign_as_the_session(sts: Any) -> None:
    session = roles.RoleSessions().session("t", sts, ROLE, "wf1")

    who = session.clients("sts").get_caller_identity()["Arn"]
    assert who.endswith(":assumed-role/orders/wf1")
    assert session.credentials().access_key == session.keys.access_key
    assert session.keys.secret_key not in repr(session.keys)


def test_a_refused_assume_is_a_step_failure_naming_the_role() -> None:
    with mock_aws():
        sts = boto3.client("sts", endpoint_url="http://127.0.0.1:9")  # nobody answers there

        with pytest.raises(StepFailure) as caught:
            roles.assume(sts, ROLE, "wf1")

    assert caught.value.code is WorkflowErrorCode.STEP_QUOTA_EXCEEDED  # unavailable: retryable
    assert caught.value.message.startswith(f"serviceAccountId {ROLE}: the runner could not")


def test_batches_keep_within_the_put_log_events_limits() -> None:
    big = "x" * (300 * 1024)
    events = [LogEvent(5 - i, big) for i in range(5)]

    batches = list(cloudwatch_logs.batches(events))

    assert [[e["timestamp"] for e in b] for b in batches] == [[1, 2, 3, 4], [5]]
    first = batches[0][0]["message"]
    assert len(first.encode()) <= cloudwatch_logs.MAX_MESSAGE_BYTES and first.endswith("...")
    many = list(cloudwatch_logs.batches([LogEvent(i, "m") for i in range(25_000)]))
    assert [len(b) for b in many] == [10_000, 10_000, 5_000]


def test_the_writer_creates_the_stream_once_and_reports_a_missing_group() -> None:
    with mock_aws():
        logs = boto3.client("logs")
        logs.create_log_group(logGroupName="/stepline/dev/g")
        writer = LogWriter(logs)

        now = int(time.time() * 1000)
        assert writer.put("/stepline/dev/g", "s", [LogEvent(now, "one")]) is None
        assert writer.put("/stepline/dev/g", "s", [LogEvent(now + 1, "two")]) is None
        missing = writer.put("/stepline/dev/none", "s", [LogEvent(now, "x")])
        too_old = writer.put("/stepline/dev/g", "s", [LogEvent(1_000, "old")])

        events = logs.get_log_events(logGroupName="/stepline/dev/g", logStreamName="s")
    assert [e["message"] for e in events["events"]] == ["one", "two"]
    assert missing is not None and missing.startswith("ResourceNotFoundException")
    assert too_old is not None and "rejected" in too_old
