"""Golden workflows run under injected faults, each execution compared with a clean run.

Everything runs in this process on moto (``mock_aws``): the stateful resources of template.yaml
(:func:`stepline.dev.resources.provision`), the local Lambda functions of ``tests/functions``
behind :class:`stepline.dev.lambdas.LambdaServer`, and the real runner fed from the steps
queue. A scenario runs its executions on a few worker threads (``--workers``), which take
them from one list; each worker has a steps queue of its own and drives one execution at a
time, so the fault choices of an execution come in its own order.

What production runs beside the runner runs here too, on the harness's services, whenever the
queue gives nothing visible: the reconciler (:func:`stepline.service.reconciler.examine` on the
execution being driven, once per ``RECONCILE_PERIOD`` without a visible message) and, where the
steps queue has a dead-letter queue, the dead-letter handler
(:func:`stepline.service.runner.process_dead_letter`, a record per message moved there). The
reconciler runs in every scenario, as it always does in production: its grace
(``RECONCILE_GRACE``) is above the whole second an SQS delay may add to a wake-up, so it leaves
alone an execution whose messages come on time, and ``redriven`` counts messages lost or late
by more than the grace (a wake-up sent after a long throttling backoff; the one that comes
later meets a taken log position and changes nothing).

Faults are injected on the runner's own DynamoDB, SQS and Lambda clients (the harness that
starts executions, reads their outcome and runs the reconciler has clients of its own, never
faulted), or around delivery:

* ``clean``: none.
* ``lost-write-responses``: 5% of first attempts of DynamoDB writes (PutItem, UpdateItem,
  DeleteItem, TransactWriteItems) are applied by moto and then answer as a dropped connection
  (``ConnectionClosedError``); botocore retries them, and the retry meets the first attempt's
  own write. moto's ``before-send`` stubber is taken off the client and called from the
  bench's own ``before-send`` handler, so the bench decides per request what moto sees.
* ``throttling``: 10% of DynamoDB and SQS requests (each attempt) answer HTTP 400
  ``ProvisionedThroughputExceededException`` / ``ThrottlingException`` without reaching moto;
  botocore's standard retries (10 retries) absorb them.
* ``duplicate-and-reordered``: every message is handled twice; after half of them up to three
  earlier messages come back; after the end every message comes back once more, shuffled.
* ``crash-at-call-points``: 5% of the runner's DynamoDB and SQS calls raise a crash from a
  ``before-call`` hook (a ``BaseException``: like a dying process, no ``except Exception`` in
  the runner sees it); the message is not deleted but made visible again at once, as SQS
  does after its visibility timeout.
* ``out-of-time``: every invocation starts with its time budget spent
  (``Invocation(inline_budget=0.0)``); its faults are those invocations.
* ``lost-messages``: 10% of the runner's SQS SendMessage requests answer success (a message
  id and the body's MD5, from the bench's ``before-send`` handler) and never reach moto: the
  message is lost. Only the reconciler brings such an execution on; in the bench an execution
  is stuck at most its expected moment + ``RECONCILE_GRACE`` + ``RECONCILE_PERIOD``, in
  production its expected moment + the grace (120 s) + the reconciler's period (60 s).
  ``longest_s`` shows the longest time from a start to its end.
* ``lambda-timeout``: in 20% of the invocations the Lambda deadline comes in the middle, a
  random 0-40 ms after the start. Such an invocation is told the time left as if one call had
  run past the deadline it planned with (``remaining`` = kill moment - now +
  ``runner.SAFETY_MARGIN``), and the first call of its DynamoDB, SQS or Lambda client after the
  kill moment raises a crash; the message is made visible again at once. Its faults are the
  invocations killed. An invocation keeps only what its log writes hold (the runner writes at
  an end, a wait, or once its planned time is up), so a killed stretch is repeated by the next
  delivery; one that is killed on every delivery (a call that never returns within any
  invocation) reaches the dead-letter queue and ends FAILED, which this scenario does not
  exercise: every invocation here may be killed or not.
* ``dead-letters``: the steps queue has a redrive policy (``maxReceiveCount`` = the settings'
  ``max_receive_count``) to a dead-letter queue of its own. 3% of the messages are poison
  (decided once per message body): every delivery crashes, so moto moves them to the
  dead-letter queue, where the bench hands each to the dead-letter handler as Lambda's SQS
  event would. Its faults are the crashed deliveries.

* ``pause-resume``, ``stop-and-redrive``, ``task-signals``: the harness pauses and resumes
  each execution, stops half of them and redrives those that end FAILED or STOPPED, or answers
  the tasks of the ``waitForTask`` workflows of tests/golden/signals
  (:mod:`stepline.bench.controls`); the runner meets 5% lost write answers and 3% crashes,
  the harness's own calls 30% lost write answers. What those calls answer otherwise than the
  API promises counts as ``control_errors``, a goal figure.

Every random choice comes from a generator seeded by ``(--seed, scenario, execution index)``,
so a run is repeatable; only calls whose number depends on timing (the runner re-reads an
execution's head when its last read is older than 0.1 s; the kill moments fall between calls
that take as long as they take) can shift the choices.

An execution is compared with a clean run of the same workflow and input: its status, result,
error and history as ``(id, status)`` pairs must match, and no entry id may appear more often.
``attempts`` must match too, except where a function call was really made again: the runner's
Lambda client sent more Invoke requests than the FunctionCall entries record attempts (a crash
between a call and the write of its result makes the runner call again; side effects are
at-least-once). Such executions count as ``repeated calls``, not as differing, and so does a
result that differs for that reason (``stepline-flaky`` answers with its call count). An
execution the dead-letter handler failed is ``dead_lettered`` instead: it must be FAILED with
``STEP_INTERNAL``, and no entry id may appear more often than in the clean run.

An execution is stuck when it has not ended by its deadline: ``--deadline`` seconds after its
start, or once ``--max-deliveries`` messages of its worker's queue have been delivered for it
(clean runs need a handful; the cap ends a livelock early rather than at the deadline).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import queue
import random
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepline.api import queries
from stepline.bench import harness

if TYPE_CHECKING:
    from stepline.bench.controls import Control

HELP = "golden workflows under lost responses, throttling, duplicates, crashes; vs. clean runs"
ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"
FUNCTIONS = ROOT / "tests" / "functions"
CASES = (
    "chain",
    "fanout",
    "loop",
    "wait",
    "catch",
    "fail",
    "retry",
    "timeout",
    "branch_failure",
    "early_success",
)
ENDED = ("FINISHED", "FAILED", "STOPPED")
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})
TIME_SCALE = 0.001
RETRIES = {"mode": "standard", "max_attempts": 10}
ENVIRONMENT = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "CRITICAL"}
CALL_TYPES = frozenset({"FunctionCall"})  # entry types whose attempts are Lambda Invoke requests
SETTLE_SECONDS = 6.0  # after a worker's last execution: delayed leftovers (waits) still arrive
GOAL_FIGURES = ("stuck", "duplicated", "differing", "control_errors")
# The reconciler as the bench runs it. Waits and retry delays are scaled by TIME_SCALE, but an
# SQS delay is whole seconds: a wake-up may come a second late, and the grace is above that.
RECONCILE_PERIOD = 0.3  # seconds without a visible message before it examines the execution
RECONCILE_GRACE = 1.5
RECONCILE_RUNNER_TIMEOUT = 2.0  # the slowest golden call: a 1 s step timeout, then its write
RECONCILE_HAND_OVER = 0.3  # a hand-over is a message sent at once


@dataclass(frozen=True)
class Plan:
    """What one scenario injects."""

    lose_writes: float = 0.0
    """Share of DynamoDB writes that land and then lose their answer."""
    throttle: float = 0.0
    """Share of DynamoDB and SQS requests answered with a throttling error."""
    crash: float = 0.0
    """Share of the runner's DynamoDB and SQS calls before which it crashes."""
    shuffle: bool = False
    """Deliver every message twice, and old ones again later in random order."""
    inline_budget: float | None = None
    """Each invocation's time budget (None: the runner's default)."""
    lose_sends: float = 0.0
    """Share of the runner's SQS SendMessage requests answered as sent, the message dropped."""
    kill_within: float | None = None
    """A killed invocation dies a random moment up to this many seconds after its start (None:
    none is killed)."""
    kill_share: float = 1.0
    """Share of the invocations killed (when ``kill_within`` is set)."""
    poison: float = 0.0
    """Share of messages whose every delivery crashes (the steps queue gets a dead-letter
    queue)."""
    control: str = ""
    """What the harness does to each execution beside delivering (:data:`controls.CONTROLS`):
    pause and resume it, stop and redrive it, answer its tasks."""
    lose_control: float = 0.0
    """Share of the control calls' DynamoDB writes that land and then lose their answer."""
    cases: str = "golden"
    """The workflows it runs: ``golden`` (tests/golden) or ``signals`` (tests/golden/signals,
    waitForTask steps answered by the control)."""


