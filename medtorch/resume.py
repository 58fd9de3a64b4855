"""Resuming an interrupted run in its own run directory.

``python train.py <the same overrides> hydra.run.dir=RUN_DIR ckpt_path=last`` continues a
killed or timed-out run from ``checkpoints/last.ckpt``. The config must be the one the run
started with (apart from ``ckpt_path``); the data, split and fitted preprocessing are
recomputed and must hash to what the run recorded. The checkpoint carries the optimizer,
the loop and callback state, and (see ``Classifier.on_save_checkpoint``) the random
generators, so on the same stack the resumed run ends with the same weights as one that
was never interrupted.

On SLURM, requeueing belongs to submitit (Hydra's submitit launcher resubmits a timed-out
job with the same config and output directory); Lightning's own SLURM auto-requeue is
switched off so the two never race. A requeued job (``SLURM_RESTART_COUNT`` > 0) resumes
from ``last.ckpt`` by itself.
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
    last = rd.checkpoints / "last.ckpt"
    if ckpt_path is None:
        requeued = int(os.environ.get("SLURM_RESTART_COUNT") or 0) > 0
        return last if requeued and last.is_file() else None
    path = last if ckpt_path == "last" else Path(ckpt_path)
    if not path.is_file():
        raise MedtorchError(
            f"ckpt_path={ckpt_path}: no checkpoint at {path}. To resume, point hydra.run.dir at the interrupted "
            "run's directory (it holds checkpoints/last.ckpt) and pass the same overrides as the first launch."
        )
    return path


def check_same_run(rd: RunDir, config_sha256: str) -> dict[str, Any]:
    """Refuse to resume into a directory whose run is complete or was started with another config."""
    if not rd.manifest.is_file():
        raise MedtorchError(f"{rd.root}: no manifest.json, so there is no interrupted run here to resume.")
    manifest = read_json(rd.manifest)
    if manifest.get("status") == "complete":
        raise MedtorchError(f"{rd.root}: this run is complete; there is nothing to resume.")
    if manifest.get("config_sha256") != config_sha256:
        raise MedtorchError(
            f"{rd.root}: cannot resume with a different config (its config hash differs from the interrupted "
            f"run's; compare with {rd.config}). Pass exactly the overrides of the first launch, plus ckpt_path=last."
        )
    return manifest


def kill_after_epoch_callback():
    """A fault-injection callback: SIGKILL this process one step into epoch N+1.

    By then epoch N's checkpoint is on disk and one optimizer step of epoch N+1 is lost, as
    in a real crash.

    Enabled only by the environment variable MEDTORCH_FAULT_KILL_AFTER_EPOCH=N; the resume
    test uses it to interrupt a real training run at a known point.
    """
    value = os.environ.get("MEDTORCH_FAULT_KILL_AFTER_EPOCH")
    if value is None:
        return None
    import pytorch_lightning as pl

    class KillAfterEpoch(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if trainer.current_epoch == int(value) + 1 and batch_idx == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    return KillAfterEpoch()
