"""housing_core: the pure domain library of housing-flows (no Prefect, nothing run at import).

Wings, one kind of code each (the README's map has every module):
- ``model/``: exactly what a registered model imports; it ships alone with every version;
- ``data/``: the contract, reading the source, validation, the stable split;
- ``evaluation/``: metrics, gates, importance;
- ``tracking/``: every MLflow call, behind one entry point;
- ``promotion/``: scoring versions by their own code, the decision, its records and report;
- ``serving/``: the processes versions are scored and served in;
- ``reports/``: what people read: Markdown and figures.
Beside them: ``settings`` (the one settings tree), ``formatting`` (the one number format),
``versioning`` (code versions and training keys).
"""

__version__ = "0.1.0"
