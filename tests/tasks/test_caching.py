"""Cache keys that hit across processes and miss when content changes; retries that stop."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest
from prefect.states import Failed

from housing_core.data.source import DataSourceError
from housing_core.data.source import Ingested as IngestedData
from housing_core.data.validation import DataValidationError
from housing_core.settings import DataSettings
from housing_core.versioning import frame_version as frame_token
from tasks.caching import input_token
from tasks.retries import retry_unless_bad_data


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 2.0, None], "b": ["x", "y", "z"]})


def test_a_frame_read_back_from_the_cache_keeps_its_token(frame: pd.DataFrame) -> None:
    # given a frame whose pickle differs once its blocks are consolidated
    spread = frame.copy()
    spread["c"] = [1, 2, 3]
    restored = pickle.loads(pickle.dumps(spread))
    restored._consolidate_inplace()

    assert frame_token(restored) == frame_token(spread)


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(a=[1.0, 2.0, 3.0]),  # a value
        lambda f: f.rename(columns={"a": "A"}),  # a name
        lambda f: f.astype({"a": "float32"}),  # a dtype
        lambda f: f.iloc[::-1],  # the order of rows
    ],
)
def test_any_change_of_content_changes_the_token(frame: pd.DataFrame, change) -> None:  # type: ignore[no-untyped-def]
    assert frame_token(change(frame)) != frame_token(frame)


def test_inputs_are_reduced_to_stable_tokens(frame: pd.DataFrame) -> None:
    ingested = IngestedData(frame, version="sha-of-the-bytes", source="a.csv")

    assert input_token(ingested) == "sha-of-the-bytes"  # its own token, not the frame's bytes
    assert input_token(DataSettings(source="a.csv"))["source"] == "a.csv"
    assert input_token(frame) == frame_token(frame)
    assert input_token(3) == 3


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (DataValidationError(["missing column 'x'"]), False),
        (ValueError("bad"), False),
        (DataSourceError("connection reset"), True),
        (ConnectionError("refused"), True),
    ],
)
def test_only_errors_that_may_heal_are_retried(error: Exception, retried: bool) -> None:
    state = Failed(data=error)

    assert retry_unless_bad_data(None, None, state) is retried  # type: ignore[arg-type]
