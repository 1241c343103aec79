"""Fails the executions whose steps messages reached the dead-letter queue (SQS batch)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from stepline.api.http import logger, metrics
from stepline.service.deps import services
from stepline.service.runner import process_dead_letter

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> None:
    process_dead_letter(services(), record)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=_record, processor=processor, context=context
    )
