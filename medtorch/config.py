"""Structured configs: the schema of every config group users edit.

Each dataclass is registered in Hydra's ConfigStore and named first in the defaults list of
the matching YAML file, so a typo (``model.dropuot=0.3``) or a wrong type
(``trainer.max_epochs=ten``) fails when the config is composed, naming the key. Value checks
that a type cannot express (a fraction outside (0, 1)) live in ``validate`` and report every
problem at once, before anything is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from medtorch.errors import MedtorchError


@dataclass
class CohortConfig:
    """Parameters of the synthetic clinical cohort (medtorch.data.cohort), for source=synthetic_cohort."""

    patients: int = 800
    max_visits: int = 4
    start_year: int = 2015
    years: int = 6
    drift: float = 0.0
    seed: int = 0
    leak_duplicates: float = 0.0
    leak_outcome_lab: bool = False
    leak_cause_of_death: bool = False
    leak_identifier: bool = False
    leak_target_copy: bool = False
    leak_outcome_level: bool = False
    leak_follow_up: bool = False
    leak_subject_id: bool = False
    coarse: bool = False
    calendar_ints: bool = False


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
    cohort: CohortConfig = field(default_factory=CohortConfig)  # for source=synthetic_cohort
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
    stop_on_fail: bool = True  # a failed check stops the run before training (exit 4)
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


@dataclass
class MLPConfig:
    name: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    dropout: float = 0.2
    activation: str = "relu"  # relu | gelu | silu
    _target_: str = "medtorch.models.networks.MLP"  # the class built with n_features, n_outputs and the keys above


@dataclass
class LogisticConfig:
    """Multinomial logistic regression fitted to convergence (scikit-learn, L-BFGS): the transparent baseline.

    Exported as one linear layer (model.pt). The L2 strength C is the one of ``c_grid`` with
    the lowest validation log-loss (medtorch/models/transparent.py).
    """

    name: str = "logistic"
    dropout: float = 0.0  # kept for old configs; must stay 0 (a fitted logistic regression has no dropout)
    c_grid: list[float] = field(default_factory=lambda: [10.0 ** (e / 2) for e in range(-8, 7)])  # 1e-4 .. 1e3
    tol: float = 1e-10  # tight: the coefficients (odds ratios) are reported, not only the predictions
    max_iter: int = 10000
    _target_: str = "medtorch.models.networks.Logistic"


@dataclass
class LinearConfig:
    """One linear layer trained by gradient descent like the other networks (AdamW, early stopping).

    Not the transparent baseline: it stops where early stopping stops, not at the optimum.
    """

    name: str = "linear"
    dropout: float = 0.0
    _target_: str = "medtorch.models.networks.Logistic"


@dataclass
class AttentionConfig:
    """FT-Transformer-style model: one token per input feature plus a class token."""

    name: str = "attention"
    d_token: int = 32  # width of every token
    n_layers: int = 2
    n_heads: int = 4  # must divide d_token
    dropout: float = 0.1  # residual and feed-forward dropout
    attention_dropout: float = 0.1
    ffn_factor: float = 2.0  # feed-forward width = ffn_factor * d_token
    _target_: str = "medtorch.models.networks.FeatureTokenTransformer"


@dataclass
class ExplainConfig:
    """Which explanations the end of a run (or ``medtorch explain``) computes; see medtorch/explain."""

    enabled: bool = True
    split: str = "val"  # val at training time; medtorch explain --split test explains the sealed test rows (logged)
    methods: list[str] = field(default_factory=lambda: ["integrated_gradients", "gradient_shap", "feature_ablation"])
    max_rows: int = 200  # rows attributed for global importance (a seeded sample when the split is larger)
    baseline: str = "train_mean"  # train_mean | train_sample | zeros (in the model's input space)
    baseline_samples: int = 16  # training rows drawn for train_sample and for GradientShap's distribution
    ig_steps: int = 50
    gradient_shap_samples: int = 16
    perturbation_samples: int = 100  # KernelShap and Lime: perturbed inputs per row
    local_rows: int = 1  # rows per kind: most confident, least confident, misclassified
    rows: list[int] = field(default_factory=list)  # row ids to explain locally as well
    sanity: bool = True  # rank agreement between methods and the model-randomisation test
    compare_with: Optional[str] = None  # run directory of a transparent baseline (same data and split)
    bootstrap: int = 1000  # resamples for the MCC confidence intervals of the comparison
    confidence: float = 0.95
    seed: int = 0
    transparent: list[str] = field(default_factory=lambda: ["logistic"])  # fitted in the run: logistic | ebm | tree
    tree_depths: list[int] = field(default_factory=lambda: [1, 2, 3, 4])  # tree: depth chosen on validation
    ebm: Dict[str, Any] = field(default_factory=dict)  # ebm: ExplainableBoostingClassifier arguments: +explain.ebm={interactions:0}


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 1e-2  # decoupled (AdamW)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class EarlyStoppingConfig:
    enabled: bool = True
    monitor: str = "val/mcc"
    mode: str = "max"
    patience: int = 15
    min_delta: float = 0.0


@dataclass
class TrainerConfig:
    accelerator: str = "auto"  # auto uses CUDA when present, CPU otherwise
    devices: Any = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"  # 32-true | 64-true | bf16-mixed | 16-mixed
    max_epochs: int = 100
    min_epochs: int = 1
    batch_size: int = 64
    eval_batch_size: int = 4096
    deterministic: bool = True
    gradient_clip_val: Optional[float] = None
    gradient_clip_algorithm: str = "norm"
    num_threads: Optional[int] = None  # torch intra-op threads; None keeps torch's default
    enable_progress_bar: bool = True
    matmul_precision: str = "highest"  # highest keeps TF32 off on GPUs
    checkpoint_every_n_steps: Optional[int] = None  # also write checkpoints/last.ckpt every N optimizer steps (it is written every epoch)
    # Lightning's own flags, passed to its Trainer (checked in medtorch/extensions.py)
    fast_dev_run: Any = False  # true or N: a smoke run of N batches; its run directory is marked not evidence
    limit_train_batches: Any = 1.0  # a fraction (float) or a number of batches (int)
    limit_val_batches: Any = 1.0
    accumulate_grad_batches: int = 1
    val_check_interval: Any = 1.0
    log_every_n_steps: int = 1
    profiler: Optional[str] = None  # null | simple | advanced | pytorch


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
    pdf: str = "auto"  # auto: write report.pdf when a headless Chromium is found | off


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


@dataclass
class MedtorchConfig:
    seed: int = 0  # honoured, 0 included
    data: Any = MISSING
    split: SplitConfig = field(default_factory=SplitConfig)
    model: Any = MISSING
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    acceptance: AcceptanceConfig = field(default_factory=AcceptanceConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    cv: CVConfig = field(default_factory=CVConfig)
    leakage: LeakageConfig = field(default_factory=LeakageConfig)
    eda: EDAConfig = field(default_factory=EDAConfig)
    balance: BalanceConfig = field(default_factory=BalanceConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    experiment: str = "default"  # name of the applied experiment, set by experiment files
    ckpt_path: Optional[str] = None  # "last" resumes the run in hydra.run.dir from checkpoints/last.ckpt
    spec: SpecConfig = field(default_factory=SpecConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    card: CardConfig = field(default_factory=CardConfig)  # model card text for the report
    task: str = "classification"  # classification | survival (time-to-event, medtorch/survival)
    survival: SurvivalConfig = field(default_factory=SurvivalConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)  # the project's test-set registry
    # groups built from _target_ nodes (medtorch/extensions.py): name -> {_target_: ..., args}
    logger: Any = None  # logger=csv (default) | tensorboard | mlflow | many
    callbacks: Any = None  # extra Lightning callbacks; medtorch's checkpoint and evidence callbacks are always there
    scheduler: Any = None  # scheduler=none | cosine | one_cycle | reduce_on_plateau
    progress: str = "auto"  # auto (on a terminal only) | on | off
    report: ReportConfig = field(default_factory=ReportConfig)  # privacy floor and PDF of the report


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="medtorch_schema", node=MedtorchConfig)
    cs.store(group="data", name="data_schema", node=DataConfig)
    cs.store(group="split", name="split_schema", node=SplitConfig)
    cs.store(group="model", name="mlp_schema", node=MLPConfig)
    cs.store(group="model", name="logistic_schema", node=LogisticConfig)
    cs.store(group="model", name="attention_schema", node=AttentionConfig)
    cs.store(group="model", name="linear_schema", node=LinearConfig)
    cs.store(group="trainer", name="trainer_schema", node=TrainerConfig)
    cs.store(group="acceptance", name="acceptance_schema", node=AcceptanceConfig)
    cs.store(group="explain", name="explain_schema", node=ExplainConfig)


MODELS = ("mlp", "logistic", "attention", "linear")
SOURCES = ("breast_cancer", "table", "synthetic_cohort", "gbsg2")
STRATEGIES = ("stratified", "grouped", "temporal", "external")
PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed", "16-mixed", "bf16-true", "16-true")
MONITORS = ("val/mcc", "val/loss", "val/balanced_accuracy", "val/auroc")


def validate(cfg: DictConfig) -> None:
    """Check every key (medtorch.config_keys) and the values a type cannot express; raise one error listing every problem."""
    from medtorch.config_keys import key_problems

    problems: list[str] = key_problems(cfg)

    def need(ok: bool, key: str, expected: str, got: Any) -> None:
        if not ok:
            problems.append(f"{key} must be {expected}; got {got!r}")

    d = cfg.data
    need(d.source in SOURCES, "data.source", f"one of {SOURCES}", d.source)
    survival = cfg.get("task", "classification") == "survival"
    if d.source == "table":
        need(bool(d.path), "data.path", "a CSV or Parquet file (data.path=FILE)", d.path)
        if not survival:  # a survival table has data.event_column and data.duration_column instead
            need(bool(d.target), "data.target", "the label column (data.target=COLUMN)", d.target)
    need(d.format in ("auto", "csv", "parquet"), "data.format", "one of 'auto', 'csv', 'parquet'", d.format)
    need(d.get("nonfinite", "refuse") in ("refuse", "missing"), "data.nonfinite", "'refuse' or 'missing'", d.get("nonfinite"))

    s = cfg.split
    for part in ("train", "val", "test"):
        v = s[part]
        need(0.0 < v < 1.0 or (part == "test" and v == 0.0), f"split.{part}", "a fraction in (0, 1)", v)
    total = s.train + s.val + s.test
    need(abs(total - 1.0) < 1e-6, "split.train + split.val + split.test", "1.0", round(total, 6))
    _validate_governance(cfg, need)

    m = cfg.model
    from medtorch.extensions import extension_problems
    from medtorch.models.targets import network_problems

    # a shipped network's keys were checked against its schema above; its signature check would name them twice
    if not any(p.startswith("model.") for p in problems):
        problems += network_problems(m)
    problems += extension_problems(cfg)
    need(m.get("name") in MODELS or "_target_" in m.keys(), "model.name", f"one of {MODELS} (or a model._target_)", m.get("name"))
    if "dropout" in m:
        need(0.0 <= m.dropout < 1.0, "model.dropout", "in [0, 1)", m.dropout)
    if "hidden" in m:
        need(len(m.hidden) > 0 and all(h > 0 for h in m.hidden), "model.hidden", "a list of positive widths", list(m.hidden))
    if "activation" in m:
        need(m.activation in ("relu", "gelu", "silu"), "model.activation", "one of 'relu', 'gelu', 'silu'", m.activation)

    if m.get("name") == "attention":
        need(m.d_token >= 1 and m.n_heads >= 1 and m.d_token % m.n_heads == 0, "model.d_token",
             f"a positive multiple of model.n_heads ({m.n_heads})", m.d_token)
        need(m.n_layers >= 1, "model.n_layers", ">= 1", m.n_layers)
        need(0.0 <= m.attention_dropout < 1.0, "model.attention_dropout", "in [0, 1)", m.attention_dropout)
        need(m.ffn_factor > 0, "model.ffn_factor", "> 0", m.ffn_factor)
    if "explain" in cfg:
        from medtorch.explain.settings import explain_problems

        problems += explain_problems(cfg.explain)
        need(cfg.explain.split == "val", "explain.split", "'val' at the end of training (the test split is sealed; "
             "explain test rows later with: medtorch explain RUN --split test)", cfg.explain.split)

    o = cfg.optim
    need(o.lr > 0, "optim.lr", "> 0", o.lr)
    need(o.weight_decay >= 0, "optim.weight_decay", ">= 0", o.weight_decay)
    need(len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas), "optim.betas", "two values in [0, 1)", list(o.betas))

    t = cfg.trainer
    need(t.max_epochs >= 1, "trainer.max_epochs", ">= 1", t.max_epochs)
    need(1 <= t.min_epochs <= t.max_epochs, "trainer.min_epochs", "between 1 and trainer.max_epochs", t.min_epochs)
    need(t.batch_size >= 1, "trainer.batch_size", ">= 1", t.batch_size)
    need(t.eval_batch_size >= 1, "trainer.eval_batch_size", ">= 1", t.eval_batch_size)
    need(str(t.precision) in PRECISIONS, "trainer.precision", f"one of {PRECISIONS}", t.precision)
    need(t.accelerator in ("auto", "cpu", "gpu", "cuda"), "trainer.accelerator", "one of 'auto', 'cpu', 'gpu', 'cuda'", t.accelerator)
    need(t.gradient_clip_val is None or t.gradient_clip_val > 0, "trainer.gradient_clip_val", "> 0 or null", t.gradient_clip_val)
    need(t.gradient_clip_algorithm in ("norm", "value"), "trainer.gradient_clip_algorithm", "'norm' or 'value'", t.gradient_clip_algorithm)
    # the module clips in on_before_optimizer_step, which DeepSpeed's engine never calls: refuse, don't drop it
    need(not (t.gradient_clip_val and "deepspeed" in str(t.strategy).lower()), "trainer.gradient_clip_val",
         "null with a DeepSpeed strategy (set gradient_clipping in the DeepSpeed config)", t.gradient_clip_val)
    need(t.num_threads is None or t.num_threads >= 1, "trainer.num_threads", ">= 1 or null", t.num_threads)
    every = t.get("checkpoint_every_n_steps")
    need(every is None or every >= 1, "trainer.checkpoint_every_n_steps", ">= 1 or null", every)
    need(t.matmul_precision in ("highest", "high", "medium"), "trainer.matmul_precision", "'highest', 'high' or 'medium'", t.matmul_precision)

    e = cfg.early_stopping
    if survival:  # task=survival: its own monitors, data, horizons and refusals (medtorch/survival/checks.py)
        from medtorch.survival.checks import survival_problems

        problems += survival_problems(cfg)
    else:
        need(d.source != "gbsg2", "data.source", "used with task=survival (gbsg2 is time-to-event data)", d.source)
        need(cfg.get("task", "classification") == "classification", "task", "'classification' or 'survival'",
             cfg.get("task"))
        need(e.monitor in MONITORS, "early_stopping.monitor", f"one of {MONITORS}", e.monitor)
        from medtorch.survival.acceptance import is_survival_quantity

        for line in cfg.acceptance.criteria:  # td_auc_5y, cindex, ... are judged by task=survival runs only
            q = str(line).split()[0] if str(line).split() else ""
            need(not is_survival_quantity(q), "acceptance.criteria", "classification quantities for "
                 "task=classification (survival quantities need task=survival)", str(line))
    need(e.mode in ("min", "max"), "early_stopping.mode", "'min' or 'max'", e.mode)
    need(e.patience >= 1, "early_stopping.patience", ">= 1", e.patience)
    need(cfg.seed >= 0, "seed", ">= 0", cfg.seed)
    _validate_registry(cfg, need)
    _validate_assessment(cfg, need, problems)
    ref = cfg.bridge.reference_file
    need(ref is None or Path(ref).is_file(), "bridge.reference_file", "an existing CSV or Parquet file (or null)", ref)
    for key, tol in cfg.bridge.items():
        if not key.startswith("max_") and not key.startswith("mean_"):
            continue
        rate = "rate" in key
        need(tol >= 0 and (tol <= 1 or not rate), f"bridge.{key}", "in [0, 1]" if rate else ">= 0", tol)
    _validate_deploy(cfg, need)

    if problems:
        raise MedtorchError("invalid configuration:\n  - " + "\n  - ".join(problems))


def _validate_registry(cfg: DictConfig, need) -> None:
    from medtorch.registry.location import IMPORT_HINT

    need(cfg.split.seed >= 0, "split.seed", ">= 0", cfg.split.seed)
    need(1 <= cfg.registry.row_digits <= 17, "registry.row_digits", "between 1 and 17", cfg.registry.row_digits)
    need(cfg.evaluation.ledger is None, "evaluation.ledger", f"unset (retired). {IMPORT_HINT}", cfg.evaluation.ledger)


def _validate_assessment(cfg: DictConfig, need, problems: list[str]) -> None:
    from medtorch.evaluation.acceptance import criteria_problems

    problems.extend(f"acceptance.criteria: {p}" for p in criteria_problems(cfg.acceptance.criteria))
    ev = cfg.evaluation
    need(ev.bootstrap_resamples >= 100, "evaluation.bootstrap_resamples", ">= 100", ev.bootstrap_resamples)
    need(0.5 <= ev.confidence < 1.0, "evaluation.confidence", "in [0.5, 1)", ev.confidence)
    need(ev.min_group_n >= 1, "evaluation.min_group_n", ">= 1", ev.min_group_n)
    need(ev.period in ("year", "quarter", "month", "days"), "evaluation.period", "one of 'year', 'quarter', 'month', 'days'", ev.period)
    need(ev.period_days >= 1, "evaluation.period_days", ">= 1", ev.period_days)
    need(ev.calibration_bins >= 2, "evaluation.calibration_bins", ">= 2", ev.calibration_bins)
    need(ev.proportion_interval in ("wilson", "clopper_pearson"), "evaluation.proportion_interval",
         "'wilson' or 'clopper_pearson'", ev.proportion_interval)
    need(ev.bootstrap_interval in ("bca", "percentile"), "evaluation.bootstrap_interval", "'bca' or 'percentile'",
         ev.bootstrap_interval)
    if cfg.model.name == "logistic":
        m = cfg.model
        need(len(m.c_grid) >= 1 and all(c > 0 for c in m.c_grid), "model.c_grid", "a non-empty list of C > 0", list(m.c_grid))
        need(m.tol > 0, "model.tol", "> 0", m.tol)
        need(m.max_iter >= 1, "model.max_iter", ">= 1", m.max_iter)
        need(m.dropout == 0, "model.dropout", "0 for model=logistic (a converged fit; use model=linear for a "
             "gradient-trained linear layer with dropout)", m.dropout)
    cv = cfg.cv
    need(cv.folds == 0 or cv.folds >= 2, "cv.folds", "0 (off) or >= 2", cv.folds)
    need(cv.fold is None or 0 <= cv.fold < max(cv.folds, 1), "cv.fold", "null or in [0, cv.folds)", cv.fold)
    need(not (cv.folds and ev.test_look), "evaluation.test_look", "false under cross-validation (folds never look at the test set)", ev.test_look)


def _validate_governance(cfg: DictConfig, need) -> None:
    """Split strategy, leakage, EDA and rebalancing settings."""
    s, d = cfg.split, cfg.data
    need(s.strategy in STRATEGIES, "split.strategy", f"one of {STRATEGIES}", s.strategy)
    if s.strategy == "grouped":
        need(bool(d.subject_column), "data.subject_column", "the subject/patient id column for split.strategy=grouped",
             d.subject_column)
    if s.strategy == "temporal":
        need(bool(d.time_column), "data.time_column", "the date column for split.strategy=temporal", d.time_column)
        need((s.train_end is None) == (s.val_end is None), "split.train_end and split.val_end", "both set or both null",
             [s.train_end, s.val_end])
        if s.train_end and s.val_end:
            need(str(s.train_end) < str(s.val_end), "split.train_end", "earlier than split.val_end", s.train_end)
    if s.strategy == "external":
        need(bool(s.test_path), "split.test_path", "the external test file for split.strategy=external", s.test_path)
    l = cfg.leakage
    need(0.5 < l.predictive_warn <= l.predictive_fail <= 1.0, "leakage.predictive_warn/predictive_fail",
         "0.5 < warn <= fail <= 1", [l.predictive_warn, l.predictive_fail])
    need(0.0 < l.identifier_unique <= 1.0, "leakage.identifier_unique", "in (0, 1]", l.identifier_unique)
    need(l.examples >= 0, "leakage.examples", ">= 0", l.examples)
    need(0.0 < l.coincidence_alpha < 1.0, "leakage.coincidence_alpha", "in (0, 1)", l.coincidence_alpha)
    need(l.min_level_n >= 1, "leakage.min_level_n", ">= 1", l.min_level_n)
    need(0.5 < l.level_purity <= 1.0, "leakage.level_purity", "in (0.5, 1]", l.level_purity)
    need(l.probe_rows >= 100, "leakage.probe_rows", ">= 100", l.probe_rows)
    need(0.0 <= l.probe_margin < 0.5, "leakage.probe_margin", "in [0, 0.5)", l.probe_margin)
    warn_checks = ("follow_up_names", "multivariate_probe", "subject_id_columns", "single_feature", "target_copy",
                   "time_overlap")
    for name in l.fail_on:
        need(name in warn_checks, "leakage.fail_on", f"names among {list(warn_checks)}", name)
    for name, reason in l.accept.items():
        need(reason is None or bool(str(reason).strip()), f"leakage.accept.{name}", "a non-empty reason", reason)
    need(d.time_unit in (None, "day", "week", "month", "year"), "data.time_unit", "null, day, week, month or year",
         d.time_unit)
    need((d.time_unit is None) == (d.time_origin is None), "data.time_unit and data.time_origin",
         "both set (a count of units since a date) or both null", [d.time_unit, d.time_origin])
    need(0.0 <= cfg.eda.tolerance < 1.0, "eda.tolerance", "in [0, 1)", cfg.eda.tolerance)
    for col, shares in cfg.eda.reference.items():
        need(all(0 <= v <= 1 for v in shares.values()), f"eda.reference.{col}", "shares in [0, 1]", dict(shares))
    b = cfg.balance
    need(b.class_weights in ("none", "balanced"), "balance.class_weights", "'none' or 'balanced'", b.class_weights)
    need(b.oversample in ("none", "balanced"), "balance.oversample", "'none' or 'balanced'", b.oversample)
    need(b.augmentation in ("none", "gaussian_noise"), "balance.augmentation", "'none' or 'gaussian_noise'", b.augmentation)
    need(b.noise_std > 0, "balance.noise_std", "> 0", b.noise_std)
    need(math.isfinite(b.mixup_alpha) and b.mixup_alpha >= 0, "balance.mixup_alpha",
         "0 (off) or a Beta concentration > 0 (usual: 0.1 to 0.4)", b.mixup_alpha)
    for col, factors in b.oversample_subgroups.items():
        need(col in d.subgroup_columns, f"balance.oversample_subgroups.{col}",
             f"a column named in data.subgroup_columns {list(d.subgroup_columns)}", col)
        for value, factor in factors.items():
            need(factor >= 1, f"balance.oversample_subgroups.{col}.{value}", "a factor >= 1", factor)


def _validate_deploy(cfg: DictConfig, need) -> None:
    sp = cfg.spec
    need(sp.range_margin >= 0, "spec.range_margin", ">= 0", sp.range_margin)
    need(sp.missing in ("observed", "allow", "refuse"), "spec.missing", "one of 'observed', 'allow', 'refuse'", sp.missing)
    need(sp.sha256 is None or sp.path is not None, "spec.sha256", "set only with spec.path", sp.sha256)
    for col, lim in sp.limits.items():
        need(len(lim) == 2 and lim[0] <= lim[1], f"spec.limits.{col}", "[low, high] with low <= high", list(lim))
    m = cfg.monitoring
    need(m.psi_threshold > 0, "monitoring.psi_threshold", "> 0", m.psi_threshold)
    need(0 < m.pvalue < 1, "monitoring.pvalue", "in (0, 1)", m.pvalue)
    need(0 <= m.min_effect <= 1, "monitoring.min_effect", "in [0, 1]", m.min_effect)
    need(0 < m.missingness_change <= 1, "monitoring.missingness_change", "in (0, 1]", m.missingness_change)
    need(m.bins >= 2, "monitoring.bins", ">= 2", m.bins)
    need(m.min_mcc is None or -1 <= m.min_mcc <= 1, "monitoring.min_mcc", "in [-1, 1] or null", m.min_mcc)
    for c, v in m.min_sensitivity.items():
        need(0 <= v <= 1, f"monitoring.min_sensitivity.{c}", "in [0, 1]", v)
    need(m.alarm_on in ("estimate", "upper_bound"), "monitoring.alarm_on", "'estimate' or 'upper_bound'", m.alarm_on)
    need(0.5 <= m.ci_level < 1, "monitoring.ci_level", "in [0.5, 1)", m.ci_level)
    need(m.bootstrap >= 100, "monitoring.bootstrap", ">= 100", m.bootstrap)
    need(m.window in (None, "D", "W", "M", "Q", "Y"), "monitoring.window", "one of D, W, M, Q, Y or null", m.window)
    need(m.min_window_rows >= 1, "monitoring.min_window_rows", ">= 1", m.min_window_rows)
    for key in ("on_drift", "on_degradation"):
        need(m[key] in ("warn", "block"), f"monitoring.{key}", "'warn' or 'block'", m[key])


def to_container(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
