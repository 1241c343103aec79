"""Triggers on the dev stack: schedules that fire, and EventBridge rules that deliver.

The emulator stores EventBridge Scheduler schedules but never fires them, and invokes no
Lambda targets. :class:`DevScheduler` reads the schedules Stepline wrote, evaluates their cron
expressions on a clock that runs ``1 / time_scale`` times faster than the real one, and hands
each fire to the schedule's target as Scheduler would (with the schedule's role).
:class:`EventRelay` delivers what the deployed EventBridge rules with a pattern match to their
targets; :class:`RuleTimer` fires the deployed rules with a schedule expression (the
reconciler's ``rate(1 minute)``) on the real clock.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stepline.dev.deploy import Rule
from stepline.service import cron

MAX_FIRES_PER_TICK = 10


@dataclass(frozen=True)
class Fire:
    """One fire of a schedule, as Scheduler hands it to its target."""

    target: str
    role: str
    dead_letter: str | None
    event: dict[str, Any]


Invoke = Callable[[Fire], Any]
# (rule, target function ARN, the event)
Deliver = Callable[["Rule", str, dict[str, Any]], Any]


def queue_arn(sqs: Any, url: str) -> str:
    """The ARN of a queue given its URL."""
    reply = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(reply["Attributes"]["QueueArn"])


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
    target: str = ""
    role: str = ""
    dead_letter: str | None = None


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
            target=str(detail["Target"]["Arn"]),
            role=str(detail["Target"].get("RoleArn") or ""),
            dead_letter=(detail["Target"].get("DeadLetterConfig") or {}).get("Arn"),
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
                    self._deliver(known, json.loads(payload))
                    fired += 1
            known.last = now
        return fired

    def _deliver(self, known: _Known, event: dict[str, Any]) -> None:
        try:
            self.invoke(Fire(known.target, known.role, known.dead_letter, event))
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


class EventRelay:
    """The deployed rules' patterns on the emulator's default bus, delivered to their targets.

    For each deployed rule a shadow rule with the same pattern sends matching events to a
    relay queue (the emulator delivers to queues, S3 object-created events included); what
    arrives goes to the original rule's Lambda targets, asynchronously as EventBridge invokes
    them, and only where the target's resource policy lets ``events.amazonaws.com`` invoke it
    for that rule.
    """

    def __init__(self, client_factory: Any, rules: list[Rule], deliver: Deliver) -> None:
        self.sqs = client_factory("sqs")
        self.deliver = deliver
        events = client_factory("events")
        self.queues: list[tuple[str, Rule]] = []
        for i, rule in enumerate(r for r in rules if r.pattern):
            url = self.sqs.create_queue(QueueName=f"dev-event-relay-{i}")["QueueUrl"]
            shadow = f"dev-event-relay-{i}"
            events.put_rule(Name=shadow, EventPattern=json.dumps(rule.pattern))
            target = {"Id": "relay", "Arn": queue_arn(self.sqs, url)}
            events.put_targets(Rule=shadow, Targets=[target])
            self.queues.append((url, rule))
        self._stopping = threading.Event()

    def poll_once(self, wait_seconds: int = 1) -> int:
        """Deliver the events waiting in the relay queues; returns how many."""
        delivered = 0
        for url, rule in self.queues:
            reply = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            )
            for message in reply.get("Messages", []):
                event = json.loads(message["Body"])
                for target in rule.targets:
                    try:
                        self.deliver(rule, target, event)
                    except Exception as exc:  # EventBridge would retry, then dead-letter it
                        print(f"event delivery failed: {exc}")
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                delivered += 1
        return delivered

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


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of a ``rate(…)`` expression in seconds; None for anything else."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def scheduled_event(rule: Rule, moment: datetime) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's targets."""
    account, region = rule.arn.split(":")[4], rule.arn.split(":")[3]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule.arn],
        "detail": {},
    }


@dataclass
class RuleTimer:
    """Fires the deployed scheduled rules (``rate(…)``, ``cron(…)``) to their targets."""

    rules: list[Rule]
    deliver: Deliver
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _last: dict[str, datetime] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.rules = [r for r in self.rules if r.schedule]
        started = self.clock()
        self._last = {r.name: started for r in self.rules}

    def due(self, rule: Rule, after: datetime, until: datetime) -> list[datetime]:
        """The moments the rule fires after ``after``, up to ``until``."""
        assert rule.schedule is not None
        period = rate_seconds(rule.schedule)
        if period is not None:
            moments, moment = [], after + timedelta(seconds=period)
            while moment <= until:
                moments.append(moment)
                moment += timedelta(seconds=period)
            return moments
        return list(cron.parse(rule.schedule).between(after, until))

    def tick(self) -> int:
        """Deliver every fire that came due since the last tick; returns how many."""
        now, fired = self.clock(), 0
        for rule in self.rules:
            moments = self.due(rule, self._last[rule.name], now)
            if not moments:
                continue
            self._last[rule.name] = moments[-1]
            for moment in moments[-MAX_FIRES_PER_TICK:]:
                for target in rule.targets:
                    try:
                        self.deliver(rule, target, scheduled_event(rule, moment))
                        fired += 1
                    except Exception as exc:  # EventBridge would retry, then dead-letter it
                        print(f"scheduled rule delivery failed: {exc}")
        return fired

    def run(self) -> None:
        """Tick once a second until :meth:`stop`."""
        while not self._stopping.wait(1.0):
            self.tick()

    def start(self) -> None:
        """Tick in a daemon thread."""
        threading.Thread(target=self.run, daemon=True, name="dev-rule-timer").start()

    def stop(self) -> None:
        """Stop ticking."""
        self._stopping.set()
