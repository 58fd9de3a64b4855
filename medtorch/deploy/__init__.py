"""After training: the data specification, spec-checked prediction, and monitoring."""