SCENARIOS: Mapping[str, Plan] = {
    "clean": Plan(),
    "lost-write-responses": Plan(lose_writes=0.05),
    "throttling": Plan(throttle=0.10),
    "duplicate-and-reordered": Plan(shuffle=True),
    "crash-at-call-points": Plan(crash=0.05),
    "out-of-time": Plan(inline_budget=0.0),
    "lost-messages": Plan(lose_sends=0.10),
    "lambda-timeout": Plan(kill_within=0.040, kill_share=0.2),
    "dead-letters": Plan(poison=0.03),
    "pause-resume": Plan(control="pause", lose_writes=0.05, crash=0.03, lose_control=0.3),
    "stop-and-redrive": Plan(control="redrive", lose_writes=0.05, crash=0.03, lose_control=0.3),
    "task-signals": Plan(
        control="tasks", cases="signals", lose_writes=0.05, crash=0.03, lose_control=0.3
    ),
}


@dataclass(frozen=True)
class Limits:
    """When an execution that has not ended counts as stuck."""

    deadline: float = 60.0
    """Seconds after its start."""
    max_deliveries: int = 30
    """Messages received from the queue for it (the runs that end need at most 14, unless their
    invocations are killed)."""


@dataclass(frozen=True)
class Case:
    """A golden workflow and its input."""

    name: str
    spec: str
    input_json: str


def golden_cases(folder: Path = GOLDEN) -> list[Case]:
    """Every golden workflow of ``folder``: the known ones in :data:`CASES` order, then others."""
    names = {p.stem for p in folder.glob("*.yaml")}
    ordered = [n for n in CASES if n in names] + sorted(names - set(CASES))
    return [
        Case(n, (folder / f"{n}.yaml").read_text(), (folder / f"{n}.input.json").read_text())
        for n in ordered
    ]


def cases_of(plan: Plan, golden: Path = GOLDEN) -> list[Case]:
    """The workflows a scenario runs."""
    return golden_cases(golden / "signals" if plan.cases == "signals" else golden)


# --- faults on the wire ----------------------------------------------------------------------


class Crash(BaseException):
    """The runner dies between two AWS calls (a BaseException: nothing in it may catch this)."""


def _attempt(request: Any) -> int:
    """The attempt number botocore's standard retries put in ``amz-sdk-request``."""
    header = request.headers.get("amz-sdk-request", b"")
    text = header.decode() if isinstance(header, bytes) else str(header)
    for part in text.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "attempt" and value.isdigit():
            return int(value)
    return 1


def _response(request: Any, status: int, body: Mapping[str, Any]) -> Any:
    """An answer as the service's JSON protocol sends it, that never reached moto."""
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders
    from moto.core.botocore_stubber import MockRawResponse

    headers = HTTPHeaders()
    headers["content-type"] = "application/x-amz-json-1.0"
    headers["x-amzn-requestid"] = uuid.uuid4().hex
    return AWSResponse(request.url, status, headers, MockRawResponse(json.dumps(body)))


def _throttled(request: Any, service: str) -> Any:
    """A throttling answer."""
    if service == "dynamodb":
        kind = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
        message = "The level of configured provisioned throughput for the table was exceeded."
    else:
        kind, message = "com.amazonaws.sqs#ThrottlingException", "Rate exceeded"
    return _response(request, 400, {"__type": kind, "message": message})


