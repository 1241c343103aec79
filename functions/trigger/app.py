"""Starts executions from schedules, EventBridge events (incl. S3) and SQS messages."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from stepline.api.http import logger, metrics
from stepline.service import triggers
from stepline.service.deps import services

processor = BatchProcessor(event_type=EventType.SQS)


def _started(execution_id: str | None) -> dict[str, Any]:
    if execution_id is not None:
        logger.append_keys(execution_id=execution_id)
        metrics.add_metric(name="TriggeredExecutions", unit=MetricUnit.Count, value=1)
    return {"executionId": execution_id}


def _message(record: SQSRecord) -> dict[str, Any]:
    message = triggers.parse_message(record.raw_event)
    return _started(triggers.on_message(services(), message, triggers.TriggerSettings.from_env()))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if triggers.is_queue_batch(event):
        return process_partial_response(
            event=event, record_handler=_message, processor=processor, context=context
        )
    parsed = triggers.parse(event)
    if isinstance(parsed, triggers.ScheduleFire):
        return _started(triggers.on_schedule(services(), parsed))
    return _started(triggers.on_event(services(), parsed, triggers.TriggerSettings.from_env()))
