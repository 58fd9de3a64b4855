"""The Hydra entry of a training run, shared by ``python train.py``, ``medtorch train`` and ``medtorch.train()``.

The shipped configs are package data (``medtorch/conf``), so training works from any directory
after ``pip install medtorch``. A ``conf/`` directory in the working directory (or the one named
by ``$MEDTORCH_CONFIG_DIR``) joins Hydra's search path: its experiments, models, loggers ...
are found by name beside the shipped ones (``+experiment=mine`` for ``conf/experiment/mine.yaml``).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from medtorch import heap
from medtorch.artefacts import artefact
from medtorch.config import register_configs
from medtorch.errors import (EXIT_BAD_INPUT, EXIT_CRITERIA_FAILED, EXIT_INTERRUPTED, MedtorchError, report_unexpected,
                             unexpected_exit)
from medtorch.process_exit import entry_point
from medtorch.run import discard_unstarted

CONF_DIR = Path(__file__).resolve().parent / "conf"


def register() -> None:
    """The structured schemas and the run-directory resolver (idempotent)."""
    register_configs()
    if not OmegaConf.has_resolver("medtorch_uid"):
        OmegaConf.register_new_resolver("medtorch_uid", lambda: uuid.uuid4().hex[:8], use_cache=True)


def user_config_dir() -> Path | None:
    """The user's own config directory: $MEDTORCH_CONFIG_DIR, else ./conf when it exists."""
    env = os.environ.get("MEDTORCH_CONFIG_DIR")
    if env:
        if not Path(env).is_dir():
            raise MedtorchError(f"MEDTORCH_CONFIG_DIR={env!r} is not a directory; point it at your conf/ directory "
                                "(with experiment/, model/, ... inside) or unset it.")
        return Path(env).resolve()
    local = Path.cwd() / "conf"
    return local.resolve() if local.is_dir() and local.resolve() != CONF_DIR else None


def search_path_overrides(overrides: list[str]) -> list[str]:
    """``overrides`` plus ``hydra.searchpath`` naming the user's config directory, when there is one."""
    user = user_config_dir()
    if user is None or any(o.lstrip("+~").startswith("hydra.searchpath") for o in overrides):
        return list(overrides)
    return [f"hydra.searchpath=[file://{user}]", *overrides]  # first: Hydra wants overrides before --cfg etc.


def launch_record(cfg: DictConfig, hydra_node, overrides: list[str]) -> dict[str, str]:
    """What Hydra's output_subdir would hold (file name: text); written by medtorch after its checks."""
    texts = {
        "config": OmegaConf.to_yaml(cfg),
        "hydra": OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_node})),
        "overrides": OmegaConf.to_yaml(OmegaConf.create(list(overrides))),
    }
    return {artefact("hydra_file").file_name(name=name): text for name, text in texts.items()}


def _train(cfg: DictConfig) -> float:
    from medtorch.config import validate
    from medtorch.progress import configure

    hc = HydraConfig.get()
    try:
        configure(cfg.get("progress", "auto"))
        launch = launch_record(cfg, OmegaConf.to_container(hc), list(hc.overrides.task))
        validate(cfg)  # every problem of the config at once, before the pipeline (torch, pandas ...) is imported
        from medtorch import pipeline

        metrics = pipeline.run(cfg, hc.runtime.output_dir, launch, validated=True)
    except MedtorchError as e:
        print(f"medtorch: error: {e}", file=sys.stderr, flush=True)
        discard_unstarted(hc.runtime.output_dir)  # refused before the run started: leave nothing behind
        if _sweep_in_this_process(hc):
            _FAILED_JOBS.append((hc.job.num, e.exit_code))
            # one job of a sweep: Hydra marks it failed and runs the others; the sweep exits with its code
            raise JobRefused(f"medtorch: job {hc.job.num} was refused (exit {e.exit_code}); its error is printed above, "
                             "where the job ended") from e
        sys.exit(e.exit_code)
    except SystemExit as e:
        # Lightning ends a fit stopped by Ctrl-C with status 1, the code of a failed acceptance criterion
        # (ours comes only after the pipeline returned): the run is marked interrupted; say so
        sys.exit(EXIT_INTERRUPTED if e.code == EXIT_CRITERIA_FAILED else e.code)
    except Exception as e:  # not the input's fault as far as medtorch can tell: never EXIT_CRITERIA_FAILED
        if hc.mode == RunMode.MULTIRUN:
            if _sweep_in_this_process(hc):
                _FAILED_JOBS.append((hc.job.num, unexpected_exit(e)[0]))
            raise  # one job of a sweep: Hydra marks it failed and runs the others
        code = report_unexpected(e, "medtorch", " A run it stopped is marked failed.")
        discard_unstarted(hc.runtime.output_dir)  # stopped before the run started: leave nothing behind
        sys.exit(code)
    finally:
        heap.release()  # normally done at the first training batch; a run that never got there ends here
    if metrics.get("test_look") and not metrics["test_look"]["passed"]:
        _CRITERION_FAILED.append(True)  # this 1 is the verdict, whatever failed before it in a sweep
        sys.exit(EXIT_CRITERIA_FAILED)  # the governed test look failed an acceptance criterion (printed above)
    if metrics.get("task") == "survival":
        return metrics["val"]["overall"]["cindex"]["estimate"]  # Harrell's C for sweepers
    return metrics["val"]["mcc"]  # for Hydra sweepers that optimise a value


