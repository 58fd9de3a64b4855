"""The explain steps of a training run (``step(cfg, run, state) -> state``, medtorch.steps); rank 0 only.

``start_explaining`` starts the explanations right after the best epoch is exported, in a forked
process where that is safe (``medtorch.background``), and ``collect_explanations`` waits for them
once the validation evidence and the bridge reference are recorded, before the run is finished.
"""

from __future__ import annotations

from medtorch import background
from medtorch.evidence import Run
from medtorch.process_exit import entry_point
from medtorch.steps import State


def start_explaining(cfg, run: Run, state: State) -> State:
    """Attributions, attention maps and sanity checks as configured in ``explain`` (medtorch/explain)."""
    if cfg.trainer.fast_dev_run or not cfg.explain.enabled:  # a smoke run proves the path; explanations would only cost time
        return state
    from medtorch.explain.step import explain_after_training

    def work() -> tuple[dict[str, str], dict[str, str]]:
        recorded, artefacts = dict(run.recorded), dict(run.manifest.artefacts)
        explain_after_training(cfg, state.network, state.prepared, run.rd, run.manifest, run=run)
        return ({k: v for k, v in run.recorded.items() if recorded.get(k) != v},
                {k: v for k, v in run.manifest.artefacts.items() if artefacts.get(k) != v})

    # in the background only in a train.py / medtorch process: a library caller's process (a notebook
    # kernel, a test) is not forked
    wanted = bool(cfg.explain.get("in_background", True)) and entry_point()
    state.explaining = background.start("explanations", work, wanted)
    return state


def collect_explanations(cfg, run: Run, state: State) -> State:
    """Wait for the explanations; add what they recorded to this run's manifest."""
    if state.explaining is None:
        return state
    recorded, artefacts = background.collect(state.explaining)
    run.recorded.update(recorded)
    run.manifest.artefacts.update(artefacts)
    run.forget_log_hashes()  # the child appended events this process has not read
    state.explaining = None
    return state
