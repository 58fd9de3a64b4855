"""What the report shows, in order: each section, the artefacts that are its evidence, and
the function that shows them.

``SECTIONS`` is the one table to update when a feature writes a new artefact: add its path
(a glob relative to the run directory; ``file.json#key`` takes one part of a JSON file) to the
section it belongs to. Files a section's renderer does not know are shown generically
(``blocks.file_blocks``), so a new artefact appears in the report without new code. A section
with no evidence says so, with ``absent`` explaining how the evidence would be produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from medtorch.integrity import Recorded
from medtorch.report import foundation as f
from medtorch.report import privacy, summary, tripod, typed
from medtorch.report.blocks import Block, load_structured, select


@dataclass
class Evidence:
    """Everything a renderer may read: the run directory and what its audit trail records."""

    root: Path
    manifest: dict[str, Any]
    config: dict[str, Any]
    events: list[dict[str, Any]]
    recorded: dict[str, Recorded] = field(default_factory=dict)

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
        if rel == "events.jsonl":
            return f"hash chain and head verified ({len(self.events)} events)"
        rec = self.recorded.get(rel)
        if rec is None:
            return "not recorded by the run's audit trail (unverified)"
        return f"sha256 {rec.sha256[:16]}..., verified ({rec.where})"


Renderer = Callable[[Evidence, list[tuple[str, str | None]]], tuple[list[Block], set[str]]]


@dataclass(frozen=True)
class Section:
    key: str  # anchor in the HTML report, referenced by the traceability table
    title: str
    evidence: tuple[str, ...]  # artefact patterns, relative to the run directory
    render: Renderer | None  # shows what it knows; returns the paths it handled
    absent: str  # what a reader is told when none of the evidence is in the run


SECTIONS: tuple[Section, ...] = (
    Section("summary", "Summary", ("manifest.json",), summary.summary, "no manifest: nothing to summarise."),
    Section("model-card", "Model card", ("config.yaml#card", "model.json", "model_card.md"), f.model_card,
            "no model card fields in the config (set card.intended_use, card.users, card.out_of_scope, card.limitations)."),
    Section("data", "Data and lineage", ("manifest.json#data", "lineage.md", "lineage.json", "preprocessing.json"), f.data_source,
            "no record of the data source or its lineage in this run."),
    Section("eda", "Exploratory analysis and representativeness",
            ("eda.md", "eda.json", "plots/eda_*.png", "eda/*.md", "eda/*.png"), privacy.eda,
            "no exploratory analysis (class balance, representativeness, fairness by subgroup) was recorded in this run."),
    Section("split", "Split and leakage checks", ("split.json", "leakage.md", "leakage.json"), f.split,
            "no split record or leakage check results in this run."),
    Section("training", "Training configuration and regularisation",
            ("config.yaml", "model.json", "metrics.json#history", "logs/metrics.csv"), f.training,
            "no training configuration recorded."),
    Section("metrics", "Validation and test metrics",
            ("metrics.json", "assessment_*.json#ci", "assessment_*.json#classes", "assessment_*.json#calibration",
             "plots/confusion_*.png", "plots/reliability_*.png", "test_evaluations/*/evaluation.json",
             "test_evaluations/*/*.png"), f.metrics,
            "no validation or test metrics in this run."),
    Section("cv", "Cross-validation distribution",
            ("cv_summary.json", "plots/cv_distribution.png", "../cv_summary.json", "../plots/cv_distribution.png"),
            typed.cv_membership,
            "this run is not part of a cross-validation (run with cv.folds=K to record the distribution of "
            "metrics across folds)."),
    Section("subgroups", "Subgroup and calendar-time analyses",
            ("assessment_*.json#subgroups", "assessment_*.json#periods", "plots/forest_*.png"),
            typed.subgroups, "no subgroup or calendar-time analysis in this run (needs data.subgroup_columns / data.time_column "
                  "and the performance assessment)."),
    Section("acceptance", "Acceptance criteria and their status",
            ("acceptance.json", "acceptance_amendments/*.json", "test_evaluations/*/evaluation.json#criteria"),
            f.acceptance,
            "no a-priori acceptance criteria were frozen before this run's evaluation."),
    Section("ledger", "Test-set ledger status",
            ("sealed_test.json", "split.json#test_sealed", "metrics.json#test_status",
             "test_evaluations/*/evaluation.json#role", "test_evaluations/*/evaluation.json#ledger"), f.ledger,
            "no record of how the test set is governed."),
    Section("explanations", "Explanations",
            ("explain/summary.md", "explain/explanation.json", "explain/*.md", "explain/plots/*.png"), None,
            "no explanations (feature attributions, attention maps) were computed for this run."),
    Section("stack", "Stack fingerprint and bridge history",
            ("manifest.json#stack", "manifest.json#packages", "manifest.json#device", "bridge/reference.json",
             "bridge/report_*.md", "bridge/report_*.json"), f.stack,
            "no record of the software and hardware stack."),
    Section("monitoring", "Monitoring plan and history",
            ("data_spec.json", "monitoring_reference.json", "monitoring/log.jsonl", "monitoring/*/report.md",
             "monitoring/*/report.json", "monitoring/*/plots/*.png"), f.monitoring,
            "no inference data specification, monitoring reference or monitoring history in this run."),
    Section("audit", "Audit trail", ("events.jsonl",), f.audit_trail, "no event log."),
    Section("tripod", "TRIPOD+AI reporting checklist", ("manifest.json",), tripod.tripod, "no manifest."),
)
