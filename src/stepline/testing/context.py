"""A Lambda context object for running handlers in this process, as Lambda would pass one."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

REGION = "us-east-1"
ACCOUNT = "123456789012"
"""The account of the dev stack's emulator and of the tests (``stepline.dev.authorizer``)."""


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that handlers and local functions read."""

    function_name: str = "function"
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    account: str = ACCOUNT

    @property
    def invoked_function_arn(self) -> str:
        """The function ARN as Lambda would report it."""
        return f"arn:aws:lambda:{REGION}:{self.account}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))
