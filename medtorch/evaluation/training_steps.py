"""The assessment steps a training run takes, each ``step(cfg, run, state) -> state`` (medtorch.steps).

- ``freeze_acceptance``: before anything is trained, the acceptance criteria are frozen
  (the acceptance record: content + hash; the hash goes to the event log).
- ``record_development``: the run's development fingerprint (config, code, data hashes) in the manifest.
- ``seal_test``: the test split's row ids and row hash are written to the sealed-test record.
- ``evaluate_validation``: validation metrics, predictions and confusion plots (the metrics record).
- ``assess_validation``: bootstrap CIs, sensitivity analyses and calibration of the
  validation predictions (the validation assessment and plots).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medtorch.audit import utc_now
from medtorch.config import to_container
from medtorch.evaluation.acceptance import frozen_record
from medtorch.evaluation.development import development_fingerprint
from medtorch.evaluation.test_rows import seal_record
from medtorch.evidence import REPLACE, Run
from medtorch.steps import State


def freeze_acceptance(cfg, run: Run, state: State) -> State:
    a = cfg.acceptance
    record = frozen_record(a.name, list(a.criteria), utc_now())
    # not write-once: a resumed run freezes its (identical) criteria again, with a new freezing time
    # REPLACE, not write-once: a resumed run re-freezes the same criteria with a new time (the event log keeps both)
    run.record(run.rd.acceptance, record, kind=REPLACE, event="acceptance_frozen",
               details={"name": a.name, "sha256": record["sha256"], "criteria": [c["text"] for c in record["criteria"]]})
    return state


def record_development(cfg, run: Run, state: State) -> State:
    development = development_fingerprint(to_container(cfg), run.manifest.data["sha256"])
    run.update_manifest(development=development)
    run.event("development_fingerprinted", development)
    return state


def seal_test(cfg, run: Run, state: State) -> State:
    record = seal_record(state.prepared.splits.test, run.manifest.data["sha256"])
    run.record(run.rd.sealed_test, record, event="test_sealed",
               details={"rows": record["rows"], "rows_sha256": record["rows_sha256"]})
    return state


def validation_probabilities(cfg, state: State) -> np.ndarray:
    """The model's validation probabilities, computed once per run and shared by every validation step."""
    if state.val_probs is None:
        from medtorch.models.inference import infer

        state.val_probs = infer(state.network, state.prepared.tensors["val"][0], cfg.trainer.eval_batch_size)
    return state.val_probs


def evaluate_validation(cfg, run: Run, state: State) -> State:
    from medtorch.evaluation.metrics import classification_metrics
    from medtorch.evaluation.plots import plot_confusion

    p, rd = state.prepared, run.rd
    probs, y = validation_probabilities(cfg, state), p.tensors["val"][1].numpy()
    val = classification_metrics(y, probs, p.classes)
    metrics = {
        "val": val,
        "test": None,
        "test_status": "sealed: not evaluated by training",
        "selected_epoch": state.metrics.pop("selected_by"),  # handed over by the export, not read back from disk
        "epochs_trained": state.trainer.current_epoch if state.trainer is not None else None,
        "history": state.module.history if state.module is not None else [],
    }
    pred = probs.argmax(axis=1)
    classes = np.array(p.classes, dtype=object)
    table = pd.DataFrame({"row_id": p.splits.val.ids, "true_label": classes[y], "predicted_label": classes[pred]})
    for j, c in enumerate(p.classes):
        table[f"prob_{c}"] = probs[:, j]
    plots = [plot_confusion(val["confusion_matrix"], p.classes, rd.confusion_plot("val", normalized), normalized,
                            f"Validation confusion matrix ({'row-normalised' if normalized else 'counts'})")
             for normalized in (False, True)] if run.writes else []
    run.record_many({rd.metrics: metrics, rd.predictions("val"): table.to_csv(index=False, float_format="%.8g")},
                    event="validation_evaluated", also=plots, inputs=[rd.model_weights, rd.preprocessing],
                    details={"n": val["n"], "mcc": val["mcc"], "balanced_accuracy": val["balanced_accuracy"],
                             "auroc": val["auroc"]})
    state.metrics.update(metrics)
    return state


def assess_validation(cfg, run: Run, state: State) -> State:
    from medtorch.evaluation.assessment import assess, summary_lines, write_plots

    p, rd = state.prepared, run.rd
    y, probs = p.tensors["val"][1].numpy(), validation_probabilities(cfg, state)
    result = assess(y, probs, p.classes, p.splits.val.extra, to_container(cfg.data), to_container(cfg.evaluation), cfg.seed)
    plots = write_plots(result, p.classes, lambda name: rd.assessment_plot("val", name), "Validation") if run.writes else []
    ci = result["ci"]
    run.record(rd.assessment("val"), result, also=plots, event="validation_assessed",
               details={"mcc": ci["mcc"], "balanced_accuracy": ci["balanced_accuracy"], "auroc": ci["auroc"],
                        "resamples": ci["resamples"], "subgroup_columns": list(result["subgroups"]),
                        "periods": bool(result["periods"])})
    print("\nValidation with confidence intervals:\n" + "\n".join(summary_lines(result)), flush=True)
    return state
