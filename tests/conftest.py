"""Settings every test process shares, applied before any handler module is imported."""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "stepline")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Stepline")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
