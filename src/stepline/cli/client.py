"""A small client of the public HTTP API (ExecutionService and WorkflowService)."""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx

from stepline.client import Client as ApiClient
from stepline.client.auth import DEFAULT_ENDPOINT
from stepline.client.calls import Call, failure
from stepline.errors import Code, SteplineError
from stepline.times import parse_timestamp

API_PREFIX = "/workflows/v1"
IDEMPOTENCY_KEY = "Idempotency-Key"
RETRIES = 2
"""Reads (and keyed Starts) are sent again this often when AWS throttles or is unavailable."""
DEFAULT_PAGE = 100
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ApiError(Exception):
    """An error answered by the API (``{code, message}``) or met on the way to it."""

    def __init__(self, code: int, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = int(code)
        self.message = message
        self.http_status = http_status

    @property
    def code_name(self) -> str:
        """The gRPC code name, e.g. ``NOT_FOUND``."""
        try:
            return Code(self.code).name
        except ValueError:
            return str(self.code)

    def __str__(self) -> str:
        return f"{self.code_name} ({self.code}): {self.message}"


class Unreachable(ApiError):
    """Nothing answered at the endpoint (refused, no such host, timed out connecting)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(Code.UNAVAILABLE, f"cannot reach {endpoint}: {reason}")
        self.endpoint = endpoint
        self.reason = reason


class Client:
    """One method per API call; answers are the API's JSON, failures raise :class:`ApiError`.

    The requests go through :class:`stepline.client.Client` (its signing, its reading of
    errors, its retries of what is safe to repeat); the CLI keeps the API's JSON as it came,
    since that is what it prints.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        profile: str | None = None,
        region: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retries: int = RETRIES,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.api = ApiClient(
            self.endpoint,
            profile=profile,
            region=region,
            transport=transport,
            retries=retries,
            timeout=TIMEOUT,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.api.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request (``path`` under ``/workflows/v1``) and return its JSON answer."""
        query = {k: v for k, v in (params or {}).items() if v}
        request = Call(
            method,
            API_PREFIX + path,
            _json_object,
            params=query,
            body=body,
            headers=headers or {},
            repeatable=method == "GET" or bool(headers and IDEMPOTENCY_KEY in headers),
        )
        try:
            return self.api.send(request)
        except SteplineError as exc:
            cause = exc.__cause__
            if isinstance(cause, httpx.ConnectError):
                raise Unreachable(self.endpoint, _reason(cause)) from cause
            if isinstance(cause, httpx.TransportError):
                message = f"cannot reach {self.endpoint}: {cause}"
                raise ApiError(Code.UNAVAILABLE, message) from cause
            status = getattr(exc, "http_status", None)
            raise ApiError(int(exc.code), exc.message, http_status=status) from exc

    # --- workflows ---------------------------------------------------------------------

    def create_workflow(self, body: dict[str, Any]) -> dict[str, Any]:
        """WorkflowService.Create; returns the finished Operation."""
        return self.call("POST", "/workflow", body=body)

    def update_workflow(self, workflow_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """WorkflowService.Update; returns the finished Operation."""
        return self.call("PATCH", f"/workflow/{workflow_id}", body=body)

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        """WorkflowService.Get: the Workflow."""
        return dict(self.call("GET", f"/workflow/{workflow_id}")["workflow"])

    def delete_workflow(self, workflow_id: str) -> dict[str, Any]:
        """WorkflowService.Delete; returns the finished Operation."""
        return self.call("DELETE", f"/workflow/{workflow_id}")

    def list_workflows(
        self, folder_id: str, *, filter_text: str = "", page_size: int = 0, follow: bool = False
    ) -> Iterator[dict[str, Any]]:
        """WorkflowPreviews of a folder: one page, or every page when ``follow``."""
        params = {"folderId": folder_id, "filter": filter_text}
        return self._pages("/workflow", "workflows", params, page_size, follow)

    # --- executions --------------------------------------------------------------------

    def start(
        self, workflow_id: str, input_json: str, *, idempotency_key: str | None = None
    ) -> str:
        """ExecutionService.Start; returns the execution id (the same one for a key already
        used with this input)."""
        body = {"workflowId": workflow_id, "input": {"inputJson": input_json}}
        headers = {IDEMPOTENCY_KEY: idempotency_key} if idempotency_key else None
        return str(self.call("POST", "/execution/start", body=body, headers=headers)["executionId"])

    def stop(self, execution_id: str) -> str:
        """ExecutionService.Stop; returns the execution id."""
        return str(self.call("POST", f"/execution/{execution_id}/stop")["executionId"])

    def terminate(self, execution_id: str) -> str:
        """ExecutionService.Terminate; returns the execution id."""
        return str(self.call("POST", f"/execution/{execution_id}/terminate")["executionId"])

    def pause(self, execution_id: str) -> str:
        """Pause (a Stepline extension); returns the execution id."""
        return str(self.call("POST", f"/execution/{execution_id}:pause")["executionId"])

    def resume(self, execution_id: str) -> str:
        """Resume (a Stepline extension); returns the execution id."""
        return str(self.call("POST", f"/execution/{execution_id}:resume")["executionId"])

    def redrive(self, execution_id: str) -> dict[str, Any]:
        """Redrive (a Stepline extension): ``executionId`` and ``redriveCount``."""
        return dict(self.call("POST", f"/execution/{execution_id}:redrive"))

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        """ExecutionService.Get: the Execution."""
        return dict(self.call("GET", f"/execution/{execution_id}")["execution"])

    def history(self, execution_id: str) -> dict[str, Any]:
        """ExecutionService.GetHistory: ``{execution, entries}`` with every entry (a response
        holding large steps ends early with a page token: the pages are followed)."""
        path = f"/execution/{execution_id}/history"
        body = self.call("GET", path)
        entries = list(body.get("entries") or [])
        while token := body.get("nextPageToken"):
            body = self.call("GET", path, params={"pageToken": token})
            entries.extend(body.get("entries") or [])
        return {"execution": body.get("execution"), "entries": entries}

    def list_executions(
        self, workflow_id: str, *, filter_text: str = "", page_size: int = 0, follow: bool = False
    ) -> Iterator[dict[str, Any]]:
        """ExecutionPreviews of a workflow, newest first: one page, or every page."""
        params = {"workflowId": workflow_id, "filter": filter_text}
        return self._pages("/execution", "executions", params, page_size, follow)

    def folder_executions(
        self, folder_id: str, *, filter_text: str = "", page_size: int = 0, follow: bool = False
    ) -> Iterator[dict[str, Any]]:
        """ExecutionPreviews of every workflow of a folder, merged newest first: the newest
        page's worth (``page_size``, else 100), or all of them when ``follow``."""
        merged = heapq.merge(
            *(
                self.list_executions(
                    w["id"], filter_text=filter_text, page_size=page_size, follow=follow
                )
                for w in self.list_workflows(folder_id, follow=True)
            ),
            key=_started,
            reverse=True,
        )
        return merged if follow else itertools.islice(merged, page_size or DEFAULT_PAGE)

    def _pages(
        self, path: str, key: str, params: dict[str, str], page_size: int, follow: bool
    ) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            query = params | {"pageSize": str(page_size) if page_size else "", "pageToken": token}
            page = self.call("GET", path, params=query)
            yield from page.get(key) or []
            token = page.get("nextPageToken") or ""
            if not follow or not token:
                return


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(Code.UNKNOWN, "the API answered with something other than a JSON object")
    return body


def _started(preview: dict[str, Any]) -> float:
    return parse_timestamp(str(preview.get("startedAt", "")), "startedAt").timestamp()


def _reason(exc: httpx.ConnectError) -> str:
    """Why a connection failed, in a few words (``connection refused``)."""
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return text.split("] ", 1)[-1] or type(exc).__name__


def answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a success; an :class:`ApiError` built from anything else (the API's
    ``{code, message}``, or what API Gateway answers itself, read by its HTTP status)."""
    if response.is_success:
        try:
            data = response.json()
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            return data
    error = failure(response)
    raise ApiError(int(error.code), error.message, http_status=response.status_code)
