"""Settings and clients of the core, created once per process from the environment.

The core's own clients (table, queue, payload bucket, page-token secret, runner hop, and the
workflows function's schedules) are bounded so that no AWS call can outlast an API function
(``Timeout: 10`` in template.yaml), however AWS fails. botocore's standard retry mode waits
``rand(0, 1) * 2 ** (attempt - 1)`` seconds before attempt ``attempt + 1``, so a call of
``n`` attempts takes at most ``n * (connect + read) + sum(2 ** i for i in range(n - 1))``:

=====================  =======  ====  ========  ==================================  =====
clients                connect  read  attempts  worst case                          bound
=====================  =======  ====  ========  ==================================  =====
dynamodb, s3, sqs,     1 s      2 s   2         2 x (1 + 2) + 1 (one backoff)       7 s
secretsmanager,
scheduler
lambda (runner hop)    1 s      1 s   1         1 x (1 + 1), no retry: the queue    2 s
                                                takes the message instead
=====================  =======  ====  ========  ==================================  =====

Start's worst path, a hop that fails and the queue send after it, is 2 + 7 = 9 s; a call that
fails for good ends the request (429/503), so no other two bounds add up. A throttled request
answers in milliseconds: its cost is the backoff, not the timeouts. (botocore's opt-in
``AWS_NEW_RETRIES_2026`` mode may wait up to 5 s more for an ``x-amz-retry-after`` header;
it is off unless that variable is set.)

The runner (``Timeout: 900``) uses the same bounded core clients; its integration steps get
their clients from :attr:`Services.client_factory` with botocore's defaults, where each step
sets its own read timeout (``integrations.aws_errors``) and FunctionCall may wait minutes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Final

from stepline.integrations.boundary import Reserved
from stepline.store.access import AccessStore
from stepline.store.executions import ExecutionStore
from stepline.store.log import ExecutionLog
from stepline.store.operations import OperationStore
from stepline.store.payloads import Payloads
from stepline.store.queue import RunnerHop, StepsQueue
from stepline.store.table import Table
from stepline.store.tokens import PageTokens
from stepline.store.workflows import WorkflowStore
from stepline.times import now

if TYPE_CHECKING:
    from botocore.config import Config

CONNECT_TIMEOUT: Final = 1.0
"""Seconds to open a connection to AWS (TCP and TLS)."""
READ_TIMEOUT: Final = 2.0
"""Seconds to wait for AWS to answer a request of the core."""
ATTEMPTS: Final = 2
"""Attempts per request of the core, the first included (botocore's ``total_max_attempts``)."""
HOP_READ_TIMEOUT: Final = 1.0
"""Seconds to wait for Lambda to accept an asynchronous invocation of the runner."""
HOP_ATTEMPTS: Final = 1
"""Attempts to hand a new execution to the runner: the steps queue is its retry."""
_CORE_ONLY: Final = frozenset({"scheduler"})
"""Services no integration step calls: ``client_factory`` gives them the core's bounds too."""


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
    stack_name: str = ""
    """The stack's name: every resource it made is named after it, and out of workflows' reach."""
    integration_role_arn: str | None = None
    """The role integration steps call AWS with (the runner's); unset: the function's own."""
    access_enforced: bool = False
    """``AccessBindings=enforced``: every caller but the account root needs a binding; else
    only folders and workflows that hold bindings are guarded (docs/access.md)."""
    max_steps: int = 1000
    """Steps an execution may run, every branch and iteration counted (REFERENCE: 1,000)."""
    max_execution_hours: float = 48.0
    """How long an execution may run (REFERENCE: 48 h)."""
    history_retention_days: int = 90
    """``HistoryRetentionDays``: days an execution's head and log are kept (after the quota)."""

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
            stack_name=env.get("STACK_NAME") or "",
            integration_role_arn=env.get("INTEGRATION_ROLE_ARN") or None,
            access_enforced=_access_mode(env.get("ACCESS_BINDINGS") or ACCESS_WHEN_BOUND),
            max_steps=int(env.get("STEPLINE_MAX_STEPS") or 1000),
            max_execution_hours=float(env.get("STEPLINE_MAX_EXECUTION_HOURS") or 48.0),
            history_retention_days=int(env.get("HISTORY_RETENTION_DAYS") or 90),
        )


ACCESS_WHEN_BOUND: Final = "when-bound"
ACCESS_ENFORCED: Final = "enforced"


def _access_mode(value: str) -> bool:
    """Whether ``ACCESS_BINDINGS`` (the AccessBindings parameter) enforces bindings everywhere."""
    if value not in (ACCESS_WHEN_BOUND, ACCESS_ENFORCED):
        raise RuntimeError(
            f"ACCESS_BINDINGS is {value!r}; {ACCESS_WHEN_BOUND} or {ACCESS_ENFORCED}"
        )
    return value == ACCESS_ENFORCED


