"""Schema of the model, explanation, optimiser, early-stopping and trainer config groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional


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

    Exported as one linear layer (the model weights). The L2 strength C is the one of ``c_grid`` with
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
    # at training, in a forked process beside the validation steps (Linux, CPU, one process); false: in line
    in_background: bool = True
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
    checkpoint_every_n_steps: Optional[int] = None  # also write the last checkpoint every N optimizer steps (it is written every epoch)
    # Lightning's own flags, passed to its Trainer (checked in medtorch/extensions.py)
    fast_dev_run: Any = False  # true or N: a smoke run of N batches; its run directory is marked not evidence
    limit_train_batches: Any = 1.0  # a fraction (float) or a number of batches (int)
    limit_val_batches: Any = 1.0
    accumulate_grad_batches: int = 1
    # training batches (optimizer steps) the module takes in one Lightning step; auto = 8, or 1 where a
    # setting counts Lightning's steps as batches (medtorch/extensions.py steps_per_execution)
    steps_per_execution: Any = "auto"
    val_check_interval: Any = 1.0
    log_every_n_steps: int = 1
    profiler: Optional[str] = None  # null | simple | advanced | pytorch
