"""Request models accept both spellings, refuse unknown fields and wrong types."""

import pytest
from pydantic import ValidationError

from stepline.api.http import describe_validation_error
from stepline.models import CreateWorkflowRequest, StartExecutionRequest, UpdateWorkflowRequest


def test_start_request_accepts_camel_and_snake_case() -> None:
    camel = StartExecutionRequest.model_validate_json(
        '{"workflowId": "w", "input": {"inputJson": "1"}}'
    )
    snake = StartExecutionRequest.model_validate_json(
        '{"workflow_id": "w", "input": {"input_json": "1"}}'
    )
    assert camel == snake


def test_validation_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        StartExecutionRequest.model_validate_json('{"workflowId": 1, "extra": true}')
    message = describe_validation_error(caught.value)
    assert "workflowId: Input should be a valid string" in message
    assert "extra: unknown field" in message


def test_malformed_json_is_reported_on_the_body() -> None:
    with pytest.raises(ValidationError) as caught:
        StartExecutionRequest.model_validate_json("{")
    assert describe_validation_error(caught.value).startswith("body: not valid JSON")


def test_create_defaults() -> None:
    request = CreateWorkflowRequest.model_validate_json(
        '{"name": "a", "specification": {"specYaml": "x"}}'
    )
    assert (request.folder_id, request.is_public, request.labels) == ("default", False, {})


def test_update_mask_accepts_both_spellings_and_refuses_unknown_fields() -> None:
    request = UpdateWorkflowRequest.model_validate_json('{"updateMask": "isPublic, log_options"}')
    assert request.requested_fields() == {"is_public", "log_options"}
    with pytest.raises(ValueError, match="unknown fields"):
        UpdateWorkflowRequest.model_validate_json('{"updateMask": "folderId"}').requested_fields()


def test_update_without_mask_means_fields_present() -> None:
    request = UpdateWorkflowRequest.model_validate_json('{"description": "x", "express": true}')
    assert request.requested_fields() == {"description", "express"}
