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

No value read this way is stored or shown as it is. The runner makes a :class:`SecretMask` of
the values its spec's references give (:meth:`SecretMask.of`) and redacts them to ``***``
wherever text leaves it: history entries (input, output, error, lastError), the execution's
result and error, error messages, log lines (:class:`LogRedaction`). The machine snapshot of a
log item, which the next runner goes on from, has them hidden behind markers instead
(:meth:`SecretMask.hide`); that runner reads the secrets again and puts their values back
(:meth:`SecretMask.restore`; a secret or key that is gone: ``STEP_INVALID_ARGUMENT``). Values
are found as they are, JSON-escaped, and in jq's shortened quotes of them; values a template
transformed otherwise (hashed, base64-encoded, cut) are not found. :func:`redact` redacts every
value of a ``secrets`` mapping at once.

Errors: see ``aws_errors``; a missing secret is ``STEP_INVALID_ARGUMENT``, a secret that is not a
JSON object ``STEP_INVALID_ARGUMENT``. IAM: ``secretsmanager:GetSecretValue`` (+ ``kms:Decrypt``
for secrets encrypted with a customer key).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    """Every form in which a secret value of the mapping is redacted, longest first (the order
    redaction needs): the value and its JSON-escaped forms (jq's quotes are found apart)."""
    return SecretMask.of_values(_all_values(secrets)).texts()


def redact(value: Any, secrets: Mapping[str, Mapping[str, str]]) -> Any:
    """A copy of a JSON value with every secret value (also inside strings) replaced by ***."""
    return SecretMask.of_values(_all_values(secrets)).redact(value)


def _all_values(secrets: Mapping[str, Mapping[str, str]]) -> list[str]:
    return sorted({value for payload in secrets.values() for value in payload.values()})


# --- keeping secret values out of what is stored and shown ----------------------------------

MARK = "\u2063"  # INVISIBLE SEPARATOR: brackets a marker; a MARK of the data itself is doubled
_MARKER = re.compile(f"{MARK}(?:{MARK}|secret:(\\d+)(?::([a-z0-9]+))?{MARK})")
_STRAY_MARKER = re.compile(f"{MARK}secret:\\d+(?::[a-z0-9]+)?{MARK}")
# A message cut short may end in this many first characters of a value or more: redacted.
_SHORTEST_CUT = 4
# jq quotes a string it complains about shortened ("s3cr3t-012...): prefixes up to this long.
_QUOTED_PREFIX = 64
# In jq's quote a '"' of the value is escaped; one cut short may end in half an escape.
_QUOTE = f'"(?P<quoted>(?:[^"\\\\]|\\\\.){{1,{_QUOTED_PREFIX}}}?\\\\?)\\.\\.\\.'


