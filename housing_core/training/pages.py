"""What people read in MLflow about trainings: the experiment's page and a version's page.

The experiment opens on its runs, in model-training mode, through a saved view of the runs
table that leads with the metrics: what MLflow's own "share view" stores, as a tag, under a
name that its Views menu lists. MLflow's registry table shows each version's tags as chips
(cut past 30 characters) and the first 32 characters of its description's first line, as
plain text: so a version carries a few short tags a person reads (RMSE, R², family, data and
code), its first line says RMSE and family, and the rest of the description is Markdown in
forms that render there (one line of labelled metrics, not a table). The full lineage (the
training key, the whole data and code versions, the flow run) stays on the version's run.
"""

from __future__ import annotations

import json

from housing_core.evaluation.metrics import METRICS
from housing_core.formatting import format_metric
from housing_core.reports.markdown import METRICS_VIEW, experiment_url, link, metric_lines
from housing_core.settings import ModelConfig
from housing_core.training.identity import model_label
from housing_core.uris import is_http
from housing_core.versioning import Lineage

# MLflow 3.17's UI ignores this kind (a hard-coded flag) and opens a first visit from its root
# in GenAI mode; it is set for the versions that read it. The links we write carry the mode.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
_METRIC_COLUMNS = [f"metrics.`{m}`" for m in (*METRICS, "training_seconds")]
METRICS_VIEW_STATE = {
    "selectedColumns": [*_METRIC_COLUMNS, "params.`model.family`", "attributes.`Models`"],
    "orderByKey": "metrics.`rmse`",
    "orderByAsc": True,
    # run names whole, then the metrics (widths apply only to ordered columns)
    "columnOrder": [
        "attributes.`Run Name`",
        *_METRIC_COLUMNS,
        "params.`model.family`",
        "attributes.`Created`",
        "attributes.`Duration`",
        "attributes.`Models`",
    ],
    "columnWidths": {"attributes.`Run Name`": 420},
}
# the envelope MLflow's Views menu lists a saved view by (a fixed moment: the tag is rewritten
# only when the view itself changes)
METRICS_VIEW_NAME = "Metrics, best RMSE first"
_VIEW_DEFINED_AT_MS = 1_796_083_200_000  # 2026-12-01
FAMILY_NAMES = {"hist_gradient_boosting": "hist-gb", "random_forest": "random-forest"}
MODEL_DESCRIPTION = (
    "California median house value per block group, in dollars. "
    "Takes the raw housing.csv columns (without the target)."
)


def experiment_tags(tracking_uri: str, experiment_id: str, model_name: str) -> dict[str, str]:
    """The experiment's kind, its saved metrics view, and its note, which leads with the link
    to that view (the experiments list shows the note's start, as plain text)."""
    about = (
        f"Trainings of {model_name} by housing-flows: one run per training, named as its "
        "Prefect flow run. Held-out metrics: rmse, mae (dollars), r2, mape; training_seconds."
    )
    note = about
    if is_http(tracking_uri):
        view = experiment_url(tracking_uri, experiment_id)
        note = f"[Runs with their metrics, best RMSE first]({view}). {about}"
    envelope = {
        "name": METRICS_VIEW_NAME,
        "createdAt": _VIEW_DEFINED_AT_MS,
        "updatedAt": _VIEW_DEFINED_AT_MS,
        "state": json.dumps(METRICS_VIEW_STATE),
    }
    return {
        EXPERIMENT_KIND[0]: EXPERIMENT_KIND[1],
        f"mlflow.sharedViewState.{METRICS_VIEW}": json.dumps(envelope),
        "mlflow.note.content": note,
    }


def version_tags(model: ModelConfig, lineage: Lineage, metrics: dict[str, float]) -> dict[str, str]:
    """A few short chips, the ones people read first: `rmse: $39,217`, `r2: 0.8824`,
    `family: hist-gb`, `data: 5bd65565`, `code: 3769a1b2`."""
    return {
        "rmse": format_metric("rmse", metrics["rmse"]),
        "r2": format_metric("r2", metrics["r2"]),
        "family": FAMILY_NAMES.get(model.family, model.family),
        "data": lineage.data_version[:8],
        "code": lineage.code_version[:8],
    }


def version_description(
    *,
    run_name: str,
    model: ModelConfig,
    metrics: dict[str, float],
    n_test: int,
    run_url: str,
    flow_run_url: str,
    lineage: Lineage,
) -> str:
    """The description written when a version is registered: one short plain first line,
    then Markdown that renders on the version's page."""
    family = FAMILY_NAMES.get(model.family, model.family)
    links = [link("MLflow run", run_url)]
    if flow_run_url:
        links.append(link("Prefect flow run", flow_run_url))
    return "\n\n".join(
        [
            f"RMSE {format_metric('rmse', metrics['rmse'])} · {family}",
            f"Passed every registration check on {n_test:,} held-out rows: {metric_lines(metrics)}",
            f"Run `{run_name}` ({model_label(model)}) · data `{lineage.data_version[:12]}` · "
            f"code `{lineage.code_version[:12]}`",
            " · ".join(links),
        ]
    )
