"""``medtorch/config`` is a package of small modules; every name the single ``config.py`` offered is
still importable from ``medtorch.config``, the cohort's parameters are declared once, and the config
imports neither numpy nor pandas (``medtorch --help`` and config checks stay light)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "medtorch" / "conf"

# every public name of medtorch/config.py before it became a package
PUBLIC = ["CohortConfig", "DataConfig", "SplitConfig", "LeakageAcceptConfig", "LeakageConfig", "EDAConfig",
          "BalanceConfig", "MLPConfig", "LogisticConfig", "LinearConfig", "AttentionConfig", "ExplainConfig",
          "OptimConfig", "EarlyStoppingConfig", "TrainerConfig", "AcceptanceConfig", "EvaluationConfig",
          "RegistryConfig", "CVConfig", "BridgeConfig", "SpecConfig", "MonitoringConfig", "CardConfig", "ReportConfig",
          "SurvivalConfig", "MedtorchConfig", "register_configs", "MODELS", "SOURCES", "STRATEGIES", "PRECISIONS",
          "MONITORS", "validate", "to_container"]


def test_every_public_name_of_the_old_module_is_importable_from_medtorch_config():
    import medtorch.config as C

    missing = [n for n in PUBLIC if not hasattr(C, n)]
    assert not missing
    assert set(PUBLIC) <= set(C.__all__) and all(hasattr(C, n) for n in C.__all__)  # new groups may be added


def test_the_cohort_parameters_are_declared_once():
    from medtorch.config import CohortConfig, DataConfig
    from medtorch.data.cohort import CohortSpec, generate_cohort

    assert CohortConfig is CohortSpec
    assert DataConfig.__dataclass_fields__["cohort"].default_factory is CohortSpec
    names = [f.name for f in dataclasses.fields(CohortSpec)]
    assert "leak_subject_id" in names and "calendar_ints" in names
    # a parameter of the schema reaches the generator: the config node becomes the spec
    from omegaconf import OmegaConf

    node = OmegaConf.structured(DataConfig(name="c", source="synthetic_cohort")).cohort
    node.patients, node.leak_identifier = 40, True
    spec = CohortSpec.from_config(node)
    assert (spec.patients, spec.leak_identifier) == (40, True)
    assert "record_number" in generate_cohort(spec).columns


def test_a_typo_under_data_cohort_is_refused_naming_the_key():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from medtorch.config import register_configs, validate
    from medtorch.errors import MedtorchError

    register_configs()
    OmegaConf.register_new_resolver("medtorch_uid", lambda: "test", replace=True)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["data=synthetic_cohort", "+data.cohort.patiens=50"])
    try:
        validate(cfg)
    except MedtorchError as e:
        assert "data.cohort.patiens" in str(e) and "patients" in str(e)
    else:
        raise AssertionError("a misspelt cohort key was accepted")


def test_importing_the_config_imports_no_numpy_pandas_or_torch():
    code = ("import sys, medtorch.config, medtorch.config_keys, medtorch.data.cohort_spec; "
            "print(sorted(m for m in ('numpy', 'pandas', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
