"""Secrets for ``lockboxPayload(secretId; key[; versionId])`` from AWS Secrets Manager.

Before a step's templates are rendered the runner finds the secrets they name
(:func:`references`), fetches them once per invocation through a :class:`SecretCache`
(``GetSecretValue``; the SecretString must be a JSON object) and passes the mapping it returns
as ``render(..., secrets=...)``: ``{secretId: {key: value}}`` for the 2-argument form and
``{secretId + "@" + versionId: {key: value}}`` for the 3-argument one. A ``versionId`` of 32-64
characters is sent as ``VersionId``, anything else (``AWSPREVIOUS``, a custom label) as
``VersionStage``. Non-string values of the JSON object are given as their JSON text.

Only literal arguments are found (``lockboxPayload("id"; "key")``); a call with computed
arguments finds no secret and fails at render time with STEP_INVALID_TEMPLATE_EXPRESSION.
:func:`redact` replaces every secret value inside a JSON value with ``***`` before step input,
output or errors go to history or logs.

Errors: see ``aws_errors``; a missing secret is ``STEP_INVALID_ARGUMENT``, a secret that is not a
JSON object ``STEP_INVALID_ARGUMENT``. IAM: ``secretsmanager:GetSecretValue`` (+ ``kms:Decrypt``
for secrets encrypted with a customer key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from stepline import bounds
from stepline.integrations import aws_errors
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.templating import secret_references

REDACTED = "***"
Reference = tuple[str, str, str | None]
Secrets = dict[str, dict[str, str]]
_VERSION_ID = re.compile(r"^[A-Za-z0-9-]{32,64}$")


def references(value: Any) -> set[Reference]:
    """(secretId, key, versionId) of every lockboxPayload call in the strings of a spec value."""
    found: set[Reference] = set()
    for text in _strings(value):
        if "lockboxPayload" in text:
            found |= secret_references(text)
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _strings(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


class SecretCache:
    """Secret payloads fetched through one Secrets Manager client, each at most once."""

    def __init__(self, client: Any) -> None:
        self._client = aws_errors.with_timeout_hook(client)
        self._payloads: dict[tuple[str, str | None], dict[str, str]] = {}

    def payload(self, secret_id: str, version: str | None, timeout: float) -> dict[str, str]:
        """The key/value payload of one secret version, fetched on first use."""
        cache_key = (secret_id, version)
        if cache_key not in self._payloads:
            self._payloads[cache_key] = self._fetch(secret_id, version, timeout)
        return self._payloads[cache_key]

    def resolve(self, refs: Iterable[Reference], timeout: float) -> Secrets:
        """The ``secrets`` mapping ``templating.render`` reads for these references."""
        secrets: Secrets = {}
        for secret_id, _key, version in refs:
            name = secret_id if version is None else f"{secret_id}@{version}"
            secrets[name] = self.payload(secret_id, version, timeout)
        return secrets

    def _fetch(self, secret_id: str, version: str | None, timeout: float) -> dict[str, str]:
        params = {"SecretId": secret_id}
        if version is not None:
            params["VersionId" if _VERSION_ID.match(version) else "VersionStage"] = version
        with aws_errors.translated(timeout, action=f"GetSecretValue {secret_id}"):
            reply = self._client.get_secret_value(**params)
        return _payload(secret_id, reply.get("SecretString"))


def _payload(secret_id: str, text: Any) -> dict[str, str]:
    try:
        data = bounds.loads(text) if isinstance(text, str) else None
    except ValueError:  # not JSON, or JSON beyond stepline.bounds
        data = None
    if not isinstance(data, dict):
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"secret {secret_id} must hold a JSON object of keys and values in SecretString",
        )
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def secrets_for(step: Any, cache: SecretCache, timeout: float) -> Secrets:
    """The ``secrets`` mapping a step's templates need (empty when they name none)."""
    refs = references(step)
    return cache.resolve(refs, timeout) if refs else {}


def secret_values(secrets: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Every distinct non-empty secret value, longest first (the order redaction needs)."""
    values = {value for payload in secrets.values() for value in payload.values() if value}
    # A value interpolated into a JSON string shows up escaped; redact that form too.
    values |= {json.dumps(value, ensure_ascii=False)[1:-1] for value in set(values)}
    return sorted(values, key=len, reverse=True)


def redact(value: Any, secrets: Mapping[str, Mapping[str, str]]) -> Any:
    """A copy of a JSON value with every secret value (also inside strings) replaced by ***."""
    values = secret_values(secrets)
    if not values:
        return value
    pattern = re.compile("|".join(re.escape(item) for item in values))
    return _redact(value, pattern)


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {_redact(k, pattern): _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, pattern) for item in value]
    return value
