"""The scoring wing: the use case "price a file of block groups with a registered version".

- ``target``: the version an alias points to, resolved once, downloaded, with its lineage and
  the reference profile it ships;
- ``batch``: the input read in chunks, checked against the contract row by row, priced by the
  version's own processes, written whole or not at all, drift summarised on the way;
- ``tally``: what is counted on the way with bounded memory: the metrics when the target is
  there, a sample of prices for their quantiles and the picture;
- ``recording``: the MLflow run of a scoring (experiment `housing_batch_scoring`);
- ``report``: the Prefect summary artifact and the predicted-versus-actual figure.
"""