def _sent(request: Any) -> Any:
    """SendMessage's success answer, as SQS gives it, for a message that is never enqueued."""
    text = json.loads(request.body)["MessageBody"]
    digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return _response(request, 200, {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest})


class Injector:
    """One worker's faults: hooks on its runner's clients, choices from the current execution's
    generator (a worker drives one execution at a time)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rng = random.Random(0)
        self.injected = 0
        self.kill_at: float | None = None
        """When the current invocation dies (monotonic seconds; None: it does not)."""
        self.killed = False
        """The current invocation has died (a kill is one fault, however many calls it stops)."""
        self.poison: set[str] = set()
        """Bodies of the messages whose every delivery crashes."""
        self.judged: set[str] = set()
        """Bodies whose fate is decided (at their first delivery)."""

    def attach(self, client: Any) -> None:
        """Put the plan's hooks on a DynamoDB or SQS client."""
        from moto.core.models import botocore_stubber

        events = client.meta.events
        if self.plan.lose_writes or self.plan.throttle or self.plan.lose_sends:
            # This client's requests reach moto through _send only: one handler decides.
            events.unregister("before-send", botocore_stubber)
            events.register("before-send", self._send)
        if self.plan.crash:
            events.register("before-call", self._before_call)
        if self.plan.kill_within is not None:
            events.register("before-call", self._deadline)

    def attach_invoker(self, client: Any) -> None:
        """Put the Lambda deadline on the runner's Lambda client, ahead of its Invoke counter:
        a dead invocation sends no request."""
        if self.plan.kill_within is not None:
            client.meta.events.register_first("before-call.lambda.Invoke", self._deadline)

    def deadline(self, kill_at: float | None) -> None:
        """The current invocation dies at its first AWS call after ``kill_at`` (None: never)."""
        self.kill_at, self.killed = kill_at, False

    def poisoned(self, body: str) -> bool:
        """Whether this delivery of the message ``body`` crashes (poison: every one does)."""
        if not self.plan.poison:
            return False
        if body not in self.judged:
            self.judged.add(body)
            if self.rng.random() < self.plan.poison:
                self.poison.add(body)
        if body in self.poison:
            self.injected += 1
            return True
        return False

    def _send(self, request: Any, event_name: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ConnectionClosedError
        from moto.core.models import botocore_stubber

        service, operation = event_name.split(".")[1:3]
        if self.plan.throttle and self.rng.random() < self.plan.throttle:
            self.injected += 1
            return _throttled(request, service)
        if (
            self.plan.lose_sends
            and operation == "SendMessage"
            and self.rng.random() < self.plan.lose_sends
        ):
            self.injected += 1
            return _sent(request)
        answer = botocore_stubber(event_name=event_name, request=request)
        if (
            self.plan.lose_writes
            and service == "dynamodb"
            and operation in WRITES
            and _attempt(request) == 1
            and self.rng.random() < self.plan.lose_writes
        ):
            self.injected += 1  # moto has applied it; the answer never arrives
            raise ConnectionClosedError(endpoint_url=request.url)
        return answer

    def _before_call(self, model: Any, **_: Any) -> None:
        if self.rng.random() < self.plan.crash:
            self.injected += 1
            raise Crash(f"crash before {model.service_model.service_name} {model.name}")

    def _deadline(self, model: Any, **_: Any) -> None:
        """A dead invocation makes no call: the first after the kill moment, nor any later."""
        if self.kill_at is None or time.monotonic() < self.kill_at:
            return
        if not self.killed:
            self.killed = True
            self.injected += 1
        raise Crash(f"Lambda deadline before {model.service_model.service_name} {model.name}")


class InvokeCounter:
    """Counts the Invoke requests of a Lambda client (the runner's function calls)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, **_: Any) -> None:
        with self._lock:
            self.count += 1


# --- workers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """The emulated resources and what makes clients for them."""

    settings: Any
    session: Any
    lambda_url: str
    harness_clients: Mapping[str, Any]
    workflows: dict[str, str] = field(default_factory=dict)
    """Workflow id by case name."""
    inbox: Any = None
    """Where task notifications arrive (:class:`controls.Inbox`)."""


@dataclass
class Worker:
    """A thread's steps queue, its unfaulted harness services and its faulted runner's."""

    stack: Stack
    name: str
    clients: Mapping[str, Any]
    """The runner's clients (with the plan's hooks; Lambda's Invoke requests counted)."""
    injector: Injector
    invokes: InvokeCounter
    control_clients: Mapping[str, Any] = field(default_factory=dict)
    """The control calls' clients (the harness's, DynamoDB's write answers lost)."""
    control_injector: Injector | None = None
    harness: Any = None
    runner: Any = None
    control: Any = None
    queues: int = 0
    dead_letters: str | None = None
    """The steps queue's dead-letter queue (URL), where the plan poisons messages."""
    dead_letters_arn: str = ""
    """Its ARN, as a dead-letter record names its source."""
    errors: list[str] = field(default_factory=list)
    """Failures while delivering leftovers, after the worker's last execution."""

    def new_queue(self) -> None:
        """Go on with a steps queue of its own (messages of the old one are left behind); with
        poison messages, it moves a message to a dead-letter queue of its own after the
        settings' ``max_receive_count`` receives, as template.yaml's steps queue does."""
        from stepline.service.deps import Services

        self.queues += 1
        sqs, name = self.stack.harness_clients["sqs"], f"{self.name}-{self.queues}"
        attributes = {"VisibilityTimeout": "960"}
        if self.injector.plan.poison:
            self.dead_letters = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            self.dead_letters_arn = sqs.get_queue_attributes(
                QueueUrl=self.dead_letters, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": self.dead_letters_arn,
                    "maxReceiveCount": str(self.stack.settings.max_receive_count),
                }
            )
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        settings = replace(self.stack.settings, steps_queue_url=url)
        self.harness = Services(settings, self.stack.harness_clients.__getitem__)
        self.runner = Services(settings, self.clients.__getitem__)
        self.control = Services(settings, self.control_clients.__getitem__)


