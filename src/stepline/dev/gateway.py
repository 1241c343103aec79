"""A local API Gateway HTTP API (payload 2.0) in front of the stack's deployed functions.

The routes are the deployed API's (:class:`~stepline.dev.deploy.Route`, imported from the
template's OpenAPI body), each with its authorization type, and the edge behaves as API Gateway
does: an ``AWS_IAM`` route takes only SigV4-signed requests (service ``execute-api``), checks
the signature against the emulated account's keys and the caller's policies for
``execute-api:Invoke`` on the route, and puts the caller in ``requestContext.authorizer.iam``;
unsigned or badly signed requests get API Gateway's ``403``. A ``NONE`` route gets no identity
at all, whoever signed. The gateway itself may invoke a function only where the function's
resource policy lets ``apigateway.amazonaws.com`` do so for that route's ARN.

``allow_unsigned`` (the dev stack's ``--allow-unsigned``, off by default and in tests) treats
unsigned requests to ``AWS_IAM`` routes as the account root, for quick experiments with curl.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stepline.dev import authorizer, iam, sigv4
from stepline.dev.deploy import Route
from stepline.dev.functions import StackFunctions

DEV_ACCOUNT = authorizer.ACCOUNT
ROOT_ARN = f"arn:aws:iam::{DEV_ACCOUNT}:root"
REGION = "us-east-1"
FORBIDDEN = {"message": "Forbidden"}


class EdgeError(Exception):
    """A request API Gateway refuses before any function runs."""

    def __init__(self, status: int, body: Mapping[str, Any], error_type: str = "") -> None:
        super().__init__(str(body))
        self.status = status
        self.body = dict(body)
        self.error_type = error_type


def _pattern_matches(route_path: str, path: str) -> dict[str, str] | None:
    """Path parameters when ``path`` matches ``route_path`` (``{name}`` is one segment)."""
    want, got = route_path.strip("/").split("/"), path.strip("/").split("/")
    if len(want) != len(got):
        return None
    params = {}
    for pattern, part in zip(want, got, strict=True):
        if pattern.startswith("{") and pattern.endswith("}"):
            if not part:
                return None
            params[pattern[1:-1]] = part
        elif pattern != part:
            return None
    return params


def _specificity(route: Route) -> tuple[int, int]:
    parts = route.path.strip("/").split("/")
    return (sum(1 for p in parts if not p.startswith("{")), len(parts))


@dataclass(frozen=True)
class Caller:
    """Who API Gateway's IAM authorizer found behind a signed request."""

    access_key: str
    arn: str

    def identity(self) -> dict[str, Any]:
        """``requestContext.authorizer.iam`` as API Gateway fills it."""
        user_id = self.arn.rsplit("/", 1)[-1] if "/" in self.arn else DEV_ACCOUNT
        return {
            "accessKey": self.access_key,
            "accountId": DEV_ACCOUNT,
            "callerId": user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": self.arn,
            "userId": user_id,
        }


