"""task=survival: bad input refused with one clear message, survival leakage checks, acceptance
quantities, horizon thresholds, the empty-batch rule and the subject-level bootstrap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from medtorch.config import register_configs, validate
from medtorch.errors import MedtorchError
from medtorch.evaluation.acceptance import parse_criterion
from medtorch.survival import leakage as SL
from medtorch.survival.data import DURATION, load_survival

CONF = Path(__file__).resolve().parent.parent / "medtorch" / "conf"
register_configs()
OmegaConf.register_new_resolver("medtorch_uid", lambda: "test", replace=True)


def _compose(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def _table(tmp_path, **columns) -> str:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({"x": np.arange(n, dtype=float), **columns})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _cfg(path, *extra):
    return _compose("+experiment=table", "task=survival", f"data.path={path}", "data.duration_column=t",
                    "data.event_column=e", *extra)


@pytest.mark.parametrize("t,e,expect", [
    ([1.0, -2.0, 3.0, 4.0], [1, 0, 1, 0], "negative time"),
    ([1.0, None, 3.0, 4.0], [1, 0, 1, 0], "missing, non-numeric, infinite or beyond float32's range of 3.4e38 (first at row 2"),
    ([1.0, 2.0, 3.0, 4.0], [1, None, 1, 0], "1 missing value(s) (first at row 2)"),
    ([1.0, 2.0, 3.0, 4.0], [1, 2, 1, 0], "Competing events"),
    ([1.0, 2.0, 3.0, 4.0], ["yes", "no", "yes", "no"], "holds text value(s) ['no', 'yes']; the event indicator is 1"),
    ([1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], "all 4 patients are censored"),
    ([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], "all 4 patients have the event"),
])
def test_bad_durations_and_events_are_refused(tmp_path, t, e, expect):
    cfg = _cfg(_table(tmp_path, t=t, e=e))
    with pytest.raises(MedtorchError, match=None) as info:
        load_survival(cfg.data)
    assert expect in str(info.value)


def test_missing_column_is_named(tmp_path):
    cfg = _cfg(_table(tmp_path, t=[1.0, 2.0], e=[1, 0]), "data.event_column=status")
    with pytest.raises(MedtorchError, match="data.event_column='status' is not a column"):
        load_survival(cfg.data)


def test_duration_is_kept_out_of_the_features(tmp_path):
    raw = load_survival(_cfg(_table(tmp_path, t=[1.0, 2.0, 3.0], e=[1, 0, 1])).data)
    assert list(raw.frame.columns) == ["x"] and raw.y.tolist() == [1, 0, 1]
    assert raw.extra[DURATION].tolist() == [1.0, 2.0, 3.0]


def test_config_problems_are_reported_together(tmp_path):
    cfg = _cfg("x.csv", "data.duration_unit=week", "evaluation.horizons=[5,1]", "survival.ties=exact",
               "cv.folds=3", "acceptance.criteria=['mcc_lower_ci >= 0.5']")
    with pytest.raises(MedtorchError) as info:
        validate(cfg)
    msg = str(info.value)
    for key in ("data.duration_unit", "evaluation.horizons", "survival.ties", "cv.folds", "acceptance.criteria"):
        assert key in msg, key


def test_table_without_duration_column_is_refused():
    cfg = _compose("+experiment=table", "task=survival", "data.path=x.csv", "data.event_column=e")
    with pytest.raises(MedtorchError, match="data.duration_column"):
        validate(cfg)


def test_survival_columns_without_the_survival_task_or_as_one_column_are_refused():
    """Without task=survival they were ignored: a classifier trained on the event, the follow-up time among its inputs.
    One column as both time and event trained a run whose C-indices were n/a."""
    cfg = _compose("+experiment=table", "data.path=x.csv", "data.target=dead", "data.duration_column=months",
                   "data.event_column=dead")
    with pytest.raises(MedtorchError) as info:
        validate(cfg)
    assert "data.duration_column must be unset without task=survival" in str(info.value)
    assert "data.event_column must be unset without task=survival" in str(info.value)
    with pytest.raises(MedtorchError, match="data.event_column must be another column than data.duration_column"):
        validate(_compose("+experiment=table", "task=survival", "data.path=x.csv", "data.duration_column=dead",
                          "data.event_column=dead"))

def test_gbsg2_needs_the_survival_task():
    with pytest.raises(MedtorchError, match="data.source must be used with task=survival"):
        validate(_compose("data=gbsg2"))
    validate(_compose("+experiment=survival_gbsg2"))


def test_survival_acceptance_quantities_parse():
    for q in ("cindex_lower_ci", "td_auc_5y", "mcc_at_5y", "mcc_at_2.5y_lower_ci", "ibs_upper_ci", "uno_cindex"):
        assert parse_criterion(f"{q} >= 0.5").quantity == q
    with pytest.raises(MedtorchError, match="unknown quantity"):
        parse_criterion("td_auc_5w >= 0.5")


def _rows(frame, time, event):
    from types import SimpleNamespace

    return SimpleNamespace(frame=frame, y=np.asarray(event), extra=pd.DataFrame({DURATION: time}))


def test_a_feature_derived_from_follow_up_fails_and_a_baseline_one_passes():
    rng = np.random.default_rng(0)
    n = 200
    time = rng.uniform(1, 100, n)
    event = (rng.uniform(size=n) < 0.3).astype(int)
    frame = pd.DataFrame({"age": rng.normal(60, 10, n), "visits": np.floor(time / 7) + rng.integers(0, 2, n)})
    out = SL.follow_up_feature(_rows(frame, time, event), "t")
    assert out.status == "fail" and "visits" in out.summary and "age" not in out.summary
    ok = SL.follow_up_feature(_rows(frame[["age"]], time, event), "t")
    assert ok.status == "pass"


def test_post_baseline_names_warn():
    assert SL.post_baseline_names(["age", "days_to_relapse", "last_visit_crp"]).status == "warn"
    assert SL.post_baseline_names(["age", "tsize"]).status == "pass"


def test_calendar_split_with_short_follow_up_of_later_patients_warns():
    rng = np.random.default_rng(1)
    early = _rows(pd.DataFrame({"a": np.zeros(100)}), rng.uniform(50, 100, 100), rng.integers(0, 2, 100))
    late = _rows(pd.DataFrame({"a": np.zeros(50)}), rng.uniform(1, 20, 50), rng.integers(0, 2, 50))
    out = SL.calendar_follow_up({"train": early, "val": early, "test": late}, "entry_date")
    assert out.status == "warn" and "test" in out.summary and "val" not in out.summary.split("patients")[0]
    assert SL.calendar_follow_up({"train": early, "val": early}, None).status == "skipped"


def test_batches_without_events_are_skipped_and_counted_never_nan():
    import pytorch_lightning as pl

    from medtorch.data.tensors import TensorLoader
    from medtorch.survival.module import CoxModule

    torch.manual_seed(0)
    x = torch.randn(64, 3)
    t = torch.rand(64) * 10
    e = torch.zeros(64)
    e[:8] = 1.0  # events only in the first batch (the loader does not shuffle here)
    y = torch.stack([t, e], 1)
    module = CoxModule(torch.nn.Linear(3, 1))
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(module, TensorLoader(x, y, 8), TensorLoader(x, y, 64))
    assert module.skipped_batches == 2 * 7  # 7 event-free batches per epoch
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in module.history)
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_subject_level_bootstrap_keeps_subjects_whole():
    from medtorch.survival.assessment import _subject_sampler

    groups = np.array(["a", "a", "b", "c", "c", "c"])
    draw = _subject_sampler(groups, len(groups))
    rows = draw(np.random.default_rng(0))
    picked = pd.Series(groups[rows]).value_counts()
    sizes = {"a": 2, "b": 1, "c": 3}
    assert all(count % sizes[g] == 0 for g, count in picked.items())


def test_horizon_threshold_is_fixed_on_validation():
    from medtorch.survival.metrics import best_threshold, horizon_confusion

    time = np.array([1, 2, 3, 8, 9, 10.0])
    event = np.array([1, 1, 1, 0, 0, 1])
    risk = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3])
    th = best_threshold(time, event, risk, 5.0)
    assert horizon_confusion(time, event, risk, 5.0, th)["mcc"] == pytest.approx(1.0)


def test_survival_quantities_are_refused_for_classification():
    with pytest.raises(MedtorchError, match="survival quantities need task=survival"):
        validate(_compose("acceptance.criteria=['cindex_lower_ci >= 0.6']"))


def test_distributed_training_is_refused():
    with pytest.raises(MedtorchError, match="one device in one process"):
        validate(_compose("+experiment=survival_gbsg2", "trainer.devices=2"))


def test_eda_shows_shorter_follow_up_of_later_calendar_periods():
    from types import SimpleNamespace

    from medtorch.survival.eda import explore, markdown

    rng = np.random.default_rng(2)

    def part(years, lo, hi, n):
        t = rng.uniform(lo, hi, n)
        return SimpleNamespace(y=(rng.uniform(size=n) < 0.3).astype(int),
                               extra=pd.DataFrame({DURATION: t, "entry": rng.choice(years, n), "site": "A"}))

    splits = SimpleNamespace(parts=lambda: {"train": part([2015, 2016], 500, 2000, 200),
                                            "val": part([2017], 300, 900, 60), "test": part([2018], 10, 300, 60)})
    cfg = SimpleNamespace(data=SimpleNamespace(duration_unit="day", subgroup_columns=["site"], time_column="entry"))
    eda = explore(cfg, splits)
    follow = {p: eda["periods"][p]["median_follow_up_reverse_km"] for p in ("2015", "2016", "2017", "2018")}
    assert follow["2018"] < follow["2017"] < min(follow["2015"], follow["2016"])
    assert eda["periods"]["2018"]["splits"] == ["test"]
    assert eda["subgroups"]["site"]["A"]["train"]["n"] == 200
    assert "Calendar periods (later patients have less follow-up)" in markdown(eda)


def test_resuming_a_survival_run_is_refused():
    with pytest.raises(MedtorchError, match="ckpt_path must be null for task=survival"):
        validate(_compose("+experiment=survival_gbsg2", "ckpt_path=last"))


def test_an_event_column_of_arrow_strings_is_checked_without_a_traceback():
    """pd.to_numeric of pyarrow strings is nullable Int64: comparing its <NA> raised 'boolean value of NA is ambiguous'."""
    from medtorch.survival.data import _check_events

    assert _check_events(pd.Series(["1", "0", "1"], dtype="string[pyarrow]"), "e", "t.csv").tolist() == [1, 0, 1]
    with pytest.raises(MedtorchError, match=r"holds text value\(s\) \['yes'\]"):
        _check_events(pd.Series(["1", "0", "yes"], dtype="string[pyarrow]"), "e", "t.csv")
