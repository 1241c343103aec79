"""Each integration call gets its own X-Ray subsegment, even though calls run in threads."""

from __future__ import annotations

from typing import Any

from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import AWSXRayRecorder

from stepline.engine import CallRequest
from stepline.service import runner
from stepline.service.runner import calls
from stepline.service.runner.run import Run
from stepline.service.runner.spec_cache import SPECS
from tests.integration.conftest import Runs

CALL = r"""
yawl: "0.1"
start: call
steps:
  call:
    functionCall:
      functionId: stepline-double
      input: '\({value: 2})'
"""


def test_a_call_is_traced_under_the_invocation_segment(svc: Any, runs: Runs) -> None:
    execution_id = runs.start(CALL)
    head = svc.executions.get(execution_id)
    spec = SPECS.get(svc, head)
    run = Run(svc, None, head, spec, {}, 0, runner.Invocation())  # type: ignore[arg-type]
    call = CallRequest(
        n=1,
        entry_id="call",
        scope=(),
        step_id="call",
        step_input={"value": 2},
        attempt=1,
        timeout=5,
    )
    # Tracing is switched off process-wide for the other tests; on for this one.
    global_sdk_config.set_sdk_enabled(True)
    recorder = AWSXRayRecorder()
    recorder.configure(sampling=False, context_missing="LOG_ERROR", emitter=_Keep())
    segment = recorder.begin_segment("runner")

    try:
        result = _in_thread(lambda: calls.traced_attempt(run, call, (recorder, segment)))
    finally:
        global_sdk_config.set_sdk_enabled(False)

    assert result.output == {"value": 4}
    traced = [s for s in segment.subsegments if s.name == "## call"]
    assert traced and traced[0].annotations["execution_id"] == execution_id


class _Keep:
    """Keeps emitted segments in memory instead of sending them to the X-Ray daemon."""

    def send_entity(self, entity: Any) -> None:
        return None

    def set_daemon_address(self, address: str) -> None:
        return None


def _in_thread(work: Any) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result(timeout=30)
