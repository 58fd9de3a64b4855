"""Plots that survive small data: no legend covers data, and every bar and point lies inside its
axes (the calendar histogram's tallest bar is not cut). Checked at the matplotlib level on the
real plotting functions (``plot_checks.capture_figures`` wraps ``Figure.savefig``), for every
plot the default run draws and for the subgroup, calendar-period and cross-validation plots."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from plot_checks import capture_figures, figure_problems


def _name(saved: str) -> str:
    """The plot's file name (``save_png`` writes through a temporary ``.NAME.xxxx.tmp`` beside it)."""
    m = re.match(r"^\.(.+?)\.[^.]+\.tmp(.*)$", saved)
    return m.group(1) + m.group(2) if m else saved


def _clean(seen: list[tuple[str, list[str]]]) -> None:
    assert seen, "no figure was saved"
    bad = {_name(name): problems for name, problems in seen if problems}
    assert not bad, bad


# ------------------------------------------------------------------------------ the checker itself
def test_the_checker_finds_a_legend_over_bars_a_clipped_bar_and_a_point_off_the_axes():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    ax.bar([0, 1, 2], [1.0, 0.95, 1.0], label="rows")
    ax.legend(loc="center")  # over the middle bar
    assert any("legend covers a bar" in p for p in figure_problems(fig))

    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    ax.bar(["2019", "2020", "2021"], [40, 310, 55])
    ax.set_ylim(0, 300)  # the old calendar histogram: the tallest bar cut at the top
    assert any("bar" in p and "beyond the axes' limits" in p for p in figure_problems(fig))

    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    ax.errorbar([0.2, 0.5], [0.3, 0.6], yerr=[[0.1, 0.1], [0.1, 0.5]], marker="o")
    ax.plot([1.3], [0.5], "s")
    ax.set_xlim(0, 1), ax.set_ylim(0, 1)
    problems = figure_problems(fig)
    assert any("errorbar" in p and "beyond" in p for p in problems)  # the interval reaching 1.1
    assert any("line" in p and "beyond" in p for p in problems)  # the square at x = 1.3

    fig = Figure(figsize=(5, 3))  # an interval under an in-axes legend (the old forest plot)
    ax = fig.subplots()
    ax.plot([-0.95, 0.9], [1.05, 1.05], color="black")
    ax.plot([0.2], [1.05], "s")
    ax.axvline(0.2, linestyle="--", label="overall 0.200")
    ax.set_ylim(0.6, 1.1), ax.set_xlim(-1.05, 1.05)  # one group: its interval near the top
    ax.legend(loc="upper left")
    assert any("legend covers a line" in p for p in figure_problems(fig))


def test_the_checker_passes_a_legend_outside_and_bars_that_fit():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    ax.bar(["2019", "2020", "2021"], [40, 310, 55], label="train")
    ax.set_ylim(0, 310 * 1.08)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    assert figure_problems(fig) == []


# ------------------------------------------------------------------------------ the real plots
def _predictions(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    p1 = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.2, size=n), 0.01, 0.99)
    return y, np.column_stack([1 - p1, p1])


def test_plots_with_subgroups_calendar_periods_and_cross_validation_keep_legends_off_the_data(tmp_path, monkeypatch):
    from medtorch.data.cohort import generate_cohort
    from medtorch.evaluation.assessment import assess, write_plots
    from medtorch.evaluation.assessment_plots import plot_distribution, plot_forest

    cohort = generate_cohort().head(400).reset_index(drop=True)
    y, probs = _predictions(len(cohort))
    data = {"subgroup_columns": ["sex", "age_band", "site"], "time_column": "visit_date",
            "subject_column": "patient_id"}
    ev = {"bootstrap_resamples": 100, "confidence": 0.95, "min_group_n": 30, "period": "year", "period_days": 365,
          "calibration_bins": 10}
    assessment = assess(y, probs, ["alive", "died"], cohort, data, ev, seed=0)
    assert assessment["subgroups"] and assessment["periods"], "the synthetic cohort has subgroups and periods"
    with capture_figures(monkeypatch) as seen:
        paths = write_plots(assessment, ["alive", "died"], lambda name: tmp_path / f"{name}.png", "Validation")
        plot_distribution({"mcc": [0.61, 0.7, 0.55, 0.9, 0.66], "auroc": [0.8, 0.85, 0.83, 0.97, 0.88],
                           "balanced_accuracy": [0.75, 0.8, 0.7, 0.92, 0.81]}, tmp_path / "cv.png", "CV")
    assert {p.name for p in paths} >= {"reliability.png", "forest_sex.png", "forest_site.png", "forest_period.png"}
    wide = lambda est, lo, hi, n: {"group": f"g{n}", "n": n, "small_n": n < 30,
                                   "mcc": {"estimate": est, "lower": lo, "upper": hi, "method": "percentile"}}
    with capture_figures(monkeypatch) as small:  # small groups: intervals across nearly all of [-1, 1]
        plot_forest({"cells": [wide(0.1, -0.95, 0.97, 8), wide(0.6, 0.2, 0.9, 60), wide(-0.1, -0.98, 0.95, 6)]},
                    {"estimate": 0.55}, tmp_path / "forest_small.png", "MCC by site")
    _clean(small)
    _clean(seen)


