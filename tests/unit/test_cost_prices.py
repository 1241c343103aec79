"""The price file holds every price and assumption the cost bench uses, each with its source."""

from __future__ import annotations

import json
from datetime import date

from stepline.bench import cost


def test_every_latency_has_a_stated_source_and_the_table_a_date() -> None:
    data = json.loads(cost.PRICES_PATH.read_text())
    latency = data["latency_ms"]

    date.fromisoformat(latency["as_of"])
    assert set(latency["ms"]) == set(latency["sources"])
    assert all(latency["sources"][k].strip() for k in latency["ms"])
    assert "ssumption" in latency["notes"]


def test_the_corrected_model_finds_every_price_and_assumption_it_needs() -> None:
    prices = cost.Prices.load()

    date.fromisoformat(prices.as_of)
    for key in (
        "dynamodb_storage_gb_month",
        "dynamodb_pitr_gb_month",
        "s3_standard_storage_gb_month",
        "cloudwatch_logs_ingested_gb",
        "xray_trace_recorded",
    ):
        assert prices.usd[key] > 0
    for key in (
        "lambda_platform_log_bytes_per_invocation",
        "xray_sampled_fraction",
        "storage_hours_per_month",
        "storage_bytes_per_gb",
    ):
        assert prices.assumptions[key] > 0
    assert 0 < prices.assumptions["xray_sampled_fraction"] <= 1


def test_storage_is_priced_per_gb_month_of_the_retention_period() -> None:
    prices = cost.Prices.load()
    gb = prices.assumptions["storage_bytes_per_gb"]
    month_days = prices.assumptions["storage_hours_per_month"] / 24
    usd = prices.storage(
        {"dynamodb_table_bytes": gb, "dynamodb_index_bytes": gb, "s3_bytes": gb}, month_days
    )

    assert usd["dynamodb_storage"] == 2 * prices.usd["dynamodb_storage_gb_month"]
    assert usd["dynamodb_pitr"] == prices.usd["dynamodb_pitr_gb_month"]  # the table's data only
    assert usd["s3_storage"] == prices.usd["s3_standard_storage_gb_month"]
