"""Runs a YaWL workflow on the engine alone: in this process, on a virtual clock, no AWS.

:class:`Driver` does what the runner does around :func:`stepline.engine.advance`, through the
engine's public API only: it advances the machine, performs the calls the advance asks for,
hands their results to the next advance, and when nothing else is to do moves its clock to the
advance's wake-up time, so Waits and retry delays take no real time.

FunctionCall steps call Python functions of this process, ``function(event, context)`` as Lambda
calls a handler, through the real adapter (:mod:`stepline.integrations.function_call`) over an
in-process stand-in for the Lambda client: an exception the function raises, an answer that is
not JSON or a function that does not exist fail the attempt with the code and message the
adapter gives for what Lambda reports then. A function's duration is virtual too: it is the
time the function spends in :meth:`FunctionContext.sleep` (the ``time.sleep`` of a handler
file loaded with :func:`load_handler`); an attempt that would take longer than the step's
timeout fails with STEP_TIMEOUT, as the runner reports it. Other integration steps, and
Workflow steps, are not supported yet (:class:`UnsupportedStep`).
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from stepline import engine
from stepline.api import render
from stepline.integrations import CallContext, function_call
from stepline.yawl import Workflow, load
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import FunctionCall, IntegrationStep
from stepline.yawl.templating import render as render_template

START = datetime(2026, 1, 1, tzinfo=UTC)
"""Where the virtual clock of a run starts unless told otherwise."""
REGION = "us-east-1"
ACCOUNT = "123456789012"

Function = Callable[[Any, "FunctionContext"], Any]
"""A function a FunctionCall step calls: ``function(event, context) -> answer``."""


class DriverError(Exception):
    """The driver cannot go on: the workflow needs something it does not provide."""


class UnsupportedStep(DriverError):
    """An integration step of a type the driver cannot perform."""


@dataclass
class FunctionContext:
    """The parts of the Lambda context object a function reads, on the virtual clock."""

    function_name: str
    timeout_seconds: float
    """The step's timeout (the driver knows no function configuration of its own)."""
    aws_request_id: str
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    elapsed: float = 0.0
    """Virtual seconds the call has taken so far."""

    @property
    def invoked_function_arn(self) -> str:
        """The function ARN as Lambda would report it."""
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the step's timeout."""
        return max(0, int((self.timeout_seconds - self.elapsed) * 1000))

    def sleep(self, seconds: float) -> None:
        """Take ``seconds`` of virtual time."""
        self.elapsed += max(0.0, float(seconds))


@dataclass(frozen=True)
class Run:
    """How a run ended."""

    outcome: dict[str, Any]
    """``{"status": "FINISHED", "result": ...}`` or ``{"status": "FAILED", "error": ...}``."""
    entries: list[dict[str, Any]]
    """Every ended history entry in the stored form, in the order the engine ended them."""
    ended_at: datetime
    """The virtual time of the end."""
    advances: int
    """How many advances the run took."""

    def history(self) -> list[dict[str, Any]]:
        """The entries as GetHistory shows them: the public form, oldest first (start order)."""
        entries = sorted(self.entries, key=lambda entry: int(entry["n"]))
        return [render.history_entry(entry, self.ended_at) for entry in entries]


