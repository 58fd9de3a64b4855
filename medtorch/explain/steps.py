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


def _explaining(cfg) -> bool:
    return bool(cfg.explain.enabled) and not cfg.trainer.fast_dev_run  # a smoke run proves the path; explanations only cost time


def _in_background(cfg) -> bool:
    # only in a train.py / medtorch process: a library caller's process (a notebook kernel, a test) is not forked
    return bool(cfg.explain.get("in_background", True)) and entry_point()


def start_transparent(cfg, run: Run, state: State) -> State:
    """The transparent baselines need only the prepared rows: where a fork is safe they are fitted in a child
    beside the data steps and training (medtorch.background). Elsewhere they are fitted with the explanations,
    as before; the fits are the same either way."""
    if not (_explaining(cfg) and _in_background(cfg) and background.can_fork()):
        return state
    from omegaconf import OmegaConf

    from medtorch.explain.explanation import transparent_fits, transparent_names
    from medtorch.explain.step import explain_inputs

    settings = OmegaConf.to_container(cfg.explain, resolve=True)
    if cfg.explain.split != "val" or not transparent_names(cfg.model.name, settings):
        return state
    inputs = explain_inputs(cfg, None, state.prepared, run.manifest)
    state.transparent = background.start("transparent models", lambda: transparent_fits(inputs, settings))
    return state


def pause_transparent(cfg, run: Run, state: State) -> State:
    """While training runs, the transparent baselines take only the cycles it leaves unused (idle priority)."""
    if state.transparent is not None:
        background.pause(state.transparent)
    return state


def start_explaining(cfg, run: Run, state: State) -> State:
    """Attributions, attention maps and sanity checks as configured in ``explain`` (medtorch/explain)."""
    if not _explaining(cfg):
        return state
    from medtorch.explain.step import explain_after_training

    fork = _in_background(cfg) and background.can_fork()
    fitting, state.transparent = state.transparent, None  # the transparent baselines, when fitted beside training
    if fitting is not None:
        background.wanted(fitting)
        if not fork:  # the explanations run here (CUDA is now initialised, say): the fits come here
            fitting = background.collect(fitting)

    def work() -> tuple[dict[str, str], dict[str, str]]:
        # forked: the fits come straight to the comparison's child (explain_model, compare_beside), read when it starts
        transparent = (lambda: background.receive(fitting)) if isinstance(fitting, background.Pending) else fitting
        recorded, artefacts = dict(run.recorded), dict(run.manifest.artefacts)
        explain_after_training(cfg, state.network, state.prepared, run.rd, run.manifest, run=run, transparent=transparent,
                               compare_beside=fork)  # forked: the comparison in a child of this child
        return ({k: v for k, v in run.recorded.items() if recorded.get(k) != v},
                {k: v for k, v in run.manifest.artefacts.items() if artefacts.get(k) != v})

    state.explaining = background.start("explanations", work, fork)
    if isinstance(fitting, background.Pending):
        background.hand_over(fitting, state.explaining)
    return state


def discard_unfinished(cfg, run: Run) -> None:
    """The run failed and its explanations were stopped: what they had written so far (in a hidden directory,
    medtorch.explain.outputs) is removed, so none of it is taken for evidence added after the fact."""
    if _explaining(cfg) and run.writes:
        from medtorch.explain.outputs import discard_unfinished as discard

        discard(run.rd.root, run.rd.explain_dir)


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
