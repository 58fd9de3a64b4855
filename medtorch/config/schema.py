"""The root of the schema (``MedtorchConfig``), its registration in Hydra's ConfigStore, and the
named choices ``validate`` checks values against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from medtorch.config.schema_data import BalanceConfig, DataConfig, EDAConfig, LeakageConfig, SplitConfig
from medtorch.config.schema_evidence import (AcceptanceConfig, BridgeConfig, CardConfig, CVConfig, EvaluationConfig,
                                             MonitoringConfig, RegistryConfig, ReportConfig, SpecConfig,
                                             SurvivalConfig)
from medtorch.config.schema_model import (AttentionConfig, EarlyStoppingConfig, ExplainConfig, LinearConfig,
                                          LogisticConfig, MLPConfig, OptimConfig, TrainerConfig)


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
    ckpt_path: Optional[str] = None  # "last" resumes the run in hydra.run.dir from its last checkpoint
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


def to_container(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
