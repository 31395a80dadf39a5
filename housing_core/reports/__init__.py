"""The reports wing: building blocks of what a person reads, for every use case.

- ``markdown``: tables, metric lines and links to the UIs; ``plots``: the figures.
Each use case composes its own report from them: the training report lives in
``housing_core.training.report``, the promotion report in ``housing_core.promotion.report``.
"""
