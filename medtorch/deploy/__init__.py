"""After training: the data specification, spec-checked prediction, and monitoring."""

CHUNK_ROWS = 100_000  # rows read, checked and predicted at a time by predict and monitor (--chunk-rows)
