"""What a workflow's steps cost in AWS: every request counted, priced per million transitions.

The workflow runs in this process on moto with the real runner: Start through
:func:`stepline.service.executions.start`, the steps queue drained into the runner by
:func:`stepline.testing.drive.run_to_end`. Every boto3 client the orchestrator uses carries
botocore ``before-call``/``after-call`` hooks that record each request by service and
operation. Nothing is estimated from the code: a request that is not made is not paid for.

Quantities per request, by the billing rules of each service:

* DynamoDB: item sizes by the DynamoDB sizing rules (attribute names + values). Writes are
  ``ceil(size / 1 KB)`` units (an update or replacing put: the larger of the old and new
  item; a failed condition: the existing item, at least 1), every action of a transaction
  twice, plus one write per global secondary index entry put or deleted (an index entry is
  the table key, the index key and the projected attributes, plus 100 bytes). Reads are
  ``ceil(size / 4 KB)`` units (a Query sums the items it returns first), halved when
  eventually consistent. moto's ``ConsumedCapacity`` is not used: it reports 1 unit for a
  put of any size.
* SQS: one request per 64 KB chunk of the payload sent or received.
* Lambda: one runner invocation per non-empty receive of the steps queue (the batch Lambda's
  poller would hand over) and its measured wall time, rounded up to 1 ms, at the template's
  MemorySize; the Start API is one API Gateway request and one Lambda invocation.
* S3 and Secrets Manager per request; CloudWatch Logs per byte the runner prints (EMF) and
  the EMF document the Start handler prints.

Requests are grouped by who makes them: ``api`` (the Start call), ``runner``, ``poller`` (the
steps queue's receives and deletes, which Lambda's event source mapping makes in AWS),
``integration`` (the workflow's own calls: its Lambda functions, tables, queues — paid by
whatever they are, not by the orchestrator) and ``harness`` (this benchmark watching the
execution). Only api, runner and poller are priced; empty receives are the queue's fixed
idle-polling cost and are listed but not priced per transition.

The figure above is "requests and compute on moto's latencies". The headline adds four lines,
each a counted quantity times ``prices.json`` (its ``assumptions`` and ``latency_ms`` say which
figures are assumptions): the compute the runner's and Start's AWS requests take at an assumed
per-request AWS latency instead of their measured time on moto (a synchronous Invoke adds
nothing: its run is measured); the storage of what each execution leaves (items + 100 bytes
each, index entries + 100 bytes each, payload objects) for HistoryRetentionDays +
MaxExecutionHours, with PITR on the table's items; Lambda's START/END/REPORT lines per
invocation; X-Ray traces at the sampled share of the invocations that make their own sampling
decision (the runner invocation Start hands over joins Start's trace), no free tier.

Per step type: the runner's costs between two log appends (and the poller's for those
invocations) are shared evenly by the history entries the later append records; what comes
after an execution's last append (the head's final write, the last delete) goes to the
entries of that last append.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from stepline.bench import harness

HELP = "AWS requests and US dollars per million transitions of one workflow, on moto"
PRICES_PATH = Path(__file__).with_name("prices.json")
HTTP_PLACEHOLDER = "$BENCH_HTTP"
RUNNER = "stepline-cost-runner"  # the runner function's name, as Start invokes it
KB = 1024
SQS_CHUNK = 64 * KB
GSI_ENTRY_OVERHEAD = 100
ITEM_STORAGE_OVERHEAD = 100  # storage only: every table item is billed 100 bytes for indexing
PRICED_ROLES = ("api", "runner", "poller")
S3_PUT_TIER = frozenset(
    {
        "PutObject",
        "CopyObject",
        "PostObject",
        "ListObjects",
        "ListObjectsV2",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    }
)
S3_FREE = frozenset({"DeleteObject", "DeleteObjects"})

# --- DynamoDB sizing -------------------------------------------------------------------------


def _number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeros trimmed), plus 1."""
    mantissa = text.lower().lstrip("+-").split("e", 1)[0].replace(".", "")
    digits = mantissa.strip("0")
    return math.ceil(len(digits) / 2) + 1


