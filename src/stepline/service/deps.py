"""Settings and clients of the core, created once per process from the environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from stepline.api.proto import now
from stepline.store.executions import ExecutionStore
from stepline.store.log import ExecutionLog
from stepline.store.payloads import Payloads
from stepline.store.queue import RunnerHop, StepsQueue
from stepline.store.table import Table
from stepline.store.tokens import PageTokens
from stepline.store.workflows import WorkflowStore


@dataclass(frozen=True)
class Settings:
    """Where the core's resources are; set by template.yaml or by the dev stack."""

    table_name: str
    steps_queue_url: str
    payload_bucket: str
    page_token_secret_arn: str | None = None
    page_token_key: str | None = None
    time_scale: float = 1.0
    allowed_private_hosts: frozenset[str] = frozenset()
    max_receive_count: int = 5
    runner_function: str | None = None
    """Name of the runner function new executions are handed to; unset: the steps queue."""
    public_api_url: str | None = None
    """Base URL of the public start-by-link API: the ``executionUrl`` of isPublic workflows."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read settings from environment variables (names as in template.yaml)."""
        env = dict(os.environ) if env is None else env
        missing = [n for n in ("TABLE_NAME", "STEPS_QUEUE_URL", "PAYLOAD_BUCKET") if not env.get(n)]
        if missing:
            raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            table_name=env["TABLE_NAME"],
            steps_queue_url=env["STEPS_QUEUE_URL"],
            payload_bucket=env["PAYLOAD_BUCKET"],
            page_token_secret_arn=env.get("PAGE_TOKEN_SECRET_ARN") or None,
            page_token_key=env.get("PAGE_TOKEN_KEY") or None,
            time_scale=float(env.get("STEPLINE_TIME_SCALE") or 1.0),
            allowed_private_hosts=frozenset(
                h.strip() for h in (env.get("ALLOWED_PRIVATE_HOSTS") or "").split(",") if h.strip()
            ),
            max_receive_count=int(env.get("STEPS_MAX_RECEIVE_COUNT") or 5),
            runner_function=env.get("RUNNER_FUNCTION") or None,
            public_api_url=env.get("PUBLIC_API_URL") or None,
        )


@dataclass
class Services:
    """Everything a use case needs; clients are made on first use to keep cold starts short."""

    settings: Settings
    client_factory: Callable[[str], Any]
    clock: Callable[[], datetime] = field(default=now)

    @cached_property
    def table(self) -> Table:
        """The single table."""
        return Table(self.client_factory("dynamodb"), self.settings.table_name)

    @cached_property
    def workflows(self) -> WorkflowStore:
        """Workflow definitions."""
        return WorkflowStore(self.table)

    @cached_property
    def executions(self) -> ExecutionStore:
        """Execution heads and history."""
        return ExecutionStore(self.table)

    @cached_property
    def log(self) -> ExecutionLog:
        """Execution logs (history and machine snapshots)."""
        return ExecutionLog(self.table, self.payloads)

    @cached_property
    def queue(self) -> StepsQueue:
        """The steps queue."""
        return StepsQueue(self.client_factory("sqs"), self.settings.steps_queue_url)

    @cached_property
    def runner(self) -> RunnerHop:
        """The first hop of a new execution: the runner function itself, else the queue."""
        function = self.settings.runner_function
        client = self.client_factory("lambda") if function else None
        return RunnerHop(client, function, self.queue)

    @cached_property
    def payloads(self) -> Payloads:
        """The payload bucket."""
        return Payloads(self.client_factory("s3"), self.settings.payload_bucket)

    @cached_property
    def tokens(self) -> PageTokens:
        """Page tokens, keyed by the stack's secret (read once per process)."""
        key = self.settings.page_token_key
        if key is None:
            if not self.settings.page_token_secret_arn:
                raise RuntimeError("set PAGE_TOKEN_SECRET_ARN or PAGE_TOKEN_KEY")
            secrets = self.client_factory("secretsmanager")
            reply = secrets.get_secret_value(SecretId=self.settings.page_token_secret_arn)
            key = str(reply["SecretString"])
        return PageTokens(key.encode())


@cache
def _boto3_client(service: str) -> Any:
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


@cache
def services() -> Services:
    """The process-wide services, from the environment."""
    return Services(Settings.from_env(), _boto3_client)
