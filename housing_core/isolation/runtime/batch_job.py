"""Score a stream of rows with one registered version, inside its own interpreter; run by path:

    python -I batch_job.py MODEL_DIR IN_FD OUT_FD

Rows arrive as Arrow IPC record batches on file descriptor IN_FD; each is answered, in order,
by a record batch of one float64 column `prediction` on OUT_FD, so memory is bounded by one
batch whatever the size of the whole. A first, empty answer is written once the model has
loaded: it tells the caller the version is ready. The stream ends when IN_FD ends; an
error ends this process with the cause on stderr. stdout is left to whatever the model prints.

The version is loaded with MLflow's pyfunc loader, which puts its own `code/` first on
`sys.path`; nothing here imports housing_core. Standard library, MLflow, numpy and pyarrow.
"""

from __future__ import annotations

import os
import sys
import traceback


def main(model_dir: str, in_fd: int, out_fd: int) -> int:
    import mlflow.pyfunc
    import numpy as np
    import pyarrow as pa

    model = mlflow.pyfunc.load_model(model_dir)
    schema = pa.schema([("prediction", pa.float64())])
    with (
        os.fdopen(out_fd, "wb") as out,
        pa.ipc.new_stream(out, schema) as answers,
        os.fdopen(in_fd, "rb") as source,
    ):
        answers.write_batch(pa.record_batch([pa.array([], pa.float64())], schema=schema))
        out.flush()  # ready
        for batch in pa.ipc.open_stream(source):
            predicted = np.asarray(model.predict(batch.to_pandas()), dtype=np.float64).ravel()
            if len(predicted) != batch.num_rows:
                raise RuntimeError(f"{batch.num_rows} rows in, {len(predicted)} predictions out")
            answers.write_batch(pa.record_batch([pa.array(predicted)], schema=schema))
            out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    except Exception as exc:  # the finding itself: the caller reports it, naming the version
        traceback.print_exc(file=sys.stderr)
        print(f"batch job failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
