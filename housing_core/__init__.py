"""housing_core: the pure domain library of housing-flows (no Prefect, nothing run at import).

Modules, one concern each: `settings`, `schemas`, `data`, `split`, `features`, `geo`,
`neighbours`, `model`, `evaluation`, `plots`, `tracking`, `registry`, `promotion`, `versioning`.
"""

__version__ = "0.1.0"
