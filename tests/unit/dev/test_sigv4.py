"""SigV4 verification against what botocore and curl really put on the wire.

Requests are signed by botocore (or by curl), sent over loopback to a server that records them
as received, and verified from that record, so the path, query and headers are the bytes an
HTTP client actually sends rather than what the test meant to send.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session

from stepline.dev.sigv4 import (
    MISMATCH,
    UNKNOWN_KEY,
    SignatureError,
    Signer,
    canonical_query,
    canonical_uri,
    verify,
)

KEY = "AKIASTEPLINEDEV00001"
SECRET = "stepline/dev/secret+key"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//session+token="
AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
REDRIVE = "/workflows/v1/execution/abc:redrive"


@dataclass(frozen=True)
class Wire:
    """One request as the server received it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class Capture:
    """A loopback HTTP server that answers 200 and keeps every request it receives."""

    def __init__(self) -> None:
        received: queue.Queue[Wire] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received.put(Wire(self.command, self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self) -> Wire:
        return self.received.get(timeout=10)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def capture() -> Iterator[Capture]:
    server = Capture()
    yield server
    server.close()


def secrets(access_key_id: str) -> str | None:
    return SECRET if access_key_id == KEY else None


def check(wire: Wire, *, now: datetime | None = AT, **options: Any) -> Signer | None:
    options.setdefault("secret_for", secrets)
    return verify(wire.method, wire.target, wire.headers, wire.body, now=now, **options)


def refusal(wire: Wire, **options: Any) -> str:
    with pytest.raises(SignatureError) as caught:
        check(wire, **options)
    assert caught.value.status == 403
    return caught.value.message


def send(capture: Capture, request: AWSRequest) -> Wire:
    URLLib3Session().send(request.prepare())
    return capture.take()


def signed(
    capture: Capture,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    key: str = KEY,
    token: str | None = None,
    service: str = "execute-api",
    region: str = "us-east-1",
) -> Wire:
    request = AWSRequest(
        method=method, url=capture.url + path, data=body, headers=headers, params=params
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT):
        SigV4Auth(Credentials(key, SECRET, token), service, region).add_auth(request)
    return send(capture, request)


def presigned(
    capture: Capture,
    path: str,
    *,
    expires: int = 60,
    token: str | None = None,
    signer: type[SigV4QueryAuth] = SigV4QueryAuth,
) -> Wire:
    request = AWSRequest(method="GET", url=capture.url + path)
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT):
        signer(Credentials(KEY, SECRET, token), "execute-api", "us-east-1", expires).add_auth(
            request
        )
    return send(capture, request)


# --- the canonical form ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "canonical"),
    [
        (REDRIVE, "/workflows/v1/execution/abc%3Aredrive"),
        ("/items/%7Bid%7D/a%20b", "/items/%257Bid%257D/a%2520b"),
        ("/a//b/./c/../d/", "/a/b/d/"),
        ("", "/"),
        ("/~user/x-y_z.json", "/~user/x-y_z.json"),
    ],
)
def test_canonical_uri_normalises_then_encodes_the_path_as_sent(sent: str, canonical: str) -> None:
    assert canonical_uri(sent) == canonical


@pytest.mark.parametrize("path", [REDRIVE, "/items/%7Bid%7D/a%20b", "/a//b/./c/../d/", "/x/%3Ay/é"])
def test_canonical_uri_is_the_one_botocore_signs(path: str) -> None:
    request = AWSRequest(method="GET", url="https://api.example.com" + path)
    request.context["timestamp"] = AT.strftime("%Y%m%dT%H%M%SZ")
    auth = SigV4Auth(Credentials(KEY, SECRET), "execute-api", "us-east-1")
    assert auth.canonical_request(request).split("\n")[1] == canonical_uri(urlsplit(path).path)


def test_canonical_query_decodes_reencodes_and_sorts() -> None:
    assert canonical_query("b=2&a=x+y&a=1&c&z=%7E%3a") == "a=1&a=x%20y&b=2&c=&z=~%3A"


