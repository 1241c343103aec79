"""Options every API command shares, and the one place API errors become exit codes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.text import Text

from stepline.cli.client import DEFAULT_ENDPOINT, ApiError, Client
from stepline.cli.output import Format, err

API_ERROR_EXIT = 1

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


def endpoint_of(endpoint: str | None) -> str:
    """The endpoint to talk to: the option, then $STEPLINE_ENDPOINT, then the dev stack."""
    return endpoint or os.environ.get("STEPLINE_ENDPOINT") or DEFAULT_ENDPOINT


@contextmanager
def api(endpoint: str | None, profile: str | None, region: str | None) -> Iterator[Client]:
    """A client; an :class:`ApiError` inside prints ``error: CODE (n): message`` and exits 1."""
    client: Client | None = None
    try:
        client = Client(endpoint_of(endpoint), profile=profile, region=region)
        yield client
    except ApiError as exc:
        message = f": {exc.code_name} ({exc.code}): {exc.message}"
        err().print(Text.assemble(("error", "red"), message))
        raise typer.Exit(API_ERROR_EXIT) from None
    finally:
        if client is not None:
            client.close()
