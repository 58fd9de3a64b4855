"""The stack fingerprint stamped on every prediction: which software and hardware made it.

One small function so that it can be switched to the project's stack module in one place.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from medtorch.hashing import sha256_json


@lru_cache(maxsize=1)
def stack_fingerprint() -> tuple[str, dict[str, Any]]:
    """(sha256 of the stack description, the description): package versions, Python, platform, device."""
    from medtorch.provenance import device_info, package_versions

    device = device_info("cpu")
    device.pop("torch_threads", None)  # a runtime setting, not part of the stack
    stack = {"packages": package_versions(), "device": device}
    return sha256_json(stack), stack
