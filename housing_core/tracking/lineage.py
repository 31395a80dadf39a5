"""What a training was made from, written as tags on its run and on its registered version."""

from __future__ import annotations

from dataclasses import dataclass

TRAINING_KEY_TAG = "housing.training_key"
CODE_VERSION_TAG = "housing.code_version"
FLOW_RUN_TAG = "prefect.flow_run_id"


@dataclass(frozen=True)
class Lineage:
    """Data, code and configuration of a training, and the flow run that made it."""

    training_key: str
    data_version: str
    code_version: str
    data_source: str
    flow_run_id: str = ""

    def tags(self) -> dict[str, str]:
        return {
            TRAINING_KEY_TAG: self.training_key,
            "housing.data_version": self.data_version,
            CODE_VERSION_TAG: self.code_version,
            "housing.data_source": self.data_source,
            FLOW_RUN_TAG: self.flow_run_id,
        }