# --- header signatures from botocore ----------------------------------------------------------


def test_get_with_a_query_string_verifies(capture: Capture) -> None:
    wire = signed(
        capture, "GET", "/workflows/v1/executions", params={"status": "RUNNING", "q": "a b:c"}
    )
    assert "?" in wire.target
    assert check(wire) == Signer(KEY, "us-east-1", "execute-api", None)


def test_post_with_a_json_body_verifies(capture: Capture) -> None:
    body = b'{"workflow": "orders", "input": {"id": 7}}'
    wire = signed(capture, "POST", "/workflows/v1/executions", body=body, headers=_json_headers())
    assert wire.body == body
    assert check(wire) == Signer(KEY, "us-east-1", "execute-api", None)


@pytest.mark.parametrize(
    "path",
    [REDRIVE, "/workflows/v1/execution/%7Bexec-1%7D/history", "/workflows/v1/by-name/a%20b"],
)
def test_reserved_characters_in_the_path_verify(capture: Capture, path: str) -> None:
    wire = signed(capture, "POST", path, body=b"{}", headers=_json_headers())
    assert wire.target == path
    assert check(wire) is not None


def test_session_token_is_reported(capture: Capture) -> None:
    wire = signed(capture, "GET", "/workflows/v1/executions", token=TOKEN)
    assert check(wire) == Signer(KEY, "us-east-1", "execute-api", TOKEN)


def test_date_header_can_stand_in_for_x_amz_date(capture: Capture) -> None:
    wire = signed(capture, "GET", "/workflows", headers={"Date": "Sun, 01 Mar 2026 11:00:00 GMT"})
    assert "X-Amz-Date" not in wire.headers
    assert check(wire) is not None


def test_region_is_checked_when_given(capture: Capture) -> None:
    wire = signed(capture, "GET", "/workflows", region="eu-west-1")
    assert check(wire) == Signer(KEY, "eu-west-1", "execute-api", None)
    assert refusal(wire, region="us-east-1") == (
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    )


# --- refusals ---------------------------------------------------------------------------------


@pytest.fixture
def post(capture: Capture) -> Wire:
    return signed(
        capture,
        "POST",
        REDRIVE + "?force=true",
        body=b'{"from": "Charge"}',
        headers=_json_headers(),
    )


def _json_headers() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _tamper_header(wire: Wire) -> Wire:
    return replace(wire, headers={**wire.headers, "Content-Type": "text/plain"})


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda w: replace(w, body=b'{"from": "Ship"}'), id="body"),
        pytest.param(_tamper_header, id="header"),
        pytest.param(lambda w: replace(w, target=w.target.replace("abc", "abd")), id="path"),
        pytest.param(lambda w: replace(w, target=w.target.replace("true", "false")), id="query"),
        pytest.param(lambda w: replace(w, method="PUT"), id="method"),
    ],
)
def test_tampered_request_is_refused(post: Wire, tamper: Any) -> None:
    assert check(post) is not None
    assert refusal(tamper(post)) == MISMATCH


def test_wrong_secret_is_refused(post: Wire) -> None:
    assert refusal(post, secret_for=lambda key: "not-the-secret") == MISMATCH


def test_unsigned_headers_may_change(post: Wire) -> None:
    assert "user-agent" not in post.headers["Authorization"].lower().split("signature=")[0]
    assert check(replace(post, headers={**post.headers, "User-Agent": "other"})) is not None


def test_unsigned_request_has_no_signer(capture: Capture) -> None:
    wire = send(capture, AWSRequest(method="GET", url=capture.url + "/workflows"))
    assert check(wire) is None
    assert check(replace(wire, headers={**wire.headers, "Authorization": "Bearer x"})) is None


