"""ExecutionService.Stop and Terminate (each deployed as its own function)."""

from typing import Any

from stepline.api.http import logger, make_app, make_handler
from stepline.service import executions
from stepline.service.deps import services

app = make_app()


@app.post("/workflows/v1/execution/<executionId>/stop")
def stop(executionId: str) -> dict[str, Any]:
    logger.append_keys(execution_id=executionId)
    return executions.stop(services(), executionId, terminate=False)


@app.post("/workflows/v1/execution/<executionId>/terminate")
def terminate(executionId: str) -> dict[str, Any]:
    logger.append_keys(execution_id=executionId)
    return executions.stop(services(), executionId, terminate=True)


lambda_handler = make_handler(app)
