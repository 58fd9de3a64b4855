"""Structured configs: the schema of every config group users edit.

Each dataclass is registered in Hydra's ConfigStore and named first in the defaults list of
the matching YAML file, so a typo (``model.dropuot=0.3``) or a wrong type
(``trainer.max_epochs=ten``) fails when the config is composed, naming the key. Value checks
that a type cannot express (a fraction outside (0, 1)) live in ``validate`` and report every
problem at once, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from medtorch.errors import MedtorchError


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


@dataclass
class SplitConfig:
    strategy: str = "stratified"
    train: float = 0.7
    val: float = 0.15
    test: float = 0.15


@dataclass
class MLPConfig:
    name: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    dropout: float = 0.2
    activation: str = "relu"  # relu | gelu | silu


@dataclass
class LogisticConfig:
    """Multinomial logistic regression: one linear layer, the transparent baseline."""

    name: str = "logistic"
    dropout: float = 0.0  # input dropout; 0 keeps the model a plain logistic regression


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


@dataclass
class CardConfig:
    """Model-card statements that only people can make; the report shows them (or says they are missing)."""

    intended_use: str = ""
    users: str = ""
    out_of_scope: str = ""
    limitations: list[str] = field(default_factory=list)


@dataclass
class MedtorchConfig:
    seed: int = 0  # honoured, 0 included
    data: Any = MISSING
    split: SplitConfig = field(default_factory=SplitConfig)
    model: Any = MISSING
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    experiment: str = "default"  # name of the applied experiment, set by experiment files
    card: CardConfig = field(default_factory=CardConfig)  # model card text for the report


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="medtorch_schema", node=MedtorchConfig)
    cs.store(group="data", name="data_schema", node=DataConfig)
    cs.store(group="split", name="split_schema", node=SplitConfig)
    cs.store(group="model", name="mlp_schema", node=MLPConfig)
    cs.store(group="model", name="logistic_schema", node=LogisticConfig)
    cs.store(group="trainer", name="trainer_schema", node=TrainerConfig)


MODELS = ("mlp", "logistic")
PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed", "16-mixed", "bf16-true", "16-true")
MONITORS = ("val/mcc", "val/loss", "val/balanced_accuracy", "val/auroc")


def validate(cfg: DictConfig) -> None:
    """Check values a type cannot express; raise one error listing every problem."""
    problems: list[str] = []

    def need(ok: bool, key: str, expected: str, got: Any) -> None:
        if not ok:
            problems.append(f"{key} must be {expected}; got {got!r}")

    d = cfg.data
    need(d.source in ("breast_cancer", "table"), "data.source", "one of 'breast_cancer', 'table'", d.source)
    if d.source == "table":
        need(bool(d.path), "data.path", "a CSV or Parquet file (data.path=FILE)", d.path)
        need(bool(d.target), "data.target", "the label column (data.target=COLUMN)", d.target)
    need(d.format in ("auto", "csv", "parquet"), "data.format", "one of 'auto', 'csv', 'parquet'", d.format)

    s = cfg.split
    for part in ("train", "val", "test"):
        v = s[part]
        need(0.0 < v < 1.0 or (part == "test" and v == 0.0), f"split.{part}", "a fraction in (0, 1)", v)
    total = s.train + s.val + s.test
    need(abs(total - 1.0) < 1e-6, "split.train + split.val + split.test", "1.0", round(total, 6))

    m = cfg.model
    need(m.name in MODELS, "model.name", f"one of {MODELS}", m.name)
    need(0.0 <= m.dropout < 1.0, "model.dropout", "in [0, 1)", m.dropout)
    if "hidden" in m:
        need(len(m.hidden) > 0 and all(h > 0 for h in m.hidden), "model.hidden", "a list of positive widths", list(m.hidden))
    if "activation" in m:
        need(m.activation in ("relu", "gelu", "silu"), "model.activation", "one of 'relu', 'gelu', 'silu'", m.activation)

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
    need(t.num_threads is None or t.num_threads >= 1, "trainer.num_threads", ">= 1 or null", t.num_threads)
    need(t.matmul_precision in ("highest", "high", "medium"), "trainer.matmul_precision", "'highest', 'high' or 'medium'", t.matmul_precision)

    e = cfg.early_stopping
    need(e.monitor in MONITORS, "early_stopping.monitor", f"one of {MONITORS}", e.monitor)
    need(e.mode in ("min", "max"), "early_stopping.mode", "'min' or 'max'", e.mode)
    need(e.patience >= 1, "early_stopping.patience", ">= 1", e.patience)
    need(cfg.seed >= 0, "seed", ">= 0", cfg.seed)

    if problems:
        raise MedtorchError("invalid configuration:\n  - " + "\n  - ".join(problems))


def to_container(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
