"""The parts of the settings tree: data, model families, gates, MLflow, promotion, serving."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, field_validator

DEFAULT_DATA_SOURCE = (
    "https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/housing.csv"
)
EXPERIMENT_NAME = "housing_price_prediction"
REGISTERED_MODEL_NAME = "housing_price_predictor"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSettings(_Frozen):
    """Where the raw CSV comes from and what it must satisfy to be trained on."""

    source: str = Field(DEFAULT_DATA_SOURCE, min_length=1, description="URL (http/https) or path")
    download_timeout_s: float = Field(30.0, gt=0)
    min_rows: int = Field(1000, ge=1)
    max_missing_fraction: float = Field(
        0.05, ge=0, le=1, description="largest share of blanks allowed in any one column"
    )


NEIGHBOUR_PREFIX = "neighbour_"


class FeatureSettings(_Frozen):
    """Which engineered feature groups the model pipeline adds to the raw columns."""

    geo: bool = Field(True, description="rotated coordinates, distances to cities and the coast")
    neighbours: bool = Field(
        True, description="cross-fitted values and incomes of the nearest block groups"
    )
    rotation_angles: tuple[float, ...] = (15.0, 30.0, 45.0, 60.0, 75.0)
    neighbour_ks: tuple[Annotated[int, Field(ge=1)], ...] = Field((5, 15, 50), min_length=1)
    neighbour_income_k: int | None = Field(15, ge=1)
    neighbour_density_k: int | None = Field(15, ge=1)
    neighbour_similar_ks: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        (10, 30), description="k of the neighbours in (position, income) space; () for none"
    )
    neighbour_income_scale_km: float = Field(
        10.0, gt=0, description="km that one unit of log income counts for in that space"
    )
    neighbour_spread_k: int | None = Field(
        15, ge=1, description="neighbours whose price spread and share at the cap are added"
    )
    neighbour_context_k: int | None = Field(
        15, ge=1, description="neighbours whose age, rooms and crowding a row is compared to"
    )
    neighbour_smoothing_km: float = Field(1.0, gt=0)
    neighbour_folds: int = Field(
        20,
        ge=2,
        description="cross-fitting folds for the training rows' neighbour prices; more folds "
        "let a training row see nearly all other rows, as a new row does",
    )

    def neighbour_params(self) -> dict[str, Any]:
        """The `neighbour_*` settings as the model's neighbour step names its parameters."""
        return {
            name.removeprefix(NEIGHBOUR_PREFIX): value
            for name, value in self
            if name.startswith(NEIGHBOUR_PREFIX)
        }


class _ModelBase(_Frozen):
    log_target: bool = Field(False, description="fit log(price), predict clipped exp")
    random_state: int = 42


class HistGradientBoostingConfig(_ModelBase):
    """The default model: seed-averaged gradient-boosted trees on the engineered features."""

    family: Literal["hist_gradient_boosting"] = "hist_gradient_boosting"
    features: FeatureSettings = FeatureSettings()
    learning_rate: float = Field(0.08, gt=0, le=1)
    max_iter: int = Field(300, ge=1)
    max_leaf_nodes: int | None = Field(63, ge=2)
    min_samples_leaf: int = Field(20, ge=1)
    l2_regularization: float = Field(3.0, ge=0)
    max_depth: int | None = Field(None, ge=1)
    max_features: float = Field(
        0.5, gt=0, le=1, description="share of the features each split may choose from"
    )
    n_models: int = Field(
        3, ge=1, description="models averaged, differing only in their random seed"
    )
    fit_threads: int | None = Field(
        1,
        ge=1,
        description="OpenMP threads while fitting (None: every core); on a shared host one "
        "thread is steadier, since an OpenMP pool waits for its slowest thread",
    )


FOREST_FEATURES = FeatureSettings(geo=False, neighbours=False)


class RandomForestConfig(_ModelBase):
    """The seed's model: a RandomForest on the ratio features only."""

    family: Literal["random_forest"] = "random_forest"
    features: FeatureSettings = FOREST_FEATURES
    n_estimators: int = Field(100, ge=1)
    max_depth: int | None = Field(20, ge=1)
    min_samples_leaf: int = Field(1, ge=1)

    @field_validator("features", mode="before")
    @classmethod
    def _over_the_forests_own(cls, value: object) -> object:
        """A partial `features` block changes the forest's defaults (both groups off), not
        the feature settings' (both on): `{"geo": true}` adds the geographic features only."""
        if isinstance(value, dict):
            return {**FOREST_FEATURES.model_dump(), **value}
        return value


DEFAULT_FAMILY = "hist_gradient_boosting"
FAMILIES = ("hist_gradient_boosting", "random_forest")


def family_of(value: object) -> str:
    """The model family named in a config, or the default one when only parameters are given.

    So `HOUSING_MODEL__MAX_ITER=400` or `--param model='{"max_iter": 400}'` tune the default
    model instead of failing for want of a `family`.
    """
    if isinstance(value, dict):
        return str(value.get("family", DEFAULT_FAMILY))
    return str(getattr(value, "family", DEFAULT_FAMILY))


