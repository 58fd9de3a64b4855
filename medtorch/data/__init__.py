"""Data: sources, the early split, fitted transforms, and the tensor loader."""
