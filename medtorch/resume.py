"""Resuming an interrupted run in its own run directory.

``python train.py <the same overrides> hydra.run.dir=RUN_DIR ckpt_path=last`` continues a
killed or timed-out run from its last checkpoint (``artefact("checkpoint_last")``). The config must be the one the run
started with (apart from ``ckpt_path``); the data, split and fitted preprocessing are
recomputed and must hash to what the run recorded. The checkpoint carries the optimizer,
the loop and callback state, and (see ``Classifier.on_save_checkpoint``) the random
generators, so on the same stack the resumed run ends with the same weights as one that
was never interrupted.

On SLURM, requeueing belongs to submitit: SLURM sends the job its warning signal
``signal_delay_s`` before the time limit, submitit's handler asks Hydra's launcher for a
checkpoint (a resubmission of the same job: same config, same output directory), requeues it
and exits; Lightning's own SLURM auto-requeue is switched off so the two never race. The
requeued job finds its interrupted run and resumes from the last checkpoint by itself: a job is
taken as requeued when SLURM says so (``SLURM_RESTART_COUNT`` > 0) or when it runs under
submitit (``SUBMITIT_EXECUTOR``, also set by ``hydra/launcher=submitit_local``, which requeues
the same way) and its run directory holds a run that did not complete. A fresh sweep job
always has a new directory, so it never mistakes another run for its own. A job requeued
before its first checkpoint starts the run again in the same directory; the event log keeps
the interrupted attempt's lines ahead of the new ones.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from medtorch.errors import MedtorchError
from medtorch.run import RunDir, read_json


def resolve_ckpt_path(ckpt_path: str | None, rd: RunDir) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run."""
    last = rd.checkpoint_last
    if ckpt_path is None:
        return _verified(last, rd) if requeued(rd) and last.is_file() else None
    path = last if ckpt_path == "last" else Path(ckpt_path)
    if not path.is_file():
        raise MedtorchError(
            f"ckpt_path={ckpt_path}: no checkpoint at {path}. To resume, point hydra.run.dir at the interrupted "
            f"run's directory (it holds {last.relative_to(rd.root).as_posix()}) and pass the same overrides as the "
            "first launch."
        )
    return _verified(path, rd)


def _verified(path: Path, rd: RunDir) -> Path:
    """Refuse (``EXIT_INTEGRITY``) a checkpoint the run's event log did not record with this hash, before anything is written."""
    from medtorch.checkpoints import verify_checkpoint

    verify_checkpoint(path, rd)
    return path


RESUMABLE = ("running", "interrupted")  # a "failed" run is never continued by itself


def under_scheduler() -> bool:
    """Whether this process is a job that SLURM or submitit may requeue."""
    return int(os.environ.get("SLURM_RESTART_COUNT") or 0) > 0 or bool(os.environ.get("SUBMITIT_EXECUTOR"))


def existing_status(rd: RunDir) -> str | None:
    """The status in the directory's manifest, or None where there is none (a corrupt one raises, ``EXIT_INTEGRITY``)."""
    return read_json(rd.manifest).get("status") if rd.manifest.is_file() else None


def requeued(rd: RunDir) -> bool:
    """Whether this job is a requeued one that should continue the unfinished run in its directory."""
    return under_scheduler() and existing_status(rd) in RESUMABLE


def completed_before_requeue(rd: RunDir) -> bool:
    """A job requeued after its run completed (the signal came during the report): nothing to redo."""
    return under_scheduler() and existing_status(rd) == "complete"


def completed_without_report(rd: RunDir) -> bool:
    """A run resumed with ckpt_path=... whose training completed but whose report was not written
    (killed while writing it): the resume finishes the missing step instead of refusing."""
    return existing_status(rd) == "complete" and not (rd.report_html.is_file() and rd.report_md.is_file())


