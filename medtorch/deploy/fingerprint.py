"""The stack fingerprint stamped on every prediction: which software and hardware made it."""

from __future__ import annotations

from typing import Any


def stack_fingerprint() -> tuple[str, dict[str, Any]]:
    """(hash, fingerprint) of this process's stack as it is now (see medtorch.stack.fingerprint)."""
    from medtorch.stack.fingerprint import collect

    fp = collect()
    return fp["hash"], fp
