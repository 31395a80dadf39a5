"""Request bodies as MLflow's `/invocations` takes them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from housing_core.data.contract import FEATURE_COLUMNS


def serving_payload(rows: pd.DataFrame) -> dict[str, Any]:
    """A `dataframe_split` request body from raw rows: the input columns only, NaN as null."""
    frame = rows.loc[:, list(FEATURE_COLUMNS)]
    data = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return {"dataframe_split": {"columns": list(FEATURE_COLUMNS), "data": data}}