def _escaped(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _ascii_escaped(value: str) -> str:
    return json.dumps(value)[1:-1]


# The forms in which a value shows up in text: as it is, inside a JSON string (raw or
# \\u-escaped), inside JSON text held in a JSON string.
_FORMS: dict[str, Callable[[str], str]] = {
    "": lambda value: value,
    "j": _escaped,
    "a": _ascii_escaped,
    "jj": lambda value: _escaped(_escaped(value)),
    "aa": lambda value: _ascii_escaped(_ascii_escaped(value)),
}


def _form(value: str, name: str) -> str | None:
    """The text of one form of a value (``q<k>``: jq's quote of its first k characters)."""
    if name in _FORMS:
        return _FORMS[name](value)
    if name.startswith("q") and name[1:].isdigit():
        return f'"{_escaped(value)[: int(name[1:])]}...'
    return None


class SecretMask:
    """The values an execution read through ``lockboxPayload``, kept out of what it stores.

    Every value is found in each form it takes in text (as it is, JSON-escaped once or twice,
    quoted shortened in a jq error message), in strings and keys of JSON values:

    * :meth:`redact` replaces each with ``***``, for good: history entries, the outcome on the
      head, error messages and log lines, all of which users see.
    * :meth:`hide` replaces each with a marker ``MARK secret:<n>[:<form>] MARK`` that tells
      only which reference (``n``: its place among the spec's references, sorted) and form it
      was; :meth:`restore` puts the values read again in their place. A machine snapshot is
      stored hidden and restored by the next runner: ``restore(hide(x)) == x`` for any JSON
      value ``x`` (a ``MARK`` of the data itself is stored doubled, so data never turns into
      a secret), as long as the values stay the same; a secret rotated in between comes back
      with its new value.
    """

    def __init__(self, values: Sequence[tuple[str, str | None]] = ()) -> None:
        """``values``: per reference, its name for messages and its value (None: unavailable)."""
        self._values = list(values)
        tokens: dict[str, tuple[int, str]] = {}  # a form's text → (reference, form)
        quoted: dict[str, tuple[int, int]] = {}  # a prefix of a JSON-escaped value → (reference, k)
        for n, (_name, value) in enumerate(self._values):
            if not value:
                continue
            for form, make in _FORMS.items():
                tokens.setdefault(make(value), (n, form))
            escaped = _escaped(value)
            for k in range(1, min(len(escaped), _QUOTED_PREFIX + 1)):
                quoted.setdefault(escaped[:k], (n, k))
        self._tokens, self._quoted = tokens, quoted
        self._redactable: re.Pattern[str] | None = None
        self._hideable: re.Pattern[str] | None = None
        if tokens:
            found = "|".join(re.escape(text) for text in self.texts())
            self._redactable = re.compile(f"{found}|{_QUOTE}|{_STRAY_MARKER.pattern}")
            self._hideable = re.compile(f"{found}|{_QUOTE}|{MARK}")

    @classmethod
    def of(cls, refs: Iterable[Reference], secrets: Mapping[str, Mapping[str, str]]) -> SecretMask:
        """The mask of a spec's references, with the values ``SecretCache.resolve`` gave."""
        values = []
        for secret_id, key, version in sorted(refs, key=lambda r: (r[0], r[1], r[2] or "")):
            name = secret_id if version is None else f"{secret_id}@{version}"
            values.append((f"secret {name} key {key}", secrets.get(name, {}).get(key)))
        return cls(values)

    @classmethod
    def of_values(cls, values: Iterable[str]) -> SecretMask:
        """A mask of bare values (one reference each)."""
        return cls([("a secret", value) for value in values])

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def texts(self) -> list[str]:
        """Every text this mask finds, longest first."""
        return sorted(self._tokens, key=len, reverse=True)

    def redact(self, value: Any) -> Any:
        """A copy of a JSON value with every secret value shown as ``***`` (stray markers too)."""
        if self._redactable is None:
            return value
        return _mapped(value, self.redact_text)

    def redact_text(self, text: str) -> str:
        """``text`` with every secret value shown as ``***``, and a text that ends in the first
        characters of one (a message cut short: adapters cut long ones) ending in ``***``."""
        if self._redactable is None:
            return text
        return self._cut_tail(self._redactable.sub(self._redacted, text))

    def _cut_tail(self, text: str) -> str:
        for token in self.texts():
            for k in range(min(len(token) - 1, len(text)), _SHORTEST_CUT - 1, -1):
                if text.endswith(token[:k]):
                    return text[:-k] + REDACTED
        return text

    def _redacted(self, match: re.Match[str]) -> str:
        found, inner = match.group(), match.group("quoted")
        if found in self._tokens or inner is None or inner in self._quoted:
            return REDACTED  # a value, a jq quote of one, or a stray marker
        return f'"{self.redact_text(inner)}...'  # a jq quote of something else

    def redact_exception(self, exc: BaseException) -> None:
        """Redact an exception in place, with its causes and context: the arguments its text
        is made of (a ``message`` attribute, notes), so that whoever shows it later (a
        tracer, a log, a failed execution's error) shows no secret value."""
        if self._redactable is None:
            return
        pending, seen = [exc], set()
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            current.args = tuple(self.redact(arg) for arg in current.args)
            attributes = getattr(current, "__dict__", {})
            for name in ("message", "__notes__"):
                if isinstance(attributes.get(name), str | list):
                    attributes[name] = self.redact(attributes[name])
            pending += [e for e in (current.__cause__, current.__context__) if e is not None]

    def hide(self, value: Any) -> Any:
        """A copy of a JSON value with every secret value behind a marker (see :meth:`restore`)."""
        if self._hideable is None:
            return value
        return _mapped(value, self._hide_text)

    def restore(self, value: Any) -> Any:
        """The value :meth:`hide` was given, with the values as they are read now.

        A marker whose secret cannot be read any more fails as a missing secret does:
        STEP_INVALID_ARGUMENT.
        """
        return _mapped(value, self._restore_text)

    def _hide_text(self, text: str) -> str:
        assert self._hideable is not None
        return self._hideable.sub(self._marker, text)

    def _marker(self, match: re.Match[str]) -> str:
        found, inner = match.group(), match.group("quoted")
        if found in self._tokens:
            n, form = self._tokens[found]
        elif inner is None:
            return MARK + MARK  # a MARK of the data itself
        elif inner in self._quoted:
            n, k = self._quoted[inner]
            form = f"q{k}"
        else:
            return f'"{self._hide_text(inner)}...'  # a jq quote of something else
        return f"{MARK}secret:{n}{':' + form if form else ''}{MARK}"

    def _restore_text(self, text: str) -> str:
        return _MARKER.sub(self._value_of, text) if MARK in text else text

    def _value_of(self, match: re.Match[str]) -> str:
        if match.group(1) is None:
            return MARK
        n, form = int(match.group(1)), match.group(2) or ""
        name, value = self._values[n] if n < len(self._values) else ("a secret", None)
        text = _form(value, form) if value else None
        if text is None:
            raise StepFailure(
                WorkflowErrorCode.STEP_INVALID_ARGUMENT,
                f"{name} is not available any more, and the execution's data holds it",
            )
        return text


def _mapped(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a JSON value with ``change`` applied to every string (keys too)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {_mapped(k, change): _mapped(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mapped(item, change) for item in value]
    return value


class LogRedaction(logging.Filter):
    """A log filter redacting from every record the secrets of each execution in progress.

    A runner process may advance several executions at once (a batch's records run in
    threads, each execution's calls in threads of their own): each is redacted with the
    masks of all of them. :meth:`scope` brackets one execution's work, :meth:`use` gives it
    its mask once its secrets are read.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._active: dict[str, tuple[int, SecretMask]] = {}

    @contextmanager
    def scope(self, key: str) -> Iterator[None]:
        """Work on ``key`` (an execution id) goes on inside; scopes of one key may nest."""
        with self._lock:
            count, mask = self._active.get(key, (0, SecretMask()))
            self._active[key] = (count + 1, mask)
        try:
            yield
        finally:
            with self._lock:
                count, mask = self._active[key]
                if count > 1:
                    self._active[key] = (count - 1, mask)
                else:
                    del self._active[key]

    def use(self, key: str, mask: SecretMask) -> None:
        """Redact ``mask``'s values for as long as the scope of ``key`` lasts."""
        with self._lock:
            if key in self._active:
                self._active[key] = (self._active[key][0], mask)

    def mask_of(self, key: str) -> SecretMask:
        """The mask in use for ``key`` (an empty one outside its scope)."""
        with self._lock:
            return self._active.get(key, (0, SecretMask()))[1]

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            masks = [mask for _, mask in self._active.values() if mask]
        for mask in masks:
            _redact_record(record, mask)
        return True


_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _redact_record(record: logging.LogRecord, mask: SecretMask) -> None:
    """Redact a log record in place: its message, exception, stack and extra fields."""
    if record.args:
        message = record.getMessage()
        redacted = mask.redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
    else:
        record.msg = mask.redact(record.msg)
    if record.exc_info and record.exc_info[0] is not None:
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        redacted = mask.redact_text(text)
        if redacted != text:
            # Formatters show the exception from exc_info: it goes, its redacted text stays.
            record.__dict__["exception"] = redacted
            record.__dict__["exception_name"] = record.exc_info[0].__name__
            record.exc_info, record.exc_text = None, None
    if isinstance(record.stack_info, str):
        record.stack_info = mask.redact_text(record.stack_info)
    for name, value in list(vars(record).items()):
        if name not in _RECORD_FIELDS and isinstance(value, str | Mapping | list | tuple):
            record.__dict__[name] = mask.redact(value)
