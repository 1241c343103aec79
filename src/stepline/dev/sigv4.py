"""Verification of incoming AWS Signature Version 4 requests, as API Gateway does for AWS_IAM.

`verify` answers with the `Signer` a request proves, ``None`` when the request carries no
SigV4 signature at all, or raises `SignatureError` with the message, status and
``x-amzn-ErrorType`` API Gateway answers with. It accepts a signature only if it is the
HMAC-SHA256, under the caller's secret for the access key, of a canonical form of this very
request (method, path, query, the signed headers and the body), dated within five minutes of
``now`` and scoped to the expected service (and region, when one is given).

The canonical form is AWS's for services other than S3
(https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):

- URI: the path as it arrived on the wire, with dot segments and empty segments removed, then
  every byte but ``A-Za-z0-9-._~`` and ``/`` percent-encoded. A ``:`` arrives raw and becomes
  ``%3A``; a ``%7B`` that arrived encoded is encoded again into ``%257B``. This is what
  botocore's ``SigV4Auth`` signs, and what AWS checks.
- Query: each name and value decoded, re-encoded the same way (space as ``%20``), sorted by
  name then value; ``X-Amz-Signature`` left out in the presigned form.
- Headers: the ``SignedHeaders`` only, names lower-cased, values trimmed with inner runs of
  whitespace collapsed, repeated headers joined with ``,``; ``host`` must be among them.
- Payload: the SHA-256 of the body as received (so ``UNSIGNED-PAYLOAD`` in the header form
  never matches); the presigned form may also sign ``UNSIGNED-PAYLOAD``.

curl before 8.x (7.88 here) signs the path and the query exactly as it sends them, unencoded
and unsorted (curl issues #9717, #11794, #13754). Real API Gateway refuses such a signature
once the path holds a reserved character or the query is out of order; this stand-in accepts
the as-sent path and query too, so that ``curl --aws-sigv4`` works against the dev stack.

A presigned URL is refused past its ``X-Amz-Expires``. API Gateway itself ignores that value
and holds presigned requests to the same five minutes as signed headers, so the earlier of the
two limits applies here.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import parse_qsl, quote, unquote_plus

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
MAX_SKEW: Final = timedelta(minutes=5)
MAX_EXPIRES: Final = 604800  # a week, the longest presigned URL AWS signs
TIMESTAMP: Final = "%Y%m%dT%H%M%SZ"

INCOMPLETE: Final = "IncompleteSignatureException"
INVALID: Final = "InvalidSignatureException"
UNRECOGNIZED: Final = "UnrecognizedClientException"

MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
UNKNOWN_KEY: Final = "The security token included in the request is invalid."
HOST_UNSIGNED: Final = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
PRESIGNED_PARAMS: Final = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)


@dataclass(frozen=True)
class Signer:
    """Who signed a request, as the signature proved it."""

    access_key_id: str
    region: str
    service: str
    session_token: str | None


class SignatureError(Exception):
    """Why a request is refused; ``.message`` is the text API Gateway answers with.

    ``.status`` is its HTTP status and ``.error_type`` its ``x-amzn-ErrorType`` header.
    """

    def __init__(self, message: str, error_type: str = INVALID, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status


@dataclass(frozen=True)
class _Claim:
    """What a request says about its own signature, before any of it is checked."""

    access_key_id: str
    scope: tuple[str, str, str, str]  # date, region, service, terminator
    timestamp: datetime
    signed_headers: tuple[str, ...]
    signature: str
    session_token: str | None
    query: str  # the raw query, less X-Amz-Signature in the presigned form
    expires: int | None  # X-Amz-Expires, in the presigned form only


def verify(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret_for: Callable[[str], str | None],
    service: str = "execute-api",
    region: str | None = None,
    now: datetime | None = None,
) -> Signer | None:
    """The signer a SigV4 request proves, or None when it carries no signature."""
    lowered = _lower_headers(headers)
    path, _, query = target.partition("#")[0].partition("?")
    claim = _claim(lowered, query)
    if claim is None:
        return None
    _check_time(claim, now or datetime.now(UTC))
    _check_scope(claim, service, region)
    secret = secret_for(claim.access_key_id)
    if secret is None:
        raise SignatureError(UNKNOWN_KEY, UNRECOGNIZED)
    if not _signature_matches(claim, secret, method, path, lowered, body):
        raise SignatureError(MISMATCH)
    _, signed_region, signed_service, _ = claim.scope
    return Signer(claim.access_key_id, signed_region, signed_service, claim.session_token)


def canonical_uri(path: str) -> str:
    """The canonical URI AWS computes for a non-S3 service from the path as sent."""
    return quote(_remove_dot_segments(path or "/"), safe="/")


def canonical_query(query: str) -> str:
    """The canonical query string AWS computes from the query as sent."""
    pairs = []
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((_encode(unquote_plus(name)), _encode(unquote_plus(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


# --- reading the claim ---------------------------------------------------------------------


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers by lower-cased name, values trimmed, repeated ones joined with commas (SigV4's)."""
    joined: dict[str, list[str]] = {}
    for name, value in headers.items():
        joined.setdefault(name.lower(), []).append(" ".join(value.split()))
    return {name: ",".join(values) for name, values in joined.items()}