@dataclass
class Gateway:
    """Matches requests to the deployed routes, authorises them, invokes their function."""

    routes: list[Route]
    functions: StackFunctions
    api_id: str
    allow_unsigned: bool = False
    _routes: list[Route] = field(init=False)

    def __post_init__(self) -> None:
        self._routes = sorted(self.routes, key=_specificity, reverse=True)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The most specific route for the request, with its path parameters."""
        for route in self._routes:
            params = _pattern_matches(route.path, path)
            if params is not None and route.method == method:
                return route, params
        return None

    def route_arn(self, route: Route, method: str, path: str) -> str:
        """``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>``."""
        return f"arn:aws:execute-api:{REGION}:{DEV_ACCOUNT}:{self.api_id}/$default/{method}{path}"

    def authenticate(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, route_arn: str
    ) -> Caller:
        """The caller of an AWS_IAM route, or the EdgeError API Gateway answers with."""
        try:
            signer = sigv4.verify(
                method, target, headers, body, secret_for=authorizer.secret_for, region=REGION
            )
        except sigv4.SignatureError as exc:
            raise EdgeError(exc.status, {"message": exc.message}, exc.error_type) from exc
        if signer is None:
            if self.allow_unsigned:
                return Caller(authorizer.ROOT_ACCESS_KEY, ROOT_ARN)
            raise EdgeError(403, FORBIDDEN, "ForbiddenException")
        if signer.access_key_id == authorizer.ROOT_ACCESS_KEY:
            return Caller(signer.access_key_id, ROOT_ARN)
        principal = authorizer.find_principal(signer.access_key_id)
        if principal is None or principal.session_token != signer.session_token:
            message = "The security token included in the request is invalid."
            raise EdgeError(403, {"message": message}, "UnrecognizedClientException")
        check = authorizer.Check("execute-api:Invoke", route_arn)
        if authorizer.evaluate(principal.arn, principal.policies, [check]) is not None:
            message = (
                f"User: {principal.arn} is not authorized to perform: execute-api:Invoke "
                f"on resource: {route_arn}"
            )
            raise EdgeError(403, {"Message": message}, "AccessDeniedException")
        return Caller(signer.access_key_id, principal.arn)

    def _may_invoke(self, route: Route, route_arn: str) -> bool:
        """The function's resource policy lets API Gateway invoke it for this route."""
        try:
            policy = self.functions.clients("lambda").get_policy(FunctionName=route.function_arn)
        except Exception:  # no resource policy at all
            return False
        request = iam.Request(
            "lambda:InvokeFunction",
            route.function_arn,
            principal="apigateway.amazonaws.com",
            context={"aws:SourceArn": route_arn, "aws:SourceAccount": DEV_ACCOUNT},
        )
        return iam.evaluate_resource_policy(policy["Policy"], request) is iam.Decision.ALLOW

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, host: str
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request: status, headers and body."""
        path = urlsplit(target).path
        if method == "GET" and path in ("/openapi.json", "/docs"):
            from stepline.api import openapi  # the API's OpenAPI document and its Swagger UI

            return openapi.serve(path)
        matched = self.match(method, path)
        if matched is None and method == "GET" and not path.startswith("/workflows/"):
            from stepline.console import static_file  # the web console, outside the API paths

            found = static_file(path)
            if found is not None:
                return 200, {"content-type": found[1], "cache-control": "no-cache"}, found[0]
        if matched is None:
            return _json(404, {"message": "Not Found"})
        route, params = matched
        route_arn = self.route_arn(route, method, path)
        try:
            caller = None
            if route.authorization == "AWS_IAM":
                caller = self.authenticate(method, target, headers, body, route_arn)
        except EdgeError as exc:
            extra = {"x-amzn-errortype": exc.error_type} if exc.error_type else {}
            status, out, data = _json(exc.status, exc.body)
            return status, out | extra, data
        if not self._may_invoke(route, route_arn):
            return _json(500, {"message": "Internal Server Error"})
        event = http_event(
            route, params, method=method, target=target, headers=headers, body=body, host=host
        )
        if caller is not None:
            event["requestContext"]["authorizer"] = {"iam": caller.identity()}
        function = self.functions.deployment.function_by_arn(route.function_arn)
        result = self.functions.invoke(function, json.dumps(event).encode())
        return _proxy_response(result.payload, result.function_error)


def _json(status: int, body: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def _proxy_response(
    payload: bytes, function_error: str | None
) -> tuple[int, dict[str, str], bytes]:
    """A Lambda proxy result as API Gateway turns it into a response."""
    if function_error is not None:
        return _json(500, {"message": "Internal Server Error"})
    try:
        result = json.loads(payload or b"null")
    except ValueError:
        return _json(500, {"message": "Internal Server Error"})
    if not isinstance(result, dict) or "statusCode" not in result:
        text = payload.decode("utf-8", "replace")
        return 200, {"content-type": "application/json"}, text.encode()
    data = result.get("body") or ""
    raw = base64.b64decode(data) if result.get("isBase64Encoded") else str(data).encode()
    out = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    return int(result["statusCode"]), out, raw


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
    """An API Gateway HTTP API (payload format 2.0) event for one request, without identity."""
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
        "routeKey": route.route_key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": lowered,
        "requestContext": {
            "accountId": DEV_ACCOUNT,
            "apiId": "local",
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
            "routeKey": route.route_key,
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


class _RequestHandler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        self._started = time.monotonic()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("host") or f"127.0.0.1:{self.server.server_port}"
        headers = dict(self.headers.items())
        headers.setdefault("X-Forwarded-Proto", "http")  # API Gateway's: the listener's scheme
        try:
            status, out_headers, data = self.server.gateway.handle(
                self.command, self.path, headers, body, host
            )
        except Exception as exc:  # the edge itself failed: what API Gateway would answer
            status, out_headers = (
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"content-type": "application/json"},
            )
            data = json.dumps({"message": f"Internal Server Error: {exc}"}).encode()
        self.send_response(status)
        for key, value in out_headers.items():
            if key not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer says how long the body is, without it
            self.wfile.write(data)

    # Every method reaches the routes, as at API Gateway: one no route takes (TRACE, OPTIONS,
    # QUERY, HEAD of a GET route) is answered 404 {"message": "Not Found"}, not http.server's
    # 501 (it looks up ``do_<METHOD>`` for each request).
    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """With ``--verbose``, one short line per request: ``api  GET /path → 200 (12 ms)``."""
        if self.server.verbose:
            took = (time.monotonic() - getattr(self, "_started", time.monotonic())) * 1000
            status = code.value if isinstance(code, HTTPStatus) else code
            label = self.server.label.ljust(4)
            print(f"{label} {self.command} {self.path} → {status} ({took:.0f} ms)", flush=True)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class GatewayServer(ThreadingHTTPServer):
    """One API's HTTP listener; ``label`` names it in the request log lines."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        gateway: Gateway,
        verbose: bool = False,
        label: str = "api",
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.gateway = gateway
        self.verbose = verbose
        self.label = label
