"""The dev stack's Lambda Invoke endpoint: the stack's own functions and the user's local ones.

``POST /2015-03-31/functions/<name>/invocations`` is authenticated and authorised as Lambda
does it: the SigV4 signature (service ``lambda``) against the emulated account's keys, then
``lambda:InvokeFunction`` on the function's ARN against the caller's policies (the integration
role, or a workflow's own role and its session policy, for a FunctionCall; Start's role for the
first hop; Scheduler's role for a schedule). A refusal answers Lambda's
``AccessDeniedException``.

Behind it: the deployed stack's functions (:class:`~stepline.dev.functions.StackFunctions`,
``RequestResponse`` or ``Event``), and every ``DIR/<name>.py`` with
``handler(event, context)`` in a folder of local functions — the functions workflows call,
served under their file name and reloaded when the file changes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from stepline.dev import authorizer, sigv4
from stepline.dev.functions import StackFunctions
from stepline.testing.context import LambdaContext

_PREFIX = "/2015-03-31/functions/"
REGION = "us-east-1"


class LocalFunctions:
    """Python files of a folder, loaded on first call and reloaded when they change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._modules: dict[str, tuple[float, ModuleType]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Function names available now."""
        return sorted(p.stem for p in self.folder.glob("*.py") if not p.stem.startswith("_"))

    def _handler(self, name: str) -> Any:
        path = self.folder / f"{name}.py"
        if not name.replace("-", "_").isidentifier() or not path.is_file():
            return None
        with self._lock:
            mtime = path.stat().st_mtime
            cached = self._modules.get(name)
            if cached is None or cached[0] != mtime:
                spec = importlib.util.spec_from_file_location(f"stepline_local_fn.{name}", path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
                cached = (mtime, module)
                self._modules[name] = cached
        return getattr(cached[1], "handler", None)

    def exists(self, name: str) -> bool:
        """A local function of that name exists."""
        return self._handler(name) is not None

    def invoke(self, name: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        """Run a function the way Lambda's Invoke API reports it."""
        handler = self._handler(name)
        if handler is None:
            return _not_found(name)
        try:
            event = json.loads(payload or b"{}")
            result = handler(event, LambdaContext(function_name=name))
            return 200, {}, json.dumps(result).encode()
        except Exception as exc:
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return 200, {"x-amz-function-error": "Unhandled"}, json.dumps(error).encode()


Reply = tuple[int, dict[str, str], bytes]


def _error(status: int, error_type: str, message: str) -> Reply:
    body = {"Type": "User", "Message": message, "message": message}
    return status, {"x-amzn-errortype": error_type}, json.dumps(body).encode()


def _not_found(name: str) -> Reply:
    arn = f"arn:aws:lambda:{REGION}:{authorizer.ACCOUNT}:function:{name}"
    return _error(404, "ResourceNotFoundException", f"Function not found: {arn}")


def function_name(path: str) -> str:
    """The function a ``/2015-03-31/functions/<name>/invocations`` path names."""
    name = unquote(path[len(_PREFIX) : -len("/invocations")])
    if name.startswith("arn:"):
        return name.split(":")[6]
    return name.split(":")[-1] if name.count(":") == 1 else name.split(":")[0]


@dataclass
class Invoker:
    """Authorises Invoke calls and dispatches them to the stack's or the local functions.

    ``captured`` maps function names whose ``Event`` invocations go to a callable instead
    (harnesses that drive the runner in this process, such as the cost benchmark).
    Authorisation applies while :func:`stepline.dev.authorizer.enforcing` is on.
    """

    stack: StackFunctions | None
    local: LocalFunctions | None
    captured: dict[str, Callable[[Any], None]] = field(default_factory=dict)

    def authorize(
        self, method: str, target: str, headers: dict[str, str], body: bytes, arn: str
    ) -> Reply | None:
        """None when the signed caller may invoke ``arn``, else Lambda's refusal."""
        if not authorizer.is_enforcing():
            return None
        try:
            signer = sigv4.verify(
                method, target, headers, body, secret_for=authorizer.secret_for, service="lambda"
            )
        except sigv4.SignatureError as exc:
            return _error(403, "InvalidSignatureException", exc.message)
        if signer is None:
            return _error(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        if signer.access_key_id == authorizer.ROOT_ACCESS_KEY:
            return None
        principal = authorizer.find_principal(signer.access_key_id)
        if principal is None or principal.session_token != signer.session_token:
            return _error(403, "UnrecognizedClientException", sigv4.UNKNOWN_KEY)
        check = authorizer.Check("lambda:InvokeFunction", arn)
        denied = authorizer.evaluate(principal.arn, principal.policies, [check])
        session = principal.session_policy  # a session policy narrows the role's
        if denied is None and session is not None:
            denied = None if authorizer.permits(principal.arn, [session], check) else check
        if denied is not None:
            return _error(
                403, "AccessDeniedException", authorizer.denial_message(principal.arn, denied)
            )
        return None

    def invoke(self, target: str, headers: dict[str, str], payload: bytes) -> Reply:
        """Serve one Invoke call."""
        path = target.split("?", 1)[0]
        name = function_name(path)
        arn = f"arn:aws:lambda:{REGION}:{authorizer.ACCOUNT}:function:{name}"
        refused = self.authorize("POST", target, headers, payload, arn)
        if refused is not None:
            return refused
        asynchronous = (headers.get("x-amz-invocation-type") or "").lower() == "event"
        if name in self.captured:
            return self._capture(name, payload, asynchronous)
        function = self.stack.find(name) if self.stack else None
        if function is not None and self.stack is not None:
            try:
                json.loads(payload or b"{}")
            except ValueError:
                return _error(
                    400, "InvalidRequestContentException", "Could not parse request body into json"
                )
            if asynchronous:
                self.stack.invoke_async(function, payload)
                return 202, {}, b""
            result = self.stack.invoke(function, payload)
            extra = {"x-amz-function-error": result.function_error} if result.function_error else {}
            return 200, {"x-amz-executed-version": "$LATEST"} | extra, result.payload
        if self.local is None or not self.local.exists(name):
            return _not_found(name)
        if asynchronous:
            threading.Thread(target=self.local.invoke, args=(name, payload), daemon=True).start()
            return 202, {}, b""
        return self.local.invoke(name, payload)

    def _capture(self, name: str, payload: bytes, asynchronous: bool) -> Reply:
        if not asynchronous:
            message = "the stack's own functions take Event invocations only"
            return _error(400, "InvalidParameterValueException", message)
        try:
            event = json.loads(payload or b"{}")
        except ValueError:
            message = "Could not parse request body into json"
            return _error(400, "InvalidRequestContentException", message)
        threading.Thread(target=self.captured[name], args=(event,), daemon=True).start()
        return 202, {}, b""


class _Handler(BaseHTTPRequestHandler):
    server: LambdaServer

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        payload = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        out: dict[str, str]
        if not (path.startswith(_PREFIX) and path.endswith("/invocations")):
            status, out, body = 404, {}, b'{"message": "unknown Lambda API call"}'
        else:
            status, out, body = self.server.invoker.invoke(self.path, headers, payload)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        for key, value in out.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class LambdaServer(ThreadingHTTPServer):
    """The local Lambda Invoke endpoint."""

    daemon_threads = True
    # A runner makes up to 32 calls at once: with the default backlog of 5, the connections
    # past it wait a second for a retransmitted SYN.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], invoker: Invoker) -> None:
        super().__init__(address, _Handler)
        self.invoker = invoker
