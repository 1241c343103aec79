"""Executions started by schedules, EventBridge events, queue messages and start-by-link.

Every trigger starts through :func:`stepline.service.executions.start` with an idempotency key
derived from what was delivered (the scheduled minute, the event id, the message id) and a
caller naming the trigger, so a redelivery returns the execution the first delivery started
and keys of different triggers never meet.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from stepline import bounds
from stepline.errors import AlreadyExists, Unauthenticated
from stepline.service import executions, ids, schedules
from stepline.service.deps import Services

SCHEDULE_CALLER = "stepline:trigger/schedule"
EVENT_CALLER = "stepline:trigger/event"
OBJECT_CALLER = "stepline:trigger/object"
QUEUE_CALLER = "stepline:trigger/queue"
S3_SOURCE = "aws.s3"
# An event names its workflow with a resource `stepline:workflow/<id>` (or a full ARN form).
_WORKFLOW_RESOURCE = re.compile(r"^(?:arn:[^:]+:)?stepline:(?:[^:]*:[^:]*:)?workflow/([a-z0-9]+)$")


class TriggerError(ValueError):
    """A delivery the trigger cannot turn into an execution; it goes back to its source."""


@dataclass(frozen=True)
class TriggerSettings:
    """Default workflows of the stack's triggers (template parameters, empty = none)."""

    event_workflow_id: str | None = None
    object_workflow_id: str | None = None
    queue_workflow_id: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TriggerSettings:
        """Read the defaults from the trigger function's environment."""
        env = dict(os.environ) if env is None else env
        return cls(
            event_workflow_id=env.get("EVENT_WORKFLOW_ID") or None,
            object_workflow_id=env.get("OBJECT_WORKFLOW_ID") or None,
            queue_workflow_id=env.get("QUEUE_WORKFLOW_ID") or None,
        )


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class ScheduleFire(_Model):
    """What a workflow's schedule sends (:func:`schedules.target_input`, time filled in)."""

    trigger: Literal["schedule"]
    workflow_id: str = Field(alias="workflowId")
    scheduled_time: datetime = Field(alias="scheduledTime")
    schedule: dict[str, str]

    @property
    def minute(self) -> str:
        """The scheduled minute in UTC: fires within one minute are one fire."""
        moment = self.scheduled_time.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%MZ")


