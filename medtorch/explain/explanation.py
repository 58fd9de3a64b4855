"""Explain one model on one split: attributions, attention, sanity checks, comparison, files.

``explain_model`` is shared by the end of ``train.py`` (``pipeline._explain``) and by
``medtorch explain RUN``. It reads only ``ExplainInputs`` (the network and the split's rows),
writes everything into one directory of the run (``RUN/explain/`` at training time,
``RUN/explanations/NAME/`` later) through the run's atomic writers, and appends one event,
with the hashes of every file written, to the run's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from medtorch.errors import MedtorchError
from medtorch.evidence import Run
from medtorch.explain import sanity
from medtorch.explain.attention import attention_maps
from medtorch.explain.attributions import Baselines, MethodResult, attribute, make_baselines
from medtorch.explain.columns import ColumnMap
from medtorch.explain.importance import global_importance, local_table, select_rows
from medtorch.explain.settings import METHODS, explain_problems
from medtorch.models.inference import predict_proba
from medtorch.run import RunDir


@dataclass
class ExplainInputs:
    network: nn.Module
    model_name: str
    classes: list[str]
    feature_names: list[str]
    feature_sources: list[str]
    split: str
    x: torch.Tensor  # the split's rows in model input space
    y: np.ndarray
    ids: np.ndarray
    raw: pd.DataFrame  # the same rows' original values
    x_train: torch.Tensor  # training rows (for baselines only)
    data_sha256: str
    split_sha256: str
    y_train: np.ndarray | None = None  # training labels: the transparent models are fitted on them
    preprocessor: Any = None  # the run's fitted preprocessing (odds ratios per interpretable unit)
    subjects: np.ndarray | None = None  # subject of each split row (data.subject_column): paired bootstrap over subjects


def _sample(n: int, max_rows: int, must: list[int], ids: np.ndarray, seed: int) -> np.ndarray:
    """Positions of the rows to explain: all, or a seeded sample that keeps requested row ids."""
    if n <= max_rows:
        return np.arange(n)
    keep = np.flatnonzero(np.isin(ids, np.asarray(must, dtype=np.int64)))
    rest = np.setdiff1d(np.arange(n), keep)
    rng = np.random.default_rng(seed)
    picked = rng.choice(rest, size=max(0, max_rows - len(keep)), replace=False)
    return np.sort(np.concatenate([keep, picked]))


def explain_model(inputs: ExplainInputs, settings: Mapping[str, Any], rd: RunDir, out: Path,
                  compare_with=None, run: Run | None = None, transparent=None, compare_beside: bool = False) -> dict[str, Any]:
    """Run the configured explanations, write them into ``out`` (inside the run); return the report.
    ``run``: the training run that records the event (default: the run directory ``rd``, opened).
    ``transparent``: the ``transparent_fits`` of these inputs made earlier, or a call that returns them when the
    comparison needs them (default: fitted here).
    ``compare_beside``: the comparison with the transparent models is computed in a forked child beside the
    attributions and their plots, where a fork is safe (``medtorch.background``; the explanations of a training
    run, themselves forked, ask for it). It needs none of them, and its bootstrap and the attributions' plots
    are each one core's work: on two cores they end together instead of one after the other. Elsewhere it is
    computed in line before anything is written; the numbers are the same either way. (Forked, an error of the
    comparison comes up once the plots are written; they are then removed, and the training run it belongs to is
    marked failed.)"""
    from omegaconf import DictConfig, OmegaConf

    s = OmegaConf.to_container(settings, resolve=True) if isinstance(settings, DictConfig) else dict(settings)
    problems = explain_problems(s)
    if problems:
        raise MedtorchError("invalid explain settings:\n  - " + "\n  - ".join(problems))
    net, classes = inputs.network.eval(), inputs.classes
    requested = [int(r) for r in s["rows"]]
    missing = sorted(set(requested) - set(int(i) for i in inputs.ids))
    if missing:
        raise MedtorchError(
            f"row id(s) {missing} are not in the {inputs.split} split ({len(inputs.ids)} rows); row ids are the data's "
            f"id column (or row numbers in the file). Some {inputs.split} row ids: {[int(v) for v in inputs.ids[:8]]}."
        )
    if compare_with is not None:  # refuse a wrong baseline before any work
        from medtorch.explain.comparison import check_same_rows

        check_same_rows(compare_with, inputs.data_sha256, inputs.split, inputs.split_sha256, classes)
    from medtorch import background

    comparing = None
    fitted = inputs.split == "val" and inputs.y_train is not None and transparent_names(inputs.model_name, s)
    if compare_beside and (fitted or compare_with is not None) and background.can_fork():
        comparing = background.start("the comparison with the transparent models",
                                     lambda: _compare(inputs, net, s, compare_with, transparent))
    try:
        return _explain(inputs, s, rd, out, compare_with, run, transparent, requested, comparing)
    except BaseException:
        if comparing is not None:
            background.abandon(comparing)  # nothing it computes is wanted now (it writes no file)
        raise


def _explain(inputs: ExplainInputs, s: dict[str, Any], rd: RunDir, out: Path, compare_with, run: Run | None,
             transparent, requested: list[int], comparing) -> dict[str, Any]:
    """``explain_model`` once its settings are checked; ``comparing``: the comparison's forked child, or None."""
    from medtorch import background

    net, classes, k = inputs.network.eval(), inputs.classes, len(inputs.classes)
    cmap = ColumnMap.from_sources(inputs.feature_sources)
    pos = _sample(len(inputs.y), int(s["max_rows"]), requested, inputs.ids, int(s["seed"]))
    x, y, ids = inputs.x[pos].float(), inputs.y[pos], inputs.ids[pos]
    raw = inputs.raw.iloc[pos].reset_index(drop=True)
    probs = predict_proba(net, x)
    pred = probs.argmax(axis=1)
    base = make_baselines(s["baseline"], inputs.x_train.float(), len(x), int(s["baseline_samples"]), int(s["seed"]))
    kwargs = dict(ig_steps=int(s["ig_steps"]), gradient_shap_samples=int(s["gradient_shap_samples"]),
                  perturbation_samples=int(s["perturbation_samples"]), seed=int(s["seed"]))
    from medtorch.explain.support import attention_skip_reason, skipped_methods
    from medtorch.progress import bar

    skipped = skipped_methods(net, list(s["methods"]), x)
    runnable = [m for m in s["methods"] if m not in skipped]
    if not runnable:
        raise MedtorchError("no configured explanation method supports this network:\n  - "
                            + "\n  - ".join(f"{m}: {why}" for m, why in skipped.items()))
    results = [attribute(net, m, x, k, base, cmap, **kwargs) for m in bar(runnable, "explanations")]
    if (reason := attention_skip_reason(net)) is not None:
        skipped["attention"] = reason

    report: dict[str, Any] = {
        "model": inputs.model_name, "split": inputs.split, "split_rows": int(len(inputs.y)), "rows_explained": int(len(x)),
        "row_ids": ids, "baseline": s["baseline"], "classes": classes, "columns": cmap.columns,
        "settings": {key: s[key] for key in ("methods", "max_rows", "baseline", "baseline_samples", "ig_steps",
                                             "gradient_shap_samples", "perturbation_samples", "local_rows", "seed")},
        "methods": {},
        "skipped": skipped,  # explanations this network does not support, with the reason
    }
    importance = pd.concat([global_importance(r, classes, cmap.columns) for r in results], ignore_index=True)
    for r in results:
        entry: dict[str, Any] = {"label": METHODS[r.method][1], "seconds": r.seconds}
        if r.delta is not None:
            entry["convergence_delta"] = {"max_abs": float(np.abs(r.delta).max()), "mean_abs": float(np.abs(r.delta).mean())}
        imp = importance[importance["method"] == r.method]
        entry["top_columns"] = {c: imp[imp["class"] == c].nsmallest(5, "rank")["column"].tolist() for c in classes}
        report["methods"][r.method] = entry

    local_rows = select_rows(probs, y, ids, int(s["local_rows"]), requested)
    local = local_table(results, local_rows, probs, y, classes, cmap.columns, raw)
    report["local_rows"] = [{"row_id": r.row_id, "reasons": r.reasons, "true_label": classes[int(y[r.index])],
                             "predicted_label": classes[int(pred[r.index])],
                             "probability": float(probs[r.index].max())} for r in local_rows]

    if s["sanity"]:
        report["sanity"] = _sanity(net, results, x, k, base, cmap, pred, inputs.model_name, kwargs)
    attention = attention_maps(net, x, cmap) if attention_skip_reason(net) is None else None
    if comparing is None:  # in line: computed before anything is written
        computed = _compare(inputs, net, s, compare_with, transparent)
        comparison = lambda: computed  # noqa: E731
    else:  # forked: wanted once the plots are drawn
        comparison = lambda: background.collect(comparing)  # noqa: E731

    from medtorch.explain.outputs import write_outputs

    report["comparison"] = None  # its place in the report, filled (or removed) once it is known
    paths, comparison = write_outputs(rd.root, out, report, results, importance, local, local_rows, probs, y, ids, raw,
                                      cmap, attention, comparison)
    (run or Run.open(rd.root)).event(
        "explanation_written",
        {"split": inputs.split, "rows": int(len(x)), "methods": list(s["methods"]), "baseline": s["baseline"],
         "model": inputs.model_name, "compared_with": comparison.baseline_run if comparison else None,
         "compared_with_weights_sha256": compare_with.spec["weights_sha256"] if compare_with else None,
         "directory": str(out.relative_to(rd.root))},
        inputs=[rd.model_weights, rd.preprocessing],
        outputs=paths,  # written by medtorch.explain.outputs (CSV, JSON, plots), hashed here as the event records them
    )
    return report


