"""Request bodies as MLflow's `/invocations` takes them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from housing_core.data.contract import features_of


def serving_payload(rows: pd.DataFrame) -> dict[str, Any]:
    """A `dataframe_split` request body from raw rows: the input columns only, NaN as null."""
    frame = features_of(rows)
    data = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return {"dataframe_split": {"columns": list(frame.columns), "data": data}}
