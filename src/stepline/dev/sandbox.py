"""Lambda functions run as Lambda runs them: each instance its own process, one request at a time.

An instance is ``python -m awslambdaric <handler>`` (AWS's own runtime interface client) started
in the function's code folder, talking to a Lambda Runtime API that this module serves on
127.0.0.1, one small server per instance (the API's paths name no instance, so the port does).

The invariant this module keeps: an instance's process sees exactly the environment built for it
here (never the parent's ``os.environ``), serves at most one request at a time, and every
process it started is killed and reaped once the instance is retired (a timeout, a dead process,
a new configuration, ``Sandbox.close``). Every request ends in exactly one ``Invocation``.

The environment, built from scratch for each instance (a later row wins):

==========================  ===========================================================
from                        variables
==========================  ===========================================================
this process                ``PATH`` only
Lambda's defaults           ``LANG=C.UTF-8``, ``TZ=:UTC`` (the function's config may override)
the function's config       its ``Environment.Variables`` (may override ``PATH`` too)
``passthrough``             ``AWS_ENDPOINT_URL*`` (the emulator), ``STEPLINE_*`` (dev knobs)
``credentials()``           ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``
Lambda (reserved)           ``_HANDLER``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``,
                            ``AWS_EXECUTION_ENV``, ``AWS_LAMBDA_FUNCTION_NAME``,
                            ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, ``AWS_LAMBDA_FUNCTION_VERSION``,
                            ``AWS_LAMBDA_INITIALIZATION_TYPE``, ``AWS_LAMBDA_LOG_GROUP_NAME``,
                            ``AWS_LAMBDA_LOG_STREAM_NAME``, ``AWS_LAMBDA_RUNTIME_API``,
                            ``LAMBDA_TASK_ROOT``, ``AWS_XRAY_CONTEXT_MISSING``
==========================  ===========================================================

Where this differs from Lambda:

- Throttling: when ``max_instances`` are all busy, ``invoke`` waits for one to free up, for at
  most the function's timeout, and only then raises ``Throttled`` (Lambda refuses at once with
  TooManyRequestsException).
- Init: a cold start gets ``INIT_TIMEOUT`` (10 s, Lambda's init limit); past it the invocation
  fails as ``Sandbox.Timedout``, where Lambda would retry init once within the function timeout.
  The function timeout counts from the moment the runtime takes the event, as in Lambda.
- Isolation stops at the environment and the process: instances share this machine's file
  system (no read-only ``/var/task``, no 512 MB ``/tmp``, ``~/.aws`` readable), its network and
  the interpreter running the tests, so every package of this virtualenv is importable (in
  Lambda: the deployment package, its layers and the runtime's boto3). ``memory_mb`` is only
  reported (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``), not enforced; ``AWS_EXECUTION_ENV`` names this
  interpreter's version. ``LANG`` is ``C.UTF-8`` (Lambda: ``en_US.UTF-8``, which few machines
  have; either keeps Python from adding ``LC_CTYPE``). ``LD_LIBRARY_PATH``, ``PYTHONPATH`` and
  ``LAMBDA_RUNTIME_DIR`` are not set, and nothing listens on the X-Ray daemon address.
- Payload limits (6 MB each way) are not enforced, and an empty payload is sent as ``{}``.
- Logs: the instance's stdout and stderr lines go to ``log``; the platform's own lines (START,
  END, REPORT, "Task timed out") are not written. A multi-line error record that awslambdaric
  joins with ``\\r`` arrives as one line, as it does in CloudWatch.
- Instances are never frozen between requests and are kept until retired (no idle reaping).
- ``close`` kills instances that are mid-request; their callers get ``Runtime.ExitError``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

INIT_TIMEOUT: Final = 10.0
"""Seconds a cold instance may take to import its handler and ask for its first event."""

UNHANDLED: Final = "Unhandled"

CREDENTIAL_KEYS: Final = frozenset(
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
)

# "The keys for these environment variables are reserved and can't be set in your function
# configuration" (Lambda developer guide, defined runtime environment variables).
RESERVED_KEYS: Final = CREDENTIAL_KEYS | frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)

_ARN = re.compile(r"arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):\d{12}:function:(?P<name>[^:]+)")
_NEXT: Final = "/2018-06-01/runtime/invocation/next"
_INIT_ERROR: Final = "/2018-06-01/runtime/init/error"
_RESULT = re.compile(r"/2018-06-01/runtime/invocation/(?P<id>[^/]+)/(?P<kind>response|error)")

_logger = logging.getLogger(__name__)


class SandboxError(RuntimeError):
    """A request the sandbox could not hand to any instance."""


class Throttled(SandboxError):
    """Every instance stayed busy for the function's whole timeout."""


