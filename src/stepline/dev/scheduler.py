"""Triggers on the dev stack: schedules that fire, and EventBridge rules that deliver.

The emulator stores EventBridge Scheduler schedules but never fires them, and invokes no
Lambda targets. :class:`DevScheduler` reads the schedules Stepline wrote, evaluates their cron
expressions on a clock that runs ``1 / time_scale`` times faster than the real one, and hands
each fire to the trigger function as Scheduler would. :class:`EventRelay` puts the template's
EventBridge rules on the emulator's default bus with a queue as their target (the emulator
does deliver to queues, S3 object-created events included) and passes what arrives to the
trigger function.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stepline.dev import template
from stepline.service import cron

TRIGGER = "TriggerFunction"
DEV_GROUP = "stepline-dev"
DEV_ACCOUNT = "123456789012"
MAX_FIRES_PER_TICK = 10

Invoke = Callable[[dict[str, Any]], Any]


def queue_arn(sqs: Any, url: str) -> str:
    """The ARN of a queue given its URL."""
    reply = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(reply["Attributes"]["QueueArn"])


def schedule_environment(client_factory: Any, physical: dict[str, str]) -> dict[str, str]:
    """Create the schedule group; the variables template.yaml gives the workflows function."""
    client_factory("scheduler").create_schedule_group(Name=DEV_GROUP)
    region = "us-east-1"
    dead_letter = queue_arn(client_factory("sqs"), physical["TriggerDeadLetterQueue"])
    return {
        "SCHEDULE_GROUP": DEV_GROUP,
        "SCHEDULE_TARGET_ARN": f"arn:aws:lambda:{region}:{DEV_ACCOUNT}:function:{TRIGGER}",
        "SCHEDULE_ROLE_ARN": f"arn:aws:iam::{DEV_ACCOUNT}:role/stepline-scheduler/dev",
        "SCHEDULE_DEAD_LETTER_ARN": dead_letter,
    }


def fill_context(text: str, *, scheduled: datetime, arn: str) -> str:
    """Replace Scheduler's context attributes in a target input, as Scheduler does."""
    values = {
        "<aws.scheduler.scheduled-time>": scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.schedule-arn>": arn,
        "<aws.scheduler.attempt-number>": "1",
    }
    for name, value in values.items():
        text = text.replace(name, value)
    return text


@dataclass
class _Known:
    modified: Any
    expression: cron.Cron | None
    zone: ZoneInfo
    arn: str
    input_text: str
    last: datetime


@dataclass
class DevScheduler:
    """Fires the schedule group's schedules on a (possibly faster) clock."""

    client: Any
    group: str
    invoke: Invoke
    time_scale: float = 1.0
    origin: datetime = field(default_factory=lambda: datetime.now(UTC))
    _started: float = field(default_factory=time.monotonic)
    _known: dict[str, _Known] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def now(self) -> datetime:
        """The scheduler's clock: real elapsed time divided by the time scale."""
        elapsed = (time.monotonic() - self._started) / max(self.time_scale, 1e-6)
        return self.origin + timedelta(seconds=elapsed)

    @property
    def interval(self) -> float:
        """Real seconds between ticks: about half a scaled second, at most one second."""
        return min(1.0, max(0.05, 30 * self.time_scale))

    def _refresh(self, now: datetime) -> None:
        seen = set()
        paginator = self.client.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self.group):
            for item in page["Schedules"]:
                name = item["Name"]
                seen.add(name)
                known = self._known.get(name)
                if known is None or known.modified != item.get("LastModificationDate"):
                    self._known[name] = self._load(name, item, known.last if known else now)
        for name in set(self._known) - seen:
            del self._known[name]

    def _load(self, name: str, item: dict[str, Any], last: datetime) -> _Known:
        detail = self.client.get_schedule(Name=name, GroupName=self.group)
        text = str(detail.get("ScheduleExpression", ""))
        expression = cron.parse(text) if text.startswith("cron(") else None
        return _Known(
            modified=item.get("LastModificationDate"),
            expression=expression if detail.get("State", "ENABLED") == "ENABLED" else None,
            zone=ZoneInfo(detail.get("ScheduleExpressionTimezone") or "UTC"),
            arn=str(detail["Arn"]),
            input_text=str(detail["Target"].get("Input") or "{}"),
            last=last,
        )

    def tick(self) -> int:
        """Fire what came due since the last tick; returns how many fires were handed over."""
        now = self.now()
        self._refresh(now)
        fired = 0
        for known in self._known.values():
            if known.expression is not None:
                due = list(known.expression.between(known.last, now, known.zone))
                for moment in due[-MAX_FIRES_PER_TICK:]:
                    payload = fill_context(known.input_text, scheduled=moment, arn=known.arn)
                    self._deliver(json.loads(payload))
                    fired += 1
            known.last = now
        return fired

    def _deliver(self, event: dict[str, Any]) -> None:
        try:
            self.invoke(event)
        except Exception as exc:  # Scheduler would retry, then use the dead-letter queue
            print(f"schedule fire failed: {exc}")

    def run(self) -> None:
        """Tick until :meth:`stop`."""
        while not self._stopping.wait(self.interval):
            try:
                self.tick()
            except Exception:  # the emulator going away at shutdown
                if self._stopping.is_set():
                    return

    def start(self) -> None:
        """Tick in a daemon thread."""
        threading.Thread(target=self.run, daemon=True, name="dev-scheduler").start()

    def stop(self) -> None:
        """Stop ticking."""
        self._stopping.set()


