"""The history TTL rule, its setting, and the attribute on heads and log items."""

from __future__ import annotations

from datetime import UTC, datetime

from stepline.service.deps import Settings
from stepline.store import keys
from stepline.store.records import ExecutionRecord, history_expiry, resume_expiry
from stepline.store.table import item_size

ENV = {"TABLE_NAME": "t", "STEPS_QUEUE_URL": "q", "PAYLOAD_BUCKET": "b"}
START = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def test_the_retention_defaults_to_90_days_and_is_read_from_the_environment() -> None:
    assert Settings.from_env(ENV).history_retention_days == 90
    assert Settings.from_env(ENV | {"HISTORY_RETENTION_DAYS": "7"}).history_retention_days == 7


def test_an_item_expires_after_the_retention_and_the_time_quota() -> None:
    epoch = int(START.timestamp())
    got = history_expiry(START, retention_days=90, max_execution_hours=48)
    assert got == epoch + 90 * 86400 + 48 * 3600
    # A fraction of an hour of quota is rounded up, never down.
    assert history_expiry(START, retention_days=1, max_execution_hours=0.5001) == (
        epoch + 86400 + 1801
    )


def test_an_item_that_only_resumes_the_run_is_kept_past_the_quota_not_the_retention() -> None:
    epoch = int(START.timestamp())
    written = datetime(2026, 3, 2, tzinfo=UTC)
    got = resume_expiry(START, written, retention_days=90, max_execution_hours=48)
    assert got == epoch + 48 * 3600 + 14 * 86400  # from the start: the run ends by its quota
    # Never longer than an item with entries written at the same time would be kept.
    assert resume_expiry(START, written, retention_days=3, max_execution_hours=48) == (
        history_expiry(written, retention_days=3, max_execution_hours=48)
    )


def test_the_head_carries_its_ttl_as_a_number_and_reads_it_back() -> None:
    expires = history_expiry(START, retention_days=90, max_execution_hours=48)
    record = ExecutionRecord("e1", "w1", 1, "QUEUED", START, input_json="{}", expires_at=expires)
    item = record.to_item()
    assert item[keys.TTL_ATTRIBUTE] == expires and isinstance(item[keys.TTL_ATTRIBUTE], int)
    assert ExecutionRecord.from_item(item) == record
    without = ExecutionRecord("e1", "w1", 1, "QUEUED", START, input_json="{}")
    assert keys.TTL_ATTRIBUTE not in {k for k, v in without.to_item().items() if v is not None}
    # The attribute's name and a 10-digit number: a few bytes of the 400 KB.
    assert item_size(item) - item_size(without.to_item()) <= len(keys.TTL_ATTRIBUTE) + 21
