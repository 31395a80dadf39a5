"""Which raw columns the predictions rely on: permutation importance on held-out rows."""

from __future__ import annotations

import pandas as pd
from joblib import parallel_config
from sklearn.inspection import permutation_importance

from housing_core.data.contract import FEATURE_COLUMNS, TARGET
from housing_core.evaluation.gates import Predictor


def feature_importance(
    model: Predictor,
    test: pd.DataFrame,
    n_repeats: int = 3,
    random_state: int = 0,
    max_rows: int = 1000,
    threads: int | None = None,
) -> pd.DataFrame:
    """Permutation importance of each RAW column on held-out rows, in RMSE dollars.

    Measured on raw columns (not the engineered ones) so it reads the same for every model
    family and says which inputs the predictions rely on. A fixed sample of `max_rows` rows
    ranks the columns as the full set does at a fraction of the cost. The columns are permuted
    on `threads` threads (default one: OpenMP limits are per thread, and joblib's threads do not
    inherit the caller's one-thread limit); the trees and the neighbour queries release
    the GIL, and each column's shuffles come from one seed drawn first, so the figures are the
    same for any number of threads.
    """
    rows = test.sample(n=min(len(test), max_rows), random_state=random_state)
    with parallel_config(backend="threading"):
        result = permutation_importance(
            model,
            rows.loc[:, list(FEATURE_COLUMNS)],
            rows[TARGET],
            scoring="neg_root_mean_squared_error",
            n_repeats=n_repeats,
            random_state=random_state,
            n_jobs=threads or 1,
        )
    frame = pd.DataFrame(
        {
            "feature": list(FEATURE_COLUMNS),
            "rmse_increase": result.importances_mean,
            "std": result.importances_std,
        }
    )
    return frame.sort_values("rmse_increase", ascending=False, ignore_index=True)
