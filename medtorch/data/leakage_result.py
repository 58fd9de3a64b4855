"""The result of one leakage check (shared by the modules that implement the checks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CheckResult:
    check: str
    status: str  # pass | warn | fail | accepted | skipped
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
