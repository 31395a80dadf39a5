"""The reports wing: what a person reads in the Prefect UI and sees in MLflow's artifacts.

- ``markdown``: tables and links; ``training``: the training report; ``plots``: the figures.
The promotion report lives with the decision it explains (``housing_core.promotion.report``).
"""
