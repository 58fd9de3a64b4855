"""What the report shows, in order: each section, the artefacts that are its evidence, and
the function that shows them.

``SECTIONS`` is the one table to update when a feature writes a new artefact: add its path
(a glob relative to the run directory; ``file.json#key`` takes one part of a JSON file) to the
section it belongs to. Files a section's renderer does not know are shown generically
(``blocks.file_blocks``), so a new artefact appears in the report without new code. A section
with no evidence says so, with ``absent`` explaining how the evidence would be produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from medtorch.artefacts import evidence as e
from medtorch.report import foundation as f
from medtorch.report import privacy, summary, tripod, typed
from medtorch.report.blocks import Block
from medtorch.report.evidence import Evidence

__all__ = ["SECTIONS", "Evidence", "Renderer", "Section"]  # Evidence is re-exported: callers import it from here


Renderer = Callable[[Evidence, list[tuple[str, str | None]]], tuple[list[Block], set[str]]]


@dataclass(frozen=True)
class Section:
    key: str  # anchor in the HTML report, referenced by the traceability table
    title: str
    evidence: tuple[str, ...]  # artefact patterns, relative to the run directory
    render: Renderer | None  # shows what it knows; returns the paths it handled
    absent: str  # what a reader is told when none of the evidence is in the run


SECTIONS: tuple[Section, ...] = (
    Section("summary", "Summary", (e("manifest"),), summary.summary, "no manifest: nothing to summarise."),
    Section("model-card", "Model card", (e("config", "card"), e("model_spec")), f.model_card,
            "no model card fields in the config (set card.intended_use, card.users, card.out_of_scope, card.limitations)."),
    Section("data", "Data and lineage", (e("manifest", "data"), e("lineage_summary"), e("lineage"), e("preprocessing")),
            f.data_source, "no record of the data source or its lineage in this run."),
    Section("eda", "Exploratory analysis and representativeness",
            (e("eda_summary"), e("eda"), e("eda_plot")), privacy.eda,
            "no exploratory analysis (class balance, representativeness, fairness by subgroup) was recorded in this run."),
    Section("split", "Split and leakage checks", (e("split"), e("leakage")), f.split,
            "no split record or leakage check results in this run."),
    Section("training", "Training configuration and regularisation",
            (e("config"), e("model_spec"), e("metrics", "history"), e("training_log")), f.training,
            "no training configuration recorded."),
    Section("metrics", "Validation and test metrics",
            (e("metrics"), e("assessment", "ci"), e("assessment", "classes"), e("assessment", "calibration"),
             e("confusion_plot"), e("reliability_plot"), e("test_evaluation"),
             e("test_evaluation_plot")), f.metrics,
            "no validation or test metrics in this run."),
    Section("cv", "Cross-validation distribution", (e("cv_summary"), e("cv_distribution_plot")),
            typed.cv_membership,
            "this run is not part of a cross-validation (run with cv.folds=K to record the distribution of "
            "metrics across folds)."),
    Section("subgroups", "Subgroup and calendar-time analyses",
            (e("assessment", "subgroups"), e("assessment", "periods"), e("forest_plot")),
            typed.subgroups, "no subgroup or calendar-time analysis in this run (needs data.subgroup_columns / data.time_column "
                  "and the performance assessment)."),
    Section("acceptance", "Acceptance criteria and their status",
            (e("acceptance"), e("acceptance_amendment"), e("test_evaluation", "criteria")),
            f.acceptance,
            "no a-priori acceptance criteria were frozen before this run's evaluation."),
    Section("ledger", "Test-set ledger status",
            (e("sealed_test"), e("split", "test_sealed"), e("metrics", "test_status"),
             e("test_evaluation", "role"), e("test_evaluation", "ledger")), f.ledger,
            "no record of how the test set is governed."),
    Section("explanations", "Explanations",
            (e("explanation_summary"), e("explanation"), e("explanation_plot")), None,
            "no explanations (feature attributions, attention maps) were computed for this run."),
    Section("stack", "Stack fingerprint and bridge history",
            (e("manifest", "stack"), e("manifest", "packages"), e("manifest", "device"), e("bridge_reference"),
             e("bridge_report", ext="md"), e("bridge_report", ext="json")), f.stack,
            "no record of the software and hardware stack."),
    Section("monitoring", "Monitoring plan and history",
            (e("data_spec"), e("monitoring_reference"), e("monitoring_log"), e("monitoring_report", ext="md"),
             e("monitoring_report", ext="json"), e("monitoring_plot")), f.monitoring,
            "no inference data specification, monitoring reference or monitoring history in this run."),
    Section("audit", "Audit trail", (e("events"),), f.audit_trail, "no event log."),
    Section("tripod", "TRIPOD+AI reporting checklist", (e("manifest"),), tripod.tripod, "no manifest."),
)
