"""``stepline grpc-gateway``: the official clients' gRPC endpoint beside a deployed stack.

Registered with the CLI through the ``stepline.commands`` entry point (pyproject.toml).
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``stepline grpc-gateway`` to the CLI."""
    app.command("grpc-gateway")(grpc_gateway)


def grpc_gateway(
    api: Annotated[
        str,
        typer.Option(
            help="The deployed HTTP API, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com"
        ),
    ],
    port: Annotated[int, typer.Option(help="Port to serve gRPC on.")] = 50051,
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    profile: Annotated[
        str | None, typer.Option(help="AWS profile whose credentials sign the requests.")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="AWS region of the API (default: from its host name).")
    ] = None,
) -> None:
    """Serve ExecutionService, WorkflowService and OperationService over gRPC, forwarding each
    call to the HTTP API signed with this process's AWS credentials."""
    from stepline.cli.client import ApiError
    from stepline.gateway import transcoder

    try:
        target = transcoder.Api(api, profile=profile, region=region)
        server, bound = transcoder.serve(target, host=host, port=port)
    except (ApiError, OSError) as exc:
        typer.echo(f"stepline grpc-gateway: {exc}", err=True)
        raise typer.Exit(2) from exc
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    typer.echo(f"gRPC gateway ready: {host}:{bound} -> {target.endpoint}")
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(grace=1)
        target.close()
