"""A typed Python client of Stepline's HTTP API, sync and async.

```python
from stepline.client import Client

with Client() as stepline:  # $STEPLINE_ENDPOINT, else the dev stack on 127.0.0.1:8080
    workflow = stepline.create_workflow("hello", open("hello.yaml").read())
    run = stepline.run(workflow.id, {"name": "Ada"}, idempotency_key="order-42")
    print(run.status, run.result.result_json if run.result else run.error)
```

Answers are the API's response models; failures raise the project's errors
(:mod:`stepline.errors`), each with its gRPC ``code``. docs/client.md has the whole tour.
"""

from stepline.client.auth import DEFAULT_ENDPOINT, ENDPOINT_VARIABLE, SigV4
from stepline.client.calls import Call, Page
from stepline.client.clients import AsyncClient, Client, WaitTimeout

__all__ = [
    "DEFAULT_ENDPOINT",
    "ENDPOINT_VARIABLE",
    "AsyncClient",
    "Call",
    "Client",
    "Page",
    "SigV4",
    "WaitTimeout",
]
