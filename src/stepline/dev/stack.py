"""``stepline dev``: the whole of template.yaml deployed on an emulator, run as AWS runs it.

:class:`EmulatedStack` is the stack on an emulated account — what the dev stack and the
tests share. The emulator (moto) enforces IAM (:mod:`stepline.dev.authorizer`); the template
is deployed whole (:mod:`stepline.dev.deploy`); each function runs in sandboxes of its own with
its deployed environment and role (:mod:`stepline.dev.functions`); and the event sources come
from the deployed resources: HTTP API routes (:mod:`stepline.dev.gateway`), SQS event source
mappings (:mod:`stepline.dev.pump`), EventBridge rules and Scheduler schedules
(:mod:`stepline.dev.scheduler`), asynchronous invocations through the local Lambda endpoint
(:mod:`stepline.dev.lambdas`).

:class:`DevStack` adds what a person at a terminal needs: ports, the example workflows, logs.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepline.dev import authorizer, iam, scheduler, template
from stepline.dev.command import DEFAULT_AWS_PORT, DEFAULT_PORT
from stepline.dev.deploy import Deployment, Function, Rule, deploy_template
from stepline.dev.functions import StackFunctions
from stepline.dev.gateway import Gateway, GatewayServer
from stepline.dev.lambdas import Invoker, LambdaServer, LocalFunctions
from stepline.dev.pump import QueuePump

REGION = "us-east-1"
ROOT_CALLER = f"arn:aws:iam::{authorizer.ACCOUNT}:root"
ROOT_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": authorizer.ROOT_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": authorizer.ROOT_SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# The emulator must know AWS's managed policies before its IAM backend is first used: roles
# attach AWSLambdaBasicExecutionRole, AWSLambdaSQSQueueExecutionRole and others by ARN.
EMULATOR_ENVIRONMENT = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
# What the dev stack deploys with, unlike AWS's defaults: HTTP steps may reach this machine, and
# Postbox steps may send from any identity verified in the emulator.
DEV_PARAMETERS = {"AllowedPrivateHosts": "*", "SesIdentity": "*"}


class PortInUse(Exception):
    """A port the dev stack should listen on is taken; ``flag`` is the option that moves it."""

    def __init__(self, port: int, flag: str) -> None:
        super().__init__(f"port {port} is in use")
        self.port = port
        self.flag = flag


@contextmanager
def binding(port: int, flag: str) -> Iterator[None]:
    """Turn "address already in use" while binding ``port`` into :class:`PortInUse`."""
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise PortInUse(port, flag) from exc


def root_clients(endpoint: str) -> Callable[..., Any]:
    """boto3 clients of the emulated account's root user on ``endpoint``."""
    import boto3

    def client(service: str, **kwargs: Any) -> Any:
        options: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": authorizer.ROOT_ACCESS_KEY,
            "aws_secret_access_key": authorizer.ROOT_SECRET_KEY,
        }
        return boto3.client(service, **(options | kwargs))  # type: ignore[call-overload]

    return client


def detach_emulator_invokers() -> None:
    """Stop the emulator invoking functions itself (it would run them in Docker, or fail).

    Deployed queue mappings and rule targets stay as they are (the describe calls show
    them); :class:`QueuePump` and :class:`~stepline.dev.scheduler.EventRelay` deliver to the
    functions instead. The emulator runs in this process, so its queues and rules are at hand.
    """
    from moto.events.models import Rule
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[authorizer.ACCOUNT][REGION].queues.values():
        queue.lambda_event_source_mappings.clear()
    if getattr(Rule.send_to_targets, "_lambda_targets_skipped", False):
        return
    original = Rule.send_to_targets

    def send_to_targets(self: Any, *args: Any, **kwargs: Any) -> None:
        targets = self.targets
        self.targets = [t for t in targets if ":lambda:" not in t["Arn"]]
        try:
            original(self, *args, **kwargs)
        finally:
            self.targets = targets

    send_to_targets._lambda_targets_skipped = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


