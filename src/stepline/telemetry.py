"""Logs, traces and metrics of every function: one powertools Logger, Tracer and Metrics.

The handler layer (``api/http.py``, ``functions/*``) and the services both log and trace
through these; neither imports the other for it.
"""

from __future__ import annotations

import os
import warnings
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "stepline")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Stepline"))
# Most calls publish no metric of their own (only errors and starts do): that is not news.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


@cache
def tracer() -> Tracer:
    """The X-Ray tracer, built on first use: importing the X-Ray SDK doubles a cold import."""
    from aws_lambda_powertools import Tracer

    return Tracer()
