"""One typed settings tree for a run, and one way to build it: `load_settings(overrides)`.

Layers, highest first: `overrides` (a flow's parameters, the CLI's flags), `HOUSING_*`
environment variables (nested with `__`), files in the secrets folder, the YAML file named by
`HOUSING_CONFIG_FILE`, field defaults. The layers are deep-merged as plain values, key by key,
and the result is validated ONCE: a value is held to the same rules whichever layer gave it,
and an invalid one is refused (`SettingsError`, naming the field, the layer and the rule)
before any data is read or any alias touched. Nothing here runs at import time.

Two sets of gates, one name each:
- `registration_gates`: what a new training must reach on its held-out rows to be registered;
- `promotion.gates`: what a registered version must reach on the shared held-out rows of the
  current data, and how much it must beat production by, to receive the serving alias.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

DEFAULT_DATA_SOURCE = (
    "https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/housing.csv"
)
EXPERIMENT_NAME = "housing_price_prediction"
REGISTERED_MODEL_NAME = "housing_price_predictor"
LOCAL_STATE_DIR = ".housing"
ENV_PREFIX = "HOUSING_"
CONFIG_FILE_ENV = "HOUSING_CONFIG_FILE"
# Settings that were renamed: an old name left in an environment must not be ignored silently.
RENAMED = {
    "thresholds": "registration_gates",
    "promotion.thresholds": "promotion.gates",
    "promotion.min_improvement": "promotion.gates.min_improvement",
}


class SettingsError(ValueError):
    """A setting breaks its rule: names each field, the layer it came from and the rule."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid settings ({len(problems)} problem(s)):\n{lines}")


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


class RandomForestConfig(_ModelBase):
    """The seed's model: a RandomForest on the ratio features only."""

    family: Literal["random_forest"] = "random_forest"
    features: FeatureSettings = FeatureSettings(geo=False, neighbours=False)
    n_estimators: int = Field(100, ge=1)
    max_depth: int | None = Field(20, ge=1)
    min_samples_leaf: int = Field(1, ge=1)


DEFAULT_FAMILY = "hist_gradient_boosting"
FAMILIES = ("hist_gradient_boosting", "random_forest")


def _family(value: object) -> str:
    """The model family named in a config, or the default one when only parameters are given.

    So `HOUSING_MODEL__MAX_ITER=400` or `--param model='{"max_iter": 400}'` tune the default
    model instead of failing for want of a `family`.
    """
    if isinstance(value, dict):
        return str(value.get("family", DEFAULT_FAMILY))
    return str(getattr(value, "family", DEFAULT_FAMILY))


