"""What the pipeline reads from a model configuration, declared here so the wing needs no
settings library: ``housing_core.settings``' model configurations satisfy these protocols."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol


class FeatureSpec(Protocol):
    """Which engineered feature groups the pipeline adds, and their parameters.

    The neighbour step's parameters are not listed again here: `neighbour_params()` gives
    them under the names of `NeighbourTargetFeatures`' own parameters, which declare them.
    """

    @property
    def geo(self) -> bool: ...
    @property
    def neighbours(self) -> bool: ...
    @property
    def rotation_angles(self) -> tuple[float, ...]: ...
    def neighbour_params(self) -> Mapping[str, Any]: ...


class _ModelSpec(Protocol):
    @property
    def features(self) -> FeatureSpec: ...
    @property
    def log_target(self) -> bool: ...
    @property
    def random_state(self) -> int: ...


class BoostingSpec(_ModelSpec, Protocol):
    """Seed-averaged HistGradientBoosting: the default model."""

    @property
    def family(self) -> Literal["hist_gradient_boosting"]: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def max_iter(self) -> int: ...
    @property
    def max_leaf_nodes(self) -> int | None: ...
    @property
    def min_samples_leaf(self) -> int: ...
    @property
    def l2_regularization(self) -> float: ...
    @property
    def max_depth(self) -> int | None: ...
    @property
    def max_features(self) -> float: ...
    @property
    def n_models(self) -> int: ...
    @property
    def fit_threads(self) -> int | None: ...


class ForestSpec(_ModelSpec, Protocol):
    """A RandomForest: the seed project's model."""

    @property
    def family(self) -> Literal["random_forest"]: ...
    @property
    def n_estimators(self) -> int: ...
    @property
    def max_depth(self) -> int | None: ...
    @property
    def min_samples_leaf(self) -> int: ...


ModelSpec = BoostingSpec | ForestSpec
