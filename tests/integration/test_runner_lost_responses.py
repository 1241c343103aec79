"""Writes that land but whose response is lost: botocore retries them, the retry fails its own
condition, and the store must know the first attempt for its own (write tokens)."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError
from botocore.httpsession import URLLib3Session

from stepline.api import queries
from stepline.models import CreateWorkflowRequest
from stepline.service import executions, operations, workflows
from stepline.service.deps import Services
from stepline.testing import drive

GOLDEN = Path(__file__).parents[1] / "golden"
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")


@dataclass
class LostResponses:
    """Sends each DynamoDB write for real, then answers as if the connection dropped.

    The first attempt of every write lands; botocore sees a closed connection and retries.
    """

    lost: int = 0
    _seen: set[bytes] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: URLLib3Session = field(default_factory=URLLib3Session)

    def __call__(self, request: Any, **_: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        if not target.endswith(WRITES):
            return None
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        with self._lock:
            if body in self._seen:
                return None  # the retry: let it through
            self._seen.add(body)
            self.lost += 1
        self._http.send(request)  # the write lands...
        raise ConnectionClosedError(endpoint_url=request.url)  # ...and its answer is lost


@pytest.fixture
def lossy(svc: Services) -> tuple[Services, LostResponses]:
    """The runner's services whose DynamoDB writes all lose their first response."""
    return _lossy(svc)


def _lossy(svc: Services) -> tuple[Services, LostResponses]:
    fault = LostResponses()
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            made = svc.core_client(service)  # the runner's own: its table, queue, bucket
            if service == "dynamodb":
                import boto3

                made = boto3.client(
                    "dynamodb",
                    endpoint_url=made.meta.endpoint_url,
                    region_name="us-east-1",
                    **_credentials(made),
                )
                made.meta.events.register("before-send.dynamodb.*", fault)
            clients[service] = made
        return clients[service]

    return Services(svc.settings, svc.client_factory, core_client_factory=client), fault


def _credentials(client: Any) -> dict[str, str]:
    frozen = client._request_signer._credentials.get_frozen_credentials()
    return {
        "aws_access_key_id": frozen.access_key,
        "aws_secret_access_key": frozen.secret_key,
        "aws_session_token": frozen.token,
    }


def _summary(svc: Services, execution_id: str) -> dict[str, Any]:
    got = queries.get(svc, execution_id)["execution"]
    history = queries.history(svc, execution_id, size=None, token=None)["entries"]
    return {
        "status": got["status"],
        "result": got.get("result"),
        "error": got.get("error"),
        "history": [(e["id"], e["status"], e.get("attempts")) for e in history],
    }


def _run(setup: Services, svc: Services, case: str) -> dict[str, Any]:
    request = CreateWorkflowRequest.model_validate(
        {
            "folderId": "l" + uuid.uuid4().hex[:10],
            "name": case,
            "specification": {"specYaml": (GOLDEN / f"{case}.yaml").read_text()},
        }
    )
    created = workflows.create(setup, request, caller="test")
    data = json.loads((GOLDEN / f"{case}.input.json").read_text())
    if isinstance(data, dict) and "key" in data:
        data["key"] = f"{data['key']}-{uuid.uuid4().hex[:6]}"
    command = executions.StartCommand(created.resource_id, json.dumps(data), "test")
    execution_id = executions.start(svc, command)
    drive.run_to_end(svc, execution_id)
    return _summary(setup, execution_id)


@pytest.mark.parametrize("case", ["chain", "fanout", "loop", "wait", "catch", "fail"])
def test_every_execution_ends_as_a_clean_run_does_when_write_responses_are_lost(
    svc: Services, lossy: tuple[Services, LostResponses], case: str
) -> None:
    faulty, fault = lossy
    clean = _run(svc, svc, case)

    assert _run(svc, faulty, case) == clean
    assert fault.lost >= 3  # the head, the log, the end: each landed once with its answer lost


def test_workflow_writes_whose_answers_are_lost_still_succeed_once(admin: Services) -> None:
    from stepline.models import UpdateWorkflowRequest

    faulty, fault = _lossy(admin)
    spec = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"
    request = CreateWorkflowRequest.model_validate(
        {
            "folderId": "lost-" + uuid.uuid4().hex[:8],
            "name": "w",
            "specification": {"specYaml": spec},
        }
    )
    created = workflows.create(faulty, request, caller="test")
    workflow_id = created.resource_id
    change = UpdateWorkflowRequest.model_validate({"description": "d", "updateMask": "description"})
    updated = workflows.update(faulty, workflow_id, change, caller="test")
    assert updated.workflow.description == "d"
    deleted = workflows.delete(faulty, workflow_id, caller="test")

    assert admin.workflows.get(workflow_id) is None
    assert fault.lost == 3
    stored = admin.operations.list_page(
        "workflow", workflow_id, created=None, limit=10, start_key=None
    ).items
    answered = [created.id, updated.id, deleted.id]
    assert [item["id"] for item in stored] == answered  # each stored once, as answered
    assert all(operations.get(admin, o).id == o for o in answered)


def test_access_changes_whose_answers_are_lost_store_their_operation_once(
    admin: Services,
) -> None:
    from stepline.access import Role
    from stepline.models import SetAccessBindingsRequest
    from stepline.service import bindings

    faulty, fault = _lossy(admin)
    folder = "lost-" + uuid.uuid4().hex[:8]
    request = SetAccessBindingsRequest.model_validate(
        {
            "accessBindings": [
                {
                    "roleId": Role.VIEWER.id,
                    "subject": {"id": "allAuthenticatedUsers", "type": "system"},
                }
            ]
        }
    )
    target = bindings.Target.folder(folder)
    answered = bindings.set_bindings(faulty, target, request, principal=None, caller="test")

    assert fault.lost == 1
    assert operations.get(admin, answered.id).resource_id == folder
    stored = admin.operations.list_page("folder", folder, created=None, limit=10, start_key=None)
    assert [item["id"] for item in stored.items] == [answered.id]