@dataclass
class EmulatedStack:
    """template.yaml deployed on an emulator at ``aws_endpoint``, its functions runnable."""

    aws_endpoint: str
    host: str = "127.0.0.1"
    stack_name: str = "dev"
    parameters: dict[str, str] = field(default_factory=dict)
    local_functions: Path | None = None
    time_scale: float = 1.0
    log: Callable[[str, str], None] | None = None
    deployment: Deployment = field(init=False)
    functions: StackFunctions = field(init=False)
    lambda_endpoint: str = field(init=False)
    _lambda: LambdaServer = field(init=False)
    _lambda_thread: threading.Thread | None = None
    _sources: list[Any] = field(default_factory=list)

    def deploy(self) -> EmulatedStack:
        """Deploy the template and start the local Lambda endpoint."""
        clients = root_clients(self.aws_endpoint)
        self.deployment = deploy_template(clients, self.stack_name, self.parameters)
        detach_emulator_invokers()
        local = LocalFunctions(self.local_functions) if self.local_functions else None
        self._lambda = LambdaServer((self.host, 0), Invoker(None, local))
        self.lambda_endpoint = f"http://{self.host}:{self._lambda.server_port}"
        passthrough = {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_endpoint,
            "STEPLINE_PROJECT_ROOT": str(template.project_root()),
            "STEPLINE_TIME_SCALE": str(self.time_scale),
        }
        self.functions = StackFunctions(
            self.deployment, clients, passthrough, log=self.log, time_scale=self.time_scale
        )
        self._lambda.invoker.stack = self.functions
        self._lambda_thread = threading.Thread(target=self._lambda.serve_forever, daemon=True)
        self._lambda_thread.start()
        return self

    def point_at_local_apis(self, public_url: str) -> None:
        """Tell the workflows function where the public API listens on this machine.

        In AWS ``PUBLIC_API_URL`` is the public API's execute-api host; here that API is a
        loopback listener, so the function's configuration is updated to name it (as one would
        for a custom domain).
        """
        lam = self.clients("lambda")
        name = self.function("WorkflowsFunction").name
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        environment = {"Variables": variables | {"PUBLIC_API_URL": public_url}}
        lam.update_function_configuration(FunctionName=name, Environment=environment)

    def clients(self, service: str, **kwargs: Any) -> Any:
        """A root client of the emulated account."""
        return root_clients(self.aws_endpoint)(service, **kwargs)

    def function(self, logical_id: str) -> Function:
        """A deployed function by its logical id in template.yaml."""
        return self.deployment.functions[logical_id]

    def role_clients(self, logical_id: str) -> Callable[..., Any]:
        """Clients signed as a function's execution role (the Lambda endpoint for Invoke)."""
        function = self.function(logical_id)
        credentials = self.functions.role_credentials(
            function.role, function.name, "lambda.amazonaws.com"
        )

        def client(service: str, **kwargs: Any) -> Any:
            import boto3

            endpoint = self.lambda_endpoint if service == "lambda" else self.aws_endpoint
            return boto3.client(  # type: ignore[call-overload]
                service,
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=credentials["AWS_SESSION_TOKEN"],
                **kwargs,
            )

        return client

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Invoke a function synchronously, as its event source would; its decoded answer."""
        result = self.functions.invoke(self.function(logical_id), json.dumps(event).encode())
        answer = json.loads(result.payload or b"null")
        if result.function_error is not None:
            raise RuntimeError(f"{logical_id} failed: {answer}")
        return answer

    # --- event sources ------------------------------------------------------------------

    def gateway(self, allow_unsigned: bool = False) -> Gateway:
        """The HTTP API's edge (routes, IAM authorizer, proxy integration)."""
        api_id = self.deployment.api_id
        routes = [r for r in self.deployment.routes if r.api_id == api_id]
        return Gateway(routes, self.functions, api_id, allow_unsigned=allow_unsigned)

    def public_gateway(self) -> Gateway:
        """The public start-by-link API's edge."""
        api_id = self.deployment.public_api_id
        routes = [r for r in self.deployment.routes if r.api_id == api_id]
        return Gateway(routes, self.functions, api_id)

    def start_sources(self) -> None:
        """Run the queue mappings, the rules and the schedules of the deployment."""
        self._sources = [QueuePump(m, self.functions) for m in self.deployment.mappings]
        self._sources.append(
            scheduler.EventRelay(self.clients, self.deployment.rules, self.deliver_event)
        )
        self._sources.append(scheduler.RuleTimer(self.deployment.rules, self.deliver_event))
        group = self.function("WorkflowsFunction").environment["SCHEDULE_GROUP"]
        self._sources.append(
            scheduler.DevScheduler(
                self.clients("scheduler"), group, self.fire_schedule, self.time_scale
            )
        )
        for source in self._sources:
            source.start()

    def deliver_event(self, rule: Rule, target: str, event: dict[str, Any]) -> None:
        """What EventBridge does for a matched rule: an asynchronous invoke, if permitted."""
        function = self.deployment.function_by_arn(target)
        policy = self.clients("lambda").get_policy(FunctionName=function.name)["Policy"]
        request = iam.Request(
            "lambda:InvokeFunction",
            function.arn,
            principal="events.amazonaws.com",
            context={"aws:SourceArn": rule.arn, "aws:SourceAccount": authorizer.ACCOUNT},
        )
        if iam.evaluate_resource_policy(policy, request) is not iam.Decision.ALLOW:
            raise PermissionError(f"{function.name} does not let {rule.name} invoke it")
        self.functions.invoke_async(function, json.dumps(event).encode())

    def fire_schedule(self, fire: scheduler.Fire) -> None:
        """What Scheduler does for a fire: assume the schedule's role, invoke the target
        asynchronously; a fire the target refuses goes to the schedule's dead-letter queue,
        sent with the same role."""
        import boto3
        from botocore.exceptions import ClientError

        credentials = self.functions.role_credentials(
            fire.role,
            "scheduler",
            "scheduler.amazonaws.com",
            {"aws:SourceAccount": authorizer.ACCOUNT},
        )
        keys = {
            "region_name": REGION,
            "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": credentials["AWS_SESSION_TOKEN"],
        }
        client = boto3.client("lambda", endpoint_url=self.lambda_endpoint, **keys)  # type: ignore[call-overload]
        try:
            client.invoke(
                FunctionName=fire.target, InvocationType="Event", Payload=json.dumps(fire.event)
            )
        except ClientError:
            if not fire.dead_letter:
                raise
            sqs = boto3.client("sqs", endpoint_url=self.aws_endpoint, **keys)  # type: ignore[call-overload]
            name = fire.dead_letter.rsplit(":", 1)[1]
            url = self.clients("sqs").get_queue_url(QueueName=name)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(fire.event))
            raise

    def close(self) -> None:
        """Stop the event sources, the sandboxes and the Lambda endpoint."""
        for source in self._sources:
            source.stop()
        if hasattr(self, "functions"):
            self.functions.close()
        if hasattr(self, "_lambda"):
            if self._lambda_thread is not None and self._lambda_thread.is_alive():
                self._lambda.shutdown()  # waits for serve_forever: only once it runs
            self._lambda.server_close()


