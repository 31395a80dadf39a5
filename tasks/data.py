"""Data steps: fingerprint the source, ingest it, validate it, split it; wired once for both
flows by `prepare_data`."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.locking.protocol import LockManager

from housing_core.data import source, split, validation
from housing_core.data.source import Ingested
from housing_core.settings import DataSettings, SplitSettings
from tasks.caching import LOAD_CACHE, SPLIT_CACHE, VALIDATE_CACHE, isolated
from tasks.retries import NETWORK_RETRY_DELAYS, retry_unless_bad_data


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
def load_housing_data(location: str, fingerprint: str, timeout_s: float) -> Ingested:
    return source.load(location, timeout_s)


@task(name="validate-housing-data", cache_policy=VALIDATE_CACHE, persist_result=True)
def validate_housing_data(ingested: Ingested, rules: DataSettings) -> pd.DataFrame:
    """Bad data raises DataValidationError listing every broken rule; it is never retried."""
    return validation.validate_rows(ingested.frame, rules, ingested.source)


@task(name="split-housing-data", cache_policy=SPLIT_CACHE, persist_result=True)
def split_housing_data(clean: pd.DataFrame, settings: SplitSettings) -> split.Split:
    return split.split_rows(clean, settings)


@dataclass(frozen=True)
class PreparedData:
    ingested: Ingested
    parts: split.Split


def prepare_data(
    data: DataSettings, split_settings: SplitSettings, locks: LockManager | None = None
) -> PreparedData:
    """The four data steps, as both flows run them: with `locks`, two workers that start the
    same step at once compute it once."""
    fingerprint = fingerprint_source(data.source, data.download_timeout_s)
    ingested = isolated(load_housing_data, locks)(data.source, fingerprint, data.download_timeout_s)
    clean = isolated(validate_housing_data, locks)(ingested, data)
    parts = isolated(split_housing_data, locks)(clean, split_settings)
    return PreparedData(ingested, parts)