def test_eda_plots_of_subgroups_and_a_calendar_with_one_tall_year_fit_their_axes(tmp_path, monkeypatch):
    from medtorch.data.eda import eda_plots

    def split(rows: int, share: float) -> dict:
        return {"rows": rows, "class_counts": {"alive": int(rows * (1 - share)), "died": int(rows * share)},
                "class_proportions": {"alive": 1 - share, "died": share},
                "missing_share": {"crp": 0.31, "albumin": 0.02, "age": 0.0}, "numeric": {}, "categories": {}}

    levels = {"A": 0.26, "B": 0.25, "C": 0.25, "E": 0.24}  # balanced classes and levels: bars in every corner
    rep = {"reference": {"A": 0.45, "B": 0.35, "C": 0.15, "E": 0.05}, "tolerance": 0.2, "under_represented": [],
           "splits": {s: {lv: {"rows": int(300 * v), "share": v} for lv, v in levels.items()} for s in ("train", "val", "test")}}
    # every year about as full as the tallest (no free corner for a legend inside the axes), one a little taller
    years = {"2016": 100, "2017": 104, "2018": 98, "2019": 101, "2020": 112, "2021": 99}
    eda = {"splits": {"train": split(300, 0.5), "val": split(100, 0.48), "test": split(100, 0.52)},
           "representativeness": {"site": rep, "sex": {**rep, "reference": {}}},
           "calendar": {s: {yr: {"rows": k * f} for yr, k in years.items()} for s, f in (("train", 3), ("val", 1), ("test", 1))}}
    with capture_figures(monkeypatch) as seen:
        names = {p.name for p in eda_plots(eda, lambda name: tmp_path / f"{name}.png")}
    assert names == {"classes.png", "missingness.png", "subgroup_site.png", "subgroup_sex.png", "calendar.png"}
    _clean(seen)


def test_confusion_training_curves_and_explanation_plots_keep_legends_off_the_data(tmp_path, monkeypatch):
    from medtorch.evaluation.plots import plot_confusion
    from medtorch.explain.plots import plot_global, plot_local
    from medtorch.report.foundation import _history_plot

    cols = [f"feature {i}" for i in range(20)]
    rng = np.random.default_rng(1)
    # a model still learning: both curves fall (loss) and rise (MCC) into the corners a legend would take
    history = [{"epoch": e, "train_loss": 0.7 * 0.8 ** e, "val_loss": 0.72 * 0.82 ** e,
                "train_mcc": 1 - 0.9 * 0.7 ** e, "val_mcc": 1 - 0.95 * 0.72 ** e} for e in range(8)]
    with capture_figures(monkeypatch) as seen:
        plot_confusion(np.array([[50, 3], [4, 29]]), ["benign", "malignant"], tmp_path / "c.png", False, "Validation")
        plot_confusion(np.array([[50, 3], [4, 29]]), ["benign", "malignant"], tmp_path / "n.png", True, "Validation")
        _history_plot(history)
        mean = np.abs(rng.normal(size=(2, 20)))
        plot_global(mean, 0.5 * mean, cols, ["benign", "malignant"], "Integrated gradients", tmp_path / "g.png")
        plot_local(rng.normal(size=20), cols, "row 3", tmp_path / "l.png")
    assert len(seen) == 5
    _clean(seen)