class SandboxClosed(SandboxError):
    """The sandbox was closed."""


@dataclass(frozen=True)
class FunctionConfig:
    """A function as deployed: what Lambda's GetFunctionConfiguration would report."""

    name: str
    arn: str
    handler: str
    """``module.function``, relative to ``code_dir`` (``app.lambda_handler``)."""
    code_dir: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    """Exactly the function's ``Environment.Variables``; reserved keys are refused."""
    timeout: float = 3.0
    memory_mb: int = 128

    def __post_init__(self) -> None:
        match = _ARN.fullmatch(self.arn)
        if match is None or match["name"] != self.name:
            raise ValueError(f"{self.arn!r} is not the ARN of a function named {self.name!r}")
        reserved = sorted(RESERVED_KEYS & set(self.environment))
        if reserved:
            raise ValueError(f"reserved environment variables cannot be set: {reserved}")
        if self.timeout <= 0 or self.memory_mb <= 0:
            raise ValueError("timeout and memory_mb must be positive")

    @property
    def region(self) -> str:
        """The region named in the function's ARN."""
        match = _ARN.fullmatch(self.arn)
        assert match is not None
        return match["region"]


@dataclass(frozen=True)
class Invocation:
    """What a synchronous Invoke returns."""

    payload: bytes
    function_error: str | None
    """``"Unhandled"`` when Lambda would set ``X-Amz-Function-Error``, else None."""
    request_id: str
    duration_ms: float
    """From the runtime taking the event to its answer (0 if it never took it)."""
    init_duration_ms: float | None = None
    """Set on a cold start: from process start to the first event (or the init error)."""


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def _timeout_payload(request_id: str, seconds: float) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    message = f"{now}Z {request_id} Task timed out after {seconds:.2f} seconds"
    return _error_payload("Sandbox.Timedout", message)


def _exit_payload(request_id: str, returncode: int | None) -> bytes:
    if returncode is not None and returncode < 0:
        status = f"signal: {(signal.strsignal(-returncode) or str(-returncode)).lower()}"
    else:
        status = f"exit status {returncode}"
    message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
    return _error_payload("Runtime.ExitError", message)


def _trace_id() -> str:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"


def _environment(
    config: FunctionConfig,
    credentials: Mapping[str, str],
    passthrough: Mapping[str, str],
    runtime_api: str,
) -> dict[str, str]:
    """The whole environment of one new instance."""
    unknown = sorted(set(credentials) - CREDENTIAL_KEYS)
    if unknown:
        raise ValueError(f"credentials() returned unexpected keys: {unknown}")
    region = config.region
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        **config.environment,
        **passthrough,
        **credentials,
        "_HANDLER": config.handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "LAMBDA_TASK_ROOT": str(config.code_dir),
    }


def _check_passthrough(passthrough: Mapping[str, str]) -> None:
    """Only the emulator's endpoints and the dev stack's own knobs (``STEPLINE_*``) pass."""
    bad = sorted(k for k in passthrough if not k.startswith(("AWS_ENDPOINT_URL", "STEPLINE_")))
    if bad:
        raise ValueError(f"only AWS_ENDPOINT_URL* and STEPLINE_* pass through: {bad}")


