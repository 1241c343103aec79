"""What every benchmark stands on: an in-process emulated account and local servers.

The environment a bench sets is restored after it, and endpoint overrides of the caller's
environment (a running dev stack's) never leak into the emulated account.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, redirect_stdout
from typing import Any

ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Stepline",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@contextmanager
def emulated_aws(
    environment: Mapping[str, str] | None = None,
    *,
    config: dict[str, Any] | None = None,
    quiet: bool = False,
) -> Iterator[None]:
    """moto for every service (``config`` as ``mock_aws`` takes it), ``ENVIRONMENT`` plus
    ``environment`` set; ``quiet`` sends stdout (the runner's log and EMF lines) to /dev/null."""
    from moto import mock_aws

    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[key]
    os.environ.update(ENVIRONMENT | dict(environment or {}))
    try:
        with ExitStack() as stack:
            if quiet:
                stack.enter_context(redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
            stack.enter_context(mock_aws(config=config))  # type: ignore[arg-type]
            stack.enter_context(atomic_dynamodb())
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """One DynamoDB request at a time through in-process moto, as DynamoDB applies each
    request atomically: moto checks a condition and then writes, and two threads could both
    pass the check (two concurrent Redrives would both land)."""
    from moto.core.models import botocore_stubber

    process = botocore_stubber.process_request
    lock = threading.Lock()

    def atomic(request: Any) -> Any:
        if "dynamodb" not in str(request.url):
            return process(request)
        with lock:
            return process(request)

    botocore_stubber.process_request = atomic  # type: ignore[method-assign]
    try:
        yield
    finally:
        botocore_stubber.process_request = process  # type: ignore[method-assign]


@contextmanager
def served(server: Any) -> Iterator[None]:
    """A ``socketserver`` server answering in a daemon thread while the block runs."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