class Emulator:
    """The emulator (moto's server) on one port, bound at construction: a taken port raises
    :class:`PortInUse` here (werkzeug, left to bind, would print and ``sys.exit``; in moto's
    own server thread that left its caller waiting for ever)."""

    def __init__(self, host: str, port: int, verbose: bool) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        app = atomic_dynamodb(DomainDispatcherApplication(create_backend_app))
        with socket.socket() as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with binding(port, "--aws-port"):
                listener.bind((host, port))
            listener.listen(128)
            self._server = make_server(
                host,
                port,
                app,
                threaded=True,
                request_handler=_emulator_handler(verbose),
                fd=listener.fileno(),  # werkzeug serves a duplicate of this socket
            )
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def atomic_dynamodb(app: Any) -> Any:
    """The emulator's WSGI app answering one DynamoDB request at a time, as DynamoDB applies
    each request atomically: moto checks a write's condition and then writes, and two requests
    served on two threads could both pass the check (two concurrent Pauses both landing)."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))  # the whole answer, made under the lock

    return serve


def _emulator_handler(verbose: bool) -> Any:
    """moto's request handler, logging one short line per AWS call when ``verbose``."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Handler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            line = aws_request_line(self.command, self.path, dict(self.headers.items()), code)
            if verbose and line:
                print(line, flush=True)

        def log(self, type: str, message: str, *args: Any) -> None:
            if verbose or type == "error":
                super().log(type, message, *args)

    return Handler