class _Request:
    """One invocation on one instance: taken by the runtime at most once, finished exactly once."""

    def __init__(self, payload: bytes, timeout: float) -> None:
        self.request_id = str(uuid.uuid4())
        self.payload = payload
        self.timeout = timeout
        self.taken_at: float | None = None
        self.outcome: tuple[bytes, str | None] | None = None
        self._finished_at = 0.0
        self._cond = threading.Condition()

    def take(self) -> int:
        """Mark the event as handed to the runtime; its deadline in epoch milliseconds."""
        with self._cond:
            self.taken_at = time.monotonic()
            self._cond.notify_all()
        return int((time.time() + self.timeout) * 1000)

    def finish(self, payload: bytes, function_error: str | None) -> bool:
        """Record the outcome; False if another one came first."""
        with self._cond:
            if self.outcome is not None:
                return False
            self.outcome = (payload, function_error)
            self._finished_at = time.monotonic()
            self._cond.notify_all()
            return True

    def wait(self) -> bool:
        """Wait for the outcome within the init limit and then the timeout; True if it came."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.outcome is not None or self.taken_at is not None, INIT_TIMEOUT
            )
            if self.outcome is None and self.taken_at is not None:
                left = self.taken_at + self.timeout - time.monotonic()
                self._cond.wait_for(lambda: self.outcome is not None, max(left, 0.0))
            return self.outcome is not None

    def result(self, init_duration_ms: float | None) -> Invocation:
        """The finished request as Invoke reports it."""
        assert self.outcome is not None
        taken = self.taken_at
        duration = 0.0 if taken is None else (self._finished_at - taken) * 1000
        payload, error = self.outcome
        return Invocation(payload, error, self.request_id, duration, init_duration_ms)


class _RuntimeApi(BaseHTTPRequestHandler):
    """The Runtime API endpoints that awslambdaric calls, for the instance of this server."""

    server: _RuntimeServer

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged."""

    def do_GET(self) -> None:
        """``/invocation/next``: block until this instance has an event."""
        if self.path != _NEXT:
            self._reply(404, _error_payload("InvalidPath", self.path))
            return
        request = self.server.instance.next_request()
        if request is None:  # retired: the process is gone or going
            self.close_connection = True
            return
        deadline_ms = request.take()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", request.request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", self.server.instance.config.arn)
        self.send_header("Lambda-Runtime-Trace-Id", _trace_id())
        self.send_header("Content-Length", str(len(request.payload)))
        self.end_headers()
        self.wfile.write(request.payload)

    def do_POST(self) -> None:
        """``/invocation/{id}/response``, ``/invocation/{id}/error`` and ``/init/error``."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        instance = self.server.instance
        if self.path == _INIT_ERROR:
            instance.init_failed(body)
            self._reply(202, b'{"status":"OK"}')
            return
        match = _RESULT.fullmatch(self.path)
        if match is None:
            self._reply(404, _error_payload("InvalidPath", self.path))
        elif instance.answer(match["id"], body, UNHANDLED if match["kind"] == "error" else None):
            self._reply(202, b'{"status":"OK"}')
        else:
            self._reply(400, _error_payload("InvalidRequestID", f"not expected: {match['id']}"))

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _RuntimeServer(ThreadingHTTPServer):
    """One instance's Runtime API on a free loopback port, stopped at once by ``stop``."""

    daemon_threads = True

    def __init__(self, instance: _Instance) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeApi)
        self.instance = instance
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="runtime-api", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """``host:port``, as ``AWS_LAMBDA_RUNTIME_API`` takes it."""
        return f"127.0.0.1:{self.server_port}"

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse look-up of the host name."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def _serve(self) -> None:
        while not self._stopping:
            self.handle_request()  # blocks until a connection: no polling

    def stop(self) -> None:
        """Stop accepting and release the port (idempotent)."""
        if self._stopping:
            return
        self._stopping = True
        with contextlib.suppress(OSError):  # wake the accept loop so that it sees the flag
            socket.create_connection(("127.0.0.1", self.server_port), timeout=1).close()
        self._thread.join(timeout=5)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime that went away mid-request is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Instance:
    """One execution environment: a runtime process, its Runtime API, at most one request."""

    def __init__(
        self, config: FunctionConfig, generation: int, log: Callable[[str, str], None] | None
    ) -> None:
        self.config = config
        self.generation = generation
        self._log = log
        self._cond = threading.Condition()
        self._request: _Request | None = None
        self._taken = False
        self._retired = False
        self._broken = False
        self._returncode: int | None = None
        self._exited = False
        self._started_at = 0.0
        self._init_done_at: float | None = None
        self._cold = True
        self._proc: subprocess.Popen[bytes] | None = None
        self._server = _RuntimeServer(self)

    @property
    def runtime_api(self) -> str:
        """The address its runtime is pointed at."""
        return self._server.address

    @property
    def pid(self) -> int | None:
        """The runtime's process id, once started."""
        return None if self._proc is None else self._proc.pid

    def start(self, environment: Mapping[str, str]) -> None:
        """Start the runtime process (its init runs while the first request waits)."""
        self._started_at = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", self.config.handler],
            cwd=self.config.code_dir,
            env=dict(environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one killpg reaps what it spawns
        )
        with self._cond:
            self._proc = proc
            retired = self._retired
        threading.Thread(target=self._pump, args=(proc,), name="runtime-log", daemon=True).start()
        if retired:  # killed while starting
            self.kill()

    def usable(self) -> bool:
        """True while it can take another request."""
        with self._cond:
            broken = self._broken or self._retired or self._exited
        return not broken and self._proc is not None and self._proc.poll() is None

    def run(self, payload: bytes) -> Invocation:
        """Hand one request to the runtime and wait for its outcome or its deadline."""
        request = _Request(payload or b"{}", self.config.timeout)
        with self._cond:
            self._request, self._taken = request, False
            exited, returncode = self._exited, self._returncode
            self._cond.notify_all()
        if exited:
            request.finish(_exit_payload(request.request_id, returncode), UNHANDLED)
        if not request.wait():
            limit = INIT_TIMEOUT if request.taken_at is None else request.timeout
            if request.finish(_timeout_payload(request.request_id, limit), UNHANDLED):
                self.kill()
        with self._cond:
            self._request, self._taken = None, False
            init_ms = None
            if self._cold:
                self._cold = False
                done = self._init_done_at or time.monotonic()
                init_ms = (done - self._started_at) * 1000
        return request.result(init_ms)

    def next_request(self) -> _Request | None:
        """The request the runtime should take now (blocking), or None once retired."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._retired or (self._request is not None and not self._taken)
            )
            if self._retired or self._request is None:
                return None
            self._taken = True
            if self._init_done_at is None:
                self._init_done_at = time.monotonic()
            return self._request

    def answer(self, request_id: str, body: bytes, function_error: str | None) -> bool:
        """The runtime's response or error for the request it took; False if not expected."""
        with self._cond:
            request = self._request
            if request is None or not self._taken or request.request_id != request_id:
                return False
        return request.finish(body, function_error)

    def init_failed(self, body: bytes) -> None:
        """The runtime could not load its handler: the request fails, the instance is done."""
        with self._cond:
            self._broken = True
            if self._init_done_at is None:
                self._init_done_at = time.monotonic()
            request = self._request
        if request is not None:
            request.finish(body, UNHANDLED)

    def kill(self) -> None:
        """Kill its process group, reap the process and stop its server (idempotent)."""
        with self._cond:
            self._retired = self._broken = True
            proc = self._proc
            self._cond.notify_all()
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self._exited_with(proc.returncode)
        self._server.stop()

    def _exited_with(self, returncode: int | None) -> None:
        with self._cond:
            if self._exited:
                return
            self._exited = self._retired = True
            self._returncode = returncode
            request = self._request
            self._cond.notify_all()
        if request is not None:
            request.finish(_exit_payload(request.request_id, returncode), UNHANDLED)

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        """Drain the process's output to the log (never letting the pipe fill), then reap it."""
        assert proc.stdout is not None
        with proc.stdout:
            for raw in proc.stdout:
                if self._log is None:
                    continue
                line = raw.removesuffix(b"\n").decode("utf-8", "replace")
                try:
                    self._log(self.config.name, line)
                except Exception:
                    _logger.exception("log sink failed for %s", self.config.name)
        self._exited_with(proc.wait())


