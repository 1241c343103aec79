"""Options every API command shares, and the one place API errors become exit codes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.text import Text

from stepline.cli.client import ApiError, Client, Unreachable
from stepline.cli.output import Format, err
from stepline.client.auth import DEFAULT_ENDPOINT
from stepline.errors import SteplineError

API_ERROR_EXIT = 1
ENDPOINT_VARIABLE = "STEPLINE_ENDPOINT"

EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        help=f"API base URL (default: $STEPLINE_ENDPOINT, else {DEFAULT_ENDPOINT}).",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="AWS profile that signs requests (deployed stack).")
]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="AWS region of a deployed stack.")
]
FormatOption = Annotated[
    Format | None,
    typer.Option(
        "--format",
        "-o",
        help="Output format (default: table on a terminal, json when piped).",
        show_default=False,
        case_sensitive=False,
    ),
]
PageSizeOption = Annotated[
    int, typer.Option("--page-size", min=0, max=1000, help="Items per page (0: the API default).")
]
AllOption = Annotated[bool, typer.Option("--all", help="Follow page tokens to the last page.")]
FilterOption = Annotated[str, typer.Option("--filter", help="The API's filter expression.")]


class GlobalOptions:
    """What ``stepline [--endpoint URL] COMMAND`` said before the command (set per run)."""

    endpoint: str | None = None


def set_global_options(endpoint: str | None) -> None:
    """Record the options given before the command (the CLI's callback does, every run)."""
    GlobalOptions.endpoint = endpoint


def endpoint_of(endpoint: str | None) -> str:
    """The endpoint to talk to: the command's option, then the global one, then
    $STEPLINE_ENDPOINT, then where ``make dev`` serves by default."""
    return (
        endpoint or GlobalOptions.endpoint or os.environ.get(ENDPOINT_VARIABLE) or DEFAULT_ENDPOINT
    )


def unreachable_line(exc: Unreachable) -> str:
    """The one line for an endpoint nobody answers at: how to start or name a stack."""
    return (
        f"error: cannot reach {exc.endpoint} ({exc.reason}): start the dev stack with "
        f"`make dev`, or name a running stack with --endpoint URL or ${ENDPOINT_VARIABLE}"
    )


@contextmanager
def api(endpoint: str | None, profile: str | None, region: str | None) -> Iterator[Client]:
    """A client; an :class:`ApiError` inside prints ``error: CODE (n): message`` and exits 1."""
    client: Client | None = None
    try:
        client = Client(endpoint_of(endpoint), profile=profile, region=region)
        yield client
    except Unreachable as exc:
        err().print(unreachable_line(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(API_ERROR_EXIT) from None
    except ApiError as exc:
        message = f": {exc.code_name} ({exc.code}): {exc.message}"
        err().print(Text.assemble(("error", "red"), message))
        raise typer.Exit(API_ERROR_EXIT) from None
    except SteplineError as exc:  # met before the call: no credentials, no region
        message = f": {exc.code.name} ({int(exc.code)}): {exc.message}"
        err().print(Text.assemble(("error", "red"), message))
        raise typer.Exit(API_ERROR_EXIT) from None
    finally:
        if client is not None:
            client.close()
