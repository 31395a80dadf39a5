"""The settings of the jobs beside training and release: batch scoring, drift, the Dask
cluster, hyperparameter sweeps."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator

from housing_core.settings.sections import _Frozen

InvalidRows = Literal["flag", "refuse", "fail"]
DriftBand = tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]]


class DriftSettings(_Frozen):
    """How drift is judged: the bands calibrated in each model's profile, unless overridden."""

    experiment_name: str = Field("housing_drift", min_length=1)

    overrides: dict[str, DriftBand | dict[str, DriftBand]] = Field(
        default_factory=dict,
        description="score -> (watch, drift) for every feature, or feature -> {score: (watch, "
        "drift)}; scores: psi, wasserstein, js, unseen, blank",
    )


class ScoringSettings(_Frozen):
    """Batch scoring: how a file of block groups is priced by a registered version."""

    experiment_name: str = Field("housing_batch_scoring", min_length=1)
    chunk_rows: int = Field(
        50_000, ge=100, le=5_000_000, description="rows read, checked and scored at a time"
    )
    processes: int | None = Field(
        None, ge=1, description="the version's processes scoring at once; None: one per core"
    )
    partition_rows: int = Field(
        200_000,
        ge=100,
        le=50_000_000,
        description="rows each Dask task scores and writes as one part (with dask.address)",
    )
    partitions_in_flight: int = Field(
        4,
        ge=1,
        le=1000,
        description="partitions handed to the cluster at once (bounds this process's memory)",
    )
    invalid_rows: InvalidRows = Field(
        "flag",
        description="rows that break the contract: flag (scored, and named in the "
        "contract_violations column), refuse (not scored: no price), fail (nothing written)",
    )
    fail_on_drift: bool = Field(
        False, description="a batch that drifts from the model's profile fails, writing nothing"
    )


class DaskSettings(_Frozen):
    """A Dask cluster to spread work over (sweeps' trials, large scorings' partitions)."""

    address: str | None = Field(
        None,
        description="tcp://host:port of a Dask scheduler whose workers can import this "
        "project; unset: the work runs on this machine",
    )

    @field_validator("address", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value


Sampler = Literal["tpe", "random", "grid"]


class SweepSettings(_Frozen):
    """A hyperparameter search: Optuna proposes, each trial is a task, the best is registered."""

    experiment_name: str = Field("housing_sweeps", min_length=1)
    study_name: str = Field("housing-sweep", min_length=1, description="resumed when it exists")
    storage: SecretStr | None = Field(
        None,
        description="Optuna's storage: sqlite:///..., postgresql://... (a team's) or "
        "redis://... (a journal); unset: sqlite in the state folder",
    )
    sampler: Sampler = "tpe"
    seed: int = 42
    trials: int = Field(20, ge=1, le=10_000)
    parallelism: int = Field(2, ge=1, le=256, description="trials in flight at once")
    validation_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="share of the TRAINING rows a trial is scored on (never the held-out rows)",
    )
    trial_timeout_s: float | None = Field(
        None, gt=0, description="a trial still fitting after this long fails (None: no limit)"
    )
    register_best: bool = Field(
        True, description="retrain the best configuration on all training rows and register it"
    )


class WatchdogSettings(_Frozen):
    """How long Prefect's automations wait before they mark a silent flow run CRASHED.

    Read by the bootstrap, which installs the automations; a flow run never reads them.
    """

    heartbeat_window_s: int = Field(
        90,
        ge=1,
        description="a RUNNING flow run whose heartbeats stop for this long is marked CRASHED; "
        "at least 3 x PREFECT_FLOWS_HEARTBEAT_FREQUENCY of the workers",
    )
    pending_window_s: int = Field(
        600,
        ge=10,
        description="a PENDING flow run that does not start RUNNING within this long is marked "
        "CRASHED, which frees its deployment's concurrency slot",
    )
