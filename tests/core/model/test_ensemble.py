"""AveragedBoosting: seed-averaged HistGradientBoosting, scored with all its trees at once."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import cloudpickle
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_info, threadpool_limits

from housing_core.model.ensemble import (
    OPENMP_MIN_ROWS,
    TREE_PARALLEL_MAX_ROWS,
    AveragedBoosting,
    flatten_trees,
)


@pytest.fixture(autouse=True)
def one_openmp_thread() -> Iterator[None]:
    # tiny fits: an OpenMP pool on a busy 2-core host costs them 20x
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6))
    y = X[:, 0] + np.sin(3 * X[:, 1]) + 0.1 * rng.normal(size=600)
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values take the learnt side
    return X, y


def boosting(**params: object) -> HistGradientBoostingRegressor:
    defaults: dict[str, object] = {
        "max_iter": 40,
        "max_leaf_nodes": 15,
        "max_features": 0.5,
        "early_stopping": False,
        "random_state": 3,
    }
    return HistGradientBoostingRegressor(**{**defaults, **params})


def test_flattened_trees_give_scikit_learns_floats(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    model = boosting().fit(X, y)

    flat = flatten_trees([model])

    np.testing.assert_array_equal(flat.predict(X), model.predict(X))


def test_average_of_members_with_seeds_counted_from_random_state(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = data

    averaged = AveragedBoosting(boosting(), n_models=3).fit(X, y)

    seeds = [m.random_state for m in averaged.estimators_]
    assert seeds == [3, 4, 5]
    members = [m.predict(X) for m in averaged.estimators_]
    assert not np.array_equal(members[0], members[1])
    np.testing.assert_allclose(averaged.predict(X), np.mean(members, axis=0), rtol=1e-12)


def test_a_row_alone_equals_the_row_in_a_large_batch(data: tuple[np.ndarray, np.ndarray]) -> None:
    # given a batch large enough to be scored by scikit-learn rather than the numpy walk
    X, y = data
    averaged = AveragedBoosting(boosting(), n_models=2).fit(X, y)
    assert len(X) > TREE_PARALLEL_MAX_ROWS

    batch = averaged.predict(X)
    alone = np.array([averaged.predict(X[[i]])[0] for i in range(0, len(X), 37)])

    np.testing.assert_array_equal(alone, batch[::37])


def _openmp_threads() -> int:
    return int(next(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"))


def test_a_batch_below_openmp_min_rows_runs_on_one_thread_whatever_the_process_allows(
    data: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a process that allows two OpenMP threads, as an unset OMP_NUM_THREADS does
    X, y = data
    averaged = AveragedBoosting(boosting(), n_models=2).fit(X, y)
    seen: list[int] = []
    member_predict = HistGradientBoostingRegressor.predict

    def recording(self: HistGradientBoostingRegressor, values: np.ndarray) -> np.ndarray:
        seen.append(_openmp_threads())
        return member_predict(self, values)

    monkeypatch.setattr(HistGradientBoostingRegressor, "predict", recording)
    large = np.tile(X, (OPENMP_MIN_ROWS // len(X) + 1, 1))
    batch = large[: 4 * TREE_PARALLEL_MAX_ROWS]
    with threadpool_limits(limits=2, user_api="openmp"):
        # when a batch below the threshold and one above it are scored
        below, above = averaged.predict(batch), averaged.predict(large)
        after = _openmp_threads()

    # then the first ran on one thread, the second on what the process allows, the caller's
    # limit is left as it was, and the same rows got the same floats
    assert seen == [1, 1, 2, 2]
    assert after == 2
    np.testing.assert_array_equal(below, above[: len(batch)])


def test_bad_inputs_are_named(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    with pytest.raises(ValueError, match="n_models"):
        AveragedBoosting(boosting(), n_models=0).fit(X, y)
    averaged = AveragedBoosting(boosting(), n_models=1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        averaged.predict(X[:, :3])


def test_clone_and_pickle_round_trip(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    averaged = AveragedBoosting(boosting(), n_models=2)
    assert clone(averaged).get_params()["n_models"] == 2

    averaged.fit(X, y)
    for dumps in (pickle.dumps, cloudpickle.dumps):
        restored = pickle.loads(dumps(averaged))
        np.testing.assert_array_equal(restored.predict(X[:5]), averaged.predict(X[:5]))
