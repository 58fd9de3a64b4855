"""The explain step at the end of ``train.py``: the configured methods on the model just trained."""

from __future__ import annotations

from typing import Any

from medtorch.explain.explanation import ExplainInputs, explain_model
from medtorch.run import RunDir


def subjects_of(extra, column):
    """The subject id of each row when data.subject_column is set (the comparison then resamples subjects)."""
    if not column or column not in extra.columns:
        return None
    return extra[column].astype(str).to_numpy()


def explain_inputs(cfg, network, prepared, manifest: dict[str, Any]) -> ExplainInputs:
    """What the explanations read: the network (None before training) and ``explain.split``'s prepared rows."""
    e = cfg.explain
    part = prepared.splits.parts()[e.split]
    prep = prepared.preprocessor
    return ExplainInputs(
        network=network, model_name=cfg.model.name, classes=prepared.classes, feature_names=prep.feature_names_,
        feature_sources=prep.feature_sources_, split=e.split, x=prepared.tensors[e.split][0], y=part.y, ids=part.ids,
        raw=part.frame, x_train=prepared.tensors["train"][0], data_sha256=manifest["data"]["sha256"],
        split_sha256=manifest["splits"][e.split], y_train=prepared.tensors["train"][1].numpy(), preprocessor=prep,
        subjects=subjects_of(part.extra, cfg.data.subject_column),
    )


def explain_after_training(cfg, network, prepared, rd: RunDir, manifest: dict[str, Any], run=None,
                           transparent: list | None = None, compare_beside: bool = False) -> dict[str, Any] | None:
    """``transparent``: the transparent baselines fitted beside training (default: fitted here).
    ``compare_beside``: the comparison in a child of its own (``explain_model``); only in a forked process."""
    e = cfg.explain
    if not e.enabled:
        return None
    inputs = explain_inputs(cfg, network, prepared, manifest)
    baseline = None
    if e.compare_with:
        from medtorch.stack.gate import require_bridged_stack

        baseline = require_bridged_stack(e.compare_with, "explain")
    return explain_model(inputs, e, rd, rd.explain_dir, baseline, run=run, transparent=transparent,
                         compare_beside=compare_beside)
