"""The promotion wing: the use case "release a version", above the tracking gateway.

- ``scoring``: every version scored on the same held-out rows, each in its own process with
  its own code (housing_core.isolation), and smoke-tested with a serving payload;
- ``decision``: the pure decision (promote, keep, roll back), tested by table, and the one
  score type (`VersionScore`) from a version's own process to the promotion summary;
- ``records``: a release as values, and the one tag it leaves (where a rollback goes);
- ``pages``: the serving section of each version's description;
- ``release``: reading production, and the release itself through the registry;
- ``report``: the promotion artifact.
"""