_SERVICE_IN_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/")


def aws_request_line(method: str, path: str, headers: dict[str, str], code: int | str) -> str:
    """``aws  dynamodb PutItem → 200``; empty for the queue pollers' own receives."""
    lowered = {k.lower(): v for k, v in headers.items()}
    scope = _SERVICE_IN_SCOPE.search(lowered.get("authorization", ""))
    service = scope.group(1) if scope else "-"
    target = lowered.get("x-amz-target", "")
    operation = target.rsplit(".", 1)[-1] if target else f"{method} {path.split('?', 1)[0]}"
    if operation == "ReceiveMessage":  # four pollers per queue, every second: not news
        return ""
    return f"aws  {service} {operation} → {code}"


@dataclass
class DevStack:
    """One running dev stack; :meth:`start` returns once it accepts requests."""

    port: int = DEFAULT_PORT
    aws_port: int = DEFAULT_AWS_PORT
    public_port: int | None = None
    host: str = "127.0.0.1"
    verbose: bool = False
    examples_dir: Path | None = None
    functions_dir: Path | None = None
    time_scale: float = 1.0
    allow_unsigned: bool = False
    registered: dict[str, str] = field(default_factory=dict)
    _emulator: Emulator | None = None
    _servers: list[GatewayServer] = field(default_factory=list)
    _serving: list[threading.Thread] = field(default_factory=list)
    _stack: EmulatedStack | None = None

    @property
    def url(self) -> str:
        """Base URL of the API."""
        port = self._servers[0].server_port if self._servers else self.port
        return f"http://{self.host}:{port}"

    @property
    def public_url(self) -> str:
        """Base URL of the public start-by-link API."""
        port = self._servers[1].server_port if len(self._servers) > 1 else self.port + 1
        return f"http://{self.host}:{port}"

    @property
    def aws_endpoint(self) -> str:
        """The emulated AWS endpoint, for boto3 and the AWS CLI."""
        port = self._emulator.port if self._emulator else self.aws_port
        return f"http://{self.host}:{port}"

    def environment(self) -> dict[str, str]:
        """What a shell needs to reach this stack: the CLI's, curl's and AWS tools' variables."""
        return {
            "STEPLINE_ENDPOINT": self.url,
            "STEPLINE_PUBLIC_ENDPOINT": self.public_url,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
        } | ROOT_ENVIRONMENT

    def start(self) -> str:
        """Start the emulator, deploy the template, register examples, serve the API.

        Raises :class:`PortInUse` when a port is taken; :meth:`stop` undoes a start that
        failed or was interrupted at any point.
        """
        if not self.verbose:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        os.environ.update(EMULATOR_ENVIRONMENT)
        authorizer.install()
        self._enforcing = authorizer.enforcing()
        self._enforcing.__enter__()
        public_port = self.port + 1 if self.public_port is None else self.public_port
        self._emulator = Emulator(self.host, self.aws_port, self.verbose)
        os.environ.update(ROOT_ENVIRONMENT | {"AWS_ENDPOINT_URL": self.aws_endpoint})
        root = template.project_root()
        self._stack = EmulatedStack(
            self.aws_endpoint,
            host=self.host,
            parameters=dict(DEV_PARAMETERS),
            local_functions=self.functions_dir or root / "examples" / "functions",
            time_scale=self.time_scale,
            log=self._log,
        )
        self._stack.deploy()
        with binding(self.port, "--port"):
            main = GatewayServer(
                (self.host, self.port),
                self._stack.gateway(self.allow_unsigned),
                verbose=self.verbose,
            )
        self._servers.append(main)
        with binding(public_port, "--public-port"):
            public = GatewayServer(
                (self.host, public_port if self.port else 0),
                self._stack.public_gateway(),
                verbose=self.verbose,
                label="public",
            )
        self._servers.append(public)
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._serving.append(thread)
        self._stack.point_at_local_apis(self.public_url)
        self._stack.start_sources()
        self.registered = register_examples(self._stack, self.examples_dir or root / "examples")
        return self.url

    def _log(self, function: str, line: str) -> None:
        """A function's output line: all of it with ``--verbose``, else its errors only (never
        its metrics: EMF lines are for CloudWatch, not a terminal)."""
        if not self.verbose and (is_metric_line(line) or not is_error_line(line)):
            return
        name = function.split("-")[-2] if function.count("-") >= 2 else function
        print(f"[{name}] {line}", flush=True)

    def stop(self) -> None:
        """Stop serving and shut the emulator down (whatever part of :meth:`start` ran)."""
        for server, thread in zip(self._servers, self._serving, strict=False):
            if thread.is_alive():
                server.shutdown()
        for server in self._servers:
            server.server_close()
        if self._stack:
            self._stack.close()
        if self._emulator:
            self._emulator.stop()