def transparent_names(model_name: str, s: Mapping[str, Any]) -> list[str]:
    """The transparent models to fit for a comparison; a logistic run is not compared with itself."""
    return [t for t in (s.get("transparent") or []) if not (t == "logistic" and model_name == "logistic")]


def transparent_fits(inputs: ExplainInputs, s: Mapping[str, Any]) -> list:
    """The transparent models of ``explain.transparent`` fitted on the training rows, tuned on the split's
    (validation only: the test split is sealed). Needs no network: a run fits them beside training."""
    from medtorch.config import LogisticConfig
    from medtorch.models.transparent import fit_transparent

    names = transparent_names(inputs.model_name, s) if inputs.split == "val" and inputs.y_train is not None else []
    if not names:
        return []
    lc = LogisticConfig()
    return fit_transparent(names, inputs.x_train.double().numpy(), inputs.y_train, inputs.x.double().numpy(), inputs.y,
                           len(inputs.classes), c_grid=lc.c_grid, tol=lc.tol, max_iter=lc.max_iter,
                           tree_depths=list(s.get("tree_depths") or [1, 2, 3, 4]), seed=int(s["seed"]),
                           feature_names=inputs.feature_names, ebm=dict(s.get("ebm") or {}))


def _compare(inputs: ExplainInputs, net, s: Mapping[str, Any], compare_with, fits=None):
    """The run against the transparent models (``fits``: a list, or a call that returns it; else fitted here) and the
    ``compare_with`` run, on the split's rows."""
    from medtorch.explain.comparison import Candidate, compare, odds_ratios
    from medtorch.models.transparent import to_network

    fits = transparent_fits(inputs, s) if fits is None else fits() if callable(fits) else fits
    if not fits and compare_with is None:
        return None
    x = inputs.x.double().numpy()
    candidates = [Candidate(f.name, "fitted in this run", f.predict_proba(x),
                            {k: v for k, v in f.settings.items() if k != "grid"}) for f in fits]
    odds = None
    logistic = next((f for f in fits if f.name == "logistic"), None)
    if logistic is not None and inputs.preprocessor is not None:
        odds = odds_ratios(to_network(logistic), inputs.preprocessor, inputs.classes)
    if compare_with is not None:
        base = predict_proba(compare_with.network, compare_with.preprocessor.transform(inputs.raw))
        candidates.append(Candidate("logistic", f"run {compare_with.rd.root}", base,
                                    {"selected_by": compare_with.spec.get("selected_by")}))
        odds = odds_ratios(compare_with.network, compare_with.preprocessor, compare_with.classes)
    return compare(inputs.model_name, predict_proba(net, inputs.x), candidates, inputs.y, inputs.split,
                   int(s["bootstrap"]), float(s["confidence"]), int(s["seed"]), subjects=inputs.subjects, odds=odds,
                   baseline_run=str(compare_with.rd.root) if compare_with is not None else None)


def _sanity(net, results: list[MethodResult], x, k, base, cmap, pred, model_name, kwargs) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if len(results) >= 2:
        out["agreement"] = sanity.method_agreement(results)
    ref = next((r for r in results if r.method == "integrated_gradients"), results[0])
    n = min(len(x), sanity.RANDOMISATION_ROWS)  # the first rows suffice to see whether attributions change
    sub = Baselines(base.kind, base.per_row[:n], base.distribution)
    randomised = attribute(sanity.randomised_copy(net, kwargs["seed"] + 1), ref.method, x[:n], k, sub, cmap, **kwargs)
    first = MethodResult(ref.method, ref.inputs[:, :n], ref.columns[:, :n], ref.seconds)
    out["randomisation"] = {**vars(sanity.randomisation_test(first, randomised, pred[:n])), "rows": n}
    if model_name in ("logistic", "linear") and ref.method == "integrated_gradients":
        out["logistic_ig_equals_coef_times_input"] = sanity.logistic_ig_check(net, ref, x, base.per_row)
    return out
