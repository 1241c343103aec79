"""Re-drives executions whose next move is overdue (EventBridge schedule, once a minute)."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from stepline.api.http import logger, metrics
from stepline.service.deps import services
from stepline.service.reconciler import Limits, reconcile

# Stop looking this many seconds before the function's own timeout.
MARGIN_SECONDS = 5.0


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000 - MARGIN_SECONDS

    report = reconcile(services(), Limits.from_env(dict(os.environ)), time_left=time_left)
    logger.info("reconciled", extra=report.as_dict())
    return report.as_dict()
