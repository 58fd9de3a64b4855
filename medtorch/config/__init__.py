"""Structured configs: the schema of every config group users edit.

Each dataclass is registered in Hydra's ConfigStore and named first in the defaults list of
the matching YAML file, so a typo (``model.dropuot=0.3``) or a wrong type
(``trainer.max_epochs=ten``) fails when the config is composed, naming the key. Value checks
that a type cannot express (a fraction outside (0, 1)) live in ``validate`` and report every
problem at once, before anything is written.

The schema is split by topic (``schema_data``, ``schema_model``, ``schema_evidence``, and the
root ``schema``); the checks live in ``checks``. Everything is importable from here, as before.
Modules inside medtorch that this package's checks import import the submodules, not this
package, so the import graph has no cycle (``tests/test_import_graph.py``).
"""

from __future__ import annotations

from medtorch.config.checks import validate
from medtorch.config.schema import (MODELS, MONITORS, PRECISIONS, SOURCES, STRATEGIES, MedtorchConfig,
                                    register_configs, to_container)
from medtorch.config.schema_data import (BalanceConfig, CohortConfig, DataConfig, EDAConfig, LeakageAcceptConfig,
                                         LeakageConfig, SplitConfig)
from medtorch.config.schema_evidence import (AcceptanceConfig, BridgeConfig, CardConfig, CVConfig, EvaluationConfig,
                                             MonitoringConfig, RegistryConfig, ReportConfig, SpecConfig,
                                             SurvivalConfig)
from medtorch.config.schema_model import (AttentionConfig, EarlyStoppingConfig, ExplainConfig, LinearConfig,
                                          LogisticConfig, MLPConfig, OptimConfig, TrainerConfig)

__all__ = [
    "MODELS", "MONITORS", "PRECISIONS", "SOURCES", "STRATEGIES", "AcceptanceConfig", "AttentionConfig",
    "BalanceConfig", "BridgeConfig", "CVConfig", "CardConfig", "CohortConfig", "DataConfig", "EDAConfig",
    "EarlyStoppingConfig", "EvaluationConfig", "ExplainConfig", "LeakageAcceptConfig", "LeakageConfig",
    "LinearConfig", "LogisticConfig", "MLPConfig", "MedtorchConfig", "MonitoringConfig", "OptimConfig",
    "RegistryConfig", "ReportConfig", "SpecConfig", "SplitConfig", "SurvivalConfig", "TrainerConfig",
    "register_configs", "to_container", "validate",
]
