"""The evidence report of a run: ``report.md`` and a self-contained ``report.html``."""