def test_unknown_key_is_refused(capture: Capture) -> None:
    wire = signed(capture, "GET", "/workflows", key="AKIAUNKNOWNKEY000000")
    with pytest.raises(SignatureError) as caught:
        check(wire)
    assert caught.value.message == UNKNOWN_KEY
    assert caught.value.error_type == "UnrecognizedClientException"


def test_five_minutes_of_skew_either_way_are_allowed(post: Wire) -> None:
    assert check(post, now=AT + timedelta(minutes=5)) is not None
    assert check(post, now=AT - timedelta(minutes=5)) is not None


def test_old_signature_is_refused(post: Wire) -> None:
    assert refusal(post, now=AT + timedelta(minutes=6)) == (
        "Signature expired: 20260301T120000Z is now earlier than 20260301T120100Z "
        "(20260301T120600Z - 5 min.)"
    )


def test_signature_from_the_future_is_refused(post: Wire) -> None:
    assert refusal(post, now=AT - timedelta(minutes=6)) == (
        "Signature not yet current: 20260301T120000Z is still later than 20260301T115900Z "
        "(20260301T115400Z + 5 min.)"
    )


def test_wrong_service_is_refused(capture: Capture) -> None:
    wire = signed(capture, "GET", "/workflows", service="lambda")
    assert refusal(wire) == "Credential should be scoped to correct service: 'execute-api'. "


def test_unsigned_payload_is_refused_in_the_header_form(capture: Capture) -> None:
    headers = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    wire = signed(capture, "POST", "/workflows", body=b"{}", headers=headers)
    assert refusal(wire) == MISMATCH


def _with_authorization(value: str, *, dated: bool = True) -> Wire:
    headers = {"Host": "127.0.0.1:8080", "Authorization": value}
    if dated:
        headers["X-Amz-Date"] = "20260301T120000Z"
    return Wire("GET", "/workflows", headers, b"")


SCOPE = f"{KEY}/20260301/us-east-1/execute-api/aws4_request"


def test_authorization_without_its_parameters_is_refused() -> None:
    value = f"AWS4-HMAC-SHA256 Credential={SCOPE}"
    assert refusal(_with_authorization(value, dated=False)) == (
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={value}"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20260301/us-east-1, SignedHeaders=host, Signature=0",
            "Credential must have exactly 5 slash-delimited elements, "
            "e.g. keyid/date/region/service/term, got 'AKID/20260301/us-east-1'",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders, Signature=0",
            "'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization "
            f"header: 'AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders, Signature=0'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=x-amz-date, Signature=0",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    ],
)
def test_malformed_authorization_is_refused(value: str, message: str) -> None:
    with pytest.raises(SignatureError) as caught:
        check(_with_authorization(value))
    assert caught.value.message == message
    assert caught.value.error_type == "IncompleteSignatureException"


def test_malformed_date_is_refused(post: Wire) -> None:
    wire = replace(post, headers={**post.headers, "X-Amz-Date": "2026-03-01T12:00:00Z"})
    assert refusal(wire) == (
        "Date must be in ISO-8601 'basic format'. Got '2026-03-01T12:00:00Z'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_scope_date_must_be_the_signing_day() -> None:
    value = (
        f"AWS4-HMAC-SHA256 Credential={KEY}/20260228/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0"
    )
    assert refusal(_with_authorization(value)) == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20260228' != '20260301', from '20260301T120000Z'. "
    )


# --- presigned URLs ----------------------------------------------------------------------------


def test_presigned_url_verifies(capture: Capture) -> None:
    wire = presigned(capture, REDRIVE + "?force=true", token=TOKEN)
    assert "X-Amz-Signature=" in wire.target
    assert "Authorization" not in wire.headers
    assert check(wire, now=AT + timedelta(seconds=30)) == Signer(
        KEY, "us-east-1", "execute-api", TOKEN
    )


def test_presigned_url_with_unsigned_payload_verifies(capture: Capture) -> None:
    wire = presigned(capture, "/workflows/v1/executions", signer=S3SigV4QueryAuth)
    assert check(wire) is not None


