"""ExecutionService.Stop and Terminate (each deployed as its own function)."""

from typing import Any

from stepline.api.http import logger, make_app, make_handler, principal
from stepline.service import executions
from stepline.service.deps import services

app = make_app()


@app.post("/workflows/v1/execution/<executionId>/stop")
def stop(executionId: str) -> dict[str, Any]:
    logger.append_keys(execution_id=executionId)
    return executions.stop(services(), executionId, terminate=False, principal=principal(app))


@app.post("/workflows/v1/execution/<executionId>/terminate")
def terminate(executionId: str) -> dict[str, Any]:
    logger.append_keys(execution_id=executionId)
    return executions.stop(services(), executionId, terminate=True, principal=principal(app))


lambda_handler = make_handler(app)
