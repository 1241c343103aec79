"""ExecutionService.Start: ``POST /workflows/v1/execution/start`` and start by link."""

from aws_lambda_powertools.metrics import MetricUnit

from stepline.api.http import (
    body_text,
    caller,
    header,
    logger,
    make_app,
    make_handler,
    metrics,
    parse_body,
    principal,
)
from stepline.models import StartExecutionRequest
from stepline.service import executions, triggers
from stepline.service.deps import services

app = make_app()


def _started(command: executions.StartCommand) -> dict[str, str]:
    execution_id = executions.start(services(), command)
    logger.append_keys(execution_id=execution_id)
    metrics.add_metric(name="ExecutionsStarted", unit=MetricUnit.Count, value=1)
    return {"executionId": execution_id}


@app.post("/workflows/v1/execution/start")
def start() -> dict[str, str]:
    request = parse_body(app, StartExecutionRequest)
    input_json = executions.input_from_request(request)
    key = header(app, "Idempotency-Key")
    command = executions.StartCommand(
        request.workflow_id, input_json, caller(app), key, principal=principal(app)
    )
    return _started(command)


@app.post("/workflows/v1/execution/<workflowId>/start")
def start_by_link(workflowId: str) -> dict[str, str]:
    # On the main API this route is AWS_IAM: the caller is in requestContext.authorizer.iam.
    # The public API serves it without an authorizer, and those requests carry no identity.
    context = app.current_event.raw_event.get("requestContext") or {}
    signed = bool((context.get("authorizer") or {}).get("iam"))
    triggers.check_public(services(), workflowId, authenticated=signed)
    input_json = executions.check_input_json(body_text(app), "body")
    key = header(app, "Idempotency-Key")
    command = executions.StartCommand(
        workflowId, input_json, caller(app), key, principal=principal(app)
    )
    return _started(command)


lambda_handler = make_handler(app)
