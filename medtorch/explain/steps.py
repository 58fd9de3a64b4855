"""The explain step of a training run (``step(cfg, run, state) -> state``, medtorch.steps); rank 0 only."""

from __future__ import annotations

from medtorch.evidence import Run
from medtorch.steps import State


def explain(cfg, run: Run, state: State) -> State:
    """Attributions, attention maps and sanity checks as configured in ``explain`` (medtorch/explain)."""
    if cfg.trainer.fast_dev_run:  # a smoke run proves the path; explanations would only cost time
        return state
    from medtorch.explain.step import explain_after_training

    explain_after_training(cfg, state.network, state.prepared, run.rd, run.manifest, run=run)
    return state