class Driver:
    """Runs one workflow to its end, once per :meth:`run`.

    ``functions`` maps a function id (a FunctionCall's ``functionId``) to the function it calls.
    ``steps_per_advance`` bounds how many new steps one advance may start (the engine's
    ``pause``; starting a Parallel branch or a Foreach item counts as one too); None: no bound.
    A paused advance goes on in the next one at once, its calls made once an advance is not
    paused: the advance is cut, nothing else changes. With ``calls_when_paused`` the calls of
    a paused advance are made before the next one, as a runner does when the time budget of an
    invocation runs out before its first batch of calls.
    With ``reload`` every advance ends as a runner's checkpoint does: the machine's changes
    are folded into the records stored so far (through JSON), the folded records must equal
    the machine in full, and the run goes on with the machine loaded back from them.
    ``max_advances`` ends a run that never ends with DriverError.
    """

    def __init__(
        self,
        spec: str | Workflow,
        functions: Mapping[str, Function],
        *,
        execution_id: str = "execution",
        start: datetime = START,
        steps_per_advance: int | None = None,
        calls_when_paused: bool = False,
        reload: bool = False,
        max_advances: int = 10_000,
    ) -> None:
        if steps_per_advance is not None and steps_per_advance < 1:
            raise ValueError("steps_per_advance must be at least 1")
        self.spec = load(spec) if isinstance(spec, str) else spec
        self.functions = dict(functions)
        self.execution_id = execution_id
        self.start = start
        self.steps_per_advance = steps_per_advance
        self.calls_when_paused = calls_when_paused
        self.reload = reload
        self.max_advances = max_advances
        self._requests = itertools.count(1)

    def run(self, execution_input: Any) -> Run:
        """Run the workflow from ``execution_input`` to its end."""
        machine = engine.new_machine(execution_input, self.execution_id)
        now = self.start
        results: dict[int, engine.CallResult] = {}
        entries: list[dict[str, Any]] = []
        stored: engine.Records | None = None
        for advances in range(1, self.max_advances + 1):
            adv = engine.advance(self.spec, machine, now, results, scale=1.0, pause=self._pause())
            machine, results = adv.machine, {}
            entries.extend(adv.finished)
            if self.reload:
                machine, stored = _reloaded(machine, stored)
            outcome = engine.outcome(machine)
            if outcome is not None:
                return Run(outcome, entries, now, advances)
            if adv.paused and not self.calls_when_paused:
                continue  # the same advance goes on: its calls come again in the next one
            if adv.calls:
                results, took = self._perform(adv.calls)
                now += timedelta(seconds=took)
            elif adv.wake_at is not None:
                now = max(now, adv.wake_at)
            elif not adv.paused:
                open_ids = [entry["id"] for entry in engine.open_entries(machine)]
                raise DriverError(f"nothing to do and no wake-up, with {open_ids} open")
        raise DriverError(f"the execution did not end within {self.max_advances} advances")

    def _pause(self) -> Callable[[], bool] | None:
        """The ``pause`` of one advance: True once ``steps_per_advance`` steps have started."""
        if self.steps_per_advance is None:
            return None
        # The engine asks before every new step but the first.
        asked = itertools.count(2)
        limit = self.steps_per_advance
        return lambda: next(asked) > limit

    def _perform(
        self, calls: list[engine.CallRequest]
    ) -> tuple[dict[int, engine.CallResult], float]:
        """Results of one batch of calls, and the virtual seconds the batch took (its calls
        run side by side, as the runner makes them)."""
        results: dict[int, engine.CallResult] = {}
        took = 0.0
        for call in calls:
            results[call.n], seconds = self._attempt(call)
            took = max(took, seconds)
        return results, took

    def _attempt(self, call: engine.CallRequest) -> tuple[engine.CallResult, float]:
        """One attempt, as the runner makes it, and the virtual seconds it took."""
        body = engine.step_at(self.spec, call.scope, call.step_id).body
        if not isinstance(body, FunctionCall):
            kind = type(body).__name__ if isinstance(body, IntegrationStep) else "Workflow"
            raise UnsupportedStep(f"{call.entry_id}: {kind} steps are not supported")
        client = InProcessLambda(self.functions, call.timeout, f"request-{next(self._requests)}")
        context = CallContext(
            client=lambda service: client,
            render=lambda template: render_template(template, call.step_input),
            timeout=call.timeout,
            execution_id=self.execution_id,
            step_id=call.entry_id,
        )
        try:
            result = engine.CallResult(output=function_call.call(body, call.step_input, context))
        except StepFailure as failure:
            result = engine.CallResult(code=failure.code.value, message=failure.message)
        except Exception as exc:  # as the runner takes an adapter's crash
            code = WorkflowErrorCode.STEP_INTERNAL.value
            result = engine.CallResult(code=code, message=f"{type(exc).__name__}: {exc}")
        if client.elapsed > call.timeout:
            return timed_out(call), call.timeout
        return result, client.elapsed


def _reloaded(
    machine: engine.Machine, stored: engine.Records | None
) -> tuple[engine.Machine, engine.Records]:
    """A checkpoint and a resume: the changes folded into ``stored`` (the full records the
    first time), checked against the machine in full, and the machine loaded back."""
    if stored is None:
        stored = _through_json(engine.snapshot(machine))
    else:
        stored = engine.apply(stored, _through_json(engine.changes(machine)))
    full = _through_json(engine.snapshot(machine.model_copy(deep=True)))
    if stored != full:
        differ = sorted(k for k in stored.keys() | full.keys() if stored.get(k) != full.get(k))
        raise DriverError(f"the folded changes differ from the machine at {differ}")
    return engine.load(_through_json(stored), engine.open_entries(machine)), stored


