"""The sync and the async client: every REST call as a typed method, page iterators, a
waiter, retries of what is safe to repeat."""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any, Final, TypeVar

import httpx

from stepline.api import openapi as replies
from stepline.client import calls
from stepline.client.auth import SigV4, resolve_endpoint
from stepline.client.calls import RETRIED, Call, Page
from stepline.errors import Code, SteplineError, Unavailable
from stepline.statuses import ENDED

T = TypeVar("T")
TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
RETRIES: Final = 3
MAX_RETRY_DELAY: Final = 20.0
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left: sending it again is always safe."""


class WaitTimeout(SteplineError, TimeoutError):
    """:meth:`Client.wait` gave up: the execution had not ended by the deadline."""

    code = Code.DEADLINE_EXCEEDED

    def __init__(self, execution: replies.Execution, timeout: float) -> None:
        super().__init__(
            f"execution {execution.id} is still {execution.status} after {timeout:g} s"
        )
        self.execution = execution


def _unreachable(endpoint: str, exc: Exception) -> Unavailable:
    return Unavailable(
        f"cannot reach the Stepline API at {endpoint} ({type(exc).__name__}): start the dev "
        "stack with `make dev`, or point STEPLINE_ENDPOINT (or endpoint=) at a deployed stack"
    )


def _workflow_fields(**fields: Any) -> dict[str, Any]:
    """Keyword arguments → the API's camelCase fields (``spec_yaml`` → ``specification``)."""
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name == "spec_yaml":
            body["specification"] = {"specYaml": value}
            continue
        head, *rest = name.split("_")
        body[head + "".join(p.title() for p in rest)] = value
    return body


def _delay(attempt: int, error: SteplineError | None) -> float:
    after = getattr(error, "retry_after", None)
    if after is not None:
        return float(min(after, MAX_RETRY_DELAY))
    return float(min(MAX_RETRY_DELAY, 0.2 * 2**attempt) * random.uniform(0.5, 1.0))


def _started(preview: replies.ExecutionPreview) -> float:
    """When the execution started, as epoch seconds (timestamps may or may not carry a
    fraction, so their text does not sort as time does)."""
    return datetime.fromisoformat(preview.started_at.replace("Z", "+00:00")).timestamp()


class _Base:
    """What both clients hold: the endpoint, the signer, the retry budget."""

    def __init__(
        self,
        endpoint: str | None,
        *,
        profile: str | None,
        region: str | None,
        credentials: Any,
        retries: int,
    ) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self.auth = SigV4(self.endpoint, profile=profile, region=region, credentials=credentials)
        self.retries = retries

    def _request(self, call: Call[Any]) -> dict[str, Any]:
        return {
            "method": call.method,
            "url": call.path,
            "params": call.params or None,
            "json": call.body,
            "headers": call.headers or None,
        }

    def _outcome(self, call: Call[T], response: httpx.Response) -> T:
        if response.is_success:
            return call.read(response.json() if response.content else {})
        raise calls.failure(response)

    def _again(self, call: Call[Any], attempt: int, exc: Exception) -> bool:
        if attempt >= self.retries:
            return False
        if isinstance(exc, _NOT_SENT):
            return True
        if isinstance(exc, httpx.TransportError):
            return call.repeatable
        return isinstance(exc, SteplineError) and exc.code in RETRIED and call.repeatable