def _claim(headers: Mapping[str, str], query: str) -> _Claim | None:
    authorization = headers.get("authorization", "")
    if authorization.split(" ", 1)[0] == ALGORITHM:
        return _header_claim(authorization, headers, query)
    params = dict(parse_qsl(query, keep_blank_values=True))
    if "X-Amz-Algorithm" in params:
        return _query_claim(params, query)
    return None


def _header_claim(authorization: str, headers: Mapping[str, str], query: str) -> _Claim:
    fields: dict[str, str] = {}
    for piece in authorization[len(ALGORITHM) :].split(","):
        piece = piece.strip()
        if not piece:
            continue
        name, equals, value = piece.partition("=")
        if not equals:
            raise SignatureError(
                f"'{piece}' not a valid key=value pair (missing equal-sign) in Authorization "
                f"header: '{authorization}'.",
                INCOMPLETE,
            )
        fields[name.strip()] = value.strip()
    missing = [
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if "x-amz-date" not in headers and "date" not in headers:
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    if missing:
        raise SignatureError("".join(missing) + f"Authorization={authorization}", INCOMPLETE)
    if "x-amz-date" in headers:
        timestamp = _parse_timestamp(headers["x-amz-date"])
    else:
        timestamp = _parse_http_date(headers["date"])
    access_key_id, scope = _parse_credential(fields["Credential"])
    return _Claim(
        access_key_id=access_key_id,
        scope=scope,
        timestamp=timestamp,
        signed_headers=_parse_signed_headers(fields["SignedHeaders"]),
        signature=fields["Signature"],
        session_token=headers.get("x-amz-security-token"),
        query=query,
        expires=None,
    )


def _query_claim(params: Mapping[str, str], query: str) -> _Claim:
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureError(f'X-Amz-Algorithm only supports "{ALGORITHM}"', INCOMPLETE)
    missing = [
        f"AWS query-string parameters must include '{name}'. "
        for name in PRESIGNED_PARAMS
        if not params.get(name)
    ]
    if missing:
        raise SignatureError(
            "".join(missing) + "Re-examine the query-string parameters.", INCOMPLETE
        )
    access_key_id, scope = _parse_credential(params["X-Amz-Credential"])
    unsigned = "&".join(
        piece
        for piece in query.split("&")
        if unquote_plus(piece.partition("=")[0]) != "X-Amz-Signature"
    )
    return _Claim(
        access_key_id=access_key_id,
        scope=scope,
        timestamp=_parse_timestamp(params["X-Amz-Date"]),
        signed_headers=_parse_signed_headers(params["X-Amz-SignedHeaders"]),
        signature=params["X-Amz-Signature"],
        session_token=params.get("X-Amz-Security-Token"),
        query=unsigned,
        expires=_parse_expires(params.get("X-Amz-Expires")),
    )


def _parse_credential(credential: str) -> tuple[str, tuple[str, str, str, str]]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise SignatureError(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'",
            INCOMPLETE,
        )
    return parts[0], (parts[1], parts[2], parts[3], parts[4])


def _parse_signed_headers(signed: str) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in signed.split(";") if name.strip())
    if "host" not in names:
        raise SignatureError(HOST_UNSIGNED, INCOMPLETE)
    return names


