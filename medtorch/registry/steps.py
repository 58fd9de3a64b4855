"""The registry's training-time step (``step(cfg, run, state) -> state``, medtorch.steps); rank 0 only."""

from __future__ import annotations

from medtorch.evidence import Run
from medtorch.steps import State


def bind_registry(cfg, run: Run, state: State) -> State:
    """Bind the run to the project's test-set registry and check its rows against every looked-at row."""
    from medtorch.registry.binding import bind_run

    if cfg.trainer.get("fast_dev_run"):  # a smoke run is not evidence: it never touches the registry
        return state
    if run.manifest.registry is None:  # a resumed run keeps the binding it was trained under
        p = state.prepared
        run.update_manifest(registry=bind_run(cfg, p.splits, p.classes, run.manifest))
    run.event("registry_bound", run.manifest.registry)
    return state
