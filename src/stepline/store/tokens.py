"""Opaque, tamper-evident page tokens bound to the query they came from.

A token is ``base64url(json payload) "." base64url(HMAC-SHA256(key, payload)[:16])``. The payload
holds the DynamoDB key to resume from and a digest of the query's scope (workflow, filter,
index), so a token from one listing is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from stepline.store.errors import translated

_VERSION = 1
_MAX_TOKEN_LENGTH = 2048


class BadPageToken(ValueError):
    """The token was not issued by this service for this query."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def scope_digest(*parts: str) -> str:
    """A short digest naming the query a token belongs to."""
    joined = "\x1f".join(parts).encode()
    return hashlib.sha256(joined).hexdigest()[:16]


class PageTokens:
    """Issues and verifies page tokens with one HMAC key."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("page token key must not be empty")
        self._key = key

    @classmethod
    def from_secret(cls, client: Any, secret_id: str) -> PageTokens:
        """Tokens keyed by the SecretString of ``secret_id`` (Secrets Manager ``client``).

        Raises ``Throttled``, ``Unavailable`` or ``Refused`` (store errors) when it cannot be read.
        """
        with translated("secretsmanager"):
            reply = client.get_secret_value(SecretId=secret_id)
        return cls(str(reply["SecretString"]).encode())

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def issue(self, last_key: Mapping[str, Any], scope: str) -> str:
        """A token resuming after ``last_key`` within ``scope``."""
        payload = json.dumps(
            {"v": _VERSION, "s": scope, "k": dict(last_key)}, separators=(",", ":"), sort_keys=True
        ).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}"

    def verify(self, token: str, scope: str) -> dict[str, Any]:
        """The resume key of ``token``; raises BadPageToken when forged, corrupt or foreign."""
        if len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise BadPageToken("malformed")
        body, mac = token.split(".")
        try:
            payload = _b64decode(body)
            given = _b64decode(mac)
        except (binascii.Error, ValueError) as exc:
            raise BadPageToken("malformed") from exc
        if _b64encode(payload) != body or _b64encode(given) != mac:
            raise BadPageToken("malformed")  # non-canonical base64: unused bits were changed
        if not hmac.compare_digest(given, self._mac(payload)):
            raise BadPageToken("signature mismatch")
        data = json.loads(payload)
        if data.get("v") != _VERSION or not isinstance(data.get("k"), dict):
            raise BadPageToken("unsupported version")
        if data.get("s") != scope:
            raise BadPageToken("issued for a different query")
        key: dict[str, Any] = data["k"]
        return key