class BusEvent(_Model):
    """An EventBridge event (a rule target receives the whole event; all of it is kept)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=128)
    source: str
    detail_type: str = Field(alias="detail-type")
    resources: list[str] = Field(default_factory=list)
    detail: JsonValue = None


class QueueMessage(_Model):
    """One SQS record of a batch, as Lambda delivers it."""

    message_id: str = Field(alias="messageId", min_length=1, max_length=128)
    body: str
    event_source_arn: str = Field(alias="eventSourceARN")
    message_attributes: dict[str, dict[str, Any]] = Field(
        alias="messageAttributes", default_factory=dict
    )


def is_queue_batch(event: dict[str, Any]) -> bool:
    """Whether ``event`` is an SQS batch (handled record by record with partial failures)."""
    records = event.get("Records") or []
    return bool(records) and all(r.get("eventSource") == "aws:sqs" for r in records)


def parse(event: dict[str, Any]) -> ScheduleFire | BusEvent:
    """A schedule fire or an EventBridge event; anything else is refused."""
    try:
        if event.get("trigger") == schedules.TRIGGER:
            return ScheduleFire.model_validate(event)
        if "detail-type" in event:
            return BusEvent.model_validate(event)
    except ValidationError as exc:
        raise TriggerError(f"malformed trigger event: {exc}") from exc
    raise TriggerError(f"not a schedule fire, EventBridge event or SQS batch: {sorted(event)}")


def parse_message(record: dict[str, Any]) -> QueueMessage:
    """One SQS record."""
    try:
        return QueueMessage.model_validate(record)
    except ValidationError as exc:
        raise TriggerError(f"malformed SQS record: {exc}") from exc


def _start(svc: Services, command: executions.StartCommand) -> str | None:
    """Start once per key; a key reused with another input is a duplicate, not an error."""
    try:
        return executions.start(svc, command)
    except AlreadyExists:
        from stepline.telemetry import logger

        logger.info("duplicate delivery ignored", extra={"key": command.idempotency_key})
        return None


def on_schedule(svc: Services, fire: ScheduleFire) -> str | None:
    """Start the scheduled execution, unless the schedule no longer belongs to the workflow.

    A schedule left behind by a failed write (the workflow gone, unscheduled or rescheduled)
    is brought back in line with the table instead.
    """
    ids.check_workflow_id(fire.workflow_id)
    workflow = svc.workflows.get(fire.workflow_id)
    stored = workflow.schedule if workflow is not None else None
    if stored != fire.schedule:
        group = schedules.schedules(svc)
        if group is not None:
            group.realign(fire.workflow_id, stored)
        return None
    input_json = json.dumps(
        {"scheduledTime": fire.minute, "schedule": fire.schedule}, separators=(",", ":")
    )
    key = f"{fire.workflow_id}@{fire.minute}"
    return _start(svc, executions.StartCommand(fire.workflow_id, input_json, SCHEDULE_CALLER, key))


def _event_target(event: BusEvent, settings: TriggerSettings) -> tuple[str, str]:
    """The workflow an event starts, and the caller scope of its idempotency key."""
    caller = OBJECT_CALLER if event.source == S3_SOURCE else EVENT_CALLER
    for resource in event.resources:
        named = _WORKFLOW_RESOURCE.match(resource)
        if named:
            return named.group(1), caller
    default = (
        settings.object_workflow_id if event.source == S3_SOURCE else settings.event_workflow_id
    )
    if default is None:
        raise TriggerError(
            f"event {event.id} from {event.source!r} names no workflow "
            "(resource stepline:workflow/<id>) and no default workflow is configured"
        )
    return default, caller


def on_event(svc: Services, event: BusEvent, settings: TriggerSettings) -> str | None:
    """Start an execution whose input is the whole event."""
    workflow_id, caller = _event_target(event, settings)
    input_json = json.dumps(event.model_dump(by_alias=True), separators=(",", ":"))
    # Keyed by workflow as well: the key says "this event started this workflow".
    command = executions.StartCommand(workflow_id, input_json, caller, f"{workflow_id}/{event.id}")
    return _start(svc, command)


def message_input(body: str) -> str:
    """A message's execution input: its body when that is JSON, else ``{"body": text}``.

    JSON beyond the bounds of :mod:`stepline.bounds` stays as it is, for
    ``executions.check_input_json`` to refuse by name.
    """
    try:
        bounds.loads(body)
    except bounds.BoundsError:
        return body
    except ValueError:
        return json.dumps({"body": body}, ensure_ascii=False)
    return body if body.strip() else "{}"


def on_message(svc: Services, message: QueueMessage, settings: TriggerSettings) -> str | None:
    """Start one execution for one queue message."""
    named = message.message_attributes.get("workflowId", {}).get("stringValue")
    workflow_id = named or settings.queue_workflow_id
    if workflow_id is None:
        raise TriggerError(
            f"message {message.message_id} has no workflowId attribute "
            "and no default workflow is configured"
        )
    caller = f"{QUEUE_CALLER}:{message.event_source_arn}"
    input_json = executions.check_input_json(message_input(message.body), "body")
    command = executions.StartCommand(workflow_id, input_json, caller, message.message_id)
    return _start(svc, command)


def check_public(svc: Services, workflow_id: str, *, authenticated: bool) -> None:
    """An anonymous start by link is allowed only for ``isPublic`` workflows."""
    if authenticated:
        return
    ids.check_workflow_id(workflow_id)
    workflow = svc.workflows.get(workflow_id)
    if workflow is None or not workflow.is_public:
        # The same answer for missing and private workflows: ids are not disclosed.
        raise Unauthenticated(
            f"workflowId: workflow {workflow_id} is not public; sign the request (AWS SigV4) "
            "and use POST /workflows/v1/execution/start"
        )
