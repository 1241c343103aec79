"""ExecutionService.Stop and Terminate (each deployed as its own function); Pause and Resume
(Stepline's custom methods ``…/execution/{executionId}:pause``, ``:resume`` and ``:redrive``)
on Stop's."""

from typing import Any

from stepline.api.http import custom_verb, logger, make_app, make_handler, principal
from stepline.service import executions, pausing, redrive
from stepline.service.deps import services

app = make_app()
PAUSE, RESUME, REDRIVE = "pause", "resume", "redrive"


@app.post("/workflows/v1/execution/<executionId>/stop")
def stop(executionId: str) -> dict[str, Any]:
    logger.append_keys(execution_id=executionId)
    return executions.stop(services(), executionId, terminate=False, principal=principal(app))


@app.post("/workflows/v1/execution/<executionId>/terminate")
def terminate(executionId: str) -> dict[str, Any]:
    logger.append_keys(execution_id=executionId)
    return executions.stop(services(), executionId, terminate=True, principal=principal(app))


@app.post("/workflows/v1/execution/<executionId>")
def custom_methods(executionId: str) -> dict[str, Any]:
    execution_id, verb = custom_verb(app, executionId, PAUSE, RESUME, REDRIVE)
    logger.append_keys(execution_id=execution_id)
    change = {PAUSE: pausing.pause, RESUME: pausing.resume, REDRIVE: redrive.redrive}[verb]
    return change(services(), execution_id, principal=principal(app))


lambda_handler = make_handler(app)