def check_fresh_start(rd: RunDir) -> None:
    """Refuse to start a run over another run's evidence.

    The one exception is a requeued job whose run was interrupted before its first
    checkpoint: it starts again in the same directory, and the event log keeps the first
    attempt's lines.
    """
    status = existing_status(rd)
    if status is None or (status in RESUMABLE and under_scheduler()):
        return
    raise MedtorchError(
        f"{rd.root}: this directory already holds a run (status: {status}); a new run would overwrite its "
        "evidence. Choose a new directory (leave hydra.run.dir unset), or continue an interrupted run with "
        "ckpt_path=last and the overrides of its first launch."
    )


def check_same_run(rd: RunDir, config_sha256: str) -> dict[str, Any]:
    """Refuse to resume into a directory whose run is complete or was started with another config."""
    if not rd.manifest.is_file():
        raise MedtorchError(f"{rd.root}: no {rd.manifest.name}, so there is no interrupted run here to resume.")
    manifest = read_json(rd.manifest)
    if manifest.get("status") == "complete":
        raise MedtorchError(f"{rd.root}: this run is complete; there is nothing to resume.")
    if manifest.get("status") not in RESUMABLE:
        raise MedtorchError(
            f"{rd.root}: this run {manifest.get('status')} ({manifest.get('error', 'no error recorded')}); a failed run "
            "is not continued. Start a new run in a new directory."
        )
    if manifest.get("config_sha256") != config_sha256:
        raise MedtorchError(
            f"{rd.root}: cannot resume with a different config (its config hash differs from the interrupted "
            f"run's; compare with {rd.config}). Pass exactly the overrides of the first launch, plus ckpt_path=last."
        )
    return manifest


def fault_point(name: str) -> None:
    """Fault injection for the tests: ``MEDTORCH_FAULT_STOP_AT=NAME`` stops this process (SIGSTOP) at
    the named point so that the test can kill it by its PID (``kill -9``) exactly there."""
    if os.environ.get("MEDTORCH_FAULT_STOP_AT") == name:
        os.kill(os.getpid(), signal.SIGSTOP)


def fault_injection_callback():
    """A fault-injection callback that interrupts training one Lightning step into epoch N+1.

    By then epoch N's checkpoint is on disk and the first optimizer steps of epoch N+1 (one, or a
    group of ``trainer.steps_per_execution``) are lost, as in a real crash or time limit. Enabled only by environment variables, for the tests:

    - ``MEDTORCH_FAULT_KILL_AFTER_EPOCH=N``: SIGKILL, a crash.
    - ``MEDTORCH_FAULT_SIGNAL_AFTER_EPOCH=N``: the signal SLURM and submitit send before the
      time limit (``SUBMITIT_PREEMPT_SIGNAL``, USR2 by default), so submitit's real handler
      checkpoints and requeues the job. Sent only in a run that has not been resumed, so the
      requeued job runs to the end.
    """
    kill, timeout = os.environ.get("MEDTORCH_FAULT_KILL_AFTER_EPOCH"), os.environ.get("MEDTORCH_FAULT_SIGNAL_AFTER_EPOCH")
    stop = os.environ.get("MEDTORCH_FAULT_STOP_AFTER_EPOCH")  # SIGSTOP: the test then sends kill -9 by PID
    if kill is None and timeout is None and stop is None:
        return None
    import pytorch_lightning as pl

    by_timeout = kill is None and stop is None
    if stop is not None:
        epoch, sig = int(stop), signal.SIGSTOP
    elif kill is not None:
        epoch, sig = int(kill), signal.SIGKILL
    else:
        epoch, sig = int(timeout), getattr(signal, os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "SIGUSR2"))

    class InterruptAfterEpoch(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            resumed = trainer.ckpt_path is not None
            if trainer.current_epoch == epoch + 1 and batch_idx == 0 and not (by_timeout and resumed):
                os.kill(os.getpid(), sig)

    return InterruptAfterEpoch()
