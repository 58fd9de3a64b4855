"""The full performance assessment of one set of predictions (validation or test).

Metrics with bootstrap CIs, the per-class table, one sensitivity table per subgroup column
and one per calendar period, and calibration; written as ``rd.assessment(split)`` (or into
a test evaluation's folder) with forest plots and reliability diagrams beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from medtorch.artefacts import file_part
from medtorch.errors import MedtorchError
from medtorch.evaluation.bootstrap import bootstrap_cis
from medtorch.evaluation.calibration import calibration
from medtorch.evaluation.metrics import classification_metrics
from medtorch.evaluation.subgroups import class_table, group_labels, group_table, period_labels


def assess(y: np.ndarray, probs: np.ndarray, classes: Sequence[str], extra: pd.DataFrame,
           data: Mapping[str, Any], ev: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Assess predictions ``probs`` of rows with labels ``y``; ``extra`` holds their subgroup/time columns."""
    boot = dict(n_resamples=int(ev["bootstrap_resamples"]), seed=int(seed), confidence=float(ev["confidence"]),
                method=ev.get("bootstrap_interval", "bca"), proportion_method=ev.get("proportion_interval", "wilson"))
    subjects = subject_ids(extra, data)
    metrics = classification_metrics(y, probs, classes)
    ci = bootstrap_cis(y, probs, classes, subjects=subjects, **boot)
    out: dict[str, Any] = {"n": metrics["n"], "metrics": metrics, "ci": ci,
                           "classes": class_table(ci, int(ev["min_group_n"])), "subgroups": {}, "periods": None}
    table = dict(overall_mcc=metrics["mcc"], min_n=int(ev["min_group_n"]), subjects=subjects, **boot)
    for col in data.get("subgroup_columns") or []:
        if col not in extra.columns:
            raise MedtorchError(f"subgroup column {col!r} (data.subgroup_columns) is not among the evaluated rows' columns "
                                f"{list(extra.columns)}; add it to the data file or remove it from data.subgroup_columns.")
        out["subgroups"][col] = group_table(y, probs, classes, group_labels(extra[col]), **table)
    tcol = data.get("time_column")
    if tcol:
        if tcol not in extra.columns:
            raise MedtorchError(f"time column {tcol!r} (data.time_column) is not among the evaluated rows' columns.")
        from medtorch.data.calendar import refusal, single_period
        from medtorch.evaluation.subgroups import MISSING

        labels = period_labels(extra[tcol], tcol, ev["period"], int(ev["period_days"]), data.get("time_unit"),
                               data.get("time_origin"))
        only = single_period(labels, MISSING)
        if only is not None:  # refused, not reported: one period compares nothing
            out["periods_refused"] = refusal(tcol, ev["period"], only, int((labels != MISSING).sum()))
        else:
            out["periods"] = {"column": tcol, "period": ev["period"], **group_table(y, probs, classes, labels, **table)}
    out["calibration"] = calibration(y, probs, classes, int(ev["calibration_bins"]))
    return out


def subject_ids(extra: pd.DataFrame, data: Mapping[str, Any]) -> np.ndarray | None:
    """The subject of each evaluated row when data.subject_column is set: every bootstrap then resamples subjects."""
    col = data.get("subject_column")
    if not col:
        return None
    if col not in extra.columns:
        raise MedtorchError(f"subject column {col!r} (data.subject_column) is not among the evaluated rows' columns "
                            f"{list(extra.columns)}; add it to the data file or unset data.subject_column.")
    ids = extra[col].reset_index(drop=True)
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise MedtorchError(f"subject column {col!r}: row {row} of the evaluated rows has no subject id; every row "
                            "needs one for the subject-level bootstrap. Fill it in or unset data.subject_column.")
    return ids.astype(str).to_numpy()


def write_plots(assessment: dict[str, Any], classes: Sequence[str], plot_path, title: str) -> list[Path]:
    """Forest plots of MCC by subgroup and by period, and the reliability diagram; returns their paths."""
    from medtorch.evaluation.assessment_plots import plot_forest, plot_reliability

    paths = [plot_reliability(assessment["calibration"], classes, plot_path("reliability"), f"{title}: reliability")]
    for col, t in assessment["subgroups"].items():
        name = file_part(col, reserved=frozenset({"period"}))  # the calendar's own plot is forest_period
        paths.append(plot_forest(t, assessment["ci"]["mcc"], plot_path(f"forest_{name}"), f"{title}: MCC by {col}"))
    if assessment["periods"]:
        p = assessment["periods"]
        paths.append(plot_forest(p, assessment["ci"]["mcc"], plot_path("forest_period"), f"{title}: MCC by {p['period']} of {p['column']}"))
    return paths


def interval_text(d: Mapping[str, Any]) -> str:
    """estimate [lower, upper] (n=..., method): every interval is shown with the n it rests on."""
    f = lambda v: "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"
    n = d.get("n")
    tag = ", ".join(x for x in (f"n={n}" if n is not None else "", METHOD_LABELS.get(d.get("method"), d.get("method") or ""))
                    if x)
    return f"{f(d['estimate'])} [{f(d['lower'])}, {f(d['upper'])}]" + (f" ({tag})" if tag else "")


METHOD_LABELS = {"bca": "BCa", "percentile": "percentile", "wilson": "Wilson", "clopper_pearson": "Clopper-Pearson"}


def summary_lines(assessment: dict[str, Any]) -> list[str]:
    """Human-readable lines: estimate [lower, upper] with n and method for the headline and per-class metrics."""
    iv = interval_text
    ci = assessment["ci"]
    lines = [f"n={ci['n']}  MCC {iv(ci['mcc'])}  balanced accuracy {iv(ci['balanced_accuracy'])}  AUROC {iv(ci['auroc'])}",
             f"  ({int(ci['confidence'] * 100)}% CIs: {ci['resamples']} resamples, {ci.get('method', 'bootstrap')}; "
             f"proportions: {ci.get('proportion_method', 'bootstrap')})"]
    for c, v in assessment["classes"].items():
        flag = "  (n too small to judge)" if v["small_n"] else ""
        lines.append(f"  {c[:19]:<20} sens {iv(v['sensitivity'])}  spec {iv(v['specificity'])}  "
                     f"prec {iv(v['precision'])}{flag}")
    for col, t in list(assessment["subgroups"].items()) + ([("period", assessment["periods"])] if assessment["periods"] else []):
        g = t["gaps"]
        rng = "n/a" if g["mcc_range"] is None else f"{g['mcc_range']:.3f}"
        small = f"; too small: {', '.join(g['groups_too_small'])}" if g["groups_too_small"] else ""
        lines.append(f"  {col}: MCC gap (max - min) {rng} over {g['groups_judged']} groups{small}")
    if assessment.get("periods_refused"):
        lines.append(f"  {assessment['periods_refused']}")
    return lines
