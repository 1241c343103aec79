"""EMF metrics of the runner: the steps each log write records, and executions' ends."""

from __future__ import annotations

from typing import Any

from stepline.statuses import EntryStatus
from stepline.telemetry import metrics as shared

# Entry types of control steps: counted together, since a document per type would cost more log
# bytes than it tells (they take no time of their own).
_CONTROL_ENTRIES = frozenset(
    {"Switch", "Foreach", "Parallel", "Success", "Fail", "NoOp", "Wait", "While"}
)


def step_metrics(entries: list[dict[str, Any]], ended: str | None = None) -> None:
    """EMF metrics of the steps one log write recorded: all steps together (and the
    execution's end when this write is it), then each integration step type on its own
    (completed, failed, retried, mean duration)."""
    if not entries and ended is None:
        return
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    def counts(metrics: EphemeralMetrics, group: list[dict[str, Any]]) -> None:
        completed = sum(1 for e in group if e["status"] == EntryStatus.COMPLETED)
        retried = sum(int(e.get("attempts", 1)) - 1 for e in group)
        metrics.add_metric(name="StepCompleted", unit=MetricUnit.Count, value=completed)
        metrics.add_metric(name="StepFailed", unit=MetricUnit.Count, value=len(group) - completed)
        if retried:
            metrics.add_metric(name="StepRetried", unit=MetricUnit.Count, value=retried)

    # The namespace the template sets (POWERTOOLS_METRICS_NAMESPACE), or Stepline's own where
    # nothing sets it (a runner driven in a test): never a document without one.
    overall = EphemeralMetrics(namespace=shared.namespace)
    if entries:
        counts(overall, entries)
    if ended is not None:
        overall.add_metric(name=f"Executions{ended.title()}", unit=MetricUnit.Count, value=1)
    overall.flush_metrics()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry["type"] not in _CONTROL_ENTRIES:
            by_type.setdefault(entry["type"], []).append(entry)
    for step_type, group in by_type.items():
        metrics = EphemeralMetrics(namespace=shared.namespace)
        metrics.add_dimension(name="type", value=step_type)
        counts(metrics, group)
        total = sum(float(str(e.get("duration", "0s")).rstrip("s") or 0) for e in group)
        metrics.add_metric(
            name="StepDuration", unit=MetricUnit.Milliseconds, value=total * 1000 / len(group)
        )
        metrics.flush_metrics()


def execution_metric(name: str) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=shared.namespace):
        pass
