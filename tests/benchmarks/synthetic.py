"""Larger data for tests and benchmarks: jittered copies of the real rows, and shifted ones.

`jittered_rows` draws rows from the real ones (a bootstrap) and adds small noise the way the
census reports values: counts stay whole numbers, degrees keep two decimals, incomes four,
values capped by the census (age 52, income 15.0001, price 500,001) stay capped, and every
value stays inside the data contract. A blank `total_bedrooms` stays blank, so blanks keep
their real share. Vectorised column by column; the writers generate chunk by chunk, so five
million rows never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from housing_core.data.contract import (
    CATEGORICAL,
    NUMERIC_COLUMNS,
    OCEAN_PROXIMITY_VALUES,
    TARGET,
)

CHUNK_ROWS = 500_000
SHIFTS = ("income_up", "inland_only", "bedrooms_blank", "new_category", "older_homes")
NEW_CATEGORY = "NEAR LAKE"

# column: (kind of noise, its size, decimals kept); "abs" adds, "rel" multiplies
_NOISE: dict[str, tuple[str, float, int]] = {
    "longitude": ("abs", 0.01, 2),
    "latitude": ("abs", 0.01, 2),
    "housing_median_age": ("abs", 0.3, 0),
    "total_rooms": ("rel", 0.02, 0),
    "total_bedrooms": ("rel", 0.02, 0),
    "population": ("rel", 0.02, 0),
    "households": ("rel", 0.02, 0),
    "median_income": ("rel", 0.01, 4),
    "median_house_value": ("rel", 0.01, 0),
}
_CAPPED = ("housing_median_age", "median_income", "median_house_value")
_RANGES = {c.name: (c.low, c.high) for c in NUMERIC_COLUMNS}
_FEATURES = tuple(c.name for c in NUMERIC_COLUMNS if c.name != TARGET)


def jittered_rows(frame: pd.DataFrame, n_rows: int, seed: int = 0) -> pd.DataFrame:
    """`n_rows` new rows like `frame`'s: real rows drawn at random, each value nudged a little."""
    generator = np.random.default_rng(seed)
    picked = generator.integers(0, len(frame), size=n_rows)
    columns: dict[str, object] = {}
    for name in frame.columns:
        if name == CATEGORICAL:
            categories = pd.Categorical(frame[name], categories=list(OCEAN_PROXIMITY_VALUES))
            codes = np.asarray(categories.codes)[picked]
            columns[name] = pd.Categorical.from_codes(codes, dtype=categories.dtype)
        else:
            columns[name] = _jitter(name, frame[name].to_numpy(dtype=float), picked, generator)
    return pd.DataFrame(columns)


def jittered_chunks(
    frame: pd.DataFrame, n_rows: int, chunk_rows: int = CHUNK_ROWS, seed: int = 0
) -> Iterator[pd.DataFrame]:
    """The same rows as chunks of at most `chunk_rows`, each from its own seeded stream."""
    streams = np.random.SeedSequence(seed).spawn(-(-n_rows // chunk_rows))
    for i, stream in enumerate(streams):
        size = min(chunk_rows, n_rows - i * chunk_rows)
        yield jittered_rows(frame, size, seed=int(stream.generate_state(1)[0]))


def write_jittered_csv(
    frame: pd.DataFrame, n_rows: int, path: Path, chunk_rows: int = CHUNK_ROWS, seed: int = 0
) -> Path:
    """Write `n_rows` jittered rows as a CSV at `path`, chunk by chunk, shaped like housing.csv
    (plain header, no quotes, blanks as empty fields); Arrow's writer, several times faster
    than pandas'."""
    import pyarrow.csv as pa_csv

    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    with Path(path).open("wb") as out:
        out.write((",".join(frame.columns) + "\n").encode())
        for chunk in jittered_chunks(frame, n_rows, chunk_rows, seed):
            pa_csv.write_csv(_arrow_table(chunk), out, write_options=options)
    return path


def write_jittered_parquet(
    frame: pd.DataFrame, n_rows: int, path: Path, chunk_rows: int = CHUNK_ROWS, seed: int = 0
) -> Path:
    """Write `n_rows` jittered rows as one Parquet file at `path`, a row group per chunk."""
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    try:
        for chunk in jittered_chunks(frame, n_rows, chunk_rows, seed):
            table = _arrow_table(chunk)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return path


def shifted(frame: pd.DataFrame, kind: str, seed: int = 0) -> pd.DataFrame:
    """A realistic shift of `frame` (a copy):

    - ``income_up``: every median income 20 % higher (within the contract's 20);
    - ``inland_only``: only the INLAND block groups;
    - ``bedrooms_blank``: `total_bedrooms` blanked in another 30 % of the rows;
    - ``new_category``: 10 % of the rows labelled with a category never seen (``NEAR LAKE``);
    - ``older_homes``: every housing age 8 years older (capped at 52).
    """
    generator = np.random.default_rng(seed)
    out = frame.copy()
    if kind == "income_up":
        out["median_income"] = (out["median_income"] * 1.2).clip(upper=_RANGES["median_income"][1])
    elif kind == "inland_only":
        out = out[out[CATEGORICAL].astype(str) == "INLAND"].reset_index(drop=True)
    elif kind == "bedrooms_blank":
        out.loc[generator.random(len(out)) < 0.3, "total_bedrooms"] = np.nan
    elif kind == "new_category":
        labels = out[CATEGORICAL].astype(str).to_numpy(dtype=object)
        labels[generator.random(len(out)) < 0.1] = NEW_CATEGORY
        out[CATEGORICAL] = labels
    elif kind == "older_homes":
        out["housing_median_age"] = (out["housing_median_age"] + 8).clip(upper=52)
    else:
        raise ValueError(f"unknown shift {kind!r}: one of {', '.join(SHIFTS)}")
    return out


class LinearPrices:
    """A stand-in for the model: least squares on the numeric columns, blanks as the median.

    Enough to give the predictions a realistic distribution that moves with incomes, without
    training the real pipeline in a unit test.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.fill = frame[list(_FEATURES)].median()
        design = self._design(frame)
        self.weights = np.linalg.lstsq(design, frame[TARGET].to_numpy(), rcond=None)[0]

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[list(_FEATURES)].astype(float).fillna(self.fill).to_numpy()
        return np.column_stack([np.ones(len(values)), values])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        prices: np.ndarray = self._design(frame) @ self.weights
        return prices


def _arrow_table(chunk: pd.DataFrame) -> Any:
    import pyarrow as pa

    plain = chunk.assign(**{CATEGORICAL: chunk[CATEGORICAL].astype(str)})
    return pa.Table.from_pandas(plain, preserve_index=False)


def _jitter(
    name: str, values: np.ndarray, picked: np.ndarray, generator: np.random.Generator
) -> np.ndarray:
    kind, size, decimals = _NOISE[name]
    low, high = _RANGES[name]
    base = values[picked]
    noise = generator.standard_normal(base.size)
    moved = base + size * noise if kind == "abs" else base * (1 + size * noise)
    nudged: np.ndarray = np.clip(np.round(moved, decimals), low, high)
    # what the census capped stays capped; what was blank stays blank
    if name in _CAPPED:
        cap = np.nanmax(values)
        capped = base >= cap
        nudged = np.minimum(nudged, cap)
        nudged[capped] = base[capped]
    return nudged
