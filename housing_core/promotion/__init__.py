"""The promotion wing: which registered version carries the serving alias, and why.

- ``scoring``: every version scored on the same held-out rows, each in its own process with
  its own code, and smoke-tested with a serving payload;
- ``decision``: the pure decision (promote, keep, roll back), tested by table;
- ``records``: the tags a move leaves on the version; ``report``: the promotion artifact.
"""
