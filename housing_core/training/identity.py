"""What a training is called and what made it: its label, its run name, its lineage.

One name per training in both UIs: the Prefect flow run and its MLflow run share it, e.g.
`hist-gb-lr0.08-it300-leaves63-20261201-031500`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from housing_core.settings import ModelConfig, QualityGates, SplitSettings
from housing_core.versioning import Lineage, model_code_version, training_key


def model_label(config: ModelConfig) -> str:
    """What a training trains, e.g. `random-forest-n150-d20`."""
    if config.family == "random_forest":
        return f"random-forest-n{config.n_estimators}-d{config.max_depth}"
    return f"hist-gb-lr{config.learning_rate:g}-it{config.max_iter}-leaves{config.max_leaf_nodes}"


def run_name(config: ModelConfig, at: datetime | None = None) -> str:
    """The label and the moment, in UTC."""
    return f"{model_label(config)}-{(at or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def keeps_name(config: ModelConfig, given: str) -> bool:
    """Whether a name given at submission (by `housing-run`) already says what is trained."""
    return given.startswith(f"{model_label(config)}-")


def lineage(
    model: ModelConfig,
    split: SplitSettings,
    gates: QualityGates,
    data_version: str,
    flow_run_id: str = "",
) -> Lineage:
    """Data, code and configuration of a training; its key identifies it across runs."""
    code = model_code_version()
    config = {
        "model": model.model_dump(mode="json"),
        "split": split.model_dump(mode="json"),
        "registration_gates": gates.model_dump(mode="json"),
    }
    return Lineage(
        training_key=training_key(data_version, code, config),
        data_version=data_version,
        code_version=code,
        flow_run_id=flow_run_id,
    )
