"""Run a workflow in a test, in this process, with mocked steps and virtual time.

```python
from stepline.testing import Fail, WorkflowTest

t = WorkflowTest.from_file("flows/order.yaml", mocks={
    "lookup": [Fail("FUNCTION_CALL_INVALID_RESPONSE"), {"total": 42}],
})
run = t.run({"orderId": 42})
assert run.status == "FINISHED" and run.steps["lookup"].attempts == 2
```

What runs is production's: the workflow is created and started through the service layer,
and every step message is handled by the runner (:func:`stepline.service.runner.handle`) with
the engine, the checkpoints and the retry policies as deployed — against an embedded AWS
emulator (moto) holding template.yaml's table, bucket and secret, and a steps queue of the
run's own. Three things differ, on purpose:

- **Time is virtual.** The runner's clock is the run's: when nothing is due, it moves on to the
  next wake-up (a Wait of 7 days, a retry backoff, a message delay) at once, and the history
  shows the virtual timestamps. ``max_execution_hours`` (the time quota) counts virtual time.
- **Steps can be mocked**, by step id (``lookup``: that step wherever it is) or entry path
  (``fan/each[0]/lookup``): a value answers every call of the step, a list answers its calls in
  turn (the last one repeats), a :class:`Fail` fails the attempt with a YaWL error code, a
  callable gets the step input and the call's number (1, 2, …) and returns any of these. A
  Workflow step (a child execution) mocked this way starts no child. Calls of a step come in
  their order when it runs one at a time; Foreach and Parallel may call it concurrently.
- **Steps that are not mocked** run against the emulator (``ymq``, ``ydbDocument``,
  ``objectStorage``, a ``functionCall`` of a Lambda function there, ``httpCall`` to the
  network), or, with ``unmocked="refuse"``, fail the run with :class:`UnmockedStep`.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Final, Literal

from stepline import engine
from stepline.api import queries
from stepline.service import executions, runner, workflows
from stepline.service.deps import Services, Settings
from stepline.statuses import ENDED
from stepline.store.queue import StepMessage, StepsQueue
from stepline.times import from_stored, now, parse_timestamp
from stepline.yawl.errors import WorkflowErrorCode

DEADLINE: Final = 60.0
"""Real seconds a run may take before :meth:`WorkflowTest.run` gives up."""
MAX_MESSAGES: Final = 100_000
_DUE: Final = "virtualDue"


@dataclass(frozen=True)
class Fail:
    """A mocked attempt that fails with a YaWL error code (``STEP_TIMEOUT``, ``HTTP_CALL_503``,
    ``FUNCTION_CALL_INVALID_RESPONSE``, …) — as retry and catch rules see it."""

    code: str
    message: str = "mocked failure"

    def __post_init__(self) -> None:
        if self.code not in WorkflowErrorCode.__members__ or self.code == "ALL":
            raise ValueError(f"Fail: {self.code!r} is not a YaWL error code")


Answer = Any
"""A step's output (any JSON value) or a :class:`Fail`."""
Mock = Answer | Sequence[Answer] | Callable[[Any, int], Answer]


class UnmockedStep(AssertionError):
    """A step ran that has no mock, in a WorkflowTest made with ``unmocked="refuse"``."""


