"""The evidence report of a run: Markdown and a self-contained HTML page."""
