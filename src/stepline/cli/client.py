"""A small client of the public HTTP API (ExecutionService and WorkflowService)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from stepline.client.auth import DEFAULT_ENDPOINT, SigV4
from stepline.client.calls import GATEWAY_CODES
from stepline.errors import Code

API_PREFIX = "/workflows/v1"
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
    """One method per API call; answers are the API's JSON, failures raise :class:`ApiError`."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        profile: str | None = None,
        region: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        auth = SigV4(self.endpoint, profile=profile, region=region)
        self._http = httpx.Client(
            base_url=self.endpoint + API_PREFIX, timeout=TIMEOUT, auth=auth, transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its JSON answer."""
        query = {k: v for k, v in (params or {}).items() if v}
        try:
            response = self._http.request(method, path, params=query, json=body)
        except httpx.ConnectError as exc:
            raise Unreachable(self.endpoint, _reason(exc)) from exc
        except httpx.TransportError as exc:
            raise ApiError(Code.UNAVAILABLE, f"cannot reach {self.endpoint}: {exc}") from exc
        return answer(response)

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

    def start(self, workflow_id: str, input_json: str) -> str:
        """ExecutionService.Start; returns the execution id."""
        body = {"workflowId": workflow_id, "input": {"inputJson": input_json}}
        return str(self.call("POST", "/execution/start", body=body)["executionId"])

    def stop(self, execution_id: str) -> str:
        """ExecutionService.Stop; returns the execution id."""
        return str(self.call("POST", f"/execution/{execution_id}/stop")["executionId"])

    def terminate(self, execution_id: str) -> str:
        """ExecutionService.Terminate; returns the execution id."""
        return str(self.call("POST", f"/execution/{execution_id}/terminate")["executionId"])

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


def _reason(exc: httpx.ConnectError) -> str:
    """Why a connection failed, in a few words (``connection refused``)."""
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return text.split("] ", 1)[-1] or type(exc).__name__


def answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a success; an :class:`ApiError` built from anything else."""
    try:
        data = response.json()
    except json.JSONDecodeError:
        data = None
    if response.is_success and isinstance(data, dict):
        return data
    if isinstance(data, dict) and "code" in data:
        message = str(data.get("message", ""))
        raise ApiError(int(data["code"]), message, http_status=response.status_code)
    # Not the API's error shape: API Gateway itself answered (403 on a bad signature, 5xx).
    text = data.get("message") if isinstance(data, dict) else response.text.strip()
    code = GATEWAY_CODES.get(response.status_code, Code.UNKNOWN)
    message = f"HTTP {response.status_code}: {text or response.reason_phrase}"
    raise ApiError(code, message, http_status=response.status_code)