def is_metric_line(line: str) -> bool:
    """A CloudWatch embedded-metric-format record (``{"_aws": {...}, ...}``)."""
    return line.lstrip().startswith("{") and '"_aws"' in line


def is_error_line(line: str) -> bool:
    """A log line at ERROR level, from powertools or the runtime."""
    return '"level":"ERROR"' in line or line.startswith("[ERROR]")


# Test cases of a workflow (``stepline test``), kept beside it: not workflows themselves.
TEST_CASE_SUFFIXES = (".test.yaml", ".test.yml")


def example_name(path: Path) -> str:
    """A workflow name from a file name: ``order_flow.yaml`` → ``order-flow``."""
    name = re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")
    return name[:63] or "example"


def register_examples(stack: EmulatedStack, folder: Path) -> dict[str, str]:
    """Create a workflow per ``*.yaml`` file in ``folder`` (stable ids); name → workflow id.

    Seeded as the account root through the workflows function's own code and deployed
    settings, the way an operator's migration would write them.
    """
    from stepline.api.errors import ApiError
    from stepline.models import CreateWorkflowRequest
    from stepline.service import ids, workflows
    from stepline.service.deps import Services, Settings

    environment = stack.function("WorkflowsFunction").environment
    svc = Services(Settings.from_env(environment), root_clients(stack.aws_endpoint))
    registered = {}
    for path in sorted(folder.glob("*.y*ml")):
        if path.name.endswith(TEST_CASE_SUFFIXES):
            continue
        name = example_name(path)
        request = CreateWorkflowRequest.model_validate(
            {"folderId": "default", "name": name, "specification": {"specYaml": path.read_text()}}
        )
        workflow_id = ids.stable_workflow_id("default", name)
        try:
            workflows.create(svc, request, caller=ROOT_CALLER, workflow_id=workflow_id)
        except ApiError as exc:
            print(f"skipped {path}: {exc.message}")
            continue
        registered[name] = workflow_id
    return registered
