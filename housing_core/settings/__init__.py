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

from housing_core.settings.jobs import (
    DaskSettings,
    DriftSettings,
    ScoringSettings,
    SweepSettings,
    WatchdogSettings,
)
from housing_core.settings.loading import SettingsError, load_settings
from housing_core.settings.sections import (
    CacheSettings,
    DataSettings,
    EnvironmentPolicy,
    FeatureSettings,
    HistGradientBoostingConfig,
    MlflowSettings,
    ModelConfig,
    PromotionGates,
    PromotionSettings,
    QualityGates,
    RandomForestConfig,
    ServingSettings,
    SplitSettings,
)
from housing_core.settings.tree import Settings

__all__ = [
    "CacheSettings",
    "DaskSettings",
    "DataSettings",
    "DriftSettings",
    "EnvironmentPolicy",
    "FeatureSettings",
    "HistGradientBoostingConfig",
    "MlflowSettings",
    "ModelConfig",
    "PromotionGates",
    "PromotionSettings",
    "QualityGates",
    "RandomForestConfig",
    "ScoringSettings",
    "ServingSettings",
    "Settings",
    "SettingsError",
    "SplitSettings",
    "SweepSettings",
    "WatchdogSettings",
    "load_settings",
]
