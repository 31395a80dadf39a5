"""The data wing: what the housing CSV must hold, reading it, checking it, splitting it.

- ``contract``: columns, types, ranges and categories of the raw CSV;
- ``source``: reading a URL or a path, the content hash (data version), the fingerprint;
- ``validation``: every contract rule checked at once, one error naming each broken rule;
- ``split``: the held-out rows, stable across data versions.
"""
