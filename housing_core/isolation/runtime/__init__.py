"""Files run inside a registered version's own interpreter (`python -I path/to/file.py`).

They import the standard library, MLflow and the version's requirements only, never
housing_core: the version's pickle then resolves `housing_core.*` to the code it ships.
"""
