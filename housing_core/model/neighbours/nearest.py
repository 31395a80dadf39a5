"""Nearest-neighbour arithmetic behind the neighbour features.

Positions as points in km, k-nearest queries that can leave each query row out of its own
answer, and the NaN-aware (weighted) means the features are made of.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
from sklearn.neighbors import KDTree

from housing_core.model.columns import FloatArray, Table, column
from housing_core.model.geo import EARTH_RADIUS_KM, LATITUDE, LONGITUDE

Neighbours = tuple[FloatArray, npt.NDArray[np.intp]]


def query(
    tree: KDTree, coords: FloatArray, k: int, *, exclude_self: bool, first_row: int = 0
) -> Neighbours:
    """The k nearest reference rows; with ``exclude_self`` the queries are the reference rows
    themselves (in order, from reference row ``first_row`` on) and each row's own entry is
    dropped, whatever its rank among ties."""
    n_reference = tree.data.shape[0]
    if not exclude_self:
        return tree.query(coords, k=min(k, n_reference), sort_results=True)  # type: ignore[no-any-return]
    k = min(k, n_reference - 1)
    distances, indices = tree.query(coords, k=k + 1, sort_results=True)
    is_self = indices == (first_row + np.arange(len(coords)))[:, None]
    is_self[~is_self.any(axis=1), -1] = True  # self tied beyond k + 1: drop the farthest
    keep = ~is_self
    return distances[keep].reshape(-1, k), indices[keep].reshape(-1, k)


def weighted_means(
    weights: FloatArray, values: FloatArray, ks: tuple[int, ...]
) -> list[FloatArray]:
    """Weighted means of the first k columns of ``values``, for each k (clipped to what exists)."""
    weighted_sum = np.cumsum(weights * values, axis=1)
    weight_total = np.cumsum(weights, axis=1)
    last = [min(k, values.shape[1]) - 1 for k in ks]
    return [weighted_sum[:, i] / weight_total[:, i] for i in last]


def unit_vectors_km(X: Table) -> FloatArray:
    """Points on a sphere of the Earth's radius, so Euclidean distance is (chord) km."""
    lon, lat = column(X, LONGITUDE), column(X, LATITUDE)
    if np.isnan(lon).any() or np.isnan(lat).any():
        bad = int((np.isnan(lon) | np.isnan(lat)).sum())
        raise ValueError(f"{LONGITUDE}/{LATITUDE} must not be NaN; {bad} row(s) are")
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    cos_lat = np.cos(lat_r)
    return EARTH_RADIUS_KM * np.column_stack(
        (cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r))
    )


def nan_mean(values: FloatArray) -> FloatArray:
    """Row means ignoring NaN (NaN where a row has none), without numpy's warning."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    total = np.where(present, values, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(count > 0, total / count, np.nan))


def nan_mean_3d(values: npt.NDArray[np.float64]) -> FloatArray:
    """Means over axis 1 of (rows, k, columns) ignoring NaN, without numpy's warning."""
    return np.column_stack([nan_mean(values[:, :, j]) for j in range(values.shape[2])])


def weighted_nan_mean(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Row-wise weighted means ignoring NaN values (NaN where a row has none)."""
    present = ~np.isnan(values)
    total_weight = np.where(present, weights, 0.0).sum(axis=1)
    total = np.where(present, values * weights, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(total_weight > 0, total / total_weight, np.nan))


def log_or_nan(values: FloatArray) -> FloatArray:
    """Natural log, with NaN (not -inf) for a zero income so that it counts as missing."""
    positive = values > 0
    return np.asarray(np.where(positive, np.log(np.where(positive, values, 1.0)), np.nan))


# Rows per block of queries: bounds the (rows x k) working arrays (a block of the default's 50
# neighbours holds ~0.5 GB of them) whatever the number of rows; below it, one block.
BLOCK_ROWS = 131_072


def by_blocks(n_rows: int, n_columns: int, compute: Callable[[int, int], FloatArray]) -> FloatArray:
    """``compute(start, stop)`` for each block of rows, into one (n_rows, n_columns) array.

    Each row's features depend on its own neighbours only, so blocks give the same floats as
    one call. Blocks run on a thread per core: the tree queries and numpy release the GIL.
    """
    if n_rows <= BLOCK_ROWS:
        return compute(0, n_rows)
    out = np.empty((n_rows, n_columns), dtype=np.float64)
    starts = range(0, n_rows, BLOCK_ROWS)

    def fill(start: int) -> None:
        stop = min(start + BLOCK_ROWS, n_rows)
        out[start:stop] = compute(start, stop)

    threads = min(len(starts), len(os.sched_getaffinity(0)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fill, starts))
    return out