def _binary_size(value: Any) -> int:
    return len(value) if isinstance(value, bytes | bytearray) else len(str(value).encode())


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one AttributeValue (without its name)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(_binary_size(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown AttributeValue type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes of an item: the UTF-8 length of every attribute name plus its value."""
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def write_units(size: int) -> int:
    """Write request units of one item write (1 KB each, at least 1)."""
    return max(1, math.ceil(size / KB))


def read_units(size: int, *, consistent: bool) -> float:
    """Read request units of a read of ``size`` bytes (4 KB each, at least 1; half if eventual)."""
    units = max(1, math.ceil(size / (4 * KB)))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str
    included: frozenset[str]


@dataclass(frozen=True)
class TableShape:
    """A table's primary key and its global secondary indexes."""

    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The primary key of an item."""
        return {k: item[k] for k in self.keys}

    def entry(self, index: Index, item: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The index entry an item has (None: the item is not in the index)."""
        if item is None or any(k not in item for k in index.keys):
            return None
        if index.projection == "ALL":
            return dict(item)
        wanted = set(self.keys) | set(index.keys) | set(index.included)
        return {k: v for k, v in item.items() if k in wanted}

    def index_writes(
        self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> dict[str, int]:
        """Write units per index for an item going from ``old`` to ``new``."""
        writes: dict[str, int] = {}
        for index in self.indexes:
            before, after = self.entry(index, old), self.entry(index, new)
            if before == after:
                continue
            units = 0
            same_key = (
                before is not None
                and after is not None
                and all(before[k] == after[k] for k in index.keys)
            )
            if same_key:
                units = write_units(max(item_size(before), item_size(after)) + GSI_ENTRY_OVERHEAD)
            else:
                for entry in (before, after):
                    if entry is not None:
                        units += write_units(item_size(entry) + GSI_ENTRY_OVERHEAD)
            writes[index.name] = units
        return writes


def table_shape(description: Mapping[str, Any]) -> TableShape:
    """The shape of a table from its DescribeTable ``Table``."""
    indexes = []
    for gsi in description.get("GlobalSecondaryIndexes", []):
        projection = gsi.get("Projection", {})
        indexes.append(
            Index(
                name=gsi["IndexName"],
                keys=tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                projection=projection.get("ProjectionType", "ALL"),
                included=frozenset(projection.get("NonKeyAttributes", [])),
            )
        )
    keys = tuple(k["AttributeName"] for k in description["KeySchema"])
    return TableShape(keys, tuple(indexes))


# --- the record of requests ------------------------------------------------------------------


@dataclass
class Request:
    """One AWS request and the billable quantities it caused."""

    role: str
    service: str
    operation: str
    ok: bool = True
    idle: bool = False
    write_units: float = 0.0
    read_units: float = 0.0
    index_write_units: dict[str, int] = field(default_factory=dict)
    sqs_requests: int = 0
    detail: str = ""
    caller: str = ""
    """Who was acting when it was made (an integration request made by the runner: runner)."""
    latency_ms: float = 0.0
    """The assumed AWS latency it adds to its caller's billed duration (prices.json)."""
    moto_ms: float = 0.0
    """Its measured time on moto (signing, the emulator, parsing), which that latency
    replaces: counted for the orchestrator's own requests, made one after another."""

    @property
    def priced(self) -> bool:
        """Whether the orchestrator pays for it per transition."""
        return self.role in PRICED_ROLES and not self.idle

    def quantities(self) -> dict[str, float]:
        """Billable quantities, keyed like the price file."""
        q: dict[str, float] = defaultdict(float)
        if self.service == "dynamodb":
            q["dynamodb_write_request_unit"] += self.write_units + sum(
                self.index_write_units.values()
            )
            q["dynamodb_read_request_unit"] += self.read_units
        elif self.service == "sqs":
            q["sqs_request"] += self.sqs_requests
        elif self.service == "s3" and self.operation not in S3_FREE:
            tier = "s3_put_request" if self.operation in S3_PUT_TIER else "s3_get_request"
            q[tier] += 1
        elif self.service == "secretsmanager":
            q["secrets_manager_api_call"] += 1
        return dict(q)


def _add(into: dict[str, float], quantities: Mapping[str, float], share: float = 1.0) -> None:
    for key, value in quantities.items():
        into[key] = into.get(key, 0.0) + value * share


@dataclass(frozen=True)
class Stack:
    """The orchestrator's own resources (anything else is the workflow's integration)."""

    table: str
    queue_url: str
    bucket: str
    runner_memory_mb: int = 512
    api_memory_mb: int = 512
    retention_days: float = 92.0
    """How long an execution's items and payloads are kept: HistoryRetentionDays + the
    execution time quota (MaxExecutionHours), as template.yaml sets the TTL."""


class Meter:
    """Hooked boto3 clients, the requests they made, and what they cost by step type."""

    def __init__(
        self,
        stack: Stack,
        raw_client: Callable[[str], Any],
        endpoints: Mapping[str, str] | None = None,
        latencies: Mapping[str, float] | None = None,
    ) -> None:
        self.stack = stack
        self.latencies = dict(Prices.load().latency_ms if latencies is None else latencies)
        self.raw_client = raw_client
        self.endpoints = dict(endpoints or {})
        self.requests: list[Request] = []
        self.transitions: Counter[str] = Counter()
        self.by_type: dict[str, dict[str, float]] = defaultdict(dict)
        self.api: dict[str, float] = {}
        self.runner_invocations = 0
        self.runner_billed_ms = 0
        self.api_invocations = 0
        self.api_billed_ms = 0
        self.runner_billed_ms_aws = 0
        """The runner's billed ms with each of its AWS requests at the assumed AWS latency."""
        self.api_billed_ms_aws = 0
        self.latency_ms_by_operation: defaultdict[str, float] = defaultdict(float)
        self.moto_ms_replaced: defaultdict[str, float] = defaultdict(float)
        """Per caller, the measured moto time of the requests an AWS latency replaced."""
        self.handed_invocations = 0
        """Runner invocations Start handed over itself (its asynchronous Invoke)."""
        self.api_log_bytes = 0
        """Bytes Start's handler prints (its EMF document)."""
        self.log_bytes = 0
        self.stored: defaultdict[str, float] = defaultdict(float)
        """Bytes the executions leave: table items (with the per-item overhead), their index
        entries (+100 bytes each), payload objects; and how many items."""
        self.started: list[str] = []
        """The executions Start created, in order."""
        self.call_batches = 0
        """Batches of calls the runner performed (each one a log write if checkpointed)."""
        self.checkpoint_bytes: list[int] = []
        """The size of each log item the runner appended (its parts in S3 not counted)."""
        self.role = "harness"
        self._clients: dict[str, Any] = {}
        self._shapes: dict[str, TableShape] = {}
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._last_types: list[str] = []
        self._invocation_ms: float | None = None
        self._invocation_latency = 0.0
        self._api_latency = 0.0
        self._bucket_before = 0
        self._hook_seconds = 0.0

    # clients and hooks ------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client whose every request is recorded (one per service)."""
        if service not in self._clients:
            import boto3

            client = boto3.client(service, endpoint_url=self.endpoints.get(service))  # type: ignore[call-overload]
            events = client.meta.events
            events.register("before-parameter-build", self._remember_params)
            events.register("before-call", self._before_call)
            events.register("after-call", self._after_call)
            self._clients[service] = client
        return self._clients[service]

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = params

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        began = time.perf_counter()
        context["bench_role"] = self.role
        if model.service_model.service_name == "dynamodb":
            context["bench_old"] = self._old_images(model.name, context.get("bench_params", {}))
        self._hooked(began)
        context["bench_sent"] = time.perf_counter()

    def _after_call(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        began = time.perf_counter()
        sent = context.get("bench_sent", began)
        params = context.get("bench_params", {})
        service, operation = model.service_model.service_name, model.name
        caller = context.get("bench_role", self.role)
        request = Request(
            role=self._role_of(caller, service, params),
            service=service,
            operation=operation,
            ok=http_response.status_code < 300,
            caller=caller,
        )
        if service == "dynamodb":
            self._dynamodb(request, params, parsed, context.get("bench_old", {}))
        elif service == "sqs":
            self._sqs(request, params, parsed)
        if caller in ("runner", "api"):
            self._add_latency(request, params, (began - sent) * 1000)
        with self._lock:
            self.requests.append(request)
            if request.priced:
                _add(self._pending if request.role != "api" else self.api, request.quantities())
        if request.role == "poller" and operation == "ReceiveMessage" and not request.idle:
            self._new_invocation()
        if request.role == "runner" and request.detail.startswith("log-append") and request.ok:
            self._log_appended(params)
        self._hooked(began)

    def latency_of(self, service: str, operation: str, params: Mapping[str, Any]) -> float:
        """The assumed AWS latency of one request, in ms (prices.json ``latency_ms``)."""
        if service == "lambda" and operation == "Invoke":
            kind = str(params.get("InvocationType", "RequestResponse"))
            if f"lambda:Invoke:{kind}" in self.latencies:
                return self.latencies[f"lambda:Invoke:{kind}"]
        for key in (f"{service}:{operation}", f"{service}:*"):
            if key in self.latencies:
                return self.latencies[key]
        return 0.0

    def _add_latency(self, request: Request, params: Mapping[str, Any], measured_ms: float) -> None:
        """What the request changes in its caller's billed duration in AWS: its assumed latency
        instead of the time it took here. Replaced for the requests made one after another:
        all of Start's and the runner's on its own table, queue and bucket; an integration
        request of the runner may run beside others, so only its latency is added."""
        request.latency_ms = self.latency_of(request.service, request.operation, params)
        if not request.latency_ms:
            return
        if request.caller == "api" or request.role == "runner":
            request.moto_ms = measured_ms
        change = request.latency_ms - request.moto_ms
        with self._lock:
            self.latency_ms_by_operation[
                f"{request.caller} {request.service}:{request.operation}"
            ] += request.latency_ms
            self.moto_ms_replaced[request.caller] += request.moto_ms
            if request.caller == "api":
                self._api_latency += change
                return
            _add(self._pending, {"lambda_ms_runner_aws_latency": change})
            if self._invocation_ms is not None:
                self._invocation_latency += change

    def _hooked(self, began: float) -> None:
        with self._lock:
            self._hook_seconds += time.perf_counter() - began

    def _role_of(self, role: str, service: str, params: Mapping[str, Any]) -> str:
        ours = (
            params.get("TableName", self.stack.table) == self.stack.table
            and params.get("QueueUrl", self.stack.queue_url) == self.stack.queue_url
            and params.get("Bucket", self.stack.bucket) == self.stack.bucket
        )
        if role in ("runner", "api"):
            return role if ours and service != "lambda" else "integration"
        if service == "sqs" and params.get("QueueUrl") == self.stack.queue_url:
            return "poller"
        return "harness"

    # DynamoDB ---------------------------------------------------------------------------

    def shape(self, table: str) -> TableShape:
        """The key schema and indexes of a table (described once)."""
        if table not in self._shapes:
            described = self.raw_client("dynamodb").describe_table(TableName=table)["Table"]
            self._shapes[table] = table_shape(described)
        return self._shapes[table]

    def _read(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        reply = self.raw_client("dynamodb").get_item(
            TableName=table, Key=dict(key), ConsistentRead=True
        )
        item: dict[str, Any] | None = reply.get("Item")
        return item

    def _actions(self, operation: str, params: Mapping[str, Any]) -> list[tuple[str, Any]]:
        if operation == "TransactWriteItems":
            return [next(iter(op.items())) for op in params.get("TransactItems", [])]
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return [(operation.removesuffix("Item"), params)]
        return []

    def _key(self, kind: str, action: Mapping[str, Any]) -> dict[str, Any]:
        if kind == "Put":
            return self.shape(action["TableName"]).key_of(action["Item"])
        return dict(action["Key"])

    def _old_images(self, operation: str, params: Mapping[str, Any]) -> dict[int, Any]:
        return {
            i: self._read(action["TableName"], self._key(kind, action))
            for i, (kind, action) in enumerate(self._actions(operation, params))
        }

    def _dynamodb(
        self,
        request: Request,
        params: Mapping[str, Any],
        parsed: Mapping[str, Any],
        old: Mapping[int, Any],
    ) -> None:
        operation = request.operation
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            request.read_units = read_units(item_size(parsed.get("Item")), consistent=consistent)
        elif operation == "Query":
            size = sum(item_size(i) for i in parsed.get("Items", []))
            request.read_units = read_units(size, consistent=consistent)
        actions = self._actions(operation, params)
        factor = 2 if operation == "TransactWriteItems" else 1
        for i, (kind, action) in enumerate(actions):
            self._write(request, kind, action, old.get(i), factor)
        if operation == "PutItem" and str(
            params.get("Item", {}).get("SK", {}).get("S", "")
        ).startswith("H#"):
            request.detail = "log-append"

    def _write(
        self, request: Request, kind: str, action: Mapping[str, Any], old: Any, factor: int
    ) -> None:
        new: Any = None
        if not request.ok or kind == "ConditionCheck":
            units = write_units(item_size(old))
        else:
            if kind == "Put":
                new = action["Item"]
            elif kind == "Update":
                new = self._read(action["TableName"], action["Key"])
            units = write_units(max(item_size(old), item_size(new)))
            for name, n in self.shape(action["TableName"]).index_writes(old, new).items():
                request.index_write_units[name] = request.index_write_units.get(name, 0) + n
        request.write_units += units * factor

    # SQS --------------------------------------------------------------------------------

    @staticmethod
    def _sqs(request: Request, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        def chunks(size: int) -> int:
            return max(1, math.ceil(size / SQS_CHUNK))

        if request.operation == "SendMessage":
            request.sqs_requests = chunks(_message_size(params))
        elif request.operation == "SendMessageBatch":
            request.sqs_requests = chunks(sum(_message_size(e) for e in params["Entries"]))
        elif request.operation == "ReceiveMessage":
            messages = parsed.get("Messages", [])
            request.idle = not messages
            request.sqs_requests = chunks(sum(_message_size(m) for m in messages))
            request.detail = f"{len(messages)} messages"
        else:
            request.sqs_requests = 1

    # runner invocations and step types --------------------------------------------------

    def _new_invocation(self) -> None:
        self._close_invocation()
        with self._lock:
            self.runner_invocations += 1
            self._invocation_ms = 0.0
            self._invocation_latency = 0.0
            _add(self._pending, {"lambda_request": 1})

    def _close_invocation(self) -> None:
        with self._lock:
            if self._invocation_ms is None:
                return
            billed = max(1, math.ceil(self._invocation_ms))
            self.runner_billed_ms += billed
            _add(self._pending, {"lambda_ms_runner": billed - self._invocation_ms})
            # The same invocation with AWS latencies is rounded up on its own.
            billed_aws = max(1, math.ceil(self._invocation_ms + self._invocation_latency))
            self.runner_billed_ms_aws += billed_aws
            rounding = billed_aws - billed - self._invocation_latency
            _add(self._pending, {"lambda_ms_runner_aws_latency": rounding})
            self._invocation_ms = None
            self._invocation_latency = 0.0

    def log_item_written(self, item: Mapping[str, Any]) -> None:
        """Called with each log item the runner puts (DynamoDB JSON); a subclass may look."""

    def _log_appended(self, params: Mapping[str, Any]) -> None:
        self.log_item_written(params["Item"])
        self.checkpoint_bytes.append(item_size(params["Item"]))
        types = [str(e.get("type", "?")) for e in log_entries(params["Item"], self._read_part)]
        self._charge_elapsed()
        if types:
            self._distribute(types)

    def _read_part(self, pointer: str) -> str:
        """A log item's part in the payload bucket, read unrecorded (the meter's look, not the
        runner's cost): the object is put before the item that points to it."""
        bucket, _, key = pointer.removeprefix("s3://").partition("/")
        body = self.raw_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return str(body.decode())

    def _distribute(self, types: list[str]) -> None:
        with self._lock:
            self.transitions.update(types)
            share = 1.0 / len(types)
            for step_type in types:
                _add(self.by_type[step_type], self._pending, share)
            self._pending = {}
            self._last_types = types

    _mark: tuple[float, float] = (0.0, 0.0)

    def _charge_elapsed(self) -> None:
        """Add the runner's wall time since the last mark (hooks excluded) to what is pending."""
        now = time.perf_counter()
        with self._lock:
            then, hooks_then = self._mark
            ms = max(0.0, (now - then) - (self._hook_seconds - hooks_then)) * 1000
            self._mark = (now, self._hook_seconds)
            if self._invocation_ms is not None:
                self._invocation_ms += ms
            _add(self._pending, {"lambda_ms_runner": ms})

    @contextmanager
    def acting_as(self, role: str) -> Iterator[None]:
        """Requests made inside are ``role``'s."""
        previous, self.role = self.role, role
        try:
            yield
        finally:
            self.role = previous

    def timed_runner(self, handle: Callable[..., None]) -> Callable[..., None]:
        """``runner.handle`` as a runner invocation's work: its wall time and log bytes count."""

        def handle_measured(*args: Any, **kwargs: Any) -> None:
            sink = _CountingSink()
            with self._lock:
                self._mark = (time.perf_counter(), self._hook_seconds)
            try:
                with self.acting_as("runner"), redirect_stdout(sink):
                    handle(*args, **kwargs)
            finally:
                self._charge_elapsed()
                self.log_bytes += sink.bytes
                _add(self._pending, {"cloudwatch_logs_ingested_gb": sink.bytes / 1e9})

        return handle_measured

    def start(self, svc: Any, command: Any) -> str:
        """Start an execution as the Start API would: one API request, one Lambda invocation."""
        from stepline.service import executions

        self._bucket_before = self._bucket_bytes()
        hooks_before = self._hook_seconds
        self._api_latency = 0.0
        began = time.perf_counter()
        with self.acting_as("api"):
            execution_id: str = executions.start(svc, command)
        ms = (time.perf_counter() - began - (self._hook_seconds - hooks_before)) * 1000
        billed = max(1, math.ceil(ms))
        billed_aws = max(1, math.ceil(ms + self._api_latency))
        self.started.append(execution_id)
        self.api_invocations += 1
        self.api_billed_ms += billed
        self.api_billed_ms_aws += billed_aws
        printed = start_metric_bytes()
        self.api_log_bytes += printed
        _add(
            self.api,
            {
                "api_gateway_http_request": 1,
                "lambda_request": 1,
                "lambda_ms_api": billed,
                "lambda_ms_api_aws_latency": billed_aws - billed,
                "cloudwatch_logs_ingested_gb": printed / 1e9,
            },
        )
        return execution_id

    def run_to_end(
        self,
        svc: Any,
        execution_id: str,
        first: Any = None,
        deadline: float = 120.0,
    ) -> dict[str, Any]:
        """Drive one execution to its end with the real runner: first the invocation Start
        handed to the runner function (when it did), then the steps queue. Settle its costs."""
        from stepline.service import runner
        from stepline.telemetry import tracer
        from stepline.testing import LambdaContext, drive

        def count_batch(_calls: int) -> None:
            with self._lock:
                self.call_batches += 1

        def limits(remaining: Callable[[], float] | None = None) -> runner.Invocation:
            if remaining is None:
                return runner.Invocation(on_call_batch=count_batch)
            return runner.Invocation(remaining, on_call_batch=count_batch)

        if first is not None:
            self._new_invocation()
            self.handed_invocations += 1
            context = LambdaContext(function_name=RUNNER, timeout_seconds=900)
            direct = self.timed_runner(runner.process_direct)
            direct(svc, first, context, tracer(), invocation=limits)
        execution = drive.run_to_end(
            svc,
            execution_id,
            deadline=deadline,
            invocation=limits,
            handle=self.timed_runner(runner.handle),
        )
        self.settle()
        self.measure_storage(execution_id)
        return execution

    def measure_storage(self, execution_id: str) -> None:
        """Add what the execution leaves in the table (its head and log items, their index
        entries) and in the payload bucket since its Start (read with the unrecorded client)."""
        from stepline.store import keys

        shape = self.shape(self.stack.table)
        dynamodb = self.raw_client("dynamodb")
        pk = keys.execution(execution_id)[keys.PK]
        request: dict[str, Any] = {
            "TableName": self.stack.table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        now = time.time()
        while True:
            page = dynamodb.query(**request)
            for item in page.get("Items", []):
                days = self._kept_days(item, now)
                size = item_size(item) + ITEM_STORAGE_OVERHEAD
                self.stored["dynamodb_items"] += 1
                self.stored["dynamodb_table_bytes"] += size
                self.stored["dynamodb_table_byte_days"] += size * days
                for index in shape.indexes:
                    entry = shape.entry(index, item)
                    if entry is not None:
                        size = item_size(entry) + GSI_ENTRY_OVERHEAD
                        self.stored["dynamodb_index_entries"] += 1
                        self.stored["dynamodb_index_bytes"] += size
                        self.stored["dynamodb_index_byte_days"] += size * days
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        added = max(0, self._bucket_bytes() - self._bucket_before)
        self.stored["s3_bytes"] += added
        self.stored["s3_byte_days"] += added * self.stack.retention_days

    def _kept_days(self, item: Mapping[str, Any], now: float) -> float:
        """Days an item stays from now: until its TTL (``expiresAt``), at most the retention
        period (a log item that only resumes the run expires sooner than its head)."""
        from stepline.store import keys

        ttl = item.get(keys.TTL_ATTRIBUTE)
        if ttl is None:
            return self.stack.retention_days
        return min(self.stack.retention_days, max(0.0, (float(ttl["N"]) - now) / 86400))

    def _bucket_bytes(self) -> int:
        """Bytes in the payload bucket now."""
        s3 = self.raw_client("s3")
        total, token = 0, None
        while True:
            extra: dict[str, str] = {"ContinuationToken": token} if token else {}
            page = s3.list_objects_v2(Bucket=self.stack.bucket, **extra)
            total += sum(int(o["Size"]) for o in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not token:
                return total

    def settle(self) -> None:
        """Close the open invocation; what is still pending goes to the last entries."""
        self._close_invocation()
        with self._lock:
            pending, self._pending = self._pending, {}
            types = self._last_types or ["(no history)"]
            for step_type in types:
                _add(self.by_type[step_type], pending, 1.0 / len(types))
            self._last_types = []


@cache
def start_metric_bytes() -> int:
    """Bytes of the EMF document the Start handler prints per call: functions/start/app.py
    adds one ``ExecutionsStarted`` count and Powertools flushes it as the call ends (made here
    with Powertools itself, under the namespace and service the template sets)."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace="Stepline", service="stepline")
    metrics.add_metric(name="ExecutionsStarted", unit=MetricUnit.Count, value=1)
    sink = _CountingSink()
    with redirect_stdout(sink):
        metrics.flush_metrics()
    return sink.bytes


def log_entries(
    item: Mapping[str, Mapping[str, Any]], read: Callable[[str], str] | None = None
) -> list[dict[str, Any]]:
    """The history entries a log item (as DynamoDB sent it) records; ``read`` loads the part
    from the payload bucket when the item holds a pointer (``entriesRef``)."""
    from stepline.store.log import unpacked

    plain = {name: next(iter(value.values())) for name, value in item.items()}
    pointer = plain.get("entriesRef")
    if pointer and read is not None:
        loaded: list[dict[str, Any]] = json.loads(read(str(pointer)))
        return loaded
    entries: list[dict[str, Any]] = unpacked(plain, "entries", [])
    return entries


class _CountingSink:
    """A text stream that only counts the UTF-8 bytes written to it."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)

    def flush(self) -> None:
        return None


def _message_size(message: Mapping[str, Any]) -> int:
    size = len(str(message.get("MessageBody", message.get("Body", ""))).encode())
    for name, attribute in (message.get("MessageAttributes") or {}).items():
        size += len(name.encode()) + len(str(attribute.get("DataType", "")).encode())
        value = attribute.get("StringValue", attribute.get("BinaryValue", b""))
        size += len(value) if isinstance(value, bytes) else len(str(value).encode())
    return size


# --- prices and the report -------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """List prices in US dollars per unit, and the date they were taken."""

    as_of: str
    usd: dict[str, float]
    latency_ms: dict[str, float] = field(default_factory=dict)
    """Assumed AWS latency per request, ``service:Operation`` or ``service:*``."""
    assumptions: dict[str, float] = field(default_factory=dict)
    """Quantities the bench cannot count (Lambda's own log lines, X-Ray's sampled share...)."""

    @classmethod
    def load(cls, path: Path = PRICES_PATH) -> Prices:
        """Read the price file."""
        data = json.loads(path.read_text())

        def numbers(section: Mapping[str, Any]) -> dict[str, float]:
            return {k: float(v) for k, v in section.items() if isinstance(v, int | float)}

        return cls(
            as_of=str(data["as_of"]),
            usd=numbers(data["usd"]),
            latency_ms=numbers(data.get("latency_ms", {}).get("ms", {})),
            assumptions=numbers(data.get("assumptions", {})),
        )

    def gb_months(self, size: float, days: float) -> float:
        """GB-months of ``size`` bytes kept ``days`` days."""
        a = self.assumptions
        return size / a["storage_bytes_per_gb"] * days * 24 / a["storage_hours_per_month"]

    def aws_latency(self, quantities: Mapping[str, float], stack: Stack) -> float:
        """US dollars of the Lambda compute the assumed AWS latencies add."""
        gb_ms = self.usd["lambda_gb_second_arm64"] / 1000
        return (
            quantities.get("lambda_ms_runner_aws_latency", 0) * gb_ms * stack.runner_memory_mb
            + quantities.get("lambda_ms_api_aws_latency", 0) * gb_ms * stack.api_memory_mb
        ) / 1024

    def storage(self, stored: Mapping[str, float], days: float) -> dict[str, float]:
        """US dollars of keeping these bytes: DynamoDB Standard storage of the items and their
        index entries, PITR of the table's data, S3 Standard of payloads — each for the days
        it was measured to stay (``*_byte_days``), or else ``days``."""
        usd = self.usd

        def gb_months(name: str) -> float:
            kept = stored.get(f"{name}_byte_days")
            if kept is None:
                return self.gb_months(stored.get(f"{name}_bytes", 0), days)
            return self.gb_months(kept, 1)

        table, index = gb_months("dynamodb_table"), gb_months("dynamodb_index")
        return {
            "dynamodb_storage": (table + index) * usd["dynamodb_storage_gb_month"],
            "dynamodb_pitr": table * usd["dynamodb_pitr_gb_month"],
            "s3_storage": gb_months("s3") * usd["s3_standard_storage_gb_month"],
        }

    def platform_logs(self, invocations: int) -> float:
        """US dollars of Lambda's START/END/REPORT lines for these invocations."""
        size = invocations * self.assumptions["lambda_platform_log_bytes_per_invocation"]
        return size / 1e9 * self.usd["cloudwatch_logs_ingested_gb"]

    def traces(self, decisions: int) -> float:
        """X-Ray traces expected at the default sampling (no free tier), from the invocations
        that decide whether to trace (an invocation carrying its caller's trace header follows
        its caller's decision and joins its trace)."""
        return decisions * self.assumptions["xray_sampled_fraction"]

    def cost(self, quantities: Mapping[str, float], stack: Stack) -> dict[str, float]:
        """US dollars per service for these quantities."""
        usd = self.usd
        gb_ms = usd["lambda_gb_second_arm64"] / 1000
        return {
            "dynamodb": quantities.get("dynamodb_write_request_unit", 0)
            * usd["dynamodb_write_request_unit"]
            + quantities.get("dynamodb_read_request_unit", 0) * usd["dynamodb_read_request_unit"],
            "sqs": quantities.get("sqs_request", 0) * usd["sqs_request"],
            "lambda": quantities.get("lambda_request", 0) * usd["lambda_request"]
            + quantities.get("lambda_ms_runner", 0) * gb_ms * stack.runner_memory_mb / 1024
            + quantities.get("lambda_ms_api", 0) * gb_ms * stack.api_memory_mb / 1024,
            "s3": quantities.get("s3_put_request", 0) * usd["s3_put_request"]
            + quantities.get("s3_get_request", 0) * usd["s3_get_request"],
            "api_gateway": quantities.get("api_gateway_http_request", 0)
            * usd["api_gateway_http_request"],
            "secrets_manager": quantities.get("secrets_manager_api_call", 0)
            * usd["secrets_manager_api_call"],
            "cloudwatch_logs": quantities.get("cloudwatch_logs_ingested_gb", 0)
            * usd["cloudwatch_logs_ingested_gb"],
        }


def _per_million(usd: float, transitions: int) -> float:
    return usd / transitions * 1e6 if transitions else 0.0


def _count(requests: list[Request]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in requests:
        counts[r.service][r.operation] += 1
    return {s: dict(sorted(c.items())) for s, c in sorted(counts.items())}


def report(meter: Meter, prices: Prices, executions: int, workflow: str) -> dict[str, Any]:
    """Every figure of the run as one JSON-able object."""
    transitions = sum(meter.transitions.values())
    steps = {}
    for step_type, quantities in sorted(meter.by_type.items()):
        usd = sum(prices.cost(quantities, meter.stack).values())
        n = meter.transitions.get(step_type, 0)
        steps[step_type] = {
            "transitions": n,
            "usd": usd,
            "usd_per_million_of_type": _per_million(usd, n),
            "usd_per_million_transitions": _per_million(usd, transitions),
            "quantities": {k: round(v, 6) for k, v in sorted(quantities.items())},
        }
    api_usd = sum(prices.cost(meter.api, meter.stack).values())
    priced = [r for r in meter.requests if r.priced]
    totals: dict[str, float] = {}
    for quantities in [meter.api, *meter.by_type.values()]:
        _add(totals, quantities)
    by_service = prices.cost(totals, meter.stack)
    moto_usd = sum(by_service.values())
    invocations = meter.runner_invocations + meter.api_invocations
    storage = prices.storage(meter.stored, meter.stack.retention_days)
    # Start's asynchronous Invoke carries its trace header: the runner invocation it hands
    # over is traced when Start is, in Start's trace. Steps-queue invocations decide anew.
    decisions = invocations - meter.handed_invocations
    traces = prices.traces(decisions)
    parts = {
        "requests_and_compute_on_moto": moto_usd,
        "aws_latency_compute": prices.aws_latency(totals, meter.stack),
        "storage_retention": sum(storage.values()),
        "lambda_log_lines": prices.platform_logs(invocations),
        "xray_traces": traces * prices.usd["xray_trace_recorded"],
    }
    total_usd = sum(parts.values())

    def pm(usd: float) -> float:
        return _per_million(usd, transitions)

    return {
        "workflow": workflow,
        "executions": executions,
        "transitions": transitions,
        "transitions_per_execution": transitions / executions if executions else 0,
        "usd_per_million_transitions": pm(total_usd),
        "usd_per_execution": total_usd / executions if executions else 0.0,
        "usd_per_million_transitions_on_moto": pm(moto_usd),
        "usd_per_million_transitions_by_part": {k: pm(v) for k, v in parts.items()},
        "aws_latency": {
            "usd_per_million_transitions": pm(parts["aws_latency_compute"]),
            "runner_billed_ms_moto": meter.runner_billed_ms,
            "runner_billed_ms_aws": meter.runner_billed_ms_aws,
            "api_billed_ms_moto": meter.api_billed_ms,
            "api_billed_ms_aws": meter.api_billed_ms_aws,
            "runner_ms_added": round(totals.get("lambda_ms_runner_aws_latency", 0.0), 6),
            "api_ms_added": round(totals.get("lambda_ms_api_aws_latency", 0.0), 6),
            "added_ms_by_request": dict(sorted(meter.latency_ms_by_operation.items())),
            "moto_ms_replaced": {k: round(v, 3) for k, v in sorted(meter.moto_ms_replaced.items())},
        },
        "storage": {
            "usd_per_million_transitions": pm(parts["storage_retention"]),
            "usd_per_million_transitions_by_part": {k: pm(v) for k, v in storage.items()},
            "days": meter.stack.retention_days,
            "bytes": dict(sorted(meter.stored.items())),
        },
        "lambda_log_lines": {
            "usd_per_million_transitions": pm(parts["lambda_log_lines"]),
            "invocations": invocations,
            "bytes": invocations * prices.assumptions["lambda_platform_log_bytes_per_invocation"],
        },
        "xray": {
            "usd_per_million_transitions": pm(parts["xray_traces"]),
            "invocations": invocations,
            "sampled_fraction": prices.assumptions["xray_sampled_fraction"],
            "sampling_decisions": decisions,
            "joining_callers_trace": meter.handed_invocations,
            "traces": traces,
            "free_tier_taken": False,
        },
        "checkpoint_every_call_batch": _checkpoint_every_batch(meter, prices, transitions),
        "step_functions_standard_usd_per_million_transitions": prices.usd[
            "step_functions_standard_transition"
        ]
        * 1e6,
        "usd_per_million_transitions_by_service": {
            k: _per_million(v, transitions) for k, v in by_service.items()
        },
        "start_api_usd_per_million_transitions": _per_million(api_usd, transitions),
        "by_step_type": steps,
        "requests": _count(priced),
        "requests_by_role": {
            role: _count([r for r in meter.requests if r.role == role])
            for role in ("api", "runner", "poller", "integration", "harness")
        },
        "idle_receives": sum(1 for r in meter.requests if r.idle),
        "dynamodb": _dynamodb_totals(priced),
        "sqs_billed_requests": sum(r.sqs_requests for r in priced if r.service == "sqs"),
        "lambda": {
            "runner_invocations": meter.runner_invocations,
            "runner_billed_ms": meter.runner_billed_ms,
            "runner_memory_mb": meter.stack.runner_memory_mb,
            "api_invocations": meter.api_invocations,
            "api_billed_ms": meter.api_billed_ms,
        },
        "log_bytes": meter.log_bytes,
        "api_log_bytes": meter.api_log_bytes,
        "checkpoints": {
            "count": len(meter.checkpoint_bytes),
            "max_bytes": max(meter.checkpoint_bytes, default=0),
            "mean_bytes": (
                sum(meter.checkpoint_bytes) / len(meter.checkpoint_bytes)
                if meter.checkpoint_bytes
                else 0
            ),
        },
        "prices_as_of": prices.as_of,
    }


def _checkpoint_every_batch(meter: Meter, prices: Prices, transitions: int) -> dict[str, Any]:
    """What writing down every batch of calls as STARTED would add (today only batches still
    running after SLOW_CALL are): one more log item per batch, of the mean size the run's
    log items had — its write units, its PutItem's latency in the runner, its storage."""
    mean = (
        sum(meter.checkpoint_bytes) / len(meter.checkpoint_bytes) if meter.checkpoint_bytes else 0
    )
    units = write_units(math.ceil(mean))
    latency = meter.latency_of("dynamodb", "PutItem", {})
    stored = {"dynamodb_table_bytes": meter.call_batches * (mean + ITEM_STORAGE_OVERHEAD)}
    usd = (
        meter.call_batches * units * prices.usd["dynamodb_write_request_unit"]
        + prices.aws_latency(
            {"lambda_ms_runner_aws_latency": meter.call_batches * latency}, meter.stack
        )
        + sum(prices.storage(stored, meter.stack.retention_days).values())
    )
    return {
        "call_batches": meter.call_batches,
        "write_units_per_checkpoint": units,
        "usd_per_million_transitions": _per_million(usd, transitions),
    }


def _dynamodb_totals(requests: list[Request]) -> dict[str, Any]:
    ddb = [r for r in requests if r.service == "dynamodb"]
    by_index: Counter[str] = Counter()
    for r in ddb:
        by_index.update(r.index_write_units)
    return {
        "write_units": sum(r.write_units for r in ddb),
        "index_write_units": dict(sorted(by_index.items())),
        "read_units": sum(r.read_units for r in ddb),
    }


def table(figures: Mapping[str, Any]) -> str:
    """The figures as text: per step type, the Start line, totals and the reference line."""
    n = figures["transitions"]
    rows = [
        f"{figures['workflow']}: {figures['executions']} execution(s), {n} transitions "
        f"(history entries), prices of {figures['prices_as_of']}",
        "",
        f"{'step type':<16}{'transitions':>12}{'DDB WRU':>10}{'DDB RRU':>10}{'SQS req':>9}"
        f"{'invocations':>12}{'Lambda ms':>11}{'$/M trans.':>12}{'$/M of type':>12}",
    ]
    for step_type, row in figures["by_step_type"].items():
        q = row["quantities"]
        rows.append(
            f"{step_type:<16}{row['transitions']:>12}"
            f"{q.get('dynamodb_write_request_unit', 0):>10.2f}"
            f"{q.get('dynamodb_read_request_unit', 0):>10.2f}{q.get('sqs_request', 0):>9.2f}"
            f"{q.get('lambda_request', 0):>12.2f}{q.get('lambda_ms_runner', 0):>11.1f}"
            f"{row['usd_per_million_transitions']:>12.4f}{row['usd_per_million_of_type']:>12.4f}"
        )
    rows.append(
        f"{'Start API':<16}{'':>12}{'':>10}{'':>10}{'':>9}"
        f"{figures['lambda']['api_invocations']:>12}"
        f"{figures['lambda']['api_billed_ms']:>11}"
        f"{figures['start_api_usd_per_million_transitions']:>12.4f}"
    )
    rows += [
        "",
        "by service ($ per million transitions): "
        + ", ".join(
            f"{k} {v:.4f}"
            for k, v in figures["usd_per_million_transitions_by_service"].items()
            if v
        ),
        "requests: "
        + "; ".join(
            f"{svc} " + ", ".join(f"{op} {c}" for op, c in ops.items())
            for svc, ops in figures["requests"].items()
        ),
        "",
        *_corrected_lines(figures),
        f"Stepline:                    ${figures['usd_per_million_transitions']:.4f} "
        "per million transitions "
        f"(requests and compute on moto's latencies: "
        f"${figures['usd_per_million_transitions_on_moto']:.4f})",
        f"Step Functions Standard:     "
        f"${figures['step_functions_standard_usd_per_million_transitions']:.2f} "
        "per million transitions",
    ]
    return "\n".join(rows)


AWS_LATENCY_LINE = "+ compute at AWS latencies, not moto's"


def _mean_days(stored: Mapping[str, float], name: str) -> float:
    """How long the stored bytes of ``name`` stay, on average over their sizes."""
    size = stored.get(f"{name}_bytes", 0)
    return stored.get(f"{name}_byte_days", 0) / size if size else 0.0


def _corrected_lines(figures: Mapping[str, Any]) -> list[str]:
    """The corrected total's parts, one line each ($ per million transitions)."""
    parts = figures["usd_per_million_transitions_by_part"]
    latency, storage = figures["aws_latency"], figures["storage"]
    logs, xray = figures["lambda_log_lines"], figures["xray"]
    stored = storage["bytes"]
    n = figures["executions"]
    per_execution = {k: v / n for k, v in stored.items()} if n else {}
    batch = figures["checkpoint_every_call_batch"]
    return [
        f"{'$ per million transitions':<52}{'':>10}",
        f"{'  requests and compute on moto latencies':<52}"
        f"{parts['requests_and_compute_on_moto']:>10.4f}"
        f"  runner {latency['runner_billed_ms_moto']} ms, Start {latency['api_billed_ms_moto']} ms",
        f"{AWS_LATENCY_LINE:<52}{parts['aws_latency_compute']:>10.4f}"
        f"  runner {latency['runner_billed_ms_aws']} ms, Start {latency['api_billed_ms_aws']} ms",
        f"{'+ storage ' + format(storage['days'], 'g') + ' days (DynamoDB + PITR, S3)':<52}"
        f"{parts['storage_retention']:>10.4f}"
        f"  per execution: {per_execution.get('dynamodb_table_bytes', 0):.0f} B items"
        f" ({_mean_days(stored, 'dynamodb_table'):.0f} days on average), "
        f"{per_execution.get('dynamodb_index_bytes', 0):.0f} B index entries, "
        f"{per_execution.get('s3_bytes', 0):.0f} B S3",
        f"{'+ Lambda log lines (START/END/REPORT)':<52}{parts['lambda_log_lines']:>10.4f}"
        f"  {logs['invocations']} invocations, {logs['bytes']:.0f} B",
        f"{'+ X-Ray traces (default sampling, no free tier)':<52}{parts['xray_traces']:>10.4f}"
        f"  {xray['traces']:.2f} from {xray['sampling_decisions']} of {xray['invocations']} "
        "invocations deciding",
        f"(checkpointing every call batch would add ${batch['usd_per_million_transitions']:.4f}: "
        f"{batch['call_batches']} batches x {batch['write_units_per_checkpoint']} WRU, "
        "its PutItem latency and storage)",
    ]


# --- running a workflow ----------------------------------------------------------------------


class _FlakyJson(BaseHTTPRequestHandler):
    """GET anything: a JSON echo of the path and query. ``?fail=N`` makes the first N of every
    N+1 requests for the same URL answer 503 (so a retry policy fires N times per run)."""

    server: LocalHttp

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fail = int(query.get("fail", "0") or 0)
        with self.server.lock:
            self.server.seen[self.path] += 1
            seen = self.server.seen[self.path]
        failing = fail > 0 and (seen - 1) % (fail + 1) < fail
        status = 503 if failing else 200
        body = json.dumps({"path": url.path, "query": query, "status": status}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class LocalHttp(ThreadingHTTPServer):
    """The bench's HTTP service on 127.0.0.1 (see :class:`_FlakyJson`)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FlakyJson)
        self.lock = threading.Lock()
        self.seen: Counter[str] = Counter()

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.server_port}"


def emulated_aws() -> Any:
    """moto for every service; the environment restored after."""
    return harness.emulated_aws()


def memory_of(function: str) -> int:
    """MemorySize of a function in template.yaml (the Globals value when it sets none)."""
    from stepline.dev import template

    loaded = template.load()
    default = loaded.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    props = loaded["Resources"][function].get("Properties", {})
    return int(props.get("MemorySize", default))


def retention_days() -> float:
    """Days an execution's items live: HistoryRetentionDays + MaxExecutionHours (defaults of
    template.yaml), the TTL Start and the runner give heads and log items."""
    from stepline.dev import template

    parameters = template.load().get("Parameters", {})
    days = float(parameters["HistoryRetentionDays"]["Default"])
    hours = float(parameters["MaxExecutionHours"]["Default"])
    return days + hours / 24


def measure(
    spec: str,
    execution_input: str,
    *,
    executions: int = 1,
    functions: Path | None = None,
    workflow_name: str = "workflow",
    deadline: float = 120.0,
    time_scale: float = 1.0,
    meter_class: type[Meter] | None = None,
) -> dict[str, Any]:
    """Run ``executions`` executions of ``spec`` one after another and report their cost.

    ``time_scale`` multiplies waits and retry delays as the dev stack's does; ``meter_class``
    (a subclass of :class:`Meter`) is what counts the requests.
    """
    import boto3

    from stepline.dev import resources
    from stepline.dev.lambdas import Invoker, LambdaServer, LocalFunctions
    from stepline.service.executions import StartCommand

    handed: queue.SimpleQueue[Any] = queue.SimpleQueue()  # Start's invocations of the runner
    local = LocalFunctions(functions or Path("functions"))
    lambdas = LambdaServer(("127.0.0.1", 0), Invoker(None, local, {RUNNER: handed.put}))
    http = LocalHttp()
    with emulated_aws(), harness.served(lambdas), harness.served(http):
        physical = resources.provision(boto3.client, stack_name="stepline-cost")
        stack = Stack(
            table=physical["Table"],
            queue_url=physical["StepsQueue"],
            bucket=physical["PayloadBucket"],
            runner_memory_mb=memory_of("RunnerFunction"),
            api_memory_mb=memory_of("StartFunction"),
            retention_days=retention_days(),
        )
        endpoints = {"lambda": f"http://127.0.0.1:{lambdas.server_port}"}
        meter = (meter_class or Meter)(stack, _raw_client, endpoints)
        svc = services_for(meter, physical | {"RunnerFunction": RUNNER}, time_scale=time_scale)
        workflow_id = create_workflow(svc, spec, workflow_name)
        text = execution_input.replace(HTTP_PLACEHOLDER, http.url)
        statuses: Counter[str] = Counter()
        for _ in range(executions):
            execution_id = meter.start(svc, StartCommand(workflow_id, text, caller="bench"))
            try:  # Start hands every new execution to the runner function: here it arrives
                first = handed.get(timeout=deadline)
            except queue.Empty:
                raise RuntimeError("Start did not invoke the runner function") from None
            execution = meter.run_to_end(svc, execution_id, first, deadline=deadline)
            if execution["status"] not in ("FINISHED", "FAILED"):
                raise RuntimeError(f"execution ended {execution['status']}: {execution}")
            statuses[execution["status"]] += 1
        figures = report(meter, Prices.load(), executions, workflow_name)
        return figures | {"statuses": dict(statuses)}


@cache
def _raw_client(service: str) -> Any:
    """A client without hooks: the meter's own reads of item sizes are not counted."""
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


def services_for(meter: Meter, physical: Mapping[str, str], *, time_scale: float = 1.0) -> Any:
    """The core services on the meter's clients; private hosts allowed (the local services);
    waits and retry delays multiplied by ``time_scale``."""
    from dataclasses import replace

    from stepline.dev import resources
    from stepline.service.deps import Services, Settings

    environment = resources.environment(dict(physical))
    # The quotas a deployment would set as parameters (MaxStepsPerExecution, MaxExecutionHours)
    # come from this process's environment when given there.
    environment |= {k: os.environ[k] for k in QUOTA_VARIABLES if os.environ.get(k)}
    settings = Settings.from_env(environment)
    settings = replace(settings, allowed_private_hosts=frozenset({"*"}), time_scale=time_scale)
    return Services(settings, meter.client)


QUOTA_VARIABLES = ("STEPLINE_MAX_STEPS", "STEPLINE_MAX_EXECUTION_HOURS")


def create_workflow(svc: Any, spec: str, name: str) -> str:
    """Create the workflow (the harness's requests, not priced)."""
    from stepline.models import CreateWorkflowRequest
    from stepline.service import workflows

    request = CreateWorkflowRequest.model_validate(
        {"folderId": "bench", "name": name, "specification": {"specYaml": spec}}
    )
    return workflows.create(svc, request, caller="bench").resource_id


# --- command line ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cost``."""
    parser.add_argument("workflow", type=Path, help="the YaWL file")
    parser.add_argument(
        "--input",
        default="{}",
        help=f"execution input JSON; {HTTP_PLACEHOLDER} becomes the bench's local HTTP service",
    )
    parser.add_argument("--executions", type=int, default=1, help="executions, one after another")
    parser.add_argument(
        "--functions",
        type=Path,
        default=None,
        help="folder of local Lambda functions (default: functions/ beside the workflow)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def main(args: argparse.Namespace) -> int:
    """Measure and print; exit status 0."""
    if args.executions < 1:
        raise SystemExit("--executions must be at least 1")
    try:
        json.loads(args.input.replace(HTTP_PLACEHOLDER, "http://127.0.0.1"))
    except ValueError as exc:
        raise SystemExit(f"--input is not JSON: {exc}") from exc
    path: Path = args.workflow
    functions = args.functions or path.resolve().parent / "functions"
    figures = measure(
        path.read_text(),
        args.input,
        executions=args.executions,
        functions=functions,
        workflow_name=path.stem.replace("_", "-"),
    )
    print(json.dumps(figures, default=_json_default) if args.json else table(figures))
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)