def main(argv: list[str] | None = None, prog: str | None = None):
    """Run Hydra on ``argv`` (default: the command line) with the packaged configs."""
    if entry_point():  # train.py or ``medtorch train``: no collection while the libraries import (medtorch.heap)
        heap.hold()
    register()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        args = search_path_overrides(args)
    except MedtorchError as e:
        print(f"medtorch: error: {e}", file=sys.stderr, flush=True)
        sys.exit(e.exit_code)
    sys.argv = [prog or sys.argv[0], *args]
    _COMPOSED.clear()
    _FAILED_JOBS.clear()
    _CRITERION_FAILED.clear()
    try:
        result = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")(_train)()
    except SystemExit as e:
        # Hydra reports a config it cannot compose (an unknown key or group option, a value of the wrong
        # type) with its own exit status, the one EXIT_CRITERIA_FAILED has here: exit with the bad-input
        # code instead. Only before the config composed: after it (Composed has run), that status is
        # the run's, or a job's under a multirun launcher such as SLURM's.
        if e.code == EXIT_CRITERIA_FAILED and not _COMPOSED:
            sys.exit(EXIT_BAD_INPUT)
        if e.code == EXIT_CRITERIA_FAILED and _FAILED_JOBS and not _CRITERION_FAILED:
            sys.exit(_sweep_exit())
        raise
    except Exception as e:
        if not _FAILED_JOBS:
            raise
        import traceback  # HYDRA_FULL_ERROR=1: Hydra raises the failed job's exception instead of exiting

        traceback.print_exception(type(e), e, e.__traceback__)
        sys.exit(_sweep_exit())
    if _FAILED_JOBS:  # a sweeper that went on past its failed jobs: the sweep still failed
        sys.exit(_sweep_exit())
    return result


_COMPOSED: list[bool] = []
# (job number, exit code) of each job of a sweep run in this process (Hydra's basic launcher) that failed: Hydra
# runs the others and ends the sweep with its own status 1, the failed-criterion code; the sweep exits with the
# first failed job's code instead (jobs launched elsewhere, e.g. by SLURM's launcher, report their own)
_FAILED_JOBS: list[tuple[int, int]] = []
_CRITERION_FAILED: list[bool] = []  # a job's governed test look failed an acceptance criterion: its 1 stands
_BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


class JobRefused(CompactHydraException):
    """A job of a sweep refused with a checked error, printed when it happened. Hydra names a failed job
    once the sweep ends: for this kind of exception with its message alone, where it would print the
    error again under a traceback that says nothing about bad input."""


def _sweep_in_this_process(hc) -> bool:
    """A job of a sweep that Hydra's basic launcher runs in this process, one after the other. A job that
    another launcher runs in its own process (SLURM's) exits with its own code, as a single run does."""
    return hc.mode == RunMode.MULTIRUN and str(hc.launcher.get("_target_", "")) == _BASIC_LAUNCHER


def _sweep_exit() -> int:
    """Name every failed job of the sweep with its code; return the first one's."""
    listed = ", ".join(f"job {num}: exit {code}" for num, code in _FAILED_JOBS)
    print(f"medtorch: {len(_FAILED_JOBS)} job(s) of the sweep failed ({listed}); the sweep exits with the first "
          f"failed job's code, {_FAILED_JOBS[0][1]}.", file=sys.stderr, flush=True)
    return _FAILED_JOBS[0][1]


class Composed(Callback):
    """Hydra callback (``hydra.callbacks.medtorch_composed``): the run's or sweep's config composed.

    Hydra calls it in the launching process once the primary config has composed, before any job
    starts, whichever launcher runs the jobs (in process, or SLURM through submitit).
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _COMPOSED.append(True)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _COMPOSED.append(True)