def _parse_timestamp(value: str) -> datetime:
    try:
        return datetime.strptime(value, TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise _bad_date(value) from None


def _parse_http_date(value: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise _bad_date(value) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _bad_date(value: str) -> SignatureError:
    return SignatureError(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601",
        INCOMPLETE,
    )


def _parse_expires(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise SignatureError("X-Amz-Expires should be a number", INCOMPLETE)
    if int(value) > MAX_EXPIRES:
        raise SignatureError(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}",
            INCOMPLETE,
        )
    return int(value)


# --- checking it ---------------------------------------------------------------------------


def _check_time(claim: _Claim, now: datetime) -> None:
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    window = MAX_SKEW
    if claim.expires is not None:
        window = min(window, timedelta(seconds=claim.expires))
    signed = claim.timestamp.strftime(TIMESTAMP)
    if claim.timestamp < now - window:
        earliest = (now - window).strftime(TIMESTAMP)
        raise SignatureError(
            f"Signature expired: {signed} is now earlier than {earliest} "
            f"({now.strftime(TIMESTAMP)} - {_duration(window)}.)"
        )
    if claim.timestamp > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(TIMESTAMP)
        raise SignatureError(
            f"Signature not yet current: {signed} is still later than {latest} "
            f"({now.strftime(TIMESTAMP)} + {_duration(MAX_SKEW)}.)"
        )


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} sec"


def _check_scope(claim: _Claim, service: str, region: str | None) -> None:
    date, signed_region, signed_service, terminator = claim.scope
    problems = []
    if region is not None and signed_region != region:
        problems.append(f"Credential should be scoped to a valid region, not '{signed_region}'. ")
    if signed_service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'. ")
    if terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'. "
        )
    day = claim.timestamp.strftime("%Y%m%d")
    if date != day:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{day}', from '{claim.timestamp.strftime(TIMESTAMP)}'. "
        )
    if problems:
        raise SignatureError("".join(problems))


def _signature_matches(
    claim: _Claim,
    secret: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
) -> bool:
    key = _signing_key(secret, *claim.scope[:3])
    scope = "/".join(claim.scope)
    timestamp = claim.timestamp.strftime(TIMESTAMP)
    for request in _canonical_requests(claim, method, path, headers, body):
        digest = hashlib.sha256(request.encode()).hexdigest()
        string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode(), claim.signature.encode()):
            return True
    return False


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_requests(
    claim: _Claim, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> Iterator[str]:
    """AWS's canonical request first, then the as-sent variants older curl signs."""
    uris = dict.fromkeys((canonical_uri(path), path or "/"))
    queries = dict.fromkeys((canonical_query(claim.query), claim.query))
    payloads = [hashlib.sha256(body).hexdigest()]
    if claim.expires is not None:
        payloads.append(UNSIGNED_PAYLOAD)
    header_block = "".join(f"{name}:{headers.get(name, '')}\n" for name in claim.signed_headers)
    signed = ";".join(claim.signed_headers)
    for uri, query, payload in itertools.product(uris, queries, payloads):
        yield f"{method.upper()}\n{uri}\n{query}\n{header_block}\n{signed}\n{payload}"


def _encode(text: str) -> str:
    return quote(text, safe="~")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal, and empty segments dropped as AWS drops them."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and kept else ""
    return lead + "/".join(kept) + trail
