"""Workflow schedules: validation, and one EventBridge Scheduler schedule per scheduled workflow.

The schedule is named after the workflow, lives in the stack's schedule group and invokes the
trigger function with :func:`target_input`. Workflow writes go through :func:`synced`, which
changes the schedule first and puts the previous one back when the table write fails, so a
failure leaves no schedule the table does not describe (the trigger also removes a schedule
whose workflow is gone or unscheduled, should a rollback itself fail).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stepline.errors import Code, InvalidArgument, SteplineError
from stepline.service import cron
from stepline.service.deps import Services
from stepline.store.records import WorkflowRecord

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
TRIGGER = "schedule"
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}


class Unavailable(SteplineError):
    """EventBridge Scheduler did not take the change; the workflow was left as it was."""

    code = Code.UNAVAILABLE


@dataclass(frozen=True)
class ScheduleSettings:
    """Where schedules go and what they invoke (set by template.yaml on the workflows function)."""

    group: str
    target_arn: str | None = None
    role_arn: str | None = None
    dead_letter_arn: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ScheduleSettings | None:
        """The settings, or None where schedules are only stored (no ``SCHEDULE_GROUP``).

        The trigger function knows only the group: it realigns existing schedules.
        """
        env = dict(os.environ) if env is None else env
        group = env.get("SCHEDULE_GROUP")
        if not group:
            return None
        return cls(
            group=group,
            target_arn=env.get("SCHEDULE_TARGET_ARN") or None,
            role_arn=env.get("SCHEDULE_ROLE_ARN") or None,
            dead_letter_arn=env.get("SCHEDULE_DEAD_LETTER_ARN") or None,
        )


def check(schedule: dict[str, str] | None) -> None:
    """Refuse a cron expression or time zone EventBridge Scheduler would not accept."""
    if schedule is None:
        return
    expression = schedule.get("cronExpression", "")
    try:
        cron.parse(expression)
    except cron.CronError as exc:
        raise InvalidArgument(f"schedule.cronExpression: {expression!r}: {exc}") from exc
    zone_name = schedule.get("timezone", "")
    try:
        ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgument(
            f"schedule.timezone: {zone_name[:64]!r} is not a known IANA time zone "
            "(for example UTC or Europe/Moscow)"
        ) from exc


def schedule_expression(schedule: dict[str, str]) -> str:
    """The Scheduler ``ScheduleExpression``: ``cron(...)`` with all six fields."""
    return f"cron({cron.parse(schedule['cronExpression']).text})"


def target_input(workflow_id: str, schedule: dict[str, str]) -> str:
    """What the schedule sends the trigger; Scheduler fills in the scheduled time."""
    return json.dumps(
        {
            "trigger": TRIGGER,
            "workflowId": workflow_id,
            "scheduledTime": SCHEDULED_TIME,
            "schedule": schedule,
        },
        separators=(",", ":"),
    )


class Schedules:
    """The schedule group, through the boto3 ``scheduler`` client."""

    def __init__(self, client: Any, settings: ScheduleSettings) -> None:
        self.client = client
        self.settings = settings

    def _target(self) -> dict[str, Any]:
        if not (self.settings.target_arn and self.settings.role_arn):
            raise RuntimeError("set SCHEDULE_TARGET_ARN and SCHEDULE_ROLE_ARN to write schedules")
        target: dict[str, Any] = {
            "Arn": self.settings.target_arn,
            "RoleArn": self.settings.role_arn,
            "RetryPolicy": RETRY_POLICY,
        }
        if self.settings.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.settings.dead_letter_arn}
        return target

    def _definition(
        self, workflow_id: str, schedule: dict[str, str], target: dict[str, Any]
    ) -> dict[str, Any]:
        target = {**target, "Input": target_input(workflow_id, schedule)}
        return {
            "Name": workflow_id,
            "GroupName": self.settings.group,
            "Description": f"Starts Stepline workflow {workflow_id}",
            "ScheduleExpression": schedule_expression(schedule),
            "ScheduleExpressionTimezone": schedule["timezone"],
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": target,
        }

    def put(self, workflow_id: str, schedule: dict[str, str]) -> None:
        """Create the workflow's schedule, or replace it when it exists."""
        definition = self._definition(workflow_id, schedule, self._target())
        try:
            self.client.create_schedule(**definition)
        except self.client.exceptions.ConflictException:
            self.client.update_schedule(**definition)

    def remove(self, workflow_id: str) -> None:
        """Delete the workflow's schedule; a missing one is fine."""
        with suppress(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_schedule(Name=workflow_id, GroupName=self.settings.group)

    def realign(self, workflow_id: str, schedule: dict[str, str] | None) -> None:
        """Make an existing schedule say ``schedule`` (None: remove it), keeping its target."""
        if schedule is None:
            self.remove(workflow_id)
            return
        try:
            current = self.client.get_schedule(Name=workflow_id, GroupName=self.settings.group)
        except self.client.exceptions.ResourceNotFoundException:
            return
        target = {k: v for k, v in current["Target"].items() if k != "Input"}
        self.client.update_schedule(**self._definition(workflow_id, schedule, target))

    def apply(self, workflow_id: str, schedule: dict[str, str] | None) -> None:
        """Make the schedule group match ``schedule`` (None: no schedule)."""
        if schedule is None:
            self.remove(workflow_id)
        else:
            self.put(workflow_id, schedule)


def schedules(svc: Services) -> Schedules | None:
    """The stack's schedules, or None when this process only stores them."""
    settings = ScheduleSettings.from_env()
    if settings is None:
        return None
    return Schedules(svc.client_factory("scheduler"), settings)


def _scheduler_failure(exc: Exception) -> SteplineError:
    error = getattr(exc, "response", {}).get("Error", {})
    code, message = error.get("Code", type(exc).__name__), error.get("Message", str(exc))
    if code == "ValidationException":
        return InvalidArgument(f"schedule: EventBridge Scheduler refused it: {message}")
    return Unavailable(f"schedule: EventBridge Scheduler could not save it ({code}); retry")


@contextmanager
def synced(svc: Services, old: WorkflowRecord | None, new: WorkflowRecord | None) -> Iterator[None]:
    """Move the workflow's schedule from ``old`` to ``new`` around the table write in the body.

    The schedule changes first; if the body raises, the old schedule is put back.
    """
    record = new or old
    before = old.schedule if old else None
    after = new.schedule if new else None
    group = schedules(svc) if before != after else None
    if group is None or record is None:
        yield
        return
    from botocore.exceptions import BotoCoreError, ClientError

    workflow_id = record.id
    try:
        group.apply(workflow_id, after)
    except (ClientError, BotoCoreError) as exc:
        raise _scheduler_failure(exc) from exc
    try:
        yield
    except BaseException:
        try:
            group.apply(workflow_id, before)
        except Exception:
            from stepline.telemetry import logger

            logger.exception("schedule rollback failed", extra={"workflow_id": workflow_id})
        raise
