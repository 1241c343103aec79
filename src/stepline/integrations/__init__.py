"""Integration steps: one small adapter module per step type, each over boto3 or HTTP.

An adapter is a module with ``call(step, step_input, ctx) -> output``: ``step`` is the step's
spec model (``stepline.yawl.integration``), ``step_input`` the step input after the ``input``
filter, and the return value the raw step output (before the ``output`` filter). Failures are
raised as :class:`stepline.yawl.StepFailure` with a WorkflowError code; nothing else may
escape an adapter (botocore and httpx errors are translated inside it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stepline.integrations.boundary import Reserved

# Step model class name → adapter module (imported on first use to keep cold starts short).
ADAPTERS: Mapping[str, str] = {
    "FunctionCall": "stepline.integrations.function_call",
    "HTTPCall": "stepline.integrations.http_call",
    "ContainerCall": "stepline.integrations.container_call",
    "GRPCCall": "stepline.integrations.grpc_call",
    "YMQ": "stepline.integrations.ymq",
    "YDS": "stepline.integrations.yds",
    "YDBDocument": "stepline.integrations.ydb_document",
    "ObjectStorage": "stepline.integrations.object_storage",
    "Postbox": "stepline.integrations.postbox",
}


@dataclass(frozen=True)
class CallContext:
    """What an adapter may use for one attempt of one step."""

    client: Callable[[str], Any]
    """A boto3 client by service name (``"lambda"``, ``"sqs"``, ...), created once per process."""
    render: Callable[[str], Any]
    """Render a templated field of the step against the step input (``.`` = step input)."""
    timeout: float
    """Seconds this attempt may take; adapters pass it to their network calls."""
    execution_id: str = ""
    step_id: str = ""
    allow_private_hosts: frozenset[str] = field(default_factory=frozenset)
    """HTTP targets allowed although loopback/private (``*`` allows all: the dev stack)."""
    reserved: Reserved = field(default_factory=Reserved)
    """The stack's own resources: refused as targets (:mod:`stepline.integrations.boundary`)."""
    credentials: Callable[[], Any] | None = None
    """The credentials ``client`` signs with, for requests signed by hand (function URLs);
    None: the default chain's."""


class Adapter(Protocol):
    """The shape of an adapter module's ``call``."""

    def __call__(self, step: Any, step_input: Any, ctx: CallContext) -> Any: ...


def adapter_for(step: Any) -> Adapter:
    """The adapter of a step model, by its class name."""
    name = type(step).__name__
    module = importlib.import_module(ADAPTERS[name])
    adapter: Adapter = module.call
    return adapter