class Sandbox:
    """Runs one function's invocations on up to ``max_instances`` runtime processes.

    Thread-safe: concurrent ``invoke`` calls run on separate instances. ``credentials`` is
    called once per new instance; ``log(function_name, line)`` is called from each instance's
    reader thread, so it should not block (a blocked sink would, in the end, block the
    instance's writes).
    """

    def __init__(
        self,
        config: FunctionConfig,
        credentials: Callable[[], Mapping[str, str]],
        *,
        max_instances: int = 10,
        log: Callable[[str, str], None] | None = None,
        passthrough: Mapping[str, str] | None = None,
    ) -> None:
        if max_instances < 1:
            raise ValueError("max_instances must be at least 1")
        self._passthrough = dict(passthrough or {})
        _check_passthrough(self._passthrough)
        self._config = config
        self._generation = 0
        self._credentials = credentials
        self._max_instances = max_instances
        self._log = log
        self._cond = threading.Condition()
        self._idle: list[_Instance] = []
        self._instances: set[_Instance] = set()
        self._closed = False

    @property
    def config(self) -> FunctionConfig:
        """The configuration that new instances start with."""
        return self._config

    def invoke(self, payload: bytes) -> Invocation:
        """Run one request on an idle instance, or a new one; blocks until it is done."""
        instance = self._acquire()
        try:
            return instance.run(payload)
        finally:
            self._release(instance)

    def update(self, config: FunctionConfig) -> None:
        """Use ``config`` from now on: idle instances retire, busy ones retire when done."""
        if config.name != self._config.name:
            raise ValueError(f"a sandbox runs one function: {self._config.name}, not {config.name}")
        with self._cond:
            self._config = config
            self._generation += 1
            stale, self._idle = self._idle, []
            self._instances.difference_update(stale)
            self._cond.notify_all()
        for instance in stale:
            instance.kill()

    def close(self) -> None:
        """Kill every instance, busy or not, and refuse further requests."""
        with self._cond:
            self._closed = True
            victims = list(self._instances)
            self._instances.clear()
            self._idle.clear()
            self._cond.notify_all()
        for instance in victims:
            instance.kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _acquire(self) -> _Instance:
        """An idle instance of the current configuration, else a new one within the cap."""
        stale: list[_Instance] = []
        try:
            with self._cond:
                instance = self._reserve(stale)
        finally:
            for old in stale:
                old.kill()
        if instance.pid is None:
            self._start(instance)
        return instance

    def _reserve(self, stale: list[_Instance]) -> _Instance:
        """Under the lock: take or create an instance, waiting (bounded) when at the cap."""
        deadline = time.monotonic() + self._config.timeout
        while True:
            if self._closed:
                raise SandboxClosed(self._config.name)
            while self._idle:
                instance = self._idle.pop()
                if instance.generation == self._generation and instance.usable():
                    return instance
                self._instances.discard(instance)
                stale.append(instance)
            if len(self._instances) < self._max_instances:
                instance = _Instance(self._config, self._generation, self._log)
                self._instances.add(instance)
                return instance
            left = deadline - time.monotonic()
            if left <= 0:
                raise Throttled(f"{self._config.name}: {self._max_instances} instances busy")
            self._cond.wait(left)

    def _start(self, instance: _Instance) -> None:
        try:
            environment = _environment(
                instance.config, self._credentials(), self._passthrough, instance.runtime_api
            )
            instance.start(environment)
        except BaseException:
            self._release(instance)
            raise

    def _release(self, instance: _Instance) -> None:
        with self._cond:
            keep = (
                not self._closed
                and instance.generation == self._generation
                and instance in self._instances
                and instance.usable()
            )
            if keep:
                self._idle.append(instance)
            else:
                self._instances.discard(instance)
            self._cond.notify_all()
        if not keep:
            instance.kill()
