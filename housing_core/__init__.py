"""housing_core: the domain library of housing-flows. No Prefect anywhere in it, nothing run
at import; imports only run downwards, from the use cases to the gateways and pure wings
(each wing's ruff.toml lists what it may not import).

Pure: ``settings`` (the one settings tree), ``formatting`` (the one number format), ``uris``,
``versioning`` (code versions, training keys, lineage), ``model`` (exactly what a registered
model imports; it ships alone), ``data`` (the contract, validation, the split; it reads
through storage), ``evaluation``, ``drift`` (reference profiles and drift scores),
``reports`` (building blocks of what people read).
Gateways (I/O, finished values in and out): ``tracking`` (MLflow), ``storage`` (files, URLs,
object storage), ``isolation`` (a registered version run in a process of its own, with its
own code and requirements).
Use cases: ``training`` (record a training), ``promotion`` (release a version), ``serving``
(the housing-serve application).
"""

__version__ = "0.1.0"
