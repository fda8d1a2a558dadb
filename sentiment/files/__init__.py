"""Files people send and the worker reads: parsed as a stream within limits, written safely, and
the folders a run may read."""
