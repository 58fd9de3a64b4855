"""Schema of the data config groups: the source table, the split, leakage checks, EDA, rebalancing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING

from medtorch.data.cohort_spec import CohortSpec

# the synthetic cohort's parameters are declared once, in medtorch/data/cohort_spec.py (light: no
# numpy or pandas), and used here as the schema of data.cohort; CohortConfig is the same class
CohortConfig = CohortSpec


@dataclass
class DataConfig:
    name: str = MISSING  # short name, used in the run directory path
    source: str = MISSING  # "breast_cancer" (ships with scikit-learn) or "table" (CSV/Parquet file)
    path: Optional[str] = None  # table file, for source=table
    target: Optional[str] = None  # label column, for source=table
    format: str = "auto"  # auto | csv | parquet
    id_column: Optional[str] = None  # row identity; the row number is used when absent
    categorical: list[str] = field(default_factory=list)  # integer-coded columns to treat as categories
    drop: list[str] = field(default_factory=list)  # columns never used as features
    subject_column: Optional[str] = None  # patient/subject id (grouped split, leakage checks)
    time_column: Optional[str] = None  # date or calendar column (temporal split, calendar analyses)
    subgroup_columns: list[str] = field(default_factory=list)  # sex, age band, site, ... for analyses
    description: str = ""
    cohort: CohortSpec = field(default_factory=CohortSpec)  # for source=synthetic_cohort
    nonfinite: str = "refuse"  # refuse | missing: what an inf/-inf in a numeric feature column does (recorded)
    time_unit: Optional[str] = None  # integer time_column that is not years 1800-2200: day | week | month | year ...
    time_origin: Optional[str] = None  # ... counted from this date (YYYY-MM-DD)
    # task=survival (medtorch/survival): follow-up time and event indicator (1 event, 0 censored)
    duration_column: Optional[str] = None
    event_column: Optional[str] = None
    duration_unit: str = "day"  # day | month | year


@dataclass
class SplitConfig:
    strategy: str = "stratified"  # stratified | grouped | temporal | external
    train: float = 0.7
    val: float = 0.15
    test: float = 0.15
    train_end: Optional[str] = None  # temporal: rows before this date train (else by fractions)
    val_end: Optional[str] = None  # temporal: rows from train_end until this date validate, later ones test
    test_path: Optional[str] = None  # external: the test file (same columns), e.g. prospective data
    new_subjects_only: bool = True  # temporal: drop val/test rows of subjects already seen earlier
    # the split's own seed, apart from ``seed`` (weights, batches): fixed, so -m seed=1,2,3 varies
    # training only and every job seals the same test set; cross-validation folds follow it too
    seed: int = 0


@dataclass
class LeakageAcceptConfig:
    """A failed leakage check acknowledged with a recorded reason: ``leakage.accept.CHECK="why"``."""

    duplicate_rows: Optional[str] = None
    subject_overlap: Optional[str] = None
    time_overlap: Optional[str] = None
    single_feature: Optional[str] = None
    identifier_columns: Optional[str] = None
    target_copy: Optional[str] = None
    outcome_levels: Optional[str] = None
    follow_up_names: Optional[str] = None
    multivariate_probe: Optional[str] = None
    subject_id_columns: Optional[str] = None


@dataclass
class LeakageConfig:
    """Automatic leakage checks after the split, before training (medtorch.data.leakage)."""

    enabled: bool = True
    stop_on_fail: bool = True  # a failed check stops the run before training (EXIT_LEAKAGE)
    predictive_fail: float = 0.98  # one feature alone reaching this balanced accuracy on train: fail
    predictive_warn: float = 0.90
    identifier_unique: float = 0.95  # integer/text feature with this share of distinct values: identifier-like
    examples: int = 5  # example row ids given as evidence
    accept: LeakageAcceptConfig = field(default_factory=LeakageAcceptConfig)  # {check: reason}, instead of stop_on_fail
    coincidence_alpha: float = 0.001  # duplicate_rows: cross-split match rate above the within-train rate (one-sided)
    min_level_n: int = 30  # outcome_levels: a category level with at least this many training rows ...
    level_purity: float = 0.99  # ... that are at least this share one class is a leak candidate
    probe: bool = True  # multivariate_probe: one feature's AUROC against all the others' (HistGradientBoosting)
    probe_rows: int = 20_000  # training rows sampled for the probe (at most)
    probe_margin: float = 0.02  # a feature whose solo AUROC comes within this of the all-others AUROC is reported
    fail_on: list[str] = field(default_factory=list)  # warning checks that stop the run, e.g. [multivariate_probe]


@dataclass
class EDAConfig:
    """Exploratory analysis written to the run directory (medtorch.data.eda)."""

    enabled: bool = True
    plots: bool = True
    reference: dict[str, dict[str, float]] = field(default_factory=dict)  # {column: {value: population share}}
    tolerance: float = 0.5  # flag a subgroup whose share is below (1 - tolerance) x its reference share
    top_levels: int = 20  # category frequencies shown per column


@dataclass
class BalanceConfig:
    """Rebalancing of the training batches (never validation or test): medtorch.data.balance."""

    class_weights: str = "none"  # none | balanced (inverse class frequency in the loss)
    oversample: str = "none"  # none | balanced (each class drawn equally often in training batches)
    oversample_subgroups: dict[str, dict[str, float]] = field(default_factory=dict)  # {site: {E: 3.0}}: rows of site E drawn 3x as often
    augmentation: str = "none"  # none | gaussian_noise (on standardised numeric features, training batches only)
    noise_std: float = 0.1
    mixup_alpha: float = 0.0  # 0 = off; > 0: mixup within training batches, lambda ~ Beta(alpha, alpha)