class Client(_Base):
    """A client of a Stepline HTTP API: the dev stack's (``$STEPLINE_ENDPOINT``, else
    ``http://127.0.0.1:8080``) or a deployed one, signed with SigV4.

    Every method raises the project's errors (:mod:`stepline.errors`: ``NotFound``,
    ``InvalidArgument``, … each with its gRPC ``code`` and the API's ``message``); calls that
    are safe to repeat are sent again, up to ``retries`` times, when AWS throttles or the
    connection fails. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        profile: str | None = None,
        region: str | None = None,
        credentials: Any = None,
        retries: int = RETRIES,
        timeout: httpx.Timeout | float = TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            endpoint, profile=profile, region=region, credentials=credentials, retries=retries
        )
        self._http = httpx.Client(
            base_url=self.endpoint, timeout=timeout, auth=self.auth, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send one call (again, while it is safe and worth it) and read its answer."""
        attempt = 0
        while True:
            try:
                response = self._http.request(**self._request(call))
                return self._outcome(call, response)
            except (httpx.TransportError, SteplineError) as exc:
                if not self._again(call, attempt, exc):
                    if isinstance(exc, httpx.TransportError):
                        raise _unreachable(self.endpoint, exc) from exc
                    raise
                time.sleep(_delay(attempt, exc if isinstance(exc, SteplineError) else None))
                attempt += 1

    def _pages(self, page: Callable[[str | None], Call[Page[T]]]) -> Iterator[T]:
        token: str | None = None
        while True:
            got = self.send(page(token))
            yield from got.items
            if not got.next_page_token:
                return
            token = got.next_page_token

    # --- executions ---

    def start(
        self,
        workflow_id: str,
        input: Any = None,
        *,
        input_json: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Start an execution of the workflow with ``input`` (any JSON value, or the JSON text
        ``input_json``); returns its id. With ``idempotency_key``, starting again with the same
        key and input answers the same execution (and the call is safe to retry)."""
        text = input_json if input_json is not None else calls.input_json(input)
        return self.send(calls.start(workflow_id, text, idempotency_key=idempotency_key))

    def get(self, execution_id: str) -> replies.Execution:
        """The execution."""
        return self.send(calls.get(execution_id))

    def stop(self, execution_id: str) -> None:
        """Ask the execution to stop after its running step (FAILED_PRECONDITION once ended)."""
        self.send(calls.stop(execution_id))

    def terminate(self, execution_id: str) -> None:
        """Stop the execution at once, cancelling its running step."""
        self.send(calls.stop(execution_id, terminate=True))

    def pause(self, execution_id: str) -> None:
        """Pause after the running step (Stepline extension): no new step starts, timers keep
        their due time; pausing a paused execution succeeds."""
        self.send(calls.pause(execution_id))

    def resume(self, execution_id: str) -> None:
        """Resume a paused execution (an overdue timer fires at once)."""
        self.send(calls.pause(execution_id, resume=True))

    def redrive(self, execution_id: str) -> int:
        """Redrive a FAILED or STOPPED execution (Stepline extension): the steps that failed or
        did not finish run again, the rest keep their results; returns its redrive count.
        FAILED_PRECONDITION when it finished or has not ended."""
        return self.send(calls.redrive(execution_id))

    def send_task_success(self, task_token: str, output: Any = None) -> None:
        """Answer a waitForTask step with its output (any JSON value)."""
        body = {"taskToken": task_token, "outputJson": calls.input_json(output)}
        self.send(calls.send_task("sendTaskSuccess", body))

    def send_task_failure(self, task_token: str, error_code: str, message: str = "") -> None:
        """Fail a waitForTask step with a YaWL error code (its catch rules see it)."""
        body = {"taskToken": task_token, "errorCode": error_code, "message": message}
        self.send(calls.send_task("sendTaskFailure", body))

    def send_task_heartbeat(self, task_token: str) -> None:
        """Tell a waitForTask step with a heartbeat timeout that the work goes on."""
        self.send(calls.send_task("sendTaskHeartbeat", {"taskToken": task_token}))

    def wait(
        self, execution_id: str, *, timeout: float = 300.0, interval: float = 0.2
    ) -> replies.Execution:
        """Poll until the execution has ended (FINISHED, FAILED or STOPPED) and return it;
        :class:`WaitTimeout` (a ``TimeoutError``) after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            execution = self.get(execution_id)
            if execution.status in ENDED:
                return execution
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(execution, timeout)
            time.sleep(min(interval, left))
            interval = min(interval * 1.5, 2.0)

    def run(self, workflow_id: str, input: Any = None, **kwargs: Any) -> replies.Execution:
        """Start an execution and wait for its end (``wait``'s ``timeout`` may be given)."""
        timeout = kwargs.pop("timeout", 300.0)
        return self.wait(self.start(workflow_id, input, **kwargs), timeout=timeout)

    def history(
        self, execution_id: str, *, page_size: int | None = None
    ) -> Iterator[replies.HistoryEntry]:
        """The execution's history entries, oldest first, following page tokens."""
        return self._pages(
            lambda token: calls.history_page(execution_id, page_size=page_size, token=token)
        )

    def list_executions(
        self,
        workflow_id: str | None = None,
        *,
        folder_id: str | None = None,
        filter: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[replies.ExecutionPreview]:
        """Executions newest first, following page tokens: one workflow's, or (without
        ``workflow_id``) those of every workflow of the folder, merged."""
        if workflow_id is not None:
            return self._pages(
                lambda token: calls.executions_page(
                    workflow_id, filter_text=filter, page_size=page_size, token=token
                )
            )
        each = [
            self.list_executions(w.id, filter=filter, page_size=page_size)
            for w in self.list_workflows(folder_id)
        ]
        return heapq.merge(*each, key=_started, reverse=True)

    # --- workflows ---

    def create_workflow(
        self,
        name: str,
        spec_yaml: str,
        *,
        folder_id: str | None = None,
        description: str | None = None,
        labels: dict[str, str] | None = None,
        **fields: Any,
    ) -> replies.Workflow:
        """Create a workflow; returns it. Other fields (``schedule``, ``is_public``, …) may be
        given by their snake_case names."""
        body = _workflow_fields(
            name=name,
            spec_yaml=spec_yaml,
            folder_id=folder_id,
            description=description,
            labels=labels,
            **fields,
        )
        return self.send(calls.create_workflow(body))

    def get_workflow(self, workflow_id: str) -> replies.Workflow:
        """The workflow."""
        return self.send(calls.get_workflow(workflow_id))

    def update_workflow(self, workflow_id: str, **fields: Any) -> replies.Workflow:
        """Change exactly the fields given (snake_case; ``spec_yaml`` for the specification);
        returns the workflow as it is now."""
        return self.send(calls.update_workflow(workflow_id, _workflow_fields(**fields)))

    def delete_workflow(self, workflow_id: str) -> replies.Operation:
        """Delete the workflow (its running executions go on); returns the Operation."""
        return self.send(calls.delete_workflow(workflow_id))

    def list_workflows(
        self,
        folder_id: str | None = None,
        *,
        filter: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[replies.WorkflowPreview]:
        """A folder's workflows by name, following page tokens."""
        return self._pages(
            lambda token: calls.workflows_page(
                folder_id, filter_text=filter, page_size=page_size, token=token
            )
        )

    def operations(
        self, workflow_id: str, *, filter: str | None = None, page_size: int | None = None
    ) -> Iterator[replies.Operation]:
        """A workflow's operations, oldest first, following page tokens."""
        return self._pages(
            lambda token: calls.operations_page(
                workflow_id, filter_text=filter, page_size=page_size, token=token
            )
        )

    def get_operation(self, operation_id: str) -> replies.Operation:
        """One operation."""
        return self.send(calls.get_operation(operation_id))


class AsyncClient(_Base):
    """:class:`Client`, with ``async`` methods and async iterators (``async with``)."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        profile: str | None = None,
        region: str | None = None,
        credentials: Any = None,
        retries: int = RETRIES,
        timeout: httpx.Timeout | float = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            endpoint, profile=profile, region=region, credentials=credentials, retries=retries
        )
        self._http = httpx.AsyncClient(
            base_url=self.endpoint, timeout=timeout, auth=self.auth, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send one call (again, while it is safe and worth it) and read its answer."""
        attempt = 0
        while True:
            try:
                response = await self._http.request(**self._request(call))
                return self._outcome(call, response)
            except (httpx.TransportError, SteplineError) as exc:
                if not self._again(call, attempt, exc):
                    if isinstance(exc, httpx.TransportError):
                        raise _unreachable(self.endpoint, exc) from exc
                    raise
                await asyncio.sleep(
                    _delay(attempt, exc if isinstance(exc, SteplineError) else None)
                )
                attempt += 1

    async def _pages(self, page: Callable[[str | None], Call[Page[T]]]) -> AsyncIterator[T]:
        token: str | None = None
        while True:
            got = await self.send(page(token))
            for item in got.items:
                yield item
            if not got.next_page_token:
                return
            token = got.next_page_token

    async def start(
        self,
        workflow_id: str,
        input: Any = None,
        *,
        input_json: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """:meth:`Client.start`."""
        text = input_json if input_json is not None else calls.input_json(input)
        return await self.send(calls.start(workflow_id, text, idempotency_key=idempotency_key))

    async def get(self, execution_id: str) -> replies.Execution:
        """:meth:`Client.get`."""
        return await self.send(calls.get(execution_id))

    async def stop(self, execution_id: str) -> None:
        """:meth:`Client.stop`."""
        await self.send(calls.stop(execution_id))

    async def terminate(self, execution_id: str) -> None:
        """:meth:`Client.terminate`."""
        await self.send(calls.stop(execution_id, terminate=True))

    async def pause(self, execution_id: str) -> None:
        """:meth:`Client.pause`."""
        await self.send(calls.pause(execution_id))

    async def resume(self, execution_id: str) -> None:
        """:meth:`Client.resume`."""
        await self.send(calls.pause(execution_id, resume=True))

    async def redrive(self, execution_id: str) -> int:
        """:meth:`Client.redrive`."""
        return await self.send(calls.redrive(execution_id))

    async def send_task_success(self, task_token: str, output: Any = None) -> None:
        """:meth:`Client.send_task_success`."""
        body = {"taskToken": task_token, "outputJson": calls.input_json(output)}
        await self.send(calls.send_task("sendTaskSuccess", body))

    async def send_task_failure(self, task_token: str, error_code: str, message: str = "") -> None:
        """:meth:`Client.send_task_failure`."""
        body = {"taskToken": task_token, "errorCode": error_code, "message": message}
        await self.send(calls.send_task("sendTaskFailure", body))

    async def send_task_heartbeat(self, task_token: str) -> None:
        """:meth:`Client.send_task_heartbeat`."""
        await self.send(calls.send_task("sendTaskHeartbeat", {"taskToken": task_token}))

    async def wait(
        self, execution_id: str, *, timeout: float = 300.0, interval: float = 0.2
    ) -> replies.Execution:
        """:meth:`Client.wait`."""
        deadline = time.monotonic() + timeout
        while True:
            execution = await self.get(execution_id)
            if execution.status in ENDED:
                return execution
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(execution, timeout)
            await asyncio.sleep(min(interval, left))
            interval = min(interval * 1.5, 2.0)

    async def run(self, workflow_id: str, input: Any = None, **kwargs: Any) -> replies.Execution:
        """:meth:`Client.run`."""
        timeout = kwargs.pop("timeout", 300.0)
        return await self.wait(await self.start(workflow_id, input, **kwargs), timeout=timeout)

    def history(
        self, execution_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[replies.HistoryEntry]:
        """:meth:`Client.history`."""
        return self._pages(
            lambda token: calls.history_page(execution_id, page_size=page_size, token=token)
        )

    async def list_executions(
        self,
        workflow_id: str | None = None,
        *,
        folder_id: str | None = None,
        filter: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[replies.ExecutionPreview]:
        """:meth:`Client.list_executions`."""
        if workflow_id is not None:
            one = workflow_id
            async for item in self._pages(
                lambda token: calls.executions_page(
                    one, filter_text=filter, page_size=page_size, token=token
                )
            ):
                yield item
            return
        sources = [
            self.list_executions(w.id, filter=filter, page_size=page_size).__aiter__()
            async for w in self.list_workflows(folder_id)
        ]
        heads: list[tuple[float, int, replies.ExecutionPreview]] = []
        for index, source in enumerate(sources):
            await _push(heads, index, source)
        while heads:
            _, index, item = heapq.heappop(heads)
            yield item
            await _push(heads, index, sources[index])

    async def create_workflow(
        self,
        name: str,
        spec_yaml: str,
        *,
        folder_id: str | None = None,
        description: str | None = None,
        labels: dict[str, str] | None = None,
        **fields: Any,
    ) -> replies.Workflow:
        """:meth:`Client.create_workflow`."""
        body = _workflow_fields(
            name=name,
            spec_yaml=spec_yaml,
            folder_id=folder_id,
            description=description,
            labels=labels,
            **fields,
        )
        return await self.send(calls.create_workflow(body))

    async def get_workflow(self, workflow_id: str) -> replies.Workflow:
        """:meth:`Client.get_workflow`."""
        return await self.send(calls.get_workflow(workflow_id))

    async def update_workflow(self, workflow_id: str, **fields: Any) -> replies.Workflow:
        """:meth:`Client.update_workflow`."""
        return await self.send(calls.update_workflow(workflow_id, _workflow_fields(**fields)))

    async def delete_workflow(self, workflow_id: str) -> replies.Operation:
        """:meth:`Client.delete_workflow`."""
        return await self.send(calls.delete_workflow(workflow_id))

    def list_workflows(
        self,
        folder_id: str | None = None,
        *,
        filter: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[replies.WorkflowPreview]:
        """:meth:`Client.list_workflows`."""
        return self._pages(
            lambda token: calls.workflows_page(
                folder_id, filter_text=filter, page_size=page_size, token=token
            )
        )

    def operations(
        self, workflow_id: str, *, filter: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[replies.Operation]:
        """:meth:`Client.operations`."""
        return self._pages(
            lambda token: calls.operations_page(
                workflow_id, filter_text=filter, page_size=page_size, token=token
            )
        )

    async def get_operation(self, operation_id: str) -> replies.Operation:
        """:meth:`Client.get_operation`."""
        return await self.send(calls.get_operation(operation_id))


async def _push(
    heads: list[tuple[float, int, replies.ExecutionPreview]],
    index: int,
    source: AsyncIterator[replies.ExecutionPreview],
) -> None:
    """Put the next execution of ``source`` on the heap (newest first: keys inverted)."""
    try:
        item = await source.__anext__()
    except StopAsyncIteration:
        return
    heapq.heappush(heads, (-_started(item), index, item))  # newest first