class VirtualClock:
    """The run's time: it moves only when the test kit moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, when: datetime) -> None:
        """Move to ``when`` (never back)."""
        self.now = max(self.now, when)


@dataclass(frozen=True)
class StepRun:
    """One entry of the history: a step's execution (a Foreach item's step has its own)."""

    id: str
    type: str
    status: str
    attempts: int
    started_at: datetime
    duration: timedelta
    input: Any = None
    output: Any = None
    error: dict[str, str] | None = None
    last_error: dict[str, str] | None = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> StepRun:
        """From a GetHistory entry."""
        return cls(
            id=entry["id"],
            type=entry["type"],
            status=entry["status"],
            attempts=int(entry.get("attempts", 1)),
            started_at=parse_timestamp(entry["startedAt"], "startedAt"),
            duration=timedelta(seconds=float(entry["duration"].rstrip("s"))),
            input=_json(entry.get("input"), "inputJson"),
            output=_json(entry.get("output"), "outputJson"),
            error=entry.get("error"),
            last_error=entry.get("lastError"),
        )


def _json(holder: dict[str, str] | None, key: str) -> Any:
    return json.loads(holder[key]) if holder and key in holder else None


@dataclass(frozen=True)
class Call:
    """A call a mock answered: the step's entry, its input, and the answer given."""

    entry_id: str
    input: Any
    answer: Any


@dataclass(frozen=True)
class WorkflowRun:
    """How a run ended, what its steps did, and what the mocks were asked."""

    execution_id: str
    status: str
    output: Any
    error: dict[str, str] | None
    history: list[StepRun]
    calls: dict[str, list[Call]]
    started_at: datetime
    finished_at: datetime

    @cached_property
    def steps(self) -> dict[str, StepRun]:
        """Entries by path (``lookup``, ``fan/each[1]/lookup``): the last of each."""
        return {entry.id: entry for entry in self.history}

    def step(self, step_id: str) -> list[StepRun]:
        """Every entry of the step ``step_id``, wherever it ran, in history order."""
        return [e for e in self.history if e.id.rsplit("/", 1)[-1] == step_id]

    @property
    def duration(self) -> timedelta:
        """Virtual time from start to end."""
        return self.finished_at - self.started_at


class _Mocks:
    """Answers the calls of mocked steps and remembers them."""

    def __init__(self, mocks: Mapping[str, Mock], unmocked: Literal["run", "refuse"]) -> None:
        self.mocks = dict(mocks)
        self.unmocked = unmocked
        self.calls: dict[str, list[Call]] = {}
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, call: engine.CallRequest) -> engine.CallResult | None:
        key = call.entry_id if call.entry_id in self.mocks else call.step_id
        if key not in self.mocks:
            if self.unmocked == "run":
                return None
            self.refused.append(call.entry_id)
            return engine.CallResult(
                code=WorkflowErrorCode.STEP_INTERNAL.value,
                message=f"step {call.entry_id} has no mock (unmocked='refuse')",
            )
        with self._lock:
            made = self.calls.setdefault(key, [])
            number = len(made) + 1
            answer = _answer(self.mocks[key], call.step_input, number)
            made.append(Call(call.entry_id, call.step_input, answer))
        if isinstance(answer, Fail):
            return engine.CallResult(code=answer.code, message=answer.message)
        return engine.CallResult(output=answer)


def _answer(mock: Mock, step_input: Any, number: int) -> Answer:
    if callable(mock) and not isinstance(mock, Fail):
        return mock(step_input, number)
    if isinstance(mock, list | tuple):
        if not mock:
            raise ValueError("a mock's list of answers is empty")
        return mock[min(number, len(mock)) - 1]
    return mock


class _VirtualQueue(StepsQueue):
    """The run's steps queue (in the emulator): each message carries the virtual time it is
    due at, instead of an SQS delay."""

    def __init__(self, client: Any, url: str, clock: VirtualClock) -> None:
        super().__init__(client, url)
        self.clock = clock

    def send(self, message: StepMessage, delay_seconds: int = 0) -> None:
        due = self.clock() + timedelta(seconds=max(0, delay_seconds))
        self.client.send_message(
            QueueUrl=self.url,
            MessageBody=message.to_json(),
            MessageAttributes={_DUE: {"DataType": "String", "StringValue": due.isoformat()}},
        )


class _Services(Services):
    @cached_property
    def queue(self) -> StepsQueue:
        """The run's queue, on virtual time."""
        assert isinstance(self.clock, VirtualClock)
        return _VirtualQueue(self.core_client("sqs"), self.settings.steps_queue_url, self.clock)