def check_every_plot_of(run, tmp_path, monkeypatch) -> set[str]:
    """Draw every plot of ``run`` again from its own artefacts (assessments, test looks, EDA,
    confusion matrices, training history, explanations) with the same functions; fail on any
    problem, and on any PNG of the run that was not among those drawn. Returns what was drawn."""
    import json

    from medtorch.data.eda import eda_plots
    from medtorch.evaluation.assessment import write_plots
    from medtorch.evaluation.plots import plot_confusion
    from medtorch.report.foundation import _history_plot

    read = lambda rel: json.loads((run / rel).read_text())
    metrics, eda = read("metrics.json"), read("eda.json")
    classes = list(read("model.json")["classes"])
    out = lambda name: tmp_path / f"{name}.png"
    drawn = {"plots/training_history.png"}
    with capture_figures(monkeypatch) as seen:
        for path in sorted(run.glob("assessment_*.json")):
            split = path.stem.removeprefix("assessment_")
            drawn |= {f"plots/{p.stem}_{split}.png" for p in write_plots(read(path.name), classes, out, split)}
        for path in sorted(run.glob("test_evaluations/*/evaluation.json")):
            look = path.parent.relative_to(run).as_posix()
            assessment = read(path.relative_to(run))["assessment"]
            drawn |= {f"{look}/{p.name}" for p in write_plots(assessment, classes, out, "test")}
        drawn |= {f"plots/eda_{p.name}" for p in eda_plots(eda, out)}
        for split, cm in _confusions(metrics).items():
            for normalized, suffix in ((False, "counts"), (True, "normalized")):
                plot_confusion(np.array(cm), classes, out("c"), normalized, split)
                drawn.add(f"plots/confusion_{split}_{suffix}.png")
        _history_plot(metrics["history"])
        if (run / "explain" / "explanation.json").is_file():
            drawn |= _explanations(run, read("explain/explanation.json"), classes, out)
    _clean(seen)
    on_disk = {p.relative_to(run).as_posix() for pattern in ("plots/*.png", "explain/plots/*.png", "test_evaluations/*/*.png")
               for p in run.glob(pattern)}
    assert on_disk and on_disk <= drawn, f"plots of the run not checked: {sorted(on_disk - drawn)}"
    return drawn


def _explanations(run, explained: dict, classes: list[str], out) -> set[str]:
    from medtorch.explain.plots import plot_agreement, plot_global, plot_local

    drawn = set()
    imp = pd.read_csv(run / "explain" / "global_importance.csv")
    for method, rows in imp.groupby("method", sort=False):
        columns = list(dict.fromkeys(rows["column"]))
        stack = lambda key: np.stack([rows[rows["class"] == c][key].to_numpy() for c in classes])
        plot_global(stack("mean_abs"), stack("std_abs"), columns, classes, method, out("g"))
        drawn.add(f"explain/plots/global_{method}.png")
    local = pd.read_csv(run / "explain" / "local_explanations.csv")
    primary = list(explained["methods"])[0]
    for row_id, rows in local.groupby("row_id"):
        plot_local(rows[primary].to_numpy(), list(rows["column"]), f"row {row_id}", out("l"))
        drawn.add(f"explain/plots/local_row{row_id}.png")
    agreement = (explained.get("sanity") or {}).get("agreement")
    if agreement:
        names = list(agreement)
        plot_agreement(np.array([[np.nan if agreement[a][b] is None else agreement[a][b] for b in names] for a in names],
                                dtype=float), names, "agreement", out("a"))
        drawn.add("explain/plots/agreement.png")
    return drawn


@pytest.mark.slow
def test_every_plot_of_the_default_run_redrawn_from_its_artefacts_keeps_legends_off_the_data(default_run, tmp_path,
                                                                                             monkeypatch):
    drawn = check_every_plot_of(default_run, tmp_path, monkeypatch)
    assert {"plots/reliability_val.png", "plots/eda_classes.png", "explain/plots/agreement.png"} <= drawn


def _confusions(metrics: dict) -> dict[str, list[list[int]]]:
    return {split: m["confusion_matrix"] for split, m in metrics.items()
            if isinstance(m, dict) and isinstance(m.get("confusion_matrix"), list)}
