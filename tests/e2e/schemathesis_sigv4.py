"""Schemathesis hooks (``SCHEMATHESIS_HOOKS``): every request signed with SigV4 for
``execute-api`` as the dev stack's account root, as the CLI and the console sign; and the
workflows the fuzzer creates given a valid YaWL spec, so the stateful phase has workflows to
follow the document's links from (Get, Update, Start, then Get/Stop of the executions)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stepline.api.openapi import EXAMPLE_SPEC
from stepline.client.auth import DEV_CREDENTIALS, DEV_REGION

# A random string is no YaWL: without a valid spec a Create never succeeds.
VALID_SPEC_PHASES = ("fuzzing", "stateful")


class SigV4(requests.auth.AuthBase):
    """Signs a prepared request (method, URL, headers, body) with the dev root key."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        # requests encodes a space in the query as '+', which botocore signs as a literal plus
        # (%2B) and the edge reads as a space: send %20, as the CLI (httpx) does.
        url = urlsplit(request.url or "")
        request.url = urlunsplit(url._replace(query=url.query.replace("+", "%20")))
        body = request.body or b""
        data = body.encode() if isinstance(body, str) else body
        headers = {k: v for k, v in request.headers.items() if k.lower() != "connection"}
        aws = AWSRequest(method=request.method, url=request.url, data=data, headers=headers)
        SigV4Auth(Credentials(*DEV_CREDENTIALS), "execute-api", DEV_REGION).add_auth(aws)
        request.headers.update(dict(aws.headers.items()))
        return request


schemathesis.auth.set_from_requests(SigV4())


@schemathesis.hook("map_case").apply_to(method="POST", path="/workflows/v1/workflow")
def valid_spec(context: Any, case: Any) -> Any:
    """A positive Create of the fuzzing and stateful phases gets a spec that validates."""
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and meta.phase.name in VALID_SPEC_PHASES and isinstance(case.body, dict):
        case.body["specification"] = {"specYaml": EXAMPLE_SPEC}
    return case