def _through_json(records: engine.Records) -> engine.Records:
    return json.loads(json.dumps(records))  # type: ignore[no-any-return]


def run(
    spec: str | Workflow, execution_input: Any, functions: Mapping[str, Function], **options: Any
) -> Run:
    """Run a workflow to its end with :class:`Driver` (``options`` are the driver's)."""
    return Driver(spec, functions, **options).run(execution_input)


def timed_out(call: engine.CallRequest) -> engine.CallResult:
    """The result the runner gives an attempt still running at its timeout."""
    return engine.CallResult(
        code=WorkflowErrorCode.STEP_TIMEOUT.value,
        message=f"step attempt exceeded its timeout of {call.timeout:g}s",
    )


@dataclass
class InProcessLambda:
    """The ``invoke`` of a Lambda client, over functions of this process.

    It answers as Lambda does: a function's answer as JSON text, an exception as a
    ``FunctionError`` reply with ``errorType`` and ``errorMessage``, an unknown function as
    ResourceNotFoundException. ``elapsed`` is the virtual time of the last invocation.
    """

    functions: Mapping[str, Function]
    timeout: float
    request_id: str
    elapsed: float = field(default=0.0, init=False)

    def invoke(
        self, *, FunctionName: str, InvocationType: str = "RequestResponse", Payload: bytes = b""
    ) -> dict[str, Any]:
        """Call the function with the payload as its event."""
        function = self.functions.get(FunctionName)
        if function is None:
            raise _not_found(FunctionName)
        context = FunctionContext(FunctionName, self.timeout, self.request_id)
        try:
            answer = function(json.loads(Payload or b"{}"), context)
        except Exception as exc:
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return _function_error(error)
        finally:
            self.elapsed = context.elapsed
        try:
            payload = json.dumps(answer).encode()
        except (TypeError, ValueError) as exc:
            # The Python runtime's words for an answer it cannot write as JSON.
            message = f"Unable to marshal response: {exc}"
            return _function_error({"errorMessage": message, "errorType": "Runtime.MarshalError"})
        return {"StatusCode": 200, "Payload": io.BytesIO(payload)}


def _function_error(error: dict[str, Any]) -> dict[str, Any]:
    """Lambda's reply to an invocation whose function failed."""
    payload = io.BytesIO(json.dumps(error).encode())
    return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload}


def _not_found(name: str) -> ClientError:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    message = f"Function not found: {arn}"
    return ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": message}}, "Invoke"
    )


class _VirtualTime:
    """A handler module's ``time``: ``sleep`` takes the virtual time of the call in progress,
    everything else is the real module's."""

    def __init__(self) -> None:
        self.context: FunctionContext | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        """Sleep on the virtual clock of the call in progress."""
        if self.context is None:
            raise DriverError("time.sleep outside a call of the function")
        self.context.sleep(seconds)

    @contextmanager
    def during(self, context: FunctionContext) -> Iterator[None]:
        """Sleeps of the module take ``context``'s time while the block runs."""
        self.context = context
        try:
            yield
        finally:
            self.context = None


_loads = itertools.count()


def load_handler(path: Path, name: str = "handler") -> Function:
    """The ``handler(event, context)`` of a Python file, as a function for :class:`Driver`.

    Each call loads a fresh module, so state a function keeps between calls starts empty. The
    module's ``time.sleep`` (imported as ``import time`` or ``from time import sleep``) takes
    virtual time: a handler that sleeps answers at once, its sleeps counted as its duration.
    """
    spec = importlib.util.spec_from_file_location(f"_driver_fn_{next(_loads)}", path)
    if spec is None or spec.loader is None:
        raise DriverError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not in sys.modules: every load is a module of its own
    clock = _VirtualTime()
    if vars(module).get("time") is time:
        module.time = clock  # type: ignore[attr-defined]
    if vars(module).get("sleep") is time.sleep:
        module.sleep = clock.sleep  # type: ignore[attr-defined]
    handler: Function = getattr(module, name)

    def function(event: Any, context: FunctionContext) -> Any:
        with clock.during(context):
            return handler(event, context)

    return function


def load_handlers(folder: Path) -> dict[str, Function]:
    """Every ``<function id>.py`` of a folder, loaded fresh (:func:`load_handler`)."""
    return {path.stem: load_handler(path) for path in sorted(folder.glob("*.py"))}
