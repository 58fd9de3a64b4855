"""Smoke runs (``trainer.fast_dev_run``): a run directory that proves the code path, never evidence.

Lightning's fast_dev_run trains and validates a few batches with checkpointing off. medtorch
still writes the run directory (so a user sees every artefact appear), but marks it not
evidence in three places a reader cannot miss: the manifest (``"evidence": false`` and
the reason), a file at the top of the directory (``artefact("not_evidence")``), and the report header.
A smoke run never looks at the test set: ``evaluation.test_look`` is refused with it and
``medtorch evaluate`` refuses the directory, so the test-set ledger/registry is never touched.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from medtorch.errors import MedtorchError


def smoke_reason(fast_dev_run: Any) -> str:
    n = 1 if fast_dev_run is True else int(fast_dev_run)
    return (f"smoke run (trainer.fast_dev_run={fast_dev_run}): {n} training and validation batch(es), no checkpoint "
            "selection; it shows that the code path works and is not evidence about the model")


def mark_not_evidence(cfg, run, state=None):
    """For a smoke run: record in the manifest and in a top-level file that it is not evidence (a step: rank 0)."""
    if not cfg.trainer.fast_dev_run:
        return state
    reason = smoke_reason(cfg.trainer.fast_dev_run)
    run.update_manifest(evidence=False, not_evidence_reason=reason)
    run.record(run.rd.not_evidence, f"This run directory is NOT evidence.\n{reason}.\n"
               "Train without trainer.fast_dev_run for a run that can be evaluated and reported as evidence.\n")
    print(f"medtorch: {reason}.", flush=True)
    return state


def smoke_checkpoint(module, trainer, cfg) -> tuple[dict[str, Any], SimpleNamespace]:
    """The weights after the smoke batches in the shape export_best reads from a checkpoint."""
    monitor = cfg.early_stopping.monitor
    value = trainer.callback_metrics.get(monitor)
    score = float(value) if value is not None and math.isfinite(float(value)) else 0.0
    return ({"state_dict": module.state_dict(), "epoch": int(trainer.current_epoch)},
            SimpleNamespace(best_model_score=score))


def refuse_if_not_evidence(root, manifest: dict[str, Any], action: str) -> None:
    """Stop ``action`` (a governed test look, ...) on a run marked not evidence."""
    if manifest.get("evidence") is False:
        raise MedtorchError(f"{root} is not evidence ({manifest.get('not_evidence_reason', 'marked so')}); {action} "
                            "is refused for it. Train the model without trainer.fast_dev_run and use that run.")
