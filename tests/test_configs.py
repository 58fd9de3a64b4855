"""Every shipped config composes against the schema and passes validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from medtorch.config import register_configs, validate
from medtorch.errors import MedtorchError

CONF = Path(__file__).resolve().parent.parent / "medtorch" / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
register_configs()
OmegaConf.register_new_resolver("medtorch_uid", lambda: "test", replace=True)


def _compose(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_and_validates(name, tmp_path):
    extra = ["data.path=x.csv", "data.target=y"] if name == "table" else []
    if name == "attention_vs_logistic":  # names the baseline run it is compared with
        extra = [f"explain.compare_with={tmp_path}"]
    cfg = _compose(f"+experiment={name}", *extra)
    validate(cfg)
    assert cfg.experiment == name


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_file_starts_with_the_command_that_runs_it(name):
    lines = (CONF / "experiment" / f"{name}.yaml").read_text().splitlines()
    comments = [l for l in lines[:3] if l.startswith("#") and "@package" not in l]
    assert comments and comments[0].startswith(f"# python train.py +experiment={name}")


@pytest.mark.parametrize("group", ["data", "model", "trainer", "split", "explain", "logger", "callbacks", "scheduler"])
def test_every_group_option_composes(group):
    for option in sorted(p.stem for p in (CONF / group).glob("*.yaml")):
        extra = ["data.path=x.csv", "data.target=y"] if (group, option) == ("data", "table") else []
        if (group, option) == ("data", "gbsg2"):  # time-to-event data
            extra = ["task=survival"]
        if group == "split" and option != "stratified":  # grouped/temporal need subject and date columns
            extra = ["data=synthetic_cohort"] + (["split.test_path=x.csv"] if option == "external" else [])
        if (group, option) == ("model", "custom"):  # the user's class: any importable nn.Module
            extra = ["model._target_=medtorch.models.networks.MLP", "+model.hidden=[8]"]
        validate(_compose(f"{group}={option}", *extra))


def test_defaults_are_regularised_deterministic_and_seeded():
    cfg = _compose()
    assert cfg.seed == 0 and cfg.trainer.deterministic and cfg.trainer.accelerator == "auto"
    assert cfg.model.dropout > 0 and cfg.optim.weight_decay > 0 and cfg.early_stopping.enabled
    assert cfg.trainer.matmul_precision == "highest"  # no TF32 unless asked


def test_typo_in_a_group_key_is_refused_naming_the_key():
    with pytest.raises(Exception, match="dropuot"):
        _compose("model.dropuot=0.1")
    with pytest.raises(Exception, match="hiden"):
        _compose("model=logistic", "model.hiden=[3]")


def test_validation_reports_every_problem_at_once():
    cfg = _compose("model.dropout=1.0", "trainer.max_epochs=0", "early_stopping.monitor=val/accurcy")
    with pytest.raises(MedtorchError) as e:
        validate(cfg)
    msg = str(e.value)
    assert "model.dropout" in msg and "trainer.max_epochs" in msg and "early_stopping.monitor" in msg
    assert "trainer.min_epochs" not in msg  # one problem, one line: min_epochs is fine, max_epochs is not


@pytest.mark.parametrize("overrides, key", [
    (["data.path=mine.csv"], "data.path"),  # the default source is the built-in breast-cancer table
    (["data=synthetic_cohort", "data.path=mine.csv"], "data.path"),
    (["data.target=diagnosis"], "data.target"),
    (["task=survival", "data=gbsg2", "data.target=cens"], "data.target"),
])
def test_a_file_key_with_a_built_in_source_is_refused_not_ignored(overrides, key):
    with pytest.raises(MedtorchError) as e:
        validate(_compose(*overrides))
    assert f"{key} must be unset with data.source=" in str(e.value) and "data=table" in str(e.value)


def test_the_table_source_still_takes_its_file_keys():
    validate(_compose("data=table", "data.path=mine.csv", "data.target=y"))
    validate(_compose("data=synthetic_cohort", "data.target=progression"))  # a cohort column: still a choice
