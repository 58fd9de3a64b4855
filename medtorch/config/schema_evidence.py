"""Schema of the evidence config groups: acceptance, evaluation, registry, cross-validation, bridge,
data specification, monitoring, model card, report and survival."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class AcceptanceConfig:
    """Acceptance criteria fixed a priori, one 'QUANTITY OP NUMBER' per line (evaluation/acceptance.py)."""

    name: str = "none"
    criteria: list[str] = field(default_factory=list)


@dataclass
class EvaluationConfig:
    bootstrap_resamples: int = 1000  # class-stratified percentile bootstrap
    confidence: float = 0.95
    min_group_n: int = 30  # a class, subgroup or period with fewer rows is flagged too small to judge
    period: str = "year"  # calendar bins of data.time_column: year | quarter | month | days
    period_days: int = 365  # bin width for period=days
    calibration_bins: int = 10
    test_look: bool = False  # true: perform the one governed test-set evaluation at the end of training
    ledger: Optional[str] = None  # retired: looks go to the test-set registry (registry.url); refused when set
    proportion_interval: str = "wilson"  # sensitivity, specificity, precision, NPV: wilson | clopper_pearson
    bootstrap_interval: str = "bca"  # MCC, balanced accuracy, AUROC: bca (percentile where unstable) | percentile
    horizons: list[float] = field(default_factory=lambda: [1.0, 3.0, 5.0])  # task=survival: clinical horizons
    horizon_unit: str = "year"  # unit of evaluation.horizons: day | month | year


@dataclass
class RegistryConfig:
    """The project's test-set registry (medtorch/registry): every governed look and every looked-at row."""

    url: Optional[str] = None  # None: $MEDTORCH_REGISTRY, else $XDG_DATA_HOME/medtorch/registry.sqlite; or postgresql://...
    row_digits: int = 6  # significant digits numbers are rounded to in a row's identity


@dataclass
class CVConfig:
    folds: int = 0  # 0: no cross-validation; k >= 2: one model per fold on the development rows
    fold: Optional[int] = None  # run one fold only (for multirun/cluster parallelism)


@dataclass
class BridgeConfig:
    """The bridge set and the tolerances of the bridge re-evaluation on a new stack (``medtorch bridge RUN``).

    Probability differences are absolute, over every row and class of the bridge set; flip
    rates are the share of rows whose predicted class changed (per class: among the rows of
    that true class); deltas are absolute changes of the metric. The defaults allow rounding
    differences of float32 arithmetic and no change of any predicted label.
    """

    max_abs_prob_diff: float = 1e-4
    mean_abs_prob_diff: float = 1e-5
    max_flip_rate: float = 0.0
    max_class_flip_rate: float = 0.0
    max_mcc_delta: float = 0.0
    max_sensitivity_delta: float = 0.0
    max_specificity_delta: float = 0.0
    # the bridge set: the validation rows (default), or a CSV/Parquet file of raw rows with the
    # model's feature columns and the label column data.target (or reference_label)
    reference_file: Optional[str] = None
    reference_label: Optional[str] = None


@dataclass
class SpecConfig:
    """The data specification: derived from the training split, or a locked file written beforehand."""

    path: Optional[str] = None  # a pre-defined specification (JSON/YAML); None derives it from the training rows
    sha256: Optional[str] = None  # lock: the pre-defined file must have this hash
    range_margin: float = 0.1  # derived ranges: observed [min, max] widened by this fraction of (max - min) each side
    limits: Dict[str, List[float]] = field(default_factory=dict)  # column: [low, high], replaces the derived range
    missing: str = "observed"  # observed (allowed where training had missing values) | allow | refuse
    units: Dict[str, str] = field(default_factory=dict)  # column: unit, recorded in the specification
    descriptions: Dict[str, str] = field(default_factory=dict)  # column: description


@dataclass
class MonitoringConfig:
    """The monitoring plan: drift and degradation thresholds, and what a breach does."""

    psi_threshold: float = 0.2  # population stability index at or above this is drift
    pvalue: float = 0.01  # KS / chi-square significance, Bonferroni-corrected over the columns tested
    min_effect: float = 0.1  # a significant test counts only if KS D or Cramer's V reaches this
    missingness_change: float = 0.1  # absolute change in a column's fraction missing
    bins: int = 10  # PSI bins for numeric columns (training quantiles)
    min_mcc: Optional[float] = None  # degradation threshold on MCC (needs --labels)
    min_sensitivity: Dict[str, float] = field(default_factory=dict)  # class (or "*" for every class): threshold
    alarm_on: str = "estimate"  # estimate | upper_bound (alarm only when the whole CI is below the threshold)
    ci_level: float = 0.95
    bootstrap: int = 1000  # resamples for the MCC interval
    window: Optional[str] = None  # calendar windows with --time: D, W, M, Q or Y
    min_window_rows: int = 100  # smaller windows are reported but raise no alarm (PSI is biased up on few rows)
    on_drift: str = "warn"  # warn | block further predictions until reviewed
    on_degradation: str = "block"  # warn | block


@dataclass
class CardConfig:
    """Model-card statements that only people can make; the report shows them (or says they are missing)."""

    intended_use: str = ""
    users: str = ""
    out_of_scope: str = ""
    limitations: list[str] = field(default_factory=list)
    tripod: Dict[str, str] = field(default_factory=dict)  # TRIPOD+AI item -> the author's text, e.g. {"17": "..."}


@dataclass
class ReportConfig:
    """What the evidence report may show and what it writes."""

    min_cell: int = 5  # data-distribution counts below this are suppressed ("<5")
    pdf: str = "auto"  # auto: write the PDF report when a headless Chromium is found | off


@dataclass
class SurvivalConfig:
    """task=survival: the Cox partial-likelihood training and the survival evaluation (medtorch/survival)."""

    ties: str = "efron"  # efron | breslow: how tied event times enter the partial likelihood
    # a training batch without an event has no partial likelihood: its optimizer step is skipped and counted
    empty_batches: str = "skip"
    cox_baseline: bool = True  # fit lifelines' Cox PH model on the same split as the transparent comparison
    cox_penalizer: float = 0.01  # ridge penalty of that model (one-hot columns are collinear without one)
    risk_groups: int = 3  # predicted-risk groups of the Kaplan-Meier plot
    brier_points: int = 50  # time grid of the integrated Brier score
    min_cindex: Optional[float] = None  # monitoring: degradation when Harrell's C on labelled new data is below
    # bridge re-evaluation on another stack (medtorch bridge RUN): tolerances on the validation rows' risk scores
    bridge_max_abs_risk_diff: float = 1e-4
    bridge_min_kendall_tau: float = 0.999
    bridge_max_cindex_delta: float = 0.001
