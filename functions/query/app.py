"""ExecutionService.Get, GetHistory and List (each deployed as its own function)."""

from typing import Any

from stepline.api import queries
from stepline.api.http import logger, make_app, make_handler, principal, query
from stepline.service.deps import services

app = make_app()


@app.get("/workflows/v1/execution/<executionId>")
def get(executionId: str) -> dict[str, Any]:
    logger.append_keys(execution_id=executionId)
    return queries.get(services(), executionId, principal=principal(app))


@app.get("/workflows/v1/execution/<executionId>/history")
def history(executionId: str) -> dict[str, Any]:
    logger.append_keys(execution_id=executionId)
    size, token = query(app, "pageSize"), query(app, "pageToken")
    return queries.history(
        services(), executionId, size=size, token=token, principal=principal(app)
    )


@app.get("/workflows/v1/execution")
def list_() -> dict[str, Any]:
    return queries.list_executions(
        services(),
        query(app, "workflowId"),
        size=query(app, "pageSize"),
        token=query(app, "pageToken"),
        filter_text=query(app, "filter"),
        principal=principal(app),
    )


lambda_handler = make_handler(app)