def _worker(stack: Stack, plan: Plan, name: str) -> Worker:
    """Make a worker: a steps queue of its own and the runner's clients with the plan's hooks.

    Called on the main thread: creating clients is not thread-safe.
    """
    session, config = stack.session, _config()
    injector, invokes = Injector(plan), InvokeCounter()
    clients = dict(stack.harness_clients)
    for service in ("dynamodb", "sqs"):
        clients[service] = session.client(service, config=config)
        injector.attach(clients[service])
    clients["lambda"] = session.client("lambda", endpoint_url=stack.lambda_url)
    clients["lambda"].meta.events.register("before-call.lambda.Invoke", invokes)
    injector.attach_invoker(clients["lambda"])
    control_injector = Injector(Plan(lose_writes=plan.lose_control))
    control_clients = dict(stack.harness_clients)
    control_clients["dynamodb"] = session.client("dynamodb", config=config)
    control_injector.attach(control_clients["dynamodb"])
    worker = Worker(stack, name, clients, injector, invokes, control_clients, control_injector)
    worker.new_queue()
    return worker


def _config() -> Any:
    from botocore.config import Config

    return Config(retries=RETRIES)  # type: ignore[arg-type]


class Delivery:
    """Hands a message to the runner once, within the plan's invocation limits."""

    def __init__(self, worker: Worker, plan: Plan, rng: random.Random) -> None:
        self.worker, self.plan, self.rng = worker, plan, rng
        self.deliveries = 0
        self.received = 0
        """Messages taken from the queue (each handed to the runner once or more)."""
        self.redriven = 0
        """Messages the reconciler sent again meanwhile."""
        self.dead_lettered: set[str] = set()
        """Executions whose message the dead-letter handler got meanwhile."""

    def __call__(self, message: Any) -> None:
        self.handle(message)

    def handle(self, message: Any) -> None:
        """One invocation of the runner for ``message`` (a poison message crashes it at once)."""
        from stepline.service import runner

        self.deliveries += 1
        if self.worker.injector.poisoned(message.to_json()):
            raise Crash(f"poison message {message.to_json()}")
        try:
            runner.handle(self.worker.runner, message, self._invocation())
        finally:
            self.worker.injector.deadline(None)

    def _invocation(self) -> Any:
        """The invocation's limits: the plan's time budget, and the Lambda deadline, reported as
        if one call had run past the end the runner planned with (remaining time minus its
        safety margin): the kill comes at that end."""
        from stepline.service import runner

        limits: dict[str, Any] = {}
        if self.plan.inline_budget is not None:
            limits["inline_budget"] = self.plan.inline_budget
        if self.plan.kill_within is not None and self.rng.random() < self.plan.kill_share:
            kill_at = time.monotonic() + self.rng.uniform(0.0, self.plan.kill_within)
            self.worker.injector.deadline(kill_at)
            limits["remaining"] = lambda: kill_at - time.monotonic() + runner.SAFETY_MARGIN
        return runner.Invocation(**limits)

    def after_end(self) -> None:
        """What comes once the execution has ended (nothing: SQS has delivered all)."""

    @property
    def injected(self) -> int:
        """Faults this delivery injected itself (forced hand-overs when out of time)."""
        return self.deliveries if self.plan.inline_budget is not None else 0


class TwiceAndShuffled(Delivery):
    """Every message twice; now and then up to three old ones again; all of them at the end."""

    def __init__(self, worker: Worker, plan: Plan, rng: random.Random) -> None:
        super().__init__(worker, plan, rng)
        self.seen: list[Any] = []
        self.extra = 0

    def __call__(self, message: Any) -> None:
        self.handle(message)
        self.handle(message)
        self.extra += 1
        self.seen.append(message)
        if self.rng.random() < 0.5:
            for old in self.rng.sample(self.seen, k=min(3, len(self.seen))):
                self.handle(old)
                self.extra += 1

    def after_end(self) -> None:
        """Every message of the execution once more, in random order."""
        for old in self.rng.sample(self.seen, k=len(self.seen)):
            self.handle(old)
            self.extra += 1

    @property
    def injected(self) -> int:
        """Deliveries beyond the first of each message."""
        return self.extra


@dataclass
class Run:
    """One execution of a scenario, as the harness saw it."""

    index: int
    case: Case
    key: str | None = None
    unique_key: str | None = None
    execution_id: str = ""
    seconds: float = 0.0
    ended: bool = False
    invokes: int = 0
    injected: int = 0
    deliveries: int = 0
    redriven: int = 0
    dead_lettered: bool = False
    """The dead-letter handler failed it (its message reached the dead-letter queue)."""
    stopped: str | None = None
    """Why the harness stopped delivering before the execution ended."""
    controlled: bool = False
    """The control acted on it (paused it, redrove it, answered a task)."""
    loose: bool = False
    """Compared by how it ended only: the control changed its course (a stop, then a
    redrive)."""
    control_problems: list[str] = field(default_factory=list)
    """What the control calls answered otherwise than the API promises."""
    error: str | None = None
    """What the runner raised (other than an injected crash)."""


def _input_for(case: Case) -> tuple[str, str | None, str | None]:
    """The case's input; a ``key`` (of stepline-flaky) made unique to the execution."""
    data = json.loads(case.input_json)
    if isinstance(data, dict) and isinstance(data.get("key"), str):
        key = data["key"]
        data["key"] = f"{key}-{uuid.uuid4().hex[:6]}"
        return json.dumps(data), key, data["key"]
    return case.input_json, None, None


def _ended(svc: Any, execution_id: str) -> bool:
    head = svc.executions.get(execution_id)
    return head is not None and head.status in ENDED


