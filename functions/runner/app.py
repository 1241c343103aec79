"""The runner: advances executions from steps-queue messages (SQS batch, partial failures),
and from the first message of a new execution, handed over as an asynchronous invocation."""

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from stepline.service.deps import services
from stepline.service.runner import process_direct, process_record
from stepline.telemetry import logger, metrics, tracer

processor = AsyncBatchProcessor(event_type=EventType.SQS)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" not in event:
        process_direct(services(), event, context, tracer())
        return {}

    async def record_handler(record: SQSRecord) -> None:
        await asyncio.to_thread(process_record, services(), record, context, tracer())

    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
