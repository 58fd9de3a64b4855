"""Cross-validation: one model per fold of the development rows, and the distribution.

``python train.py cv.folds=5`` makes the usual early split (the test rows stay sealed and are
never looked at), divides the development rows (train + validation) into 5 stratified folds
(grouped by subject when ``data.subject_column`` is set), trains one model per fold as a
separate run directory ``fold_<i>/`` inside the parent directory, and writes the per-fold
metrics and their distribution (mean, SD, min, max) with a plot to the CV summary (``artefact("cv_summary")``) and
its distribution plot. Folds can also run in parallel, one per job
(``cv.fold=0,1,2,3,4`` in a multirun), then ``medtorch cv-summary PARENT`` summarises.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import numpy as np

from medtorch.artefacts import artefact
from medtorch.audit import EventLog, file_hashes
from medtorch.errors import MedtorchError
from medtorch.hashing import sha256_ids
from medtorch.run import read_json, write_json


def fold_splits(cfg, splits) -> tuple[Any, dict[str, Any]]:
    """Fold ``cfg.cv.fold`` of the development rows as train/validation, and the manifest's ``cv`` record."""
    from medtorch.data.split import development_fold

    subj = cfg.data.subject_column
    groups = None
    if subj:
        groups = np.concatenate([splits.train.extra[subj].astype(str).to_numpy(), splits.val.extra[subj].astype(str).to_numpy()])
    dev_ids = np.concatenate([splits.train.ids, splits.val.ids])
    out, name = development_fold(splits, cfg.cv.folds, cfg.cv.fold, cfg.split.seed if "seed" in cfg.split else cfg.seed, groups)
    cv = {"folds": cfg.cv.folds, "fold": cfg.cv.fold, "strategy": name, "grouped_by": subj,
          "development_ids_sha256": sha256_ids(dev_ids), "train_rows": len(out.train), "val_rows": len(out.val)}
    return out, cv


def run_cross_validation(cfg, parent: Path, run_one: Callable) -> dict[str, Any]:
    """Train every fold in turn (each its own run directory) and summarise."""
    parent.mkdir(parents=True, exist_ok=True)
    EventLog(artefact("cv_events").path_in(parent)).append("cv_started", {"folds": cfg.cv.folds, "experiment": cfg.experiment})
    for i in range(cfg.cv.folds):
        fold_cfg = copy.deepcopy(cfg)
        fold_cfg.cv.fold = i
        print(f"\n=== cross-validation fold {i + 1} of {cfg.cv.folds} ===", flush=True)
        run_one(fold_cfg, parent / f"fold_{i}")
    summary = summarize(parent)
    return {"val": {"mcc": summary["distribution"]["mcc"]["mean"]}, "cv": summary}


FOLD_METRICS = ("mcc", "balanced_accuracy", "auroc")
PER_CLASS = ("sensitivity", "specificity", "precision")


def summarize(parent: Path) -> dict[str, Any]:
    """Collect the fold runs below ``parent``; write the CV summary and the distribution plot."""
    from medtorch.evaluation.assessment_plots import plot_distribution
    from medtorch.evidence import Run

    parent = Path(parent)
    if not parent.is_dir():
        raise MedtorchError(f"{parent}: {'is a file, not a' if parent.exists() else 'no such'} cross-validation root; give "
                            "the folder that holds the fold runs (the one python train.py cv.folds=K wrote).")
    folds = []
    for m in sorted(parent.rglob(artefact("manifest").name)):
        manifest = read_json(m)
        if manifest.get("cv"):
            if manifest.get("status") != "complete":
                raise MedtorchError(f"{m.parent}: fold run status is '{manifest.get('status')}'; rerun it before summarising.")
            # the fold's manifest and metrics as its run recorded them (a changed file is refused, EXIT_INTEGRITY)
            fold = Run.open(m.parent)
            manifest = fold.read_json(fold.rd.manifest)
            folds.append((manifest, fold.read_json(fold.rd.metrics)["val"], m.parent))
    if not folds:
        raise MedtorchError(f"{parent}: no cross-validation fold runs below it (run python train.py cv.folds=K first).")
    k = {f[0]["cv"]["folds"] for f in folds}
    dev = {f[0]["cv"]["development_ids_sha256"] for f in folds}
    numbers = sorted(f[0]["cv"]["fold"] for f in folds)
    if len(k) != 1 or len(dev) != 1 or numbers != list(range(next(iter(k)))):
        raise MedtorchError(f"{parent}: the fold runs do not form one cross-validation (folds {numbers} of {sorted(k)}, "
                            f"{len(dev)} different development sets); summarise one complete set of folds.")
    values: dict[str, list[float]] = {name: [f[1][name] for f in folds] for name in FOLD_METRICS}
    for c in folds[0][1]["classes"]:
        for m in PER_CLASS:
            values[f"{m}[{c}]"] = [f[1]["per_class"][c][m] for f in folds]
    summary = {
        "folds": next(iter(k)), "strategy": folds[0][0]["cv"]["strategy"], "development_ids_sha256": next(iter(dev)),
        "per_fold": [{"fold": f[0]["cv"]["fold"], "run_dir": str(f[2].relative_to(parent)), "run_id": f[0]["run_id"],
                      "val_rows": f[1]["n"], **{n: v[i] for n, v in values.items()}} for i, f in enumerate(folds)],
        "distribution": {n: _describe(v) for n, v in values.items()},
    }
    out = write_json(artefact("cv_summary").path_in(parent), summary)
    plot = plot_distribution(values, artefact("cv_distribution_plot").path_in(parent),
                             f"{summary['folds']}-fold cross-validation (validation folds)")
    EventLog(artefact("cv_events").path_in(parent)).append(
        "cv_summarised", {"folds": summary["folds"], "mcc": summary["distribution"]["mcc"]},
        outputs=file_hashes(parent, [out, plot]))
    from medtorch.report.cv_root import write_cv_report

    write_cv_report(parent)  # the CV root's own report: folds, distribution, links to each fold's report
    d = summary["distribution"]["mcc"]
    print(f"\nCross-validation ({summary['folds']} folds, {summary['strategy']}): MCC mean {d['mean']:.3f}  SD {d['sd']:.3f}  "
          f"min {d['min']:.3f}  max {d['max']:.3f}\nSummary: {out}", flush=True)
    return summary


def _describe(values: list[float]) -> dict[str, Any]:
    v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
    ok = v[~np.isnan(v)]
    if not ok.size:
        return {"mean": None, "sd": None, "min": None, "max": None, "folds_defined": 0}
    return {"mean": float(ok.mean()), "sd": float(ok.std(ddof=1)) if ok.size > 1 else None,
            "min": float(ok.min()), "max": float(ok.max()), "folds_defined": int(ok.size)}
