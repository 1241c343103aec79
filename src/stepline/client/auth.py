"""Where a client sends its calls, and how it signs them (SigV4, as API Gateway checks)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Generator, Iterable
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from stepline.errors import InvalidArgument, Unauthenticated

ENDPOINT_VARIABLE: Final = "STEPLINE_ENDPOINT"
DEFAULT_ENDPOINT: Final = "http://127.0.0.1:8080"
"""The dev stack's HTTP API on its default port (``make dev``)."""
DEV_CREDENTIALS: Final = ("stepline-dev", "stepline-dev")
"""The dev stack's account root: its emulator and gateway accept this key as the root user."""
DEV_REGION: Final = "us-east-1"
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


def resolve_endpoint(endpoint: str | None) -> str:
    """The endpoint given, else ``$STEPLINE_ENDPOINT`` (what ``make dev`` prints to export),
    else the dev stack's default; without a trailing slash."""
    chosen = endpoint or os.environ.get(ENDPOINT_VARIABLE) or DEFAULT_ENDPOINT
    parts = urlsplit(chosen)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"endpoint: {chosen[:120]!r} is not an http(s) URL")
    return chosen.rstrip("/")


def is_loopback(endpoint: str) -> bool:
    """True when the endpoint is on this machine (the dev stack)."""
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SigV4(httpx.Auth):
    """Signs each request with SigV4 for API Gateway (service ``execute-api``).

    A loopback endpoint (the dev stack) is signed with the dev stack's root key unless a
    profile or credentials are given; anything else with the standard AWS credential chain
    (environment, profile, SSO, instance or task role), refreshed as botocore refreshes it.
    """

    requires_request_body = True

    def __init__(
        self,
        endpoint: str,
        *,
        profile: str | None = None,
        region: str | None = None,
        credentials: Any = None,
    ) -> None:
        if credentials is not None:
            self.credentials: Any = credentials
            self.region: str = region or _region_of(endpoint) or DEV_REGION
            return
        if is_loopback(endpoint) and profile is None:
            from botocore.credentials import Credentials

            self.credentials = Credentials(*DEV_CREDENTIALS)
            self.region = region or DEV_REGION
            return
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.Session(profile_name=profile, region_name=region)
            found = session.get_credentials()
        except BotoCoreError as exc:
            raise Unauthenticated(f"AWS credentials: {exc}") from exc
        if found is None:
            raise Unauthenticated(
                "no AWS credentials found: configure the AWS credential chain or name a profile"
            )
        # An execute-api host names its region; signing for another one would be refused.
        chosen = region or _region_of(endpoint) or session.region_name
        if not chosen:
            raise InvalidArgument("region: none given, and AWS_REGION is not set")
        self.region = chosen
        self.credentials = found

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the SigV4 headers to ``request`` (its query encoded as SigV4 signs it)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        if request.url.query:
            request.url = request.url.copy_with(query=query_string(request.url.params).encode())
        headers = {k: v for k, v in request.headers.items() if k.lower() != "connection"}
        aws = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=headers
        )
        frozen = self.credentials.get_frozen_credentials()
        SigV4Auth(frozen, "execute-api", self.region).add_auth(aws)
        for key, value in aws.headers.items():
            request.headers[key] = value
        yield request


def query_string(params: Iterable[tuple[str, str]] | httpx.QueryParams) -> str:
    """A query encoded as SigV4 signs it: every byte but ``A-Za-z0-9-_.~`` as ``%XX``, a space
    as ``%20``. (A form encoding's ``+`` for a space is signed as it stands, while API Gateway
    reads it as a space and signs ``%20``: a filter holding `` AND `` would be refused as a bad
    signature.)"""
    pairs = params.multi_items() if isinstance(params, httpx.QueryParams) else params
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def _region_of(endpoint: str) -> str | None:
    found = _REGION_IN_HOST.search(urlsplit(endpoint).hostname or "")
    return found.group(1) if found else None
