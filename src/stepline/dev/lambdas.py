"""Local Lambda functions: every ``DIR/<name>.py`` with ``handler(event, context)`` is served
through the Lambda Invoke API, so the runner's boto3 code path is the one it uses in AWS.

The stack's own functions that are invoked asynchronously (the runner, by Start) are served
too, by name: an ``Event`` invocation is answered 202 at once and handled in a thread.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from stepline.dev.gateway import LambdaContext

_PREFIX = "/2015-03-31/functions/"


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

    def invoke(self, name: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        """Run a function the way Lambda's Invoke API reports it."""
        handler = self._handler(name)
        if handler is None:
            body = {"Type": "User", "message": f"Function not found: {name}"}
            headers = {"x-amzn-errortype": "ResourceNotFoundException"}
            return 404, headers, json.dumps(body).encode()
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


def _invoke_async(
    target: Callable[[Any], None], payload: bytes
) -> tuple[int, dict[str, str], bytes]:
    """An Event invocation: accepted at once (202), handled in a thread."""
    try:
        event = json.loads(payload or b"{}")
    except ValueError:
        headers = {"x-amzn-errortype": "InvalidRequestContentException"}
        return 400, headers, b'{"message": "Could not parse request body into json"}'
    threading.Thread(target=target, args=(event,), daemon=True).start()
    return 202, {}, b""


class _Handler(BaseHTTPRequestHandler):
    server: LambdaServer

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        payload = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        headers: dict[str, str]
        if not (path.startswith(_PREFIX) and path.endswith("/invocations")):
            status, headers, body = 404, {}, b'{"message": "unknown Lambda API call"}'
        else:
            name = unquote(path[len(_PREFIX) : -len("/invocations")]).rsplit(":", 1)[-1]
            target = self.server.targets.get(name)
            if target is None:
                status, headers, body = self.server.functions.invoke(name, payload)
            elif self.headers.get("x-amz-invocation-type") != "Event":
                status, headers = 400, {"x-amzn-errortype": "InvalidParameterValueException"}
                body = b'{"message": "the stack\'s own functions take Event invocations only"}'
            else:
                status, headers, body = _invoke_async(target, payload)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class LambdaServer(ThreadingHTTPServer):
    """The local Lambda Invoke endpoint."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        functions: LocalFunctions,
        targets: dict[str, Callable[[Any], None]] | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.functions = functions
        # The stack's own functions by name → what handles their asynchronous invocations.
        self.targets = dict(targets or {})
