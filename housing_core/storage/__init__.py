"""The storage wing: tables read in chunks from paths, URLs and S3; outputs written atomically.

- ``locations``: parsing a URI into a scheme, a place and a format;
- ``reading``: ``read_chunks`` (bounded memory) and ``read_bytes``;
- ``fingerprints``: the cheap change token and the content hash;
- ``writing``: ``open_output``, checked before any work, committed whole or not at all;
- ``staging``: ``open_staging``, an output written in parts by a cluster's workers, committed
  by one process;
- ``manifests``: what a folder output's manifest lists, ``read_manifest``, ``list_outputs``;
- ``s3``: one endpoint and its keys for boto3 and pyarrow alike;
- ``errors``: one family of exceptions, each telling whether a retry may help.

It is a gateway: it moves finished tables and imports nothing else of housing_core.
"""

from .errors import (
    LocationError,
    StorageAccessError,
    StorageContentError,
    StorageError,
    StorageNotFoundError,
    StorageNotWritableError,
    StorageUnavailableError,
)
from .fingerprints import Survey, content_hash, fingerprint, survey
from .locations import Format, Location, Scheme
from .manifests import MANIFEST_NAME, RUNS_FOLDER, Manifest, Part, list_outputs, read_manifest
from .reading import read_bytes, read_chunks
from .s3 import S3Connection
from .staging import Staging, open_staging, schema_of
from .writing import Output, Written, open_output

__all__ = [
    "MANIFEST_NAME",
    "RUNS_FOLDER",
    "Format",
    "Location",
    "LocationError",
    "Manifest",
    "Output",
    "Part",
    "S3Connection",
    "Scheme",
    "Staging",
    "StorageAccessError",
    "StorageContentError",
    "StorageError",
    "StorageNotFoundError",
    "StorageNotWritableError",
    "StorageUnavailableError",
    "Survey",
    "Written",
    "content_hash",
    "fingerprint",
    "list_outputs",
    "open_output",
    "open_staging",
    "read_bytes",
    "read_chunks",
    "read_manifest",
    "schema_of",
    "survey",
]
