"""What a report section's renderer may read: the run directory and what its audit trail records.

It lives apart from ``sections`` (which imports every renderer), so a renderer can name it
without importing the table of sections back: the report package has no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtorch.integrity import Recorded
from medtorch.report.blocks import load_structured, select
from medtorch.run import RunDir


@dataclass
class Evidence:
    """Everything a renderer may read: the run directory and what its audit trail records."""

    root: Path
    manifest: dict[str, Any]
    config: dict[str, Any]
    events: list[dict[str, Any]]
    recorded: dict[str, Recorded] = field(default_factory=dict)

    @property
    def rd(self) -> RunDir:
        return RunDir(self.root)

    def rel(self, path: Path) -> str:
        """A path inside the run, relative to it (the form the audit trail records)."""
        return Path(path).relative_to(self.root).as_posix()

    def find(self, pattern: str) -> list[tuple[str, str | None]]:
        """``(relative path, JSON key or None)`` for each existing artefact matching ``pattern``."""
        glob, _, key = pattern.partition("#")
        if any(c in glob for c in "*?["):
            paths = sorted(self.root.glob(glob))
        else:
            paths = [self.root / glob]
        out = []
        for p in paths:
            if not p.is_file():
                continue
            rel = str(p.relative_to(self.root)) if p.resolve().is_relative_to(self.root.resolve()) else glob
            if key:
                try:
                    if select(load_structured(p), key) in (None, {}, []):
                        continue
                except ValueError:
                    continue
            out.append((rel, key or None))
        return out

    def status(self, rel: str) -> str:
        if rel == self.rel(self.rd.events):
            return f"hash chain and head verified ({len(self.events)} events)"
        rec = self.recorded.get(rel)
        if rec is None:
            return "not recorded by the run's audit trail (unverified)"
        return f"sha256 {rec.sha256[:16]}..., verified ({rec.where})"
