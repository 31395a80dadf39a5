"""The whole settings tree, and how its layers are merged before the one validation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from housing_core.settings.jobs import (
    DaskSettings,
    DriftSettings,
    ScoringSettings,
    SweepSettings,
    WatchdogSettings,
)
from housing_core.settings.sections import (
    CacheSettings,
    DataSettings,
    HistGradientBoostingConfig,
    MlflowSettings,
    ModelConfig,
    PromotionSettings,
    QualityGates,
    ServingSettings,
    SplitSettings,
    family_of,
)

LOCAL_STATE_DIR = ".housing"
ENV_PREFIX = "HOUSING_"
CONFIG_FILE_ENV = "HOUSING_CONFIG_FILE"


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
    cache: CacheSettings = CacheSettings()
    scoring: ScoringSettings = ScoringSettings()
    drift: DriftSettings = DriftSettings()
    dask: DaskSettings = DaskSettings()
    sweep: SweepSettings = SweepSettings()
    watchdog: WatchdogSettings = WatchdogSettings()
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
        return (LayeredSource(settings_cls, layers),)

    @model_validator(mode="before")
    @classmethod
    def _resolve_tracking(cls, values: Any) -> Any:
        """The tracking URI in force: the setting, then MLFLOW_TRACKING_URI, then the embedded
        store (whose experiments keep their artifacts in the state folder)."""
        if not isinstance(values, Mapping):
            return values
        mlflow = dict(values.get("mlflow") or {})
        if not mlflow.get("tracking_uri"):
            mlflow["tracking_uri"] = os.environ.get("MLFLOW_TRACKING_URI") or ""
        if not mlflow["tracking_uri"]:
            state = Path(str(values.get("state_dir") or LOCAL_STATE_DIR))
            mlflow["tracking_uri"] = f"sqlite:///{(state / 'mlflow.db').as_posix()}"
            mlflow.setdefault("artifact_location", (state / "mlartifacts").resolve().as_uri())
        return {**values, "mlflow": mlflow}


class LayeredSource(PydanticBaseSettingsSource):
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
    """`higher` over `lower`, recursively (see `LayeredSource` for the model family)."""
    merged = dict(lower)
    for key, value in higher.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            switches = "family" in value and family_of(dict(below)) != value["family"]
            merged[key] = dict(value) if switches else deep_merge(below, value)
        else:
            merged[key] = value
    return merged