def _resolve(value: Any, physical: dict[str, str], parameters: dict[str, Any]) -> Any:
    """Template values with ``Ref`` to resources and parameter defaults filled in."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            ref = value["Ref"]
            if ref in physical:
                return physical[ref]
            return str(parameters.get(ref, {}).get("Default", ""))
        return {k: _resolve(v, physical, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, physical, parameters) for v in value]
    return value


def rule_patterns(physical: dict[str, str], function: str = TRIGGER) -> dict[str, dict[str, Any]]:
    """The EventBridgeRule patterns of a function in template.yaml, by event name."""
    loaded = template.load()
    parameters = loaded.get("Parameters", {})
    events = loaded["Resources"][function]["Properties"].get("Events", {})
    return {
        name: _resolve(event["Properties"]["Pattern"], physical, parameters)
        for name, event in events.items()
        if event.get("Type") == "EventBridgeRule"
    }


class EventRelay:
    """The template's trigger rules on the emulator's default bus, delivered to the trigger."""

    def __init__(self, client_factory: Any, physical: dict[str, str], invoke: Invoke) -> None:
        self.sqs = client_factory("sqs")
        self.invoke = invoke
        self.url = self.sqs.create_queue(QueueName="stepline-dev-event-relay")["QueueUrl"]
        events, arn = client_factory("events"), queue_arn(self.sqs, self.url)
        for name, pattern in rule_patterns(physical).items():
            rule = f"stepline-dev-{name}"
            events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=rule, Targets=[{"Id": "trigger", "Arn": arn}])
        # The template enables EventBridge notifications on the bucket; the emulator's
        # CloudFormation does not apply them.
        client_factory("s3").put_bucket_notification_configuration(
            Bucket=physical["TriggerBucket"],
            NotificationConfiguration={"EventBridgeConfiguration": {}},
        )
        self._stopping = threading.Event()

    def poll_once(self, wait_seconds: int = 1) -> int:
        """Deliver the events waiting in the relay queue; returns how many."""
        reply = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        messages = reply.get("Messages", [])
        for message in messages:
            try:
                self.invoke(json.loads(message["Body"]))
            except Exception as exc:  # EventBridge would retry, then use the dead-letter queue
                print(f"event delivery failed: {exc}")
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def run(self) -> None:
        """Deliver until :meth:`stop`."""
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:  # the emulator going away at shutdown
                if self._stopping.wait(0.5):
                    return

    def start(self) -> None:
        """Deliver in a daemon thread."""
        threading.Thread(target=self.run, daemon=True, name="dev-event-relay").start()

    def stop(self) -> None:
        """Stop delivering."""
        self._stopping.set()