FAMILY_CONFIGS: dict[str, type[HistGradientBoostingConfig] | type[RandomForestConfig]] = {
    "hist_gradient_boosting": HistGradientBoostingConfig,
    "random_forest": RandomForestConfig,
}

ModelConfig = Annotated[
    Annotated[HistGradientBoostingConfig, Tag("hist_gradient_boosting")]
    | Annotated[RandomForestConfig, Tag("random_forest")],
    Discriminator(family_of),
]


class QualityGates(_Frozen):
    """Absolute limits on the held-out metrics (dollars for RMSE and MAE, a fraction for MAPE)."""

    max_rmse: float = Field(70_000.0, gt=0)
    max_mae: float = Field(50_000.0, gt=0)
    min_r2: float = Field(0.75, le=1)
    max_mape: float = Field(0.30, gt=0)


class PromotionGates(QualityGates):
    """The quality gates on the shared rows, plus how much a candidate must beat production by."""

    min_improvement: float = Field(
        0.005,
        ge=0,
        lt=1,
        description="share of production's RMSE a candidate must remove (0.005 = 0.5 %)",
    )


class SplitSettings(_Frozen):
    test_fraction: float = Field(0.2, gt=0, lt=1)
    salt: str = Field("housing-v1", description="changing it reshuffles every row's side")


class MlflowSettings(_Frozen):
    """The tracking server, the registry names, and MLflow's HTTP bounds and credentials.

    `tracking_uri` is always set once the settings are loaded: this setting, else the standard
    MLFLOW_TRACKING_URI, else the embedded store in the state folder (whose experiments keep
    their artifacts beside it, in `artifact_location`).
    """

    tracking_uri: str | None = None
    artifact_location: str | None = Field(
        None, description="where a new experiment keeps its artifacts (server default if unset)"
    )
    experiment_name: str = Field(EXPERIMENT_NAME, min_length=1)
    registered_model_name: str = Field(REGISTERED_MODEL_NAME, min_length=1)
    request_timeout_s: int = Field(30, ge=1)
    request_max_retries: int = Field(3, ge=0)
    request_backoff_factor: int = Field(1, ge=0)
    username: str | None = None
    password: SecretStr | None = None

    @field_validator("tracking_uri", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def uri(self) -> str:
        """The tracking URI in force (see the class docstring)."""
        if self.tracking_uri is None:
            raise ValueError("the settings were not built by load_settings: no tracking URI")
        return self.tracking_uri


class PromotionSettings(_Frozen):
    """How a registered version earns the serving alias: candidates, gates, one move at a time."""

    alias: str = Field("production", min_length=1, description="the alias that serving follows")
    max_candidates: int = Field(5, ge=1, description="newest registered versions to consider")
    gates: PromotionGates = PromotionGates()
    smoke_rows: int = Field(5, ge=1, description="held-out rows sent as the serving smoke test")
    concurrency_limit: str = Field(
        "housing-promotion", min_length=1, description="Prefect global concurrency limit (1 slot)"
    )
    lock_timeout_s: float = Field(
        600.0, gt=0, description="how long a promotion waits for the one at work"
    )


class CacheSettings(_Frozen):
    """How cached steps are shared between workers. Where results live is Prefect's own
    setting, PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK (an S3 bucket block on a team)."""

    lock_url: SecretStr | None = Field(
        None,
        description="redis://[user:password@]host:port/db: cached steps and registration take "
        "a lock there, so two workers that start the same training at once train it once; "
        "unset: no locks (one machine)",
    )
    lock_timeout_s: float = Field(
        3600.0,
        gt=0,
        description="longest a step may hold its lock (a dead worker's lock expires then) "
        "and longest another worker waits for it",
    )

    @field_validator("lock_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if value in ("", None):
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not text.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return text


EnvironmentPolicy = Literal["auto", "own"]


class ServingSettings(_Frozen):
    """How `housing-serve` follows the alias, and where a version runs when scored or served."""

    environment: EnvironmentPolicy = Field(
        "auto",
        description="auto: a fresh process of this interpreter when it has every version the "
        "model pins, else the model's own virtual environment; own: always its own environment",
    )
    poll_interval_s: float = Field(
        30.0, ge=0, description="how often the alias is read; 0 pins the version served first"
    )
    max_body_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="larger request bodies get 413"
    )
    swap_timeout_s: float = Field(
        600.0, gt=0, description="how long a new version may take to load and pass its smoke test"
    )
    drain_timeout_s: float = Field(
        30.0, gt=0, description="how long the replaced version may take to finish its requests"
    )
    invalid_rows: Literal["refuse", "flag"] = Field(
        "refuse",
        description="a row that breaks the data contract: refuse (400 naming the field and the "
        "rule) or flag (priced, and named in the answer's contract_violations)",
    )
