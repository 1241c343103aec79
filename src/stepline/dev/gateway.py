"""A local API Gateway (HTTP API, payload 2.0) in front of the real Lambda handlers."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stepline.dev.template import Route

DEV_ACCOUNT = "123456789012"
DEV_CALLER = f"arn:aws:iam::{DEV_ACCOUNT}:user/stepline-dev"


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        """The function ARN as Lambda would report it."""
        return f"arn:aws:lambda:us-east-1:{DEV_ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        """The CloudWatch log group Lambda would use."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        """A log stream name in Lambda's format."""
        return f"local/[{self.function_version}]{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


class Functions:
    """Loads each function's handler from the checkout, once, and invokes it like Lambda.

    Functions sharing a code folder (Stop and Terminate) get separate module instances, as
    separate Lambda functions would; one lock per function keeps one request per instance.
    """

    def __init__(self, routes: list[Route]) -> None:
        self._routes = {r.function: r for r in routes}
        self._modules: dict[str, ModuleType] = {}
        self._locks = {name: threading.Lock() for name in self._routes}
        self._loading = threading.Lock()

    def _module(self, function: str) -> ModuleType:
        with self._loading:
            if function not in self._modules:
                route = self._routes[function]
                file_name = route.handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
                name = f"stepline_functions.{function}"
                spec = importlib.util.spec_from_file_location(name, route.code_dir / file_name)
                if spec is None or spec.loader is None:
                    raise RuntimeError(f"cannot load {route.code_dir / file_name}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
                self._modules[function] = module
            return self._modules[function]

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """Run the function's handler on ``event`` and return its result."""
        route = self._routes[function]
        entry = getattr(self._module(function), route.handler.rsplit(".", 1)[1])
        with self._locks[function]:
            result: dict[str, Any] = entry(event, LambdaContext(function_name=function))
        return result


def http_event(
    route: Route,
    params: dict[str, str],
    *,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    host: str,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for one request."""
    url = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(url.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        text, is_base64 = body.decode(), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": lowered,
        "requestContext": {
            "accountId": DEV_ACCOUNT,
            "apiId": "local",
            "authorizer": {"iam": {"accountId": DEV_ACCOUNT, "userArn": DEV_CALLER}},
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = text
    return event


class Gateway:
    """Matches requests to routes and turns handler results into HTTP responses."""

    def __init__(self, routes: list[Route], functions: Functions) -> None:
        self.routes = routes
        self.functions = functions

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The most specific route for the request, with its path parameters."""
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, host: str
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request: status, headers and body."""
        matched = self.match(method, urlsplit(target).path)
        if matched is None and method == "GET" and not target.startswith("/workflows/"):
            from stepline.console import static_file  # the web console, outside the API paths

            found = static_file(urlsplit(target).path)
            if found is not None:
                return 200, {"content-type": found[1], "cache-control": "no-cache"}, found[0]
        if matched is None:
            message = {"code": 5, "message": f"no such call: {method} {target}", "details": []}
            return 404, {"content-type": "application/json"}, json.dumps(message).encode()
        route, params = matched
        event = http_event(
            route, params, method=method, target=target, headers=headers, body=body, host=host
        )
        result = self.functions.invoke(route.function, event)
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        out_headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        return int(result.get("statusCode", 200)), out_headers, data


class _RequestHandler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("host") or f"127.0.0.1:{self.server.server_port}"
        headers = dict(self.headers.items())
        headers.setdefault("x-forwarded-proto", "http")
        try:
            status, out_headers, data = self.server.gateway.handle(
                self.command, self.path, headers, body, host
            )
        except Exception as exc:  # a crash inside a handler: what API Gateway would answer
            status, out_headers = HTTPStatus.BAD_GATEWAY, {"content-type": "application/json"}
            data = json.dumps({"message": f"Internal Server Error: {exc}"}).encode()
        self.send_response(status)
        for key, value in out_headers.items():
            if key not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class GatewayServer(ThreadingHTTPServer):
    """The dev stack's HTTP listener."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: Gateway, verbose: bool = False) -> None:
        super().__init__(address, _RequestHandler)
        self.gateway = gateway
        self.verbose = verbose
