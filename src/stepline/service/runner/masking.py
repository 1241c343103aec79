"""Secret values kept out of what the runner stores and logs.

Secrets a workflow reads (``lockboxPayload``) never leave the runner as they are: what it
writes and logs goes through the execution's :class:`SecretMask` — history entries, the outcome
and error messages redacted to ``***``, the machine's records with the values hidden behind
markers that the next runner restores from the secrets it reads again (:func:`hide_secrets`,
:func:`restore_secrets`).
"""

from __future__ import annotations

import logging
from typing import Any

from stepline import engine
from stepline.engine import ENTRY_DATA, Records
from stepline.integrations.secrets import LogRedaction, SecretMask
from stepline.telemetry import logger

# Redacts the secrets of the executions this process is advancing from the runner's log lines.
LOGS = LogRedaction()


# A snapshot whose strings have the execution's secrets behind markers (SecretMask.hide).
_HIDDEN = "secretsHidden"


# The machine's own record is kept as it is: the reconciler and Stop read its children from
# the log, and it holds no step data.
_UNHIDDEN = frozenset({engine.MACHINE_RECORD, _HIDDEN})


def log_redaction() -> LogRedaction:
    """The redaction of log records: the runner's own logger's, and those of every logger
    that reaches the root handlers (the Lambda runtime's: the tracer, botocore, ...)."""
    logger.addFilter(LOGS)  # a filter is added only if it is not there yet
    for handler in logging.getLogger().handlers:
        handler.addFilter(LOGS)
    return LOGS


def hide_secrets(records: Records, mask: SecretMask) -> Records:
    """Machine records as a log item stores them: the threads' (states, step inputs) with the
    secret values behind markers. (The open entries are stored as GetHistory shows them,
    redacted, and the machine goes on with those.)"""
    if not mask:
        return records
    hidden = {k: v if k in _UNHIDDEN or v is None else mask.hide(v) for k, v in records.items()}
    return hidden | {_HIDDEN: True}


def restore_secrets(records: Records, mask: SecretMask) -> Records:
    """The records to go on from, with their secret values put back (StepFailure
    STEP_INVALID_ARGUMENT when one cannot be read any more)."""
    if not records.get(_HIDDEN):
        return records
    return {k: v if k in _UNHIDDEN else mask.restore(v) for k, v in records.items() if k != _HIDDEN}


def shown_entries(entries: list[dict[str, Any]], mask: SecretMask) -> list[dict[str, Any]]:
    """History entries with the secret values in their step data and messages redacted."""
    if not mask:
        return entries
    shown = []
    for entry in entries:
        copied = dict(entry)
        for part, key in ENTRY_DATA:
            if isinstance(copied.get(part), dict) and isinstance(copied[part].get(key), str):
                copied[part] = {**copied[part], key: mask.redact_text(copied[part][key])}
        shown.append(copied)
    return shown


def shown_outcome(outcome: dict[str, Any] | None, mask: SecretMask) -> dict[str, Any] | None:
    """An execution's outcome with the secret values in its result or error message redacted."""
    if outcome is None or not mask:
        return outcome
    shown = dict(outcome)
    if "result" in shown:
        shown["result"] = mask.redact(shown["result"])
    if isinstance(shown.get("error"), dict):
        error = shown["error"]
        shown["error"] = {**error, "message": mask.redact_text(str(error.get("message", "")))}
    return shown
