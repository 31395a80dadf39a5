"""Named numpy columns: the light table the feature steps hand each other inside the model.

Reading columns by name from a DataFrame and gluing outputs back with ``pd.concat`` costs more
than the arithmetic when one row is scored (docs/model.md has the figures). The pipeline
therefore converts its input once (:class:`ToColumns`), the steps read and add plain numpy
arrays, and the preprocessor turns them into the estimator's matrix. Every step still takes a
DataFrame too, and then returns one, so each can be used and tested on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import is_numeric_dtype
from sklearn.base import BaseEstimator, TransformerMixin

FloatArray = npt.NDArray[np.float64]


class Columns:
    """Equal-length 1-D numpy arrays by name, in order: float64 for numbers, object for text."""

    __slots__ = ("_arrays", "_rows")

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        lengths = {len(array) for array in arrays.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns differ in length: {sorted(lengths)}")
        self._arrays = arrays
        self._rows = lengths.pop() if lengths else 0

    @property
    def columns(self) -> list[str]:
        return list(self._arrays)

    def __len__(self) -> int:
        """The number of rows, as for a DataFrame."""
        return self._rows

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def with_added(self, names: Sequence[str], block: FloatArray) -> Columns:
        """A new table: these columns followed by ``block``'s columns under ``names``."""
        arrays = dict(self._arrays)
        arrays.update(zip(names, block.T, strict=True))
        return Columns(arrays)


Table = pd.DataFrame | Columns

_FEW_ROWS = 64


def text_columns_of(frame: pd.DataFrame) -> tuple[str, ...]:
    """The columns that do not hold numbers: what the model one-hot encodes."""
    return tuple(
        str(name)
        for name, dtype in zip(frame.columns, frame.dtypes, strict=True)
        if not is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    )


def to_columns(frame: pd.DataFrame, text: Sequence[str]) -> Columns:
    """Every column of ``frame`` as numpy: the ``text`` ones as objects, the others as float64.

    A request of a few rows is read as one object array (one pandas call instead of one per
    column); a batch column by column, which is faster for many rows.
    """
    names = [str(name) for name in frame.columns]
    for name, dtype in zip(names, frame.dtypes, strict=True):
        if name not in text and not is_numeric_dtype(dtype):
            raise ValueError(f"column {name!r} must be numeric, got dtype {dtype}")
    if len(frame) <= _FEW_ROWS:
        values = frame.to_numpy(dtype=object)
        arrays = {
            name: values[:, i] if name in text else values[:, i].astype(np.float64)
            for i, name in enumerate(names)
        }
    else:
        arrays = {
            name: frame[name].to_numpy(dtype=object if name in text else np.float64)
            for name in names
        }
    return Columns(arrays)


def column(X: Table, name: str) -> FloatArray:
    """One numeric column as float64, from a DataFrame or a :class:`Columns`."""
    if isinstance(X, Columns):
        return np.asarray(X[name], dtype=np.float64)
    return X[name].to_numpy(dtype=np.float64)


def text_column(X: Table, name: str) -> np.ndarray:
    """One text column as an object array."""
    if isinstance(X, Columns):
        return X[name]
    return X[name].to_numpy(dtype=object)


def is_numeric(X: Table, name: str) -> bool:
    if isinstance(X, Columns):
        return X[name].dtype.kind in "biuf"
    return bool(is_numeric_dtype(X[name]))


def with_added(X: Table, names: Sequence[str], block: FloatArray) -> Table:
    """``X`` followed by ``block``'s columns under ``names``, of the same kind as ``X``."""
    if isinstance(X, Columns):
        return X.with_added(names, block)
    added = pd.DataFrame(block, index=X.index, columns=list(names))
    return pd.concat([X, added], axis=1)


def require_columns(X: Any, columns: Sequence[str]) -> None:
    """Fail early, naming what is missing, instead of a KeyError deep inside numpy code."""
    if not isinstance(X, pd.DataFrame | Columns):
        raise TypeError(f"expected a pandas DataFrame with columns {list(columns)}, got {type(X)}")
    present = set(X.columns)
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(f"missing required column(s) {missing}; got {list(X.columns)}")


class ToColumns(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """The model's first step: the raw DataFrame, once, as :class:`Columns`.

    Which columns are text is learnt from the training frame, so that the model carries it.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> ToColumns:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.text_columns_ = text_columns_of(X)
        return self

    def transform(self, X: pd.DataFrame) -> Columns:
        if isinstance(X, Columns):
            return X
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"the model takes a pandas DataFrame of raw columns, got {type(X)}")
        return to_columns(X, self.text_columns_)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        names = self.feature_names_in_ if input_features is None else input_features
        return np.asarray(list(names), dtype=object)
