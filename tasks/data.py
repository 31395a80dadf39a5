"""Data steps: fingerprint the source, ingest it, validate it, split it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from housing_core.data import source, split, validation
from housing_core.settings import DataSettings, SplitSettings
from tasks.caching import LOAD_CACHE, SPLIT_CACHE, VALIDATE_CACHE
from tasks.retries import NETWORK_RETRY_DELAYS, retry_unless_bad_data


@dataclass(frozen=True)
class IngestedData:
    frame: pd.DataFrame
    version: str
    source: str

    @property
    def cache_token(self) -> str:
        return self.version


@task(
    name="fingerprint-source",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=NETWORK_RETRY_DELAYS,
    retry_condition_fn=retry_unless_bad_data,
)
def fingerprint_source(location: str, timeout_s: float) -> str:
    """Never cached: it is what tells the ingest cache that the data changed."""
    return source.source_fingerprint(location, timeout_s)


@task(
    name="load-housing-data",
    cache_policy=LOAD_CACHE,
    persist_result=True,
    retries=3,
    retry_delay_seconds=NETWORK_RETRY_DELAYS,
    retry_condition_fn=retry_unless_bad_data,
)
def load_housing_data(location: str, fingerprint: str, timeout_s: float) -> IngestedData:
    raw = source.read_source(location, timeout_s)
    frame = source.parse_csv(raw)
    get_run_logger().info(
        "ingested %d rows from %s (data version %s)", len(frame), location, raw.version[:12]
    )
    return IngestedData(frame, raw.version, location)


@task(name="validate-housing-data", cache_policy=VALIDATE_CACHE, persist_result=True)
def validate_housing_data(ingested: IngestedData, rules: DataSettings) -> pd.DataFrame:
    """Bad data raises DataValidationError listing every broken rule; it is never retried."""
    clean = validation.validate(
        ingested.frame, rules.min_rows, rules.max_missing_fraction, ingested.source
    )
    get_run_logger().info("validated %d rows: every contract check passed", len(clean))
    return clean


@task(name="split-housing-data", cache_policy=SPLIT_CACHE, persist_result=True)
def split_housing_data(clean: pd.DataFrame, settings: SplitSettings) -> split.Split:
    parts = split.split_frame(clean, settings.test_fraction, settings.salt)
    get_run_logger().info(
        "split into %d training and %d held-out rows (hash-stable)",
        len(parts.train),
        len(parts.test),
    )
    return parts
