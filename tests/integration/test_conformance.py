"""Responses parse strictly with the public Workflows protobuf definitions; requests a
protobuf client writes are accepted."""

from __future__ import annotations

import json

from google.protobuf import empty_pb2, json_format
from google.protobuf.message import Message
from yandex.cloud.operation import operation_pb2
from yandex.cloud.serverless.workflows.v1 import (
    execution_pb2,
    execution_service_pb2,
    workflow_pb2,
    workflow_service_pb2,
)

from tests.integration.conftest import SPEC, Api

assert empty_pb2.Empty  # registers google.protobuf.Empty for Any (the Delete response)


def _strict(body: dict, message: type[Message]) -> Message:
    # ignore_unknown_fields=False: any field not in the public message fails the parse.
    return json_format.Parse(json.dumps(body), message(), ignore_unknown_fields=False)


def test_execution_calls_answer_with_public_messages(api: Api, parked_id: str) -> None:
    workflow_id = parked_id
    request = execution_service_pb2.StartExecutionRequest(
        workflow_id=workflow_id, input=execution_pb2.ExecutionInput(input_json='{"a": 1}')
    )
    started = api.call("start", raw_body=json_format.MessageToJson(request))
    assert started.status == 200, started.body
    execution_id = _strict(started.body, execution_service_pb2.StartExecutionResponse).execution_id

    got = api.call("get", path={"executionId": execution_id}).body
    execution = _strict(got, execution_service_pb2.GetExecutionResponse).execution
    assert execution.status in (execution_pb2.Execution.QUEUED, execution_pb2.Execution.RUNNING)
    assert execution.input.input_json == '{"a": 1}'

    history = api.call("history", path={"executionId": execution_id}).body
    _strict(history, execution_service_pb2.GetExecutionHistoryResponse)

    listed = api.call("list", query={"workflowId": workflow_id, "pageSize": "1"}).body
    page = _strict(listed, execution_service_pb2.ListExecutionsResponse)
    assert page.executions[0].id == execution_id

    stopped = api.call("stop", path={"executionId": execution_id}).body
    _strict(stopped, execution_service_pb2.StopExecutionResponse)
    terminated = api.call("terminate", path={"executionId": execution_id}).body
    _strict(terminated, execution_service_pb2.TerminateExecutionResponse)


def test_workflow_calls_answer_with_public_messages(api: Api, folder: str) -> None:
    request = workflow_service_pb2.CreateWorkflowRequest(
        folder_id=folder,
        name="orders",
        description="Order processing",
        labels={"team": "payments"},
        specification=workflow_pb2.WorkflowSpecification(spec_yaml=SPEC),
        log_options=workflow_pb2.LogOptions(min_level=3),
        schedule=workflow_pb2.WorkflowSchedule(cron_expression="0 9 * * ? *", timezone="UTC"),
    )
    created = api.call("workflow_create", raw_body=json_format.MessageToJson(request))
    assert created.status == 200, created.body
    operation = _strict(created.body, operation_pb2.Operation)
    metadata = workflow_service_pb2.CreateWorkflowMetadata()
    assert operation.metadata.Unpack(metadata)
    workflow = workflow_pb2.Workflow()
    assert operation.response.Unpack(workflow)
    assert workflow.schedule.cron_expression == "0 9 * * ? *"

    got = api.call("workflow_get", path={"workflowId": metadata.workflow_id}).body
    assert _strict(got, workflow_service_pb2.GetWorkflowResponse).workflow.name == "orders"

    update = workflow_service_pb2.UpdateWorkflowRequest(description="changed")
    update.update_mask.paths.append("description")
    updated = api.call(
        "workflow_update",
        path={"workflowId": metadata.workflow_id},
        raw_body=json_format.MessageToJson(update),
    )
    assert updated.status == 200, updated.body
    _strict(updated.body, operation_pb2.Operation)

    listed = api.call("workflow_list", query={"folderId": folder}).body
    _strict(listed, workflow_service_pb2.ListWorkflowsResponse)

    deleted = api.call("workflow_delete", path={"workflowId": metadata.workflow_id}).body
    _strict(deleted, operation_pb2.Operation)


def test_errors_have_the_public_error_shape(api: Api) -> None:
    from google.rpc import status_pb2

    reply = api.call("workflow_get", path={"workflowId": "swnosuchworkflow00000"})
    assert _strict(reply.body, status_pb2.Status).code == 5
