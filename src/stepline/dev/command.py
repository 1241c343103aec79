"""``stepline dev``: the command that runs the dev stack, registered by this package.

The CLI finds it through the ``stepline.commands`` entry point (pyproject.toml), so the CLI
itself imports nothing of the dev stack.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    """Add ``stepline dev`` to the CLI."""
    app.command()(dev)


def dev(
    port: Annotated[int, typer.Option(help="Port of the HTTP API.")] = 8080,
    public_port: Annotated[
        int | None,
        typer.Option(help="Port of the public start-by-link API (default: the API's port + 1)."),
    ] = None,
    aws_port: Annotated[int, typer.Option(help="Port of the emulated AWS endpoint.")] = 4566,
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
    verbose: Annotated[bool, typer.Option(help="Show request, log and metric output.")] = False,
    allow_unsigned: Annotated[
        bool,
        typer.Option(
            help="Accept unsigned requests on IAM-authorised routes as the account root "
            "(quick experiments with plain curl; AWS never does this)."
        ),
    ] = False,
) -> None:
    """Run the whole stack on this machine against an embedded AWS emulator."""
    from stepline.dev.stack import DevStack

    stack = DevStack(
        port=port,
        public_port=public_port,
        aws_port=aws_port,
        verbose=verbose,
        allow_unsigned=allow_unsigned,
        examples_dir=examples,
        functions_dir=functions,
        time_scale=time_scale,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    grpc_server = None
    try:
        url = stack.start()
        for name, workflow_id in stack.registered.items():
            typer.echo(f"workflow {name}: {workflow_id}")
        typer.echo(f"AWS endpoint: {stack.aws_endpoint}")
        typer.echo(f"Public start-by-link API: {stack.public_url}")
        wanted = port + 2 if grpc_port is None else grpc_port
        if wanted:
            try:
                grpc_server, bound = _serve_grpc(url, wanted)
            except OSError as exc:
                typer.echo(f"stepline dev: {exc} (--grpc-port; 0 turns it off)", err=True)
                raise typer.Exit(2) from exc
            typer.echo(f"gRPC endpoint: 127.0.0.1:{bound}")
        typer.echo(f"Stepline dev stack ready: {url}", color=False)
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=1)
        stack.stop()
        typer.echo("Stepline dev stack stopped")


def _serve_grpc(url: str, port: int) -> tuple[Any, int]:
    """The official clients' gRPC endpoint in front of the stack's own API, signed as its
    account root (``stepline.gateway``)."""
    from stepline.gateway import transcoder

    return transcoder.serve(transcoder.Api(url), port=port)
