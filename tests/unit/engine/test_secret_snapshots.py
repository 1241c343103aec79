"""A machine holding secret values is stored with them hidden, and goes on with them restored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stepline import engine
from stepline.engine.machine import new_machine
from stepline.integrations.secrets import SecretMask, references
from stepline.service.runner import masking
from stepline.yawl import load
from stepline.yawl.errors import StepFailure, WorkflowErrorCode

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TOKEN = "s3cr3t-0d9e5b1c7a2f4e6b8d0c1a3e5f7b9d2c"
SECRETS = {"api": {"token": TOKEN}}
SPEC = load(
    r"""
yawl: "0.1"
start: keep
steps:
  keep:
    noOp:
      output: '\(lockboxPayload("api"; "token") as $t | {token: $t, auth: "Bearer \($t)"})'
      next: nap
  nap:
    wait: {duration: 1s, next: call}
  call:
    functionCall:
      functionId: stepline-echo
      input: '\({auth: .auth})'
      next: done
  done:
    success: {}
"""
)
MASK = SecretMask.of(references(SPEC), SECRETS)


def _records(machine: engine.Machine) -> dict[str, Any]:
    """The machine's full records (its own tracking of changes left as it was)."""
    return engine.snapshot(machine.model_copy(deep=True))


def _stored(machine: engine.Machine, mask: SecretMask = MASK) -> dict[str, Any]:
    """The records as the runner writes them, through JSON as the log stores them."""
    return json.loads(json.dumps(masking.hide_secrets(_records(machine), mask)))  # type: ignore[no-any-return]


def _resumed(stored: dict[str, Any], machine: engine.Machine, mask: SecretMask = MASK) -> Any:
    """The machine a runner goes on with, from the stored records."""
    return engine.load(masking.restore_secrets(stored, mask), engine.open_entries(machine))


def _parked(secrets: Any = SECRETS) -> engine.Advance:
    adv = engine.advance(SPEC, new_machine({"user": "ann"}), NOW, secrets=secrets)
    assert adv.wake_at is not None and not adv.calls  # waiting at nap, the token in its state
    assert json.dumps(secrets["api"]["token"]) in json.dumps(_records(adv.machine))
    return adv


def test_the_snapshot_holds_no_secret_value_and_resumes_as_it_was() -> None:
    adv = _parked()
    snapshot = _stored(adv.machine)

    assert TOKEN not in json.dumps(snapshot, ensure_ascii=False)
    assert _records(_resumed(snapshot, adv.machine)) == _records(adv.machine)


def test_a_delta_holds_no_secret_value_either() -> None:
    adv = _parked()
    engine.snapshot(adv.machine)
    adv = engine.advance(SPEC, adv.machine, NOW + timedelta(seconds=2), secrets=SECRETS)
    delta = json.loads(json.dumps(masking.hide_secrets(engine.changes(adv.machine), MASK)))

    assert any(key.startswith("d:") for key in delta)  # the state moved on: it is in the delta
    assert TOKEN not in json.dumps(delta, ensure_ascii=False)
    assert masking.restore_secrets(delta, MASK)["d:"]["state"]["token"] == TOKEN


def test_the_step_after_a_resume_gets_the_real_value() -> None:
    parked = _parked().machine
    machine = _resumed(_stored(parked), parked)
    later = NOW + timedelta(seconds=2)

    adv = engine.advance(SPEC, machine, later, secrets=SECRETS)

    assert [call.step_input for call in adv.calls] == [{"auth": f"Bearer {TOKEN}"}]


def test_a_resume_without_the_secret_fails_as_a_missing_secret() -> None:
    snapshot = _stored(_parked().machine)
    with pytest.raises(StepFailure) as caught:
        masking.restore_secrets(snapshot, SecretMask.of(references(SPEC), {"api": {}}))
    assert caught.value.code == WorkflowErrorCode.STEP_INVALID_ARGUMENT


def test_the_engine_redacts_nothing_the_runner_does() -> None:
    adv = _parked()
    (keep,) = adv.finished
    assert TOKEN in keep["output"]["outputJson"]  # the engine keeps step data as it is
    (shown,) = masking.shown_entries([keep], MASK)
    assert json.loads(shown["output"]["outputJson"]) == {
        "token": "***",
        "auth": "Bearer ***",
    }


def test_a_machine_without_secrets_is_stored_as_it_is() -> None:
    records = _records(_parked().machine)
    assert masking.hide_secrets(records, SecretMask()) is records
    assert masking.restore_secrets(records, SecretMask()) is records


def test_a_short_secret_leaves_what_the_runner_and_others_read_intact() -> None:
    """A one-letter value is in every word: entries, the outcome and the record others read
    keep their shape; the threads, hidden whole, come back as they were."""
    secrets = {"api": {"token": "t"}}
    mask = SecretMask.of(references(SPEC), secrets)
    adv = _parked(secrets)
    engine.remember_child(adv.machine, 7, "swtest-child-t")
    snapshot = _stored(adv.machine, mask)

    assert engine.stored_children(snapshot) == ["swtest-child-t"]  # read by Stop, the reconciler
    (nap,) = masking.shown_entries(engine.open_entries(adv.machine), mask)
    assert (nap["status"], nap["type"], nap["id"]) == ("STARTED", "Wait", "nap")
    assert "startedAt" in nap
    assert _records(_resumed(snapshot, adv.machine, mask)) == _records(adv.machine)
    (keep,) = masking.shown_entries(adv.finished, mask)
    assert keep["status"] == "COMPLETED" and "startedAt" in keep
    assert json.loads(keep["output"]["outputJson"]) == {"***oken": "***", "au***h": "Bearer ***"}

    outcome = {"status": "FAILED", "error": {"message": "at it", "errorCode": "STEP_FAIL"}}
    assert masking.shown_outcome(outcome, mask) == {
        "status": "FAILED",
        "error": {"message": "a*** i***", "errorCode": "STEP_FAIL"},
    }
    finished = masking.shown_outcome({"status": "FINISHED", "result": {"t": "at"}}, mask)
    assert finished == {"status": "FINISHED", "result": {"***": "a***"}}