def _deliver_until(
    worker: Worker,
    deliver: Delivery,
    until: Callable[[], bool],
    end: float,
    cap: int | None = None,
    watched: str | None = None,
    control: Control | None = None,
) -> str | None:
    """Feed the worker's queue to ``deliver`` until ``until()`` holds (None), else say why not:
    the monotonic time ``end`` passed, or ``cap`` messages were received.

    A message whose handling crashed is not deleted: it is made visible again at once, as SQS
    does when its visibility timeout passes. While the queue gives nothing visible, the
    dead-letter handler takes what the queue moved to its dead-letter queue, and the reconciler
    examines the execution ``watched`` once every ``RECONCILE_PERIOD`` the queue stays so;
    ``control`` hears of every message before it is handed over and of every such moment.
    """
    from stepline.store.queue import StepMessage

    sqs, url = worker.harness.queue.client, worker.harness.queue.url
    idle_since = time.monotonic()
    while not until():
        if time.monotonic() > end:
            return "deadline passed"
        if cap is not None and deliver.received >= cap:
            return f"{cap} messages delivered"
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if messages:
            idle_since = time.monotonic()
        else:
            deliver.dead_lettered |= _dead_letters(worker)
            if control is not None:
                control.idle()
            if watched and time.monotonic() - idle_since >= RECONCILE_PERIOD:
                deliver.redriven += _reconcile(worker, watched) == "redriven"
                idle_since = time.monotonic()
            time.sleep(0.02)  # only delayed messages are left: let the emulated clock move
        for message in messages:
            deliver.received += 1
            if control is not None:
                control.before(deliver.received)
            try:
                deliver(StepMessage.from_json(message["Body"]))
            except Crash:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return None


def _reconcile(worker: Worker, execution_id: str) -> str:
    """What a reconciler pass does with the execution, on the bench's time scale: as in
    production, it looks only once the execution's watch time (gsi5) is a grace old."""
    from stepline.service import reconciler
    from stepline.store import keys
    from stepline.times import stored

    limits = reconciler.Limits(
        grace=timedelta(seconds=RECONCILE_GRACE),
        runner_timeout=timedelta(seconds=RECONCILE_RUNNER_TIMEOUT),
        hand_over=timedelta(seconds=RECONCILE_HAND_OVER),
    )
    svc = worker.harness
    head = svc.table.get(keys.execution(execution_id))
    before = keys.time_upper_bound(stored(svc.clock() - limits.grace), inclusive=False)
    if head is None or "GSI5SK" not in head or str(head["GSI5SK"]) >= before:
        return "not due"  # not watched, or not overdue yet
    return reconciler.examine(svc, limits, execution_id)


def _dead_letters(worker: Worker) -> set[str]:
    """Hand the dead-letter queue's messages to the dead-letter handler, a record each as
    Lambda's SQS event has it, and delete them; the executions they named."""
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from stepline.service import runner
    from stepline.store.queue import StepMessage

    if worker.dead_letters is None:
        return set()
    sqs, named = worker.harness.queue.client, set()
    messages = sqs.receive_message(
        QueueUrl=worker.dead_letters,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        AttributeNames=["All"],
    ).get("Messages", [])
    for message in messages:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": worker.dead_letters_arn,
            "awsRegion": worker.dead_letters_arn.split(":")[3],
        }
        runner.process_dead_letter(worker.harness, SQSRecord(record))
        named.add(StepMessage.from_json(message["Body"]).execution_id)
        sqs.delete_message(QueueUrl=worker.dead_letters, ReceiptHandle=message["ReceiptHandle"])
    return named


def _drive(worker: Worker, plan: Plan, run: Run, seed: str, limits: Limits) -> None:
    """Start ``run``'s execution and deliver its messages until it ends or its deadline."""
    from stepline.service import executions

    rng = random.Random(f"{seed}/{run.index}")
    worker.injector.rng = rng
    injected_before, invokes_before = worker.injector.injected, worker.invokes.count
    assert worker.control_injector is not None
    control_injected_before = worker.control_injector.injected
    deliver = (TwiceAndShuffled if plan.shuffle else Delivery)(worker, plan, rng)
    text, run.key, run.unique_key = _input_for(run.case)
    began = time.monotonic()
    run.execution_id = executions.start(
        worker.harness,
        executions.StartCommand(worker.stack.workflows[run.case.name], text, "bench"),
    )
    control = _control(worker, plan.control, run, f"{seed}/{run.index}/control")
    try:
        control.started()
        while True:  # a phase per redrive
            run.stopped = _deliver_until(
                worker,
                deliver,
                control.settled,
                began + limits.deadline,
                deliver.received + limits.max_deliveries,
                watched=run.execution_id,
                control=control,
            )
            if run.stopped is not None or not control.again():
                break
        run.seconds = time.monotonic() - began
        run.ended = run.stopped is None
        if run.ended:
            deliver.after_end()
    except Exception as exc:  # a runner failure is a figure of the bench, not its end
        run.error = f"{type(exc).__name__}: {exc} (at {_where(exc)})"
        run.seconds = time.monotonic() - began
    run.controlled, run.loose = control.acted, control.loose
    run.control_problems = control.problems
    run.deliveries = deliver.received
    run.redriven = deliver.redriven
    run.dead_lettered = run.execution_id in deliver.dead_lettered
    if not run.ended:
        worker.new_queue()  # a stuck execution's messages would go on hopping under the next
    run.injected = worker.injector.injected - injected_before + deliver.injected
    run.injected += worker.control_injector.injected - control_injected_before
    run.invokes = worker.invokes.count - invokes_before


def _control(worker: Worker, kind: str, run: Run, seed: str) -> Control:
    """What the harness does to ``run``'s execution (choices from ``seed``)."""
    from stepline.bench import controls

    rng = random.Random(seed)
    if worker.control_injector is not None:
        worker.control_injector.rng = random.Random(f"{seed}/lost")
    control = controls.CONTROLS[kind](
        worker.harness, worker.control, run.execution_id, rng, key=run.unique_key
    )
    if isinstance(control, controls.AnswerTasks):
        control.inbox = worker.stack.inbox
    return control