@dataclass
class Services:
    """Everything a use case needs; clients are made on first use to keep cold starts short."""

    settings: Settings
    client_factory: Callable[[str], Any]
    """boto3 clients by service name, for integration steps (and the core's, by default)."""
    clock: Callable[[], datetime] = field(default=now)
    core_client_factory: Callable[[str], Any] | None = None
    """The core's own clients (table, queue, bucket, secret, runner hop); None: client_factory."""
    credentials: Callable[[], Any] | None = None
    """The credentials ``client_factory``'s clients sign with; None: the default chain's."""

    def core_client(self, service: str) -> Any:
        """The client the core uses for its own resources in ``service``."""
        return (self.core_client_factory or self.client_factory)(service)

    @cached_property
    def reserved(self) -> Reserved:
        """The stack's own resources, which no integration step may target."""
        queue = self.settings.steps_queue_url.rstrip("/").rsplit("/", 1)[-1]
        names = {self.settings.table_name, self.settings.payload_bucket, queue}
        return Reserved(self.settings.stack_name, frozenset(n for n in names if n))

    @cached_property
    def table(self) -> Table:
        """The single table."""
        return Table(self.core_client("dynamodb"), self.settings.table_name)

    @cached_property
    def access(self) -> AccessStore:
        """Access bindings of folders and workflows."""
        return AccessStore(self.table)

    @cached_property
    def operations(self) -> OperationStore:
        """The operations of workflow and access changes."""
        return OperationStore(self.table)

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
        return StepsQueue(self.core_client("sqs"), self.settings.steps_queue_url)

    @cached_property
    def runner(self) -> RunnerHop:
        """The first hop of a new execution: the runner function itself, else the queue."""
        function = self.settings.runner_function
        client = self.core_client("lambda") if function else None
        return RunnerHop(client, function, self.queue)

    @cached_property
    def payloads(self) -> Payloads:
        """The payload bucket."""
        return Payloads(self.core_client("s3"), self.settings.payload_bucket)

    @cached_property
    def tokens(self) -> PageTokens:
        """Page tokens, keyed by the stack's secret (read once per process)."""
        key = self.settings.page_token_key
        if key is not None:
            return PageTokens(key.encode())
        if not self.settings.page_token_secret_arn:
            raise RuntimeError("set PAGE_TOKEN_SECRET_ARN or PAGE_TOKEN_KEY")
        secrets = self.core_client("secretsmanager")
        return PageTokens.from_secret(secrets, self.settings.page_token_secret_arn)


def core_client_config(service: str) -> Config:
    """The botocore config of the core's ``service`` client (bounds in the module docstring)."""
    from botocore.config import Config

    hop = service == "lambda"
    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=HOP_READ_TIMEOUT if hop else READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": HOP_ATTEMPTS if hop else ATTEMPTS},
    )


@cache
def _core_client(service: str) -> Any:
    import boto3

    return boto3.client(service, config=core_client_config(service))  # type: ignore[call-overload]


@cache
def _boto3_client(service: str) -> Any:
    if service in _CORE_ONLY:
        return _core_client(service)
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


@cache
def _integration_session(role_arn: str) -> Any:
    """A boto3 session signing as ``role_arn``, assumed with the function's own credentials
    and assumed again before the credentials expire."""
    import boto3
    import botocore.session
    from botocore.credentials import RefreshableCredentials

    sts = _core_client("sts")

    def assumed() -> dict[str, str]:
        reply = sts.assume_role(RoleArn=role_arn, RoleSessionName="stepline-integrations")
        credentials = reply["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    core = botocore.session.get_session()
    # botocore's own way to give a session credentials that refresh themselves
    core._credentials = RefreshableCredentials.create_from_metadata(  # type: ignore[attr-defined]
        metadata=assumed(), refresh_using=assumed, method="sts-assume-role"
    )
    return boto3.Session(botocore_session=core)


def integration_clients(role_arn: str | None) -> Callable[[str], Any]:
    """Clients for integration steps: signed as ``role_arn`` when given (the core's own
    services keep the core's clients)."""
    if role_arn is None:
        return _boto3_client

    @cache
    def client(service: str) -> Any:
        if service in _CORE_ONLY:
            return _core_client(service)
        return _integration_session(role_arn).client(service)

    return client


@cache
def services() -> Services:
    """The process-wide services, from the environment."""
    settings = Settings.from_env()
    role = settings.integration_role_arn
    credentials = _integration_session(role).get_credentials if role else None
    return Services(
        settings,
        integration_clients(role),
        core_client_factory=_core_client,
        credentials=credentials,
    )