@dataclass(frozen=True)
class _Emulator:
    """An AWS emulator on 127.0.0.1 with template.yaml's stateful resources."""

    endpoint: str
    environment: dict[str, str]

    def client(self, service: str) -> Any:
        return _client(self.endpoint, service)


@cache
def _client(endpoint: str, service: str) -> Any:
    import boto3

    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@cache
def emulator() -> _Emulator:
    """The process's one emulator, started on first use (the named cache of this module)."""
    from moto.server import ThreadedMotoServer

    from stepline.dev import resources
    from stepline.testing.ports import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per emulated request
    port = free_port()
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    found = _Emulator(f"http://127.0.0.1:{port}", {})
    physical = resources.provision(found.client, stack_name="stepline-test")
    return replace(found, environment=resources.environment(physical))


_METRICS_OFF: Final = "POWERTOOLS_METRICS_DISABLED"


@contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """No metric documents and no INFO log lines while it lasts (as before, after)."""
    if not enabled:
        yield
        return
    from stepline.telemetry import logger

    before, level = os.environ.get(_METRICS_OFF), logger.log_level
    os.environ[_METRICS_OFF] = "true"
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        if before is None:
            os.environ.pop(_METRICS_OFF, None)
        else:
            os.environ[_METRICS_OFF] = before


def _live_emulator() -> _Emulator:
    """The emulator, provisioned again if its resources are gone (moto's backends are the
    process's: another user of moto in this process may have reset them)."""
    from botocore.exceptions import ClientError

    world = emulator()
    try:
        world.client("dynamodb").describe_table(TableName=world.environment["TABLE_NAME"])
    except ClientError:
        emulator.cache_clear()
        world = emulator()
    return world


@dataclass
class WorkflowTest:
    """A workflow specification with its mocks, ready to run in this process."""

    spec_yaml: str
    mocks: Mapping[str, Mock] = field(default_factory=dict)
    unmocked: Literal["run", "refuse"] = "run"
    max_execution_hours: float = 48.0
    """The time quota, in virtual hours (as the template's ``MaxExecutionHours`` default)."""
    allowed_private_hosts: frozenset[str] = frozenset({"127.0.0.1", "localhost"})
    """Hosts an un-mocked httpCall may reach although private (a server the test started)."""
    start: datetime | None = None
    """When the run's virtual time begins (default: now)."""
    quiet: bool = True
    """Keep the runner's metric documents and INFO log lines (meant for CloudWatch) off
    stdout while it runs; warnings and errors still show."""

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> WorkflowTest:
        """A test of the workflow in ``path`` (YAML or JSON)."""
        return cls(Path(path).read_text(), **options)

    def run(self, input: Any = None, *, deadline: float = DEADLINE) -> WorkflowRun:
        """Start an execution with ``input`` and drive it (and any child executions) to its
        end in virtual time; ``deadline`` bounds the real seconds it may take."""
        clock = VirtualClock(self.start or now())
        mocks = _Mocks(self.mocks, self.unmocked)
        with _quiet(self.quiet), self._services(clock) as svc:
            workflow_id = self._create(svc)
            command = executions.StartCommand(
                workflow_id, json.dumps({} if input is None else input), "stepline-test"
            )
            execution_id = executions.start(svc, command)
            _drive(svc, clock, execution_id, runner.Invocation(answer=mocks), deadline)
            run = _outcome(svc, execution_id, mocks)
        if mocks.refused:
            raise UnmockedStep(
                f"steps without a mock ran (unmocked='refuse'): {', '.join(mocks.refused)}"
            )
        return run

    @contextmanager
    def _services(self, clock: VirtualClock) -> Iterator[Services]:
        world = _live_emulator()
        sqs = world.client("sqs")
        url = sqs.create_queue(QueueName=f"run-{uuid.uuid4().hex}")["QueueUrl"]
        settings = Settings.from_env(world.environment)
        settings = replace(
            settings,
            steps_queue_url=url,
            runner_function=None,
            max_execution_hours=self.max_execution_hours,
            allowed_private_hosts=self.allowed_private_hosts,
            time_scale=1.0,
        )
        try:
            yield _Services(settings, world.client, clock=clock)
        finally:
            sqs.delete_queue(QueueUrl=url)

    def _create(self, svc: Services) -> str:
        from stepline.models import CreateWorkflowRequest

        request = CreateWorkflowRequest.model_validate(
            {
                "folderId": "t" + uuid.uuid4().hex[:12],
                "name": "under-test",
                "specification": {"specYaml": self.spec_yaml},
            }
        )
        return workflows.create(svc, request, caller="stepline-test").resource_id


