"""``stepline dev``: emulator, resources from template.yaml, the handlers over HTTP, examples."""

from __future__ import annotations

import itertools
import logging
import os
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stepline.dev import resources, scheduler, template
from stepline.dev.gateway import DEV_CALLER, Functions, Gateway, GatewayServer
from stepline.dev.lambdas import LambdaServer, LocalFunctions
from stepline.dev.pump import QueuePump

DEV_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "stepline-dev",
    "AWS_SECRET_ACCESS_KEY": "stepline-dev",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
DEV_RUNNER = "stepline-dev-runner"
QUIET_ENVIRONMENT = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


@dataclass
class DevStack:
    """One running dev stack; :meth:`start` returns once it accepts requests."""

    port: int = 8080
    aws_port: int = 4566
    host: str = "127.0.0.1"
    verbose: bool = False
    examples_dir: Path | None = None
    functions_dir: Path | None = None
    time_scale: float = 1.0
    runners: int = 4
    registered: dict[str, str] = field(default_factory=dict)
    _emulator: Any = None
    _server: GatewayServer | None = None
    _lambda: LambdaServer | None = None
    _pump: QueuePump | None = None
    _triggers: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Base URL of the API."""
        port = self._server.server_port if self._server else self.port
        return f"http://{self.host}:{port}"

    @property
    def aws_endpoint(self) -> str:
        """The emulated AWS endpoint, for boto3 and the AWS CLI."""
        return f"http://{self.host}:{self.aws_port}"

    def start(self) -> str:
        """Start the emulator, create resources, register examples, serve the API."""
        from moto.server import ThreadedMotoServer

        if not self.verbose:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._emulator = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self._emulator.start()
        os.environ.update(DEV_ENVIRONMENT | {"AWS_ENDPOINT_URL": self.aws_endpoint})
        import boto3

        physical = resources.provision(boto3.client)
        # Start hands new executions to the runner function by name (an asynchronous invoke);
        # here the local Lambda endpoint passes them to the runner instances the pump feeds.
        physical[resources.RUNNER] = DEV_RUNNER
        runner = template.function_route(resources.RUNNER)
        workers = [replace(runner, function=f"{runner.function}-{i}") for i in range(self.runners)]
        instances = Functions(workers)
        turn = itertools.cycle([w.function for w in workers])

        def run_direct(event: Any) -> None:
            instances.invoke(next(turn), event)

        functions_dir = self.functions_dir or template.project_root() / "examples" / "functions"
        self._lambda = LambdaServer(
            (self.host, 0), LocalFunctions(functions_dir), {DEV_RUNNER: run_direct}
        )
        threading.Thread(target=self._lambda.serve_forever, daemon=True).start()
        os.environ.update(resources.environment(physical))
        os.environ.update(scheduler.schedule_environment(boto3.client, physical))
        os.environ.update(
            {
                # FunctionCall reaches the local functions through the Lambda Invoke API.
                "AWS_ENDPOINT_URL_LAMBDA": f"http://{self.host}:{self._lambda.server_port}",
                "ALLOWED_PRIVATE_HOSTS": "*",
                "STEPLINE_TIME_SCALE": str(self.time_scale),
            }
        )
        if not self.verbose:
            os.environ.update(QUIET_ENVIRONMENT)
        from stepline.service.deps import services

        services.cache_clear()
        routes = template.routes()
        self._server = GatewayServer(
            (self.host, self.port), Gateway(routes, Functions(routes)), verbose=self.verbose
        )
        self.registered = register_examples(
            self.examples_dir or template.project_root() / "examples", self.url
        )
        self._pump = QueuePump(
            boto3.client("sqs"), physical["StepsQueue"], instances, [w.function for w in workers]
        )
        self._pump.start()
        self._start_triggers(boto3.client, physical)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    def _start_triggers(self, client_factory: Any, physical: dict[str, str]) -> None:
        """Schedules fire, rule-matched events and trigger-queue messages reach the trigger."""
        trigger = Functions([template.function_route(scheduler.TRIGGER)])

        def invoke(event: dict[str, Any]) -> Any:
            return trigger.invoke(scheduler.TRIGGER, event)

        self._triggers = [
            scheduler.DevScheduler(
                client_factory("scheduler"), scheduler.DEV_GROUP, invoke, self.time_scale
            ),
            scheduler.EventRelay(client_factory, physical, invoke),
            QueuePump(
                client_factory("sqs"), physical["TriggerQueue"], trigger, [scheduler.TRIGGER]
            ),
        ]
        for part in self._triggers:
            part.start()

    def stop(self) -> None:
        """Stop serving and shut the emulator down."""
        for part in self._triggers:
            part.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._pump:
            self._pump.stop()
        if self._lambda:
            self._lambda.shutdown()
            self._lambda.server_close()
        if self._emulator:
            self._emulator.stop()


def example_name(path: Path) -> str:
    """A workflow name from a file name: ``order_flow.yaml`` → ``order-flow``."""
    name = re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")
    return name[:63] or "example"


def register_examples(folder: Path, base_url: str) -> dict[str, str]:
    """Create a workflow per ``*.yaml`` file in ``folder``; returns name → workflow id."""
    from stepline.api.errors import ApiError
    from stepline.api.models import CreateWorkflowRequest
    from stepline.service import ids, workflows
    from stepline.service.deps import services

    registered = {}
    for path in sorted(folder.glob("*.y*ml")):
        name = example_name(path)
        request = CreateWorkflowRequest.model_validate(
            {"folderId": "default", "name": name, "specification": {"specYaml": path.read_text()}}
        )
        try:
            workflows.create(
                services(),
                request,
                caller=DEV_CALLER,
                base_url=base_url,
                workflow_id=ids.stable_workflow_id("default", name),
            )
        except ApiError as exc:
            print(f"skipped {path}: {exc.message}")
            continue
        registered[name] = ids.stable_workflow_id("default", name)
    return registered
