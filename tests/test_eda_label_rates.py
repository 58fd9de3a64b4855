"""eda.md reports label rates per subgroup and label-rate shifts across temporal splits; a
single-year calendar is refused; an 8-class confusion plot keeps its axis labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from medtorch.config import EDAConfig
from medtorch.data.eda import eda_markdown, explore

from test_leakage import split

EDA = OmegaConf.structured(EDAConfig)


def md_of(strategy="grouped", **cohort):
    raw, s = split(strategy, **cohort)
    eda = explore(s.parts(), raw.classes, ["sex", "site"], "visit_date", EDA, {"oversample": "none"})
    return raw, s, eda, eda_markdown(eda, None)


def test_per_subgroup_label_rates_are_in_the_markdown():
    raw, s, eda, md = md_of()
    assert "Label rates by sex:" in md and "Label rates by site:" in md
    rate = eda["representativeness"]["site"]["splits"]["train"]["E"]["label_rates"]["died"]
    m = s.train.extra["site"].to_numpy() == "E"
    assert rate == pytest.approx(np.mean(s.train.y[m] == raw.classes.index("died")), abs=1e-4)
    assert f"died {rate:.1%}" in md.split("Label rates by site:")[1].split("\n\n")[1]


def test_a_label_rate_that_falls_from_the_training_period_is_reported():
    raw, s, eda, md = md_of("temporal", drift=-0.8)  # admissions fall year by year
    flagged = {(f["class"], f["split"]) for f in eda["label_rate_shift"]["flagged"]}
    assert ("admitted", "test") in flagged
    f = next(f for f in eda["label_rate_shift"]["flagged"] if (f["class"], f["split"]) == ("admitted", "test"))
    k = raw.classes.index("admitted")
    assert f["train_rate"] == pytest.approx(np.mean(s.train.y == k), abs=1e-4)
    assert f["rate"] == pytest.approx(np.mean(s.test.y == k), abs=1e-4) and f["ratio"] <= 1 / 1.5
    assert "**label rate shift**: `admitted`" in md


def test_no_shift_reported_for_a_grouped_split_of_a_stable_cohort():
    _, _, eda, md = md_of()
    assert eda["label_rate_shift"]["flagged"] == [] and "no class's label rate moves" in md


def test_a_single_year_calendar_is_refused_not_reported():
    _, _, eda, md = md_of(years=1)
    assert eda["calendar"] is None and "refused" in eda["calendar_refused"] and "(2015)" in md


def test_eight_class_confusion_plot_keeps_its_y_label(tmp_path: Path):
    import matplotlib.image as mpimg

    from medtorch.evaluation.plots import plot_confusion

    names = [f"class_with_a_long_name_{i}" for i in range(8)]
    cm = np.random.default_rng(0).integers(0, 50, (8, 8))
    path = plot_confusion(cm, names, tmp_path / "cm.png", normalized=False, title="validation: confusion (counts)")
    img = mpimg.imread(path)[:, :, :3]
    assert img[:, :4].min() > 0.9  # the left edge is background: "true class" is not cut off
    assert img[:, 4:60].min() < 0.5  # ... and the label is drawn near it