def _drive(
    svc: Services,
    clock: VirtualClock,
    execution_id: str,
    invocation: runner.Invocation,
    deadline: float,
) -> None:
    """Hand every message to the runner when it is due, moving virtual time to the next one
    whenever nothing is due now, until the execution has ended."""
    import time

    sqs, url = svc.queue.client, svc.queue.url
    agenda: list[tuple[datetime, int, StepMessage]] = []
    order = itertools.count()
    give_up = time.monotonic() + deadline
    for _ in range(MAX_MESSAGES):
        record = svc.executions.get(execution_id)
        if record is not None and record.status in ENDED:
            return  # the head is written last: the history is whole
        _received(sqs, url, agenda, order)
        if time.monotonic() > give_up:
            raise TimeoutError(
                f"execution {execution_id} did not end within {deadline:g} s of real time "
                f"(status {record.status if record else 'unknown'})"
            )
        if not agenda:
            raise RuntimeError(f"execution {execution_id} has not ended and nothing is due")
        due, _, message = heapq.heappop(agenda)
        clock.advance_to(max(due, _wake(svc, message)))
        runner.handle(svc, message, replace(invocation, started=time.monotonic()))
    raise RuntimeError(f"execution {execution_id} took more than {MAX_MESSAGES} messages")


def _received(
    sqs: Any, url: str, agenda: list[tuple[datetime, int, StepMessage]], order: Iterator[int]
) -> None:
    """Move what the queue holds onto the agenda."""
    while True:
        reply = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=[_DUE]
        )
        messages = reply.get("Messages", [])
        if not messages:
            return
        for message in messages:
            due = datetime.fromisoformat(message["MessageAttributes"][_DUE]["StringValue"])
            heapq.heappush(agenda, (due, next(order), StepMessage.from_json(message["Body"])))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _wake(svc: Services, message: StepMessage) -> datetime:
    """When the execution of a plain wake-up message is next due (a long wait hops in steps
    of the queue's longest delay: go straight to its end)."""
    if message.nudge or message.resume:
        return datetime.min.replace(tzinfo=svc.clock().tzinfo)
    last = svc.log.last(message.execution_id)
    if last is None or last.wake is None:
        return datetime.min.replace(tzinfo=svc.clock().tzinfo)
    return from_stored(last.wake)


def _outcome(svc: Services, execution_id: str, mocks: _Mocks) -> WorkflowRun:
    got = queries.get(svc, execution_id)["execution"]
    entries: list[dict[str, Any]] = []
    token = None
    while True:
        page = queries.history(svc, execution_id, size="1000", token=token)
        entries += page["entries"]
        token = page.get("nextPageToken")
        if not token:
            break
    record = svc.executions.get(execution_id)
    assert record is not None
    return WorkflowRun(
        execution_id=execution_id,
        status=got["status"],
        output=json.loads(got["result"]["resultJson"]) if "result" in got else None,
        error=got.get("error"),
        history=[StepRun.of(e) for e in entries],
        calls=mocks.calls,
        started_at=record.started_at,
        finished_at=record.finished_at or svc.clock(),
    )
