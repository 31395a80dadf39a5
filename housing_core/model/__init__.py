"""The model wing: exactly what a registered model imports when it is loaded.

A registered version ships this folder (and nothing else of housing_core) as its code, and its
pickle names these modules. So the wing imports only numpy, pandas, scikit-learn, threadpoolctl
and itself: no MLflow, Prefect, pydantic, HTTP client or other wing (ruff's banned-api keeps it
so, see ``ruff.toml`` here). It learns what it needs of the data (text columns, categories, the
price range) from the training rows instead of importing the data contract.

- ``spec``: what the pipeline reads from a model configuration (the settings satisfy it);
- ``columns``: the numpy table the steps hand each other;
- ``features``: ratio features and the preprocessor; ``geo``: location features;
- ``nearest`` and ``neighbours``: what nearby block groups are worth, earn and look like;
- ``ensemble``: seed-averaged gradient boosting, scored tree-parallel;
- ``pipeline``: all of it as one scikit-learn Pipeline, raw columns in, dollars out.
"""
