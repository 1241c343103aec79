"""``stepline dev``: the command that runs the dev stack, registered by this package.

The CLI finds it through the ``stepline.commands`` entry point (pyproject.toml), so the CLI
itself imports nothing of the dev stack.

What a person at a terminal is promised: a taken port or a missing extra is one line and a
non-zero exit within a second or two; SIGTERM or Ctrl-C stops the stack at any moment, during
startup too, leaving no process behind; once it serves, the lines after the ready line are the
``export`` lines that point the CLI, curl, boto3 and the AWS CLI at it.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import select
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

# Where the dev stack listens unless told otherwise (make dev's PORT and AWS_PORT as well).
DEFAULT_PORT = 8080
DEFAULT_AWS_PORT = 4566
READY = "Stepline dev stack ready: "
EXPORTS_HEADER = "# In another terminal, these point the CLI, curl, boto3 and the aws CLI here:"
# What the dev stack imports beyond the package's own dependencies: the extra that brings them.
EXTRA = "local"
EXTRA_MODULES = ("moto", "flask", "werkzeug", "samtranslator", "cfnlint", "awslambdaric")
GRPC_MODULES = ("yandex.cloud",)  # the official protos the gRPC endpoint serves
# How long stopping may take before the remaining processes are killed outright.
STOP_DEADLINE = 10.0
USAGE_EXIT = 2


def register(app: typer.Typer) -> None:
    """Add ``stepline dev`` to the CLI."""
    app.command()(dev)


def dev(
    port: Annotated[int, typer.Option(help="Port of the HTTP API.")] = DEFAULT_PORT,
    public_port: Annotated[
        int | None,
        typer.Option(help="Port of the public start-by-link API (default: the API's port + 1)."),
    ] = None,
    aws_port: Annotated[
        int, typer.Option(help="Port of the emulated AWS endpoint.")
    ] = DEFAULT_AWS_PORT,
    grpc_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the gRPC endpoint for the official clients "
            "(default: the API's port + 2; 0 turns it off)."
        ),
    ] = None,
    examples: Annotated[
        Path | None, typer.Option(help="Folder of workflows to register (default: examples/).")
    ] = None,
    functions: Annotated[
        Path | None,
        typer.Option(
            help="Folder of <name>.py files served as Lambda functions "
            "(default: examples/functions/)."
        ),
    ] = None,
    time_scale: Annotated[
        float, typer.Option(help="Multiply Wait steps and retry delays (0.01 = 100x faster).")
    ] = 1.0,
    verbose: Annotated[
        bool, typer.Option(help="Show requests, function logs and metrics.")
    ] = False,
    allow_unsigned: Annotated[
        bool,
        typer.Option(
            help="Accept unsigned requests on IAM-authorised routes as the account root "
            "(quick experiments with plain curl; AWS never does this)."
        ),
    ] = False,
) -> None:
    """Run the whole stack on this machine against an embedded AWS emulator."""
    missing = missing_extra(grpc=grpc_port != 0)
    if missing:
        fail(
            f"the dev stack needs the {EXTRA!r} extra ({missing} is not installed): "
            f"pip install -e '.[{EXTRA}]'"
        )
    ports = Ports.chosen(port, public_port, aws_port, grpc_port)
    taken = ports.first_taken()
    if taken is not None:
        fail(in_use(*taken))
    options = {
        "verbose": verbose,
        "allow_unsigned": allow_unsigned,
        "examples_dir": examples,
        "functions_dir": functions,
        "time_scale": time_scale,
    }
    with stopped_by_signals():
        run(ports, options)


def fail(line: str) -> None:
    """Print one line to stderr and exit with the usage code."""
    typer.echo(f"stepline dev: {line}", err=True)
    raise typer.Exit(USAGE_EXIT)


FLAG_HINTS = {
    "--port": "--port (make dev PORT=...)",
    "--aws-port": "--aws-port (make dev AWS_PORT=...)",
    "--grpc-port": "--grpc-port (0 turns it off)",
}


def in_use(port: int, flag: str) -> str:
    """The one line for a taken port."""
    return f"port {port} is in use: pick another with {FLAG_HINTS.get(flag, flag)}"


def missing_extra(grpc: bool = True) -> str | None:
    """The first module of the dev-stack extra that cannot be imported, if any (those of the
    gRPC endpoint only when it is on)."""
    for name in EXTRA_MODULES + (GRPC_MODULES if grpc else ()):
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # a parent package missing, or blocked
            return name
    return None


@dataclass(frozen=True)
class Ports:
    """The ports the stack listens on (0: any free one; gRPC 0: none)."""

    api: int
    public: int
    aws: int
    grpc: int

    @classmethod
    def chosen(cls, api: int, public: int | None, aws: int, grpc: int | None) -> Ports:
        """The ports from the options, the defaults filled in."""
        if public is None:
            public = api + 1 if api else 0
        if grpc is None:
            grpc = api + 2 if api else 0
        return cls(api, public, aws, grpc)

    def first_taken(self, host: str = "127.0.0.1") -> tuple[int, str] | None:
        """The first port someone already listens on, with the option that moves it."""
        flags = (
            (self.api, "--port"),
            (self.public, "--public-port"),
            (self.aws, "--aws-port"),
            (self.grpc, "--grpc-port"),
        )
        for port, flag in flags:
            if port and not is_free(host, port):
                return port, flag
        return None


def is_free(host: str, port: int) -> bool:
    """Nobody listens on ``host:port`` (bound as the stack's servers bind, address reuse on)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


class Stop(BaseException):
    """SIGTERM or SIGINT arrived: unwind whatever runs and stop the stack."""


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Make SIGTERM and SIGINT raise :class:`Stop` in the main thread, at any moment.

    A second signal while stopping, or a stop that outlasts :data:`STOP_DEADLINE`, kills the
    stack's processes and exits at once.
    """

    def first(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, again)
        signal.signal(signal.SIGINT, again)
        watchdog = threading.Timer(STOP_DEADLINE, force_exit)
        watchdog.daemon = True
        watchdog.start()
        raise Stop

    def again(signum: int, frame: FrameType | None) -> None:
        force_exit()

    previous = signal.signal(signal.SIGTERM, first), signal.signal(signal.SIGINT, first)
    try:
        yield
    except Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def force_exit() -> None:
    """Kill this process's children and leave now."""
    kill_children()
    os._exit(1)


def kill_children() -> None:
    """SIGKILL every process this one started that still runs, with its process group."""
    me, my_group = os.getpid(), os.getpgrp()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:  # /proc/<pid>/stat: pid (comm) state ppid pgrp ...
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) != me:
            continue
        pid, group = int(entry.name), int(fields[2])
        with suppress(OSError):
            if group != my_group:  # a sandbox runs in a group of its own
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)


