"""Neighbour features: what the nearest training block groups are worth, earn and look like.

- ``nearest``: positions in km, k-nearest queries, NaN-aware (weighted) means;
- ``rows``: the training rows a query is answered from, and the query rows' own columns;
- ``prices``: the features made of the neighbours' prices (cross-fitted while training);
- ``surroundings``: the features made of the neighbours' other columns (no price involved);
- ``transformer``: :class:`~housing_core.model.neighbours.transformer.NeighbourTargetFeatures`,
  the scikit-learn step that composes them.
"""