def _where(exc: BaseException) -> str:
    """The innermost frames an exception passed through: where a runner failure came from."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))


def _settle(worker: Worker, plan: Plan, seed: str) -> None:
    """Deliver what is left on the worker's queue after its last execution (messages still
    delayed, repairs that replayed duplicates sent), so late messages are part of what is
    compared."""
    rng = random.Random(f"{seed}/settle")
    worker.injector.rng = rng
    deliver = (TwiceAndShuffled if plan.shuffle else Delivery)(worker, plan, rng)
    sqs, url = worker.harness.queue.client, worker.harness.queue.url
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"]

    def empty() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return all(int(attributes.get(n, 0)) == 0 for n in names)

    try:
        _deliver_until(worker, deliver, empty, time.monotonic() + SETTLE_SECONDS)
    except Exception as exc:  # a figure of the bench, not its end
        worker.errors.append(f"delivering leftovers: {type(exc).__name__}: {exc}")


def _run_scenario(
    stack: Stack,
    name: str,
    plan: Plan,
    runs: list[Run],
    *,
    seed: int,
    workers: int,
    limits: Limits,
) -> tuple[float, list[str]]:
    """Drive every run on ``workers`` threads (a shared list of jobs); the wall seconds and
    the failures met while delivering leftovers."""
    tag = uuid.uuid4().hex[:6]
    pool = [_worker(stack, plan, f"faults-{name}-{tag}-{i}") for i in range(workers)]
    jobs: queue.SimpleQueue[Run] = queue.SimpleQueue()
    for run in runs:
        jobs.put(run)
    scenario_seed = f"{seed}/{name}"

    def work(worker: Worker) -> None:
        while True:
            try:
                run = jobs.get_nowait()
            except queue.Empty:
                break
            _drive(worker, plan, run, scenario_seed, limits)
        _settle(worker, plan, scenario_seed)

    began = time.monotonic()
    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in pool]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - began, [e for w in pool for e in w.errors]


# --- comparing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a user sees of an ended execution, without times."""

    status: str
    result: Any
    error: Any
    steps: tuple[tuple[str, str], ...]
    attempts: tuple[str, ...]
    calls: int
    """Attempts the FunctionCall entries record: the Invoke requests a clean run makes."""

    def ids(self) -> Counter[str]:
        """How often each entry id appears in the history."""
        return Counter(step_id for step_id, _ in self.steps)

    def threads(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """The history of each thread (top level, a Parallel branch, a Foreach item) in order.

        The start order across concurrent threads depends on when each got its turn, in any
        run; the order within one thread does not.
        """
        found: dict[str, list[tuple[str, str]]] = {}
        for step_id, status in self.steps:
            found.setdefault(step_id.rpartition("/")[0], []).append((step_id, status))
        return {thread: tuple(steps) for thread, steps in found.items()}


def outcome(svc: Any, run: Run) -> Outcome:
    """The execution's status, result, error and history (the run's unique key undone)."""

    def plain(value: Any) -> Any:
        if run.unique_key is None or run.key is None:
            return value
        return json.loads(json.dumps(value).replace(run.unique_key, run.key))

    got = queries.get(svc, run.execution_id)["execution"]
    entries = queries.history(svc, run.execution_id, size=None, token=None)["entries"]
    result = json.loads(got["result"]["resultJson"]) if "result" in got else None
    return Outcome(
        status=str(got["status"]),
        result=plain(result),
        error=plain(got.get("error")),
        steps=tuple((str(e["id"]), str(e["status"])) for e in entries),
        attempts=tuple(str(e.get("attempts", "")) for e in entries),
        calls=sum(int(e.get("attempts") or 1) for e in entries if e.get("type") in CALL_TYPES),
    )


@dataclass
class Verdict:
    """How one run compares with the clean run of its case."""

    duplicated: int = 0
    differing: list[str] = field(default_factory=list)
    repeated: bool = False
    extra_invokes: int = 0


def compare(seen: Outcome, invokes: int, expected: Outcome) -> Verdict:
    """Duplicated entries, what differs, and whether calls were really made again (``invokes``:
    the Invoke requests the runner sent for the execution)."""
    verdict = Verdict(_duplicated(seen, expected), extra_invokes=max(0, invokes - seen.calls))
    repeated = verdict.extra_invokes > 0
    for name in ("status", "error"):
        if getattr(seen, name) != getattr(expected, name):
            verdict.differing.append(
                f"{name}: {getattr(seen, name)!r} != {getattr(expected, name)!r}"
            )
    if seen.threads() != expected.threads():
        verdict.differing.append(f"steps: {seen.steps!r} != {expected.steps!r}")
    explained = {
        "attempts": seen.attempts != expected.attempts,
        "result": seen.result != expected.result,
    }
    for name, differs in explained.items():
        if differs and not repeated:
            verdict.differing.append(
                f"{name}: {getattr(seen, name)!r} != {getattr(expected, name)!r}"
            )
    verdict.repeated = repeated and any(explained.values()) and not verdict.differing
    return verdict


def compare_dead_lettered(seen: Outcome, invokes: int, expected: Outcome) -> Verdict:
    """A run the dead-letter handler ended, wherever its message stopped it: it must be FAILED
    with STEP_INTERNAL, its history no entry more often than the clean run's."""
    verdict = Verdict(_duplicated(seen, expected), extra_invokes=max(0, invokes - seen.calls))
    code = (seen.error or {}).get("errorCode")
    if (seen.status, code) != ("FAILED", "STEP_INTERNAL"):
        verdict.differing.append(f"dead-lettered, yet {seen.status} {code}: {seen.error!r}")
    return verdict


def compare_ending(seen: Outcome, expected: Outcome, *, result: bool) -> Verdict:
    """A run whose course was changed on purpose (stopped, then redriven) must end as the
    clean run did: its status and error, and its result unless its functions count their
    calls (``result`` False), which a stopped call's re-run changes."""
    verdict = Verdict()
    names = ("status", "error", "result") if result else ("status", "error")
    for name in names:
        if getattr(seen, name) != getattr(expected, name):
            verdict.differing.append(
                f"{name}: {getattr(seen, name)!r} != {getattr(expected, name)!r}"
            )
    return verdict


def _duplicated(seen: Outcome, expected: Outcome) -> int:
    """Entries beyond as often as the clean run has their id."""
    clean = expected.ids()
    return sum(max(0, n - clean.get(i, 0)) for i, n in seen.ids().items())


def figures_of(
    stack: Stack,
    runs: list[Run],
    references: Mapping[str, Outcome],
    wall: float,
    errors: Sequence[str] = (),
) -> dict[str, Any]:
    """The scenario's figures from its runs."""
    svc = _harness_services(stack)
    figures: dict[str, Any] = {
        "executions": len(runs),
        "faults": sum(r.injected for r in runs),
        "ended": 0,
        "stuck": 0,
        "duplicated": 0,
        "differing": 0,
        "repeated_calls": 0,
        "extra_invokes": 0,
        "redriven": sum(r.redriven for r in runs),
        "dead_lettered": 0,
        "controlled": sum(r.controlled for r in runs),
        "control_errors": sum(bool(r.control_problems) for r in runs),
        "longest_s": round(max((r.seconds for r in runs if r.ended), default=0.0), 3),
        "most_deliveries": max((r.deliveries for r in runs if r.ended), default=0),
        "wall_s": round(wall, 1),
        "runner_errors": sum(1 for r in runs if r.error) + len(errors),
        "problems": list(errors),
    }
    for run in runs:
        problem = _judge(svc, run, references[run.case.name], figures)
        if problem:
            figures["problems"].append(f"{run.case.name} {run.execution_id}: {problem}")
    return figures


def _judge(svc: Any, run: Run, clean: Outcome, figures: dict[str, Any]) -> str | None:
    """Add one run to the figures; what is wrong with it, if anything (its control's problems
    first)."""
    problem = _judge_outcome(svc, run, clean, figures)
    found = [*run.control_problems, *([problem] if problem else [])]
    return "; ".join(found) or None


def _judge_outcome(svc: Any, run: Run, clean: Outcome, figures: dict[str, Any]) -> str | None:
    if not run.ended:
        figures["stuck"] += 1
        head = svc.executions.get(run.execution_id) if run.execution_id else None
        status = head.status if head else "not started"
        return f"stuck ({status}): {run.error or run.stopped}"
    figures["ended"] += 1
    figures["dead_lettered"] += run.dead_lettered
    if run.dead_lettered:
        verdict = compare_dead_lettered(outcome(svc, run), run.invokes, clean)
    elif run.loose:
        verdict = compare_ending(outcome(svc, run), clean, result=run.key is None)
    else:
        verdict = compare(outcome(svc, run), run.invokes, clean)
    figures["duplicated"] += verdict.duplicated
    figures["differing"] += bool(verdict.differing)
    figures["repeated_calls"] += verdict.repeated
    figures["extra_invokes"] += verdict.extra_invokes
    if verdict.differing or verdict.duplicated:
        return f"{verdict.duplicated} duplicated; " + "; ".join(verdict.differing)
    return None


def _forget(stack: Stack, runs: Sequence[Run]) -> None:
    """Delete a judged scenario's executions. moto reads the whole table for every Query, so
    what earlier scenarios left would slow the runner's log reads in later ones, and a
    scenario's figures would depend on what ran before it (``lambda-timeout``'s most: its kill
    window is a few such reads long)."""
    from stepline.store import keys

    table = _harness_services(stack).table
    for run in runs:
        if not run.execution_id:
            continue
        pk = keys.execution(run.execution_id)[keys.PK]
        while items := table.query(key_condition="PK = :pk", values={":pk": pk}).items:
            for item in items:
                table.delete({keys.PK: item[keys.PK], keys.SK: item[keys.SK]})


def _harness_services(stack: Stack) -> Any:
    from stepline.service.deps import Services

    return Services(stack.settings, stack.harness_clients.__getitem__)


# --- measuring -------------------------------------------------------------------------------


@contextmanager
def _stack(functions: Path) -> Iterator[Stack]:
    """Resources from template.yaml, the local Lambda functions served, clients to reach them."""
    import boto3

    from stepline.bench import controls
    from stepline.dev import resources
    from stepline.dev.lambdas import Invoker, LambdaServer, LocalFunctions
    from stepline.service.deps import Settings

    lambdas = LambdaServer(("127.0.0.1", 0), Invoker(None, LocalFunctions(functions)))
    with (
        harness.emulated_aws(ENVIRONMENT, quiet=True),
        harness.served(lambdas),
        controls.inbox() as inbox,
    ):
        session = boto3.session.Session()
        physical = resources.provision(session.client, stack_name="stepline-faults")
        settings = replace(
            Settings.from_env(resources.environment(physical)),
            time_scale=TIME_SCALE,
            allowed_private_hosts=frozenset({"*"}),
            runner_function=None,
        )
        lambda_url = f"http://127.0.0.1:{lambdas.server_port}"
        harness_clients: dict[str, Any] = {
            s: session.client(s, config=_config())
            for s in ("dynamodb", "sqs", "s3", "secretsmanager")
        }
        harness_clients["lambda"] = session.client("lambda", endpoint_url=lambda_url)
        yield Stack(settings, session, lambda_url, harness_clients, inbox=inbox)


def _create_workflows(stack: Stack, cases: Sequence[Case]) -> None:
    """A workflow per case; a task notification goes to the bench's inbox."""
    from stepline.bench.controls import INBOX_PLACEHOLDER
    from stepline.models import CreateWorkflowRequest
    from stepline.service import workflows

    svc = _harness_services(stack)
    for case in cases:
        request = CreateWorkflowRequest.model_validate(
            {
                "folderId": "faults",
                "name": case.name.replace("_", "-"),
                "specification": {
                    "specYaml": case.spec.replace(INBOX_PLACEHOLDER, stack.inbox.url)
                },
            }
        )
        created = workflows.create(svc, request, caller="bench")
        stack.workflows[case.name] = created.resource_id


def _references(
    stack: Stack, cases: Sequence[Case], limits: Limits, control: str = ""
) -> dict[str, Outcome]:
    """A clean run of each case, one after another, with ``control`` doing its part."""
    plan = Plan(control=control)
    worker = _worker(stack, plan, f"faults-reference-{uuid.uuid4().hex[:6]}")
    references = {}
    for i, case in enumerate(cases):
        run = Run(i, case)
        _drive(worker, plan, run, "reference", limits)
        if not run.ended or run.control_problems:
            raise RuntimeError(
                f"the clean run of {case.name} did not end well: "
                f"{run.error or run.stopped or run.control_problems}"
            )
        seen = outcome(worker.harness, run)
        if run.invokes != seen.calls:  # what repeated calls are told apart by
            raise RuntimeError(
                f"the clean run of {case.name} made {run.invokes} calls, "
                f"its history records {seen.calls}"
            )
        references[case.name] = seen
    return references


def measure(
    *,
    executions: int = 100,
    scenarios: Mapping[str, Plan] = SCENARIOS,
    seed: int = 0,
    workers: int = 2,
    limits: Limits = Limits(),
    golden: Path = GOLDEN,
    functions: Path = FUNCTIONS,
) -> dict[str, Any]:
    """Run ``executions`` executions per scenario (cycling through the golden workflows) and
    compare each with a clean run of its workflow; the figures per scenario (by name). A
    scenario's executions are deleted once judged, so each scenario starts on the same table."""
    from stepline.bench.controls import REFERENCE_OF

    sets = {plan.cases: cases_of(plan, golden) for plan in scenarios.values()}
    if not all(sets.values()):
        raise ValueError(f"no golden workflows in {golden} for {sorted(sets)}")
    began = time.monotonic()
    with _stack(functions) as stack:
        for cases in sets.values():
            _create_workflows(stack, cases)
        references: dict[tuple[str, str], dict[str, Outcome]] = {}
        results: dict[str, Any] = {}
        for name, plan in scenarios.items():
            cases, reference = sets[plan.cases], (plan.cases, REFERENCE_OF[plan.control])
            if reference not in references:
                references[reference] = _references(stack, cases, limits, reference[1])
            runs = [Run(i, cases[i % len(cases)]) for i in range(executions)]
            wall, errors = _run_scenario(
                stack, name, plan, runs, seed=seed, workers=workers, limits=limits
            )
            results[name] = figures_of(stack, runs, references[reference], wall, errors)
            _forget(stack, runs)
    return {
        "executions": executions,
        "workflows": [c.name for cases in sets.values() for c in cases],
        "seed": seed,
        "workers": workers,
        "deadline_s": limits.deadline,
        "max_deliveries": limits.max_deliveries,
        "scenarios": results,
        "wall_s": round(time.monotonic() - began, 1),
    }


def failing(figures: Mapping[str, Any]) -> list[str]:
    """Scenarios whose goal figures (stuck, duplicated, differing) are not all 0."""
    return [
        name
        for name, row in figures["scenarios"].items()
        if any(row[goal] for goal in GOAL_FIGURES)
    ]


def table(figures: Mapping[str, Any], *, problems: int = 3) -> str:
    """The figures as text: a row per scenario, then the first problems of each."""
    rows = [
        f"faults: {figures['executions']} executions per scenario over "
        f"{len(figures['workflows'])} golden workflows, seed {figures['seed']}, "
        f"{figures['workers']} workers, deadline {figures['deadline_s']:g} s or "
        f"{figures['max_deliveries']} deliveries",
        "",
        f"{'scenario':<26}{'execs':>6}{'faults':>8}{'ended':>7}{'stuck':>7}{'dup.':>6}"
        f"{'differ':>8}{'repeated':>10}{'redriven':>10}{'dead-let.':>11}{'control':>9}"
        f"{'ctl err':>9}{'longest s':>11}{'wall s':>8}",
    ]
    for name, row in figures["scenarios"].items():
        rows.append(
            f"{name:<26}{row['executions']:>6}{row['faults']:>8}{row['ended']:>7}"
            f"{row['stuck']:>7}{row['duplicated']:>6}{row['differing']:>8}"
            f"{row['repeated_calls']:>10}{row['redriven']:>10}{row['dead_lettered']:>11}"
            f"{row['controlled']:>9}{row['control_errors']:>9}"
            f"{row['longest_s']:>11.2f}{row['wall_s']:>8.1f}"
        )
    rows += [
        "",
        "goal: 0 stuck, 0 duplicated, 0 differing, 0 ctl err; repeated = executions whose",
        "attempts or result differ only because a function call was really made again",
        "(at-least-once side effects); redriven = messages the reconciler sent again;",
        "dead-let. = executions the dead-letter handler failed (FAILED with STEP_INTERNAL and no",
        "duplicated entry, not compared); control = executions the harness paused, redrove or",
        "answered a task of; ctl err = those whose Pause, Resume, Stop, Redrive or task answers",
        "were answered otherwise than the API promises (or that started a step while paused)",
        f"wall time: {figures['wall_s']:.1f} s",
    ]
    for name, row in figures["scenarios"].items():
        for problem in row["problems"][:problems]:
            rows.append(f"{name}: {problem}")
        if len(row["problems"]) > problems:
            rows.append(f"{name}: ... {len(row['problems']) - problems} more")
    return "\n".join(rows)


# --- command line ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``faults``."""
    parser.add_argument(
        "--executions", type=int, default=100, help="executions per scenario (default 100)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every fault choice")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="run only this scenario (repeatable; default: all)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="threads per scenario (default 2: one per core)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=Limits().deadline,
        help="seconds before an execution counts as stuck",
    )
    parser.add_argument(
        "--max-deliveries",
        type=int,
        default=Limits().max_deliveries,
        help="messages received for an execution before it counts as stuck",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when any stuck, duplicated or differing"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def main(args: argparse.Namespace) -> int:
    """Measure and print; exit status 0 (with --check: 1 when a goal figure is not 0)."""
    if min(args.executions, args.workers, args.max_deliveries) < 1 or args.deadline <= 0:
        raise SystemExit(
            "--executions, --workers and --max-deliveries must be at least 1, --deadline positive"
        )
    figures = measure(
        executions=args.executions,
        scenarios={name: SCENARIOS[name] for name in args.scenario or SCENARIOS},
        seed=args.seed,
        workers=args.workers,
        limits=Limits(args.deadline, args.max_deliveries),
    )
    print(json.dumps(figures) if args.json else table(figures))
    return 1 if args.check and failing(figures) else 0