def run(ports: Ports, options: dict[str, Any]) -> None:
    """Start the stack, print what it serves, serve until a signal; always clean up."""
    from stepline.dev.stack import DevStack, PortInUse

    stack = DevStack(port=ports.api, public_port=ports.public, aws_port=ports.aws, **options)
    grpc: list[Any] = []
    problem: PortInUse | None = None
    try:
        serve(stack, ports, grpc)
    except PortInUse as exc:
        problem = exc
    finally:
        try:
            for server in grpc:
                server.stop(grace=1)
            stack.stop()
        finally:
            kill_children()
        if problem is None:
            typer.echo("Stepline dev stack stopped")
    if problem is not None:
        fail(in_use(problem.port, problem.flag))


def serve(stack: Any, ports: Ports, grpc: list[Any]) -> None:
    """Start ``stack`` and its gRPC endpoint (kept in ``grpc``), print the ready and export
    lines, then wait for a signal."""
    url = stack.start()
    for name, workflow_id in stack.registered.items():
        typer.echo(f"workflow {name}: {workflow_id}")
    typer.echo(f"AWS endpoint: {stack.aws_endpoint}")
    typer.echo(f"Public start-by-link API: {stack.public_url}")
    environment = stack.environment()
    if ports.grpc:
        server, bound = serve_grpc(url, ports.grpc)
        grpc.append(server)
        typer.echo(f"gRPC endpoint: 127.0.0.1:{bound}")
        environment["STEPLINE_GRPC_ENDPOINT"] = f"127.0.0.1:{bound}"
    typer.echo(f"{READY}{url}", color=False)
    typer.echo(EXPORTS_HEADER)
    for line in export_lines(environment):
        typer.echo(line)
    wait_for_a_signal()


def wait_for_a_signal() -> None:
    """Block until a signal's handler runs (and raises), whichever thread the signal hit.

    ``signal.pause()`` returns only for a signal delivered to the main thread, and the kernel
    may hand SIGTERM to any of the stack's threads: its handler would then wait for a wake-up
    that never comes. The wake-up fd is written by whichever thread takes the signal.
    """
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    previous = signal.set_wakeup_fd(writer.fileno())
    try:
        while True:
            select.select([reader], [], [])
            reader.recv(64)  # the handler runs as this returns to Python code
    finally:
        signal.set_wakeup_fd(previous)
        reader.close()
        writer.close()


def export_lines(environment: dict[str, str]) -> list[str]:
    """``export NAME=value`` for each variable, in a stable order."""
    return [f"export {name}={value}" for name, value in environment.items()]


def serve_grpc(url: str, port: int) -> tuple[Any, int]:
    """The official clients' gRPC endpoint in front of the stack's own API, signed as its
    account root (``stepline.gateway``); a taken port is :class:`PortInUse`."""
    from stepline.dev.stack import PortInUse
    from stepline.gateway import transcoder

    try:
        return transcoder.serve(transcoder.Api(url), port=port)
    except OSError as exc:
        raise PortInUse(port, "--grpc-port") from exc