ModelConfig = Annotated[
    Annotated[HistGradientBoostingConfig, Tag("hist_gradient_boosting")]
    | Annotated[RandomForestConfig, Tag("random_forest")],
    Discriminator(_family),
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
    """Tracking server and registry names. The URI honours the standard MLFLOW_TRACKING_URI."""

    tracking_uri: str | None = None
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


EnvironmentPolicy = Literal["auto", "own"]


class ServingSettings(_Frozen):
    """Where a registered version runs when it is scored (promotion) or served."""

    environment: EnvironmentPolicy = Field(
        "auto",
        description="auto: a fresh process of this interpreter when it has every version the "
        "model pins, else the model's own virtual environment; own: always its own environment",
    )


class Settings(BaseSettings):
    """The whole configuration of a run. Build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data: DataSettings = DataSettings()
    split: SplitSettings = SplitSettings()
    model: ModelConfig = HistGradientBoostingConfig()
    registration_gates: QualityGates = QualityGates()
    mlflow: MlflowSettings = MlflowSettings()
    promotion: PromotionSettings = PromotionSettings()
    serving: ServingSettings = ServingSettings()
    state_dir: Path = Field(
        Path(LOCAL_STATE_DIR), description="embedded MLflow store, served models, environments"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        layers: list[tuple[str, PydanticBaseSettingsSource]] = [
            ("flow parameters", init_settings),
            ("environment", env_settings),
            ("secrets", file_secret_settings),
        ]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            yaml = YamlConfigSettingsSource(settings_cls, yaml_file=config_file)
            layers.append((f"config file {config_file}", yaml))
        return (_Layers(settings_cls, layers),)

    def tracking_uri(self) -> str:
        """The tracking URI in force: setting, then MLFLOW_TRACKING_URI, then the local store."""
        if self.mlflow.tracking_uri:
            return self.mlflow.tracking_uri
        from_env = os.environ.get("MLFLOW_TRACKING_URI")
        if from_env:
            return from_env
        return f"sqlite:///{(self.state_dir / 'mlflow.db').as_posix()}"


class _Layers(PydanticBaseSettingsSource):
    """Every layer as plain values, deep-merged: pydantic-settings then validates the result once.

    A higher layer wins key by key, except that a model config naming another `family` than
    the layers below replaces theirs: `HOUSING_MODEL__MAX_ITER` tunes the default family and
    must not leak into a random forest asked for by a flow parameter.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], layers: list[tuple[str, PydanticBaseSettingsSource]]
    ) -> None:
        super().__init__(settings_cls)
        self.layers = layers

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole tree

    def values(self) -> list[tuple[str, dict[str, Any]]]:
        return [(label, dict(source())) for label, source in self.layers]

    def __call__(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for _, values in reversed(self.values()):
            merged = deep_merge(merged, values)
        return merged


def deep_merge(lower: Mapping[str, Any], higher: Mapping[str, Any]) -> dict[str, Any]:
    """`higher` over `lower`, recursively for nested mappings (see `_Layers` for the family)."""
    merged = dict(lower)
    for key, value in higher.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            switches = "family" in value and _family(dict(below)) != value["family"]
            merged[key] = dict(value) if switches else deep_merge(below, value)
        else:
            merged[key] = value
    return merged


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """The settings of a run; `overrides` (nested, partial) win over env, secrets and file.

    Raises `SettingsError` naming every invalid field, the layer that gave it and its rule.
    """
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and not Path(config_file).is_file():
        raise SettingsError([f"{CONFIG_FILE_ENV}={config_file!r}: no such file"])
    plain = _plain(overrides or {})
    problems = _unknown_environment()
    try:
        settings = Settings(**plain)
    except ValidationError as exc:
        raise SettingsError(problems + _describe(exc, plain)) from None
    if problems:
        raise SettingsError(problems)
    return settings


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset (None) overrides; pydantic objects become only the fields they were given."""
    plain: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, BaseModel):
            value = value.model_dump(exclude_unset=True) | (
                {"family": value.family} if hasattr(value, "family") else {}
            )
        plain[key] = _plain(value) if isinstance(value, Mapping) else value
    return plain


def _unknown_environment() -> list[str]:
    """`HOUSING_<X>__...` variables whose <X> is no setting: a typo or an old name, never silent."""
    fields = set(Settings.model_fields)
    problems = []
    for name in sorted(os.environ):
        if not name.upper().startswith(ENV_PREFIX) or "__" not in name:
            continue
        top = name[len(ENV_PREFIX) :].split("__", 1)[0].lower()
        if top not in fields:
            rest = name[len(ENV_PREFIX) :].split("__", 1)[1]
            hint = f"; renamed to {_env_name(RENAMED[top])}__{rest}" if top in RENAMED else ""
            problems.append(f"{name} (environment): no setting '{top}'{hint}")
    return problems


def _describe(exc: ValidationError, overrides: Mapping[str, Any]) -> list[str]:
    """One line per error: the dotted field, where its value came from, the value, the rule."""
    values = _layers(overrides).values()
    problems = []
    for error in exc.errors():
        path = [str(p) for p in error["loc"] if str(p) not in FAMILIES]
        value, rule = error.get("input"), error["msg"]
        if error["type"] == "union_tag_invalid":  # the family: name the field and the choices
            path, value = [*path, "family"], _family(value)
            rule = f"must be one of {', '.join(FAMILIES)}"
        dotted = ".".join(path)
        shown = "" if error["type"] == "missing" else f" = {value!r}"
        if error["type"] == "extra_forbidden" and dotted in RENAMED:
            rule += f"; renamed to '{RENAMED[dotted]}' ({_env_name(RENAMED[dotted])})"
        problems.append(f"{dotted}{shown} ({_origin(path, values)}): {rule}")
    return problems


def _layers(overrides: Mapping[str, Any]) -> _Layers:
    """The same layers `Settings` merges, to tell which one gave a value."""
    layers = Settings.settings_customise_sources(
        Settings,
        InitSettingsSource(Settings, init_kwargs=dict(overrides)),
        EnvSettingsSource(Settings),
        DotEnvSettingsSource(Settings),
        SecretsSettingsSource(Settings),
    )[0]
    assert isinstance(layers, _Layers)
    return layers


def _origin(path: list[str], values: list[tuple[str, dict[str, Any]]]) -> str:
    """The highest layer that holds `path`: where the operator has to look."""
    for label, tree in values:
        node: Any = tree
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            return _env_name(".".join(path)) if label == "environment" else label
    return "default"


def _env_name(dotted: str) -> str:
    return ENV_PREFIX + "__".join(dotted.upper().split("."))