def test_presigned_url_expires_after_x_amz_expires(capture: Capture) -> None:
    wire = presigned(capture, "/workflows", expires=60)
    assert check(wire, now=AT + timedelta(seconds=60)) is not None
    assert refusal(wire, now=AT + timedelta(seconds=61)) == (
        "Signature expired: 20260301T120000Z is now earlier than 20260301T120001Z "
        "(20260301T120101Z - 1 min.)"
    )


def test_presigned_url_is_held_to_five_minutes_as_api_gateway_does(capture: Capture) -> None:
    wire = presigned(capture, "/workflows", expires=3600)
    assert refusal(wire, now=AT + timedelta(minutes=6)).endswith("(20260301T120600Z - 5 min.)")


def test_tampered_presigned_query_is_refused(capture: Capture) -> None:
    wire = presigned(capture, "/workflows?limit=10")
    assert refusal(replace(wire, target=wire.target.replace("limit=10", "limit=99"))) == MISMATCH


def test_presigned_url_without_signature_is_refused(capture: Capture) -> None:
    wire = presigned(capture, "/workflows")
    target = wire.target.partition("&X-Amz-Signature=")[0]
    assert refusal(replace(wire, target=target)) == (
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "Re-examine the query-string parameters."
    )


# --- curl --aws-sigv4 ---------------------------------------------------------------------------


def _curl_signs() -> bool:
    curl = shutil.which("curl")
    if curl is None:
        return False
    help_text = subprocess.run(
        [curl, "--help", "all"], capture_output=True, text=True, check=False
    ).stdout
    return "--aws-sigv4" in help_text


needs_curl = pytest.mark.skipif(not _curl_signs(), reason="curl lacks --aws-sigv4")


def curl(capture: Capture, path: str, *extra: str) -> Wire:
    subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--globoff",
            "--max-time",
            "10",
            "--output",
            "/dev/null",
            "--aws-sigv4",
            "aws:amz:us-east-1:execute-api",
            "--user",
            f"{KEY}:{SECRET}",
            *extra,
            capture.url + path,
        ],
        check=True,
    )
    return capture.take()


@needs_curl
@pytest.mark.parametrize(
    "path",
    [
        REDRIVE,
        "/workflows/v1/execution/%7Bexec-1%7D/history",
        "/workflows/v1/executions?status=RUNNING&limit=10",
    ],
)
def test_curl_signed_get_verifies(capture: Capture, path: str) -> None:
    wire = curl(capture, path)
    assert wire.target == path
    assert check(wire, now=None) == Signer(KEY, "us-east-1", "execute-api", None)


@needs_curl
def test_curl_signed_post_with_session_token_verifies(capture: Capture) -> None:
    body = '{"from": "Charge"}'
    headers = ("-H", "Content-Type: application/json", "-H", f"x-amz-security-token: {TOKEN}")
    wire = curl(capture, REDRIVE, *headers, "--data-raw", body)
    assert wire.method == "POST"
    assert check(wire, now=None) == Signer(KEY, "us-east-1", "execute-api", TOKEN)
    assert refusal(replace(wire, body=b'{"from": "Ship"}'), now=None) == MISMATCH


def test_non_ascii_signature_is_a_mismatch_not_a_crash(post: Wire) -> None:
    authorization = post.headers["Authorization"].rpartition("Signature=")[0] + "Signature=é"
    assert refusal(replace(post, headers={**post.headers, "Authorization": authorization})) == (
        MISMATCH
    )


@pytest.mark.parametrize("expires", ["soon", "²", "-5"])
def test_presigned_url_with_unreadable_expiry_is_refused(capture: Capture, expires: str) -> None:
    wire = presigned(capture, "/workflows")
    target = wire.target.replace("X-Amz-Expires=60", f"X-Amz-Expires={expires}")
    assert refusal(replace(wire, target=target)) == "X-Amz-Expires should be a number"
