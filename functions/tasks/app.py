"""waitForTask answers (a Stepline extension): sendTaskSuccess, sendTaskFailure and
sendTaskHeartbeat, each ``POST /workflows/v1/execution:<method>`` with the task token."""

from typing import Any

from stepline.api.http import make_app, make_handler, parse_body, principal
from stepline.models import SendTaskFailureRequest, SendTaskHeartbeatRequest, SendTaskSuccessRequest
from stepline.service import tasks
from stepline.service.deps import services

app = make_app()


@app.post("/workflows/v1/execution:sendTaskSuccess")
def send_success() -> dict[str, Any]:
    request = parse_body(app, SendTaskSuccessRequest)
    tasks.send_success(services(), request.task_token, request.output_json, principal(app))
    return {}


@app.post("/workflows/v1/execution:sendTaskFailure")
def send_failure() -> dict[str, Any]:
    request = parse_body(app, SendTaskFailureRequest)
    tasks.send_failure(
        services(), request.task_token, request.error_code, request.message, principal(app)
    )
    return {}


@app.post("/workflows/v1/execution:sendTaskHeartbeat")
def send_heartbeat() -> dict[str, Any]:
    request = parse_body(app, SendTaskHeartbeatRequest)
    tasks.send_heartbeat(services(), request.task_token, principal(app))
    return {}


lambda_handler = make_handler(app)
